"""The default schedule of the fine-tune task: every 6 hours, as a django-celery-beat periodic task that staff can
edit, disable or run at once in the admin (Periodic tasks)."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "Fine-tune on corrections"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every, _ = IntervalSchedule.objects.get_or_create(every=6, period="hours")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "recognizer.tasks.fine_tune",
            "interval": every,
            "enabled": True,
            "description": (
                "Fine-tunes the active model on MNIST plus the usable corrections and activates the result if it "
                "passes the gate; skipped (and recorded) when too few new corrections arrived."
            ),
        },
    )
    # Tell a running beat that its schedule changed (what PeriodicTask.save() does outside migrations).
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("recognizer", "0002_training_run_lock_and_timings"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
