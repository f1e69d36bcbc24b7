"""Celery tasks. ``fine_tune`` is what the periodic schedule (django-celery-beat, editable in the admin) runs.

A fine-tune requested while the broker is unreachable is not lost: :func:`queue_fine_tune` keeps it as a queued run
without ``sent_at`` ("waiting for the broker"), and :func:`send_waiting_fine_tunes` sends it once the broker is back.
That happens each time a worker (re)connects to the broker (a consumer step in ``digits_site/celery.py``: the moment
the broker is back is exactly when workers reconnect) and every minute from the beat schedule, for a broker that only
the web process had lost. A run is claimed before it is sent, so it is never sent twice; one fine-tune at a time is
the database lock's job (:mod:`training.runs`).

The training package (TensorFlow) is imported inside the task, so web processes, which import this module through
Celery's autodiscovery only to send tasks, never load TensorFlow.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from recognizer.models import TrainingRun

log = logging.getLogger(__name__)
RunStatus = TrainingRun.RunStatus
WAITING = "Waiting for the broker"


@shared_task(name="recognizer.tasks.fine_tune")
def fine_tune(run_id: int | None = None, force: bool = False) -> dict:
    """Fine-tune on MNIST plus the corrections and promote the result if it passes the gate.

    ``run_id`` is a queued run created by :func:`queue_fine_tune`; a message delivered again after its worker died
    finds that run no longer queued and records a new one.
    """
    from training.finetune import FinetuneOptions
    from training.finetune import fine_tune as run_pipeline

    run = TrainingRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).first() if run_id else None
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

    If the broker cannot take the message, the run waits for it with the reason (see the module docstring): asking
    for a fine-tune never fails for that. The run's ``sent_at`` (in the database) says whether it was sent.
    """
    run = TrainingRun.objects.create(
        kind=TrainingRun.Kind.FINETUNE, status=RunStatus.QUEUED, parameters={"force": force}, stage="not sent yet"
    )
    transaction.on_commit(lambda: send_fine_tune(run))
    return run


def send_fine_tune(run: TrainingRun) -> bool:
    """Hand a queued, unsent run to the broker; returns whether this call sent it.

    The run is claimed first (``sent_at`` set only where it is still empty), so two senders (a web process and a
    worker that just reconnected) never both send it. If the broker refuses, the claim is undone and the run waits,
    saying why. Each send opens its own connection: after an outage, a pooled one may be a dead socket.
    """
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED, sent_at__isnull=True).update(
        sent_at=now, message="", stage="sent to a worker"
    )
    if not claimed:
        return False
    try:
        with fine_tune.app.connection_for_write() as connection:
            fine_tune.apply_async((run.pk,), {"force": run.parameters.get("force", False)}, connection=connection)
    except OperationalError as exc:
        message = (
            f"{WAITING}: it was unreachable at {timezone.localtime(now):%Y-%m-%d %H:%M:%S %Z} ({exc}). "
            "The fine-tune is sent to a worker as soon as the broker is back."
        )
        TrainingRun.objects.filter(pk=run.pk).update(sent_at=None, message=message, stage=WAITING.lower())
        log.warning("Training run #%s waits for the broker: %s", run.pk, exc)
        return False
    return True


@shared_task(name="recognizer.tasks.send_waiting_fine_tunes", ignore_result=True)
def send_waiting_fine_tunes() -> list[int]:
    """Send the fine-tunes that wait for the broker, oldest first; returns the ids of the runs sent."""
    waiting = TrainingRun.objects.filter(
        kind=TrainingRun.Kind.FINETUNE, status=RunStatus.QUEUED, sent_at__isnull=True
    ).order_by("created_at", "pk")
    sent = [run.pk for run in waiting if send_fine_tune(run)]
    if sent:
        log.info("Sent the fine-tunes that waited for the broker: runs %s", sent)
    return sent


@worker_ready.connect
def reap_runs_of_dead_workers(**kwargs) -> None:
    """A worker that starts (typically after one crashed) marks failed the runs whose process is gone, at once."""
    from training.runs import reap_stale_runs

    reap_stale_runs()


@shared_task(name="training.tasks.decide_shadow_trials", ignore_result=True)
def decide_shadow_trials() -> list[dict]:
    """Judge the running shadow trials that are due: promote, refuse or extend (see :mod:`training.shadow`)."""
    from training.shadow import decide_trials

    return [{"trial": t.pk, "status": t.status, "reason": t.reason} for t in decide_trials()]
