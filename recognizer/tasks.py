"""Celery tasks. ``fine_tune`` is what the periodic schedule (django-celery-beat, editable in the admin) runs.

The training package (TensorFlow) is imported inside the task, so web processes, which import this module through
Celery's autodiscovery only to send tasks, never load TensorFlow.
"""

from __future__ import annotations

from celery import shared_task
from celery.signals import worker_ready
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from recognizer.models import TrainingRun


@shared_task(name="recognizer.tasks.fine_tune")
def fine_tune(run_id: int | None = None, force: bool = False) -> dict:
    """Fine-tune on MNIST plus the corrections and promote the result if it passes the gate.

    ``run_id`` is a queued run created by :func:`queue_fine_tune`; a message delivered again after its worker died
    finds that run no longer queued and records a new one.
    """
    from training.finetune import FinetuneOptions
    from training.finetune import fine_tune as run_pipeline

    run = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).first() if run_id else None
    options = FinetuneOptions.from_settings(force=force, command="Celery task recognizer.tasks.fine_tune")
    run = run_pipeline(options, run=run)
    return {
        "run": run.pk,
        "status": run.status,
        "version": run.result_version.name if run.result_version else None,
        "message": run.message,
    }


def queue_fine_tune(force: bool = False) -> TrainingRun:
    """Record a queued fine-tune, so it shows at once, and send it to a worker once the row is committed.

    If the broker cannot take the message, the run is marked failed with the reason and the error is raised.
    """
    run = TrainingRun.objects.create(kind=TrainingRun.Kind.FINETUNE, status=TrainingRun.Status.QUEUED)

    def send() -> None:
        try:
            fine_tune.delay(run.pk, force=force)
        except OperationalError as exc:
            TrainingRun.objects.filter(pk=run.pk).update(
                status=TrainingRun.Status.FAILED, finished_at=timezone.now(), error=f"The broker is unreachable: {exc}"
            )
            raise

    transaction.on_commit(send)
    return run


@worker_ready.connect
def reap_runs_of_dead_workers(**kwargs) -> None:
    """A worker that starts (typically after one crashed) marks failed the runs whose process is gone, at once."""
    from training.runs import reap_stale_runs

    reap_stale_runs()
