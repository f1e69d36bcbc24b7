"""Training runs as database rows: the one-at-a-time lock, the heartbeat that proves a run alive, progress, timings.

The lock is the database itself: a partial unique constraint lets one run of each kind be *running* at a time. The
process holding it writes a heartbeat every ``DIGITS_RUN_HEARTBEAT_SECONDS`` from a background thread, so a run whose
heartbeat is older than ``DIGITS_RUN_STALE_SECONDS`` belongs to a worker that died (killed, out of memory, machine
lost): the next claim marks it failed, which frees the lock. On the same machine, a run whose process no longer
exists is known dead at once, and a worker that starts marks such runs failed (see :mod:`training.tasks`). Nothing
lives in a process's memory or in the broker, so the lock survives crashes and works the same with Redis or the
embedded broker and with any number of workers.

Shared by training from scratch and fine-tuning; no TensorFlow here.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from recognizer.models import TrainingRun

log = logging.getLogger(__name__)
RunStatus = TrainingRun.RunStatus
ProgressFn = Callable[[float, str], None]


class RunBusy(RuntimeError):
    """Another live run of the same kind holds the lock."""

    def __init__(self, holder: TrainingRun | None) -> None:
        self.holder = holder
        who = f"run #{holder.pk} on {holder.worker or 'an unknown worker'}" if holder else "another run"
        super().__init__(f"{who} is already running")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def process_gone(worker: str) -> bool:
    """Whether ``worker`` ("host:pid") names a process of this machine that no longer exists.

    Only a certain answer counts: another host, a pid now used by another process, or no permission to ask all leave
    the decision to the heartbeat.
    """
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    """A killed process whose parent died too may linger as a zombie until something reaps it: it is gone all the
    same (its state in /proc is Z)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def reap_stale_runs() -> list[int]:
    """Mark failed every running run whose process is gone (on this machine) or whose heartbeat is stale.

    Each update is conditional on the heartbeat the reaper saw, so a run that beats in between is left alone.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.DIGITS_RUN_STALE_SECONDS)
    reaped = []
    for run in TrainingRun.objects.filter(status=RunStatus.RUNNING):
        last = run.heartbeat_at or run.started_at
        if process_gone(run.worker):
            error = f"The worker running it ({run.worker}) died: its process is gone."
        elif last is None or last < cutoff:
            since = f"{last:%Y-%m-%d %H:%M:%S %Z}" if last else "it started"
            error = f"The worker running it ({run.worker or 'unknown'}) died: no heartbeat since {since}."
        else:
            continue
        updated = TrainingRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING, heartbeat_at=run.heartbeat_at).update(
            status=RunStatus.FAILED, finished_at=timezone.now(), error=error
        )
        if updated:
            log.warning("Training run #%s marked failed: %s", run.pk, error)
            reaped.append(run.pk)
    return reaped


def claim(run: TrainingRun) -> None:
    """Mark ``run`` running (saving it), holding its kind's lock; raises :class:`RunBusy` if a live run holds it."""
    reap_stale_runs()
    now = timezone.now()
    previous = run.status
    run.status, run.started_at, run.heartbeat_at, run.worker = RunStatus.RUNNING, now, now, worker_name()
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:
        run.status = previous
        raise RunBusy(TrainingRun.objects.filter(kind=run.kind, status=RunStatus.RUNNING).first()) from None


class RunRecorder:
    """Records a claimed run's life: heartbeat (a background thread), progress, stage timings and its outcome.

    Progress goes to the database at most every ``interval`` seconds (a write per batch is too many), and to an
    optional ``progress`` callback every time (the command's progress bar).
    """

    def __init__(
        self,
        run: TrainingRun,
        *,
        interval: float = 2.0,
        echo: Callable[[str], None] | None = None,
        progress: ProgressFn | None = None,
    ) -> None:
        self.run, self.interval, self.echo, self.progress = run, interval, echo, progress
        self._last = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunRecorder:
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-run-{self.run.pk}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.DIGITS_RUN_HEARTBEAT_SECONDS):
                try:
                    TrainingRun.objects.filter(pk=self.run.pk, status=RunStatus.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError as exc:  # a busy database delays one beat; the next one retries
                    log.warning("Heartbeat of training run #%s failed: %s", self.run.pk, exc)
        finally:
            connection.close()  # this thread's own connection

    def _write(self, percent: float, text: str) -> None:
        self.run.progress, self.run.stage, self.run.heartbeat_at = round(percent, 1), text[:120], timezone.now()
        self.run.save(update_fields=["progress", "stage", "heartbeat_at"])
        self._last = time.monotonic()

    def stage(self, percent: float, text: str) -> None:
        self._write(percent, text)
        if self.progress:
            self.progress(percent, text)
        if self.echo:
            self.echo(f"[{percent:5.1f}%] {text}")

    def within(self, start: float, end: float) -> ProgressFn:
        """A progress function mapping 0-1 of one stage onto ``start``-``end`` percent of the run."""

        def report(fraction: float, text: str) -> None:
            percent = start + (end - start) * fraction
            if self.progress:
                self.progress(percent, text)
            if time.monotonic() - self._last >= self.interval or fraction >= 1.0:
                self._write(percent, text)

        return report

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Add the seconds spent in the block to the run's ``timings[name]``."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.run.timings[name] = round(self.run.timings.get(name, 0.0) + time.monotonic() - started, 2)

    def finish(self, status: str, message: str = "") -> TrainingRun:
        """Record the outcome; the lock is released with the ``running`` status."""
        self.run.status, self.run.finished_at = status, timezone.now()
        if message:
            self.run.message = message
        if status != RunStatus.FAILED:
            self.run.progress, self.run.stage = 100.0, "done"
        self.run.save()
        if self.progress:
            self.progress(self.run.progress, self.run.get_status_display())
        return self.run

    def fail(self, exc: BaseException) -> TrainingRun:
        self.run.error = f"{type(exc).__name__}: {exc}"
        return self.finish(RunStatus.FAILED)
