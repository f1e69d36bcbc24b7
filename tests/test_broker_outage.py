"""Redis down: a fine-tune asked for while the broker is unreachable waits as a queued run, and runs once it is back.

Real parts: Redis behind a TCP proxy that the test cuts and restores (tests/faults.py), a real Celery worker process
on it (tests/workers.py), and ``manage.py finetune --queue`` asking for the fine-tunes (the admin's "fine-tune now"
goes through the same ``queue_fine_tune``; tests/test_admin_runs.py tests what it says). The fine-tunes find no
correction and are skipped with that reason: a recorded skip proves that a worker ran the task for that very run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from celery import current_app

from recognizer.models import TrainingRun
from tests.support.env import skip_or_fail
from tests.support.faults import TcpProxy, closed_port
from tests.support.workers import Service, process_env, queue_fine_tune, start_worker, wait_for_run

pytestmark = [pytest.mark.celery, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

RunStatus = TrainingRun.RunStatus
REDIS_URL = os.environ.get("DIGITS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SKIPPED = "Skipped: 0 new distinct image(s) with a usable correction so far; at least 30 are needed."


@pytest.fixture
def redis_proxy() -> Iterator[tuple[TcpProxy, str]]:
    """Redis behind a TCP proxy: the proxy, and the broker URL that goes through it."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis at {REDIS_URL} is unreachable: {exc}")
    parts = urlsplit(REDIS_URL)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    proxy.restore()
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@" if credentials else ""
    yield proxy, parts._replace(netloc=f"{netloc}127.0.0.1:{proxy.port}").geturl()
    proxy.cut()


def wait_for_log(worker: Service, text: str, after: int = 0) -> int:
    """Wait until the worker's log says ``text`` past offset ``after``; returns the log's length then."""
    worker.wait_for(lambda: text in worker.output()[after:], 60, repr(text))
    return len(worker.output())


def test_a_fine_tune_asked_for_while_the_broker_is_down_runs_once_it_is_back(
    active_model, redis_proxy, services, tmp_path: Path
) -> None:
    proxy, broker_url = redis_proxy
    queue = f"digits-test-{os.getpid()}-{proxy.port}"
    env = process_env(tmp_path, {"CELERY_BROKER_URL": broker_url, "CELERY_TASK_DEFAULT_QUEUE": queue})
    worker = start_worker(services, env)

    # Redis goes away: the worker loses it, and a fine-tune asked for now is kept, waiting, instead of failing.
    proxy.cut()
    seen = wait_for_log(worker, "Connection to broker lost")
    first = queue_fine_tune(env)
    run = TrainingRun.objects.get(pk=first)
    assert (run.status, run.sent_at, run.stage) == (RunStatus.QUEUED, None, "waiting for the broker")
    assert run.message.startswith("Waiting for the broker: it was unreachable at ")

    # Redis is back: the worker reconnects, sends the waiting run and runs it.
    proxy.restore()
    run = wait_for_run(first, worker)
    assert (run.status, run.message) == (RunStatus.SKIPPED, SKIPPED)
    assert run.sent_at is not None
    assert run.started_at >= run.sent_at
    assert run.worker
    wait_for_log(worker, f"Sent the fine-tunes that waited for the broker: runs [{first}]", seen)

    # Only this process lost the broker (the worker kept it): the beat schedule's dispatcher, sent as beat sends it,
    # makes the worker send the waiting run.
    second = queue_fine_tune({**env, "CELERY_BROKER_URL": f"redis://127.0.0.1:{closed_port()}/0"})
    assert TrainingRun.objects.get(pk=second).sent_at is None
    with current_app.connection_for_write(broker_url) as connection:
        current_app.send_task("recognizer.tasks.send_waiting_fine_tunes", queue=queue, connection=connection)
    run = wait_for_run(second, worker)
    assert (run.status, run.message) == (RunStatus.SKIPPED, SKIPPED)
    assert run.started_at >= run.sent_at

    # No run was sent twice: a second message for the first run would have come first (one worker, one process, a
    # FIFO queue) and recorded a third run.
    assert TrainingRun.objects.count() == 2
