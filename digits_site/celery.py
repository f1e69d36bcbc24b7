"""The Celery app, configured from Django settings (``CELERY_*``), with tasks discovered in installed apps."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digits_site.settings")

app = Celery("digits_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
