"""The Celery app, configured from Django settings (``CELERY_*``), with tasks discovered in installed apps."""

import logging
import os

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digits_site.settings")

log = logging.getLogger(__name__)
app = Celery("digits_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _create_filesystem_broker_folders(sender: Celery, **kwargs) -> None:
    """kombu's filesystem transport (the embedded default broker) expects its folders to exist."""
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = sender.conf.broker_transport_options.get(key)
        if folder:
            os.makedirs(folder, exist_ok=True)


class SendWaitingFineTunes(bootsteps.StartStopStep):
    """Each time a worker (re)connects to the broker, it sends the fine-tunes requested while the broker was
    unreachable: a broker that comes back is exactly when workers reconnect (see :mod:`recognizer.tasks`)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, consumer) -> None:
        from django.db import DatabaseError, close_old_connections

        from recognizer.tasks import send_waiting_fine_tunes

        close_old_connections()  # the worker's main process may hold a connection from before an outage
        try:
            send_waiting_fine_tunes()
        except DatabaseError as exc:  # never stop the worker for it: the beat schedule retries every minute
            log.warning("Could not send the fine-tunes waiting for the broker: %s", exc)


app.steps["consumer"].add(SendWaitingFineTunes)
