"""Celery queues by kind of work: fine-tuning on the training queue, light tasks on the default one, and a worker
started without ``-Q`` (the Procfile's, on one machine) consuming both."""

from __future__ import annotations

from django.conf import settings

from digits_site.celery import app


def queue_of(task_name: str) -> str:
    route = app.amqp.router.route({}, task_name)
    return route["queue"].name


def test_fine_tunes_go_to_the_training_queue() -> None:
    assert settings.DIGITS_TRAINING_QUEUE == "training"
    assert queue_of("recognizer.tasks.fine_tune") == "training"


def test_light_tasks_stay_on_the_default_queue() -> None:
    assert queue_of("recognizer.tasks.send_waiting_fine_tunes") == settings.CELERY_TASK_DEFAULT_QUEUE
    assert queue_of("celery.backend_cleanup") == settings.CELERY_TASK_DEFAULT_QUEUE


def test_a_worker_without_queues_named_consumes_both() -> None:
    # `celery worker` with no -Q consumes every queue in task_queues: the one-machine Procfile needs nothing more.
    # (app.amqp.queues also gains every queue a test sent to; the configured ones are what a worker starts with.)
    assert {queue.name for queue in app.conf.task_queues} == {settings.CELERY_TASK_DEFAULT_QUEUE, "training"}
