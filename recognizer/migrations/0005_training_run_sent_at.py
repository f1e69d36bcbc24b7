"""A queued fine-tune records when it was handed to the broker (``sent_at``); one without it waits for the broker and
is sent when it is back (recognizer.tasks). Runs queued before this were sent when queued. The beat schedule gets the
every-minute task that sends waiting fine-tunes."""

from django.db import migrations, models
from django.db.models import F
from django.utils import timezone

TASK_NAME = "Send fine-tunes waiting for the broker"


def mark_queued_runs_sent(apps, schema_editor):
    TrainingRun = apps.get_model("recognizer", "TrainingRun")
    TrainingRun.objects.filter(status="queued").update(sent_at=F("created_at"))


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "recognizer.tasks.send_waiting_fine_tunes",
            "interval": every,
            "enabled": True,
            # Messages piled up behind a long fine-tune are dropped rather than run late: the next minute's will do.
            "expire_seconds": 50,
            "description": (
                "Sends the fine-tunes requested while the broker was unreachable (workers also send them when they "
                "reconnect). Cheap: it only reads the queued runs that were never sent."
            ),
        },
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("recognizer", "0004_client_key_cookie"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.AddField(
            model_name="trainingrun",
            name="sent_at",
            field=models.DateTimeField(
                blank=True,
                help_text=(
                    "When a queued fine-tune was handed to the broker; one without it waits for the broker to be back."
                ),
                null=True,
            ),
        ),
        migrations.RunPython(mark_queued_runs_sent, migrations.RunPython.noop),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
