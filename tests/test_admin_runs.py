"""Training runs in the admin: live progress, figures, errors, "fine-tune now" (a real broker message) and schedule;
and the staff dashboard with its figures."""

from __future__ import annotations

import queue

import pytest
from celery import current_app
from django.conf import settings
from django.contrib import messages
from django.contrib.messages import get_messages
from django.contrib.messages.storage.base import Message
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from recognizer import stats
from recognizer.models import Drawing, TrainingRun
from tests.support.env import off_site_references
from tests.support.factories import DrawingFactory
from tests.support.faults import closed_port
from tests.support.review_data import make_staff, make_visitor
from training.admin.runs import FINE_TUNE_TASK
from training.tasks import send_waiting_fine_tunes

pytestmark = pytest.mark.django_db
CorrectionStatus = Drawing.CorrectionStatus
LIST = "/admin/recognizer/trainingrun/"
PROGRESS = f"{LIST}progress/"
FINE_TUNE = f"{LIST}fine-tune/"


@pytest.fixture
def runs(active_model) -> dict[str, TrainingRun]:
    now = timezone.now()
    history = {
        "loss": [0.9, 0.5, 0.3],
        "accuracy": [0.7, 0.85, 0.9],
        "val_loss": [0.6, 0.4],
        "val_accuracy": [0.8, 0.88],
    }
    return {
        "running": TrainingRun.objects.create(
            status=TrainingRun.RunStatus.RUNNING,
            progress=42.0,
            stage="epoch 2/3",
            started_at=now,
            base_version=active_model,
        ),
        "succeeded": TrainingRun.objects.create(
            kind=TrainingRun.Kind.TRAIN,
            status=TrainingRun.RunStatus.SUCCEEDED,
            progress=100.0,
            stage="done",
            started_at=now - timezone.timedelta(minutes=5, seconds=3),
            finished_at=now,
            result_version=active_model,
            mnist_samples=4000,
            correction_samples=120,
            heldout_samples=30,
            history=history,
            metrics_before={"mnist_test_accuracy": 0.95},
            metrics_after={"mnist_test_accuracy": 0.97, "heldout_corrections_accuracy": 0.8},
        ),
        "failed": TrainingRun.objects.create(
            status=TrainingRun.RunStatus.FAILED, started_at=now, finished_at=now, error="ValueError: <no corrections>"
        ),
    }


def test_run_list_shows_live_status_progress_samples_and_duration(staff_client, runs) -> None:
    html = staff_client.get(LIST).content.decode()
    assert '<progress max="100" value="42.0"></progress>' in html
    assert "epoch 2/3" in html
    assert 'data-url="/admin/recognizer/trainingrun/progress/"' in html
    assert "4,000 / 120 / 30" in html
    assert "5m 03s" in html
    assert "so far" in html  # the running one
    assert "recognizer/admin/progress.js" in html
    assert "Failed" in html


def test_run_page_shows_curves_confusion_metrics_and_error(staff_client, runs) -> None:
    html = staff_client.get(f"{LIST}{runs['succeeded'].pk}/change/").content.decode()
    assert html.count('src="data:image/svg+xml;base64,') == 2  # curves from the history, the version's matrix
    assert "95.00%" in html
    assert "97.00%" in html
    failed = staff_client.get(f"{LIST}{runs['failed'].pk}/change/").content.decode()
    assert '<pre class="digits-error">ValueError: &lt;no corrections&gt;</pre>' in failed


def test_progress_endpoint_reports_the_current_state(staff_client, runs) -> None:
    running = runs["running"]
    url = f"{PROGRESS}?ids={running.pk},{runs['failed'].pk}"
    data = staff_client.get(url).json()["runs"]
    assert data[str(running.pk)]["progress"] == 42.0
    assert data[str(running.pk)]["final"] is False
    assert data[str(runs["failed"].pk)]["final"] is True
    TrainingRun.objects.filter(pk=running.pk).update(progress=77.5, stage="epoch 3/3")
    data = staff_client.get(url).json()["runs"]
    assert (data[str(running.pk)]["progress"], data[str(running.pk)]["stage"]) == (77.5, "epoch 3/3")


def test_progress_endpoint_is_staff_only(django_user_model, runs) -> None:
    url = f"{PROGRESS}?ids={runs['running'].pk}"
    assert Client().get(url)["Location"].startswith("/admin/login/")
    client = make_visitor(django_user_model)
    assert client.get(url)["Location"].startswith("/admin/login/")
    assert make_staff(django_user_model, "intern").get(url).status_code == 403


def take_task_message(run: TrainingRun) -> dict:
    """Consume the broker's training queue (where fine-tunes are routed) until the fine-tune message for ``run``
    (acking what it reads); its headers."""
    with current_app.connection_for_read() as connection:
        inbox = connection.SimpleQueue(settings.DIGITS_TRAINING_QUEUE)
        try:
            while True:
                message = inbox.get(timeout=5)
                message.ack()
                if message.payload[0] == [run.pk]:
                    return message.headers
        except queue.Empty:
            pytest.fail(f"no message for run #{run.pk} in the broker queue")
        finally:
            inbox.close()


def fine_tune_now(client: Client, data: dict | None = None) -> tuple[str, Message, TrainingRun]:
    """Press "Fine-tune now"; returns where it leads, what it said, and the run it queued."""
    response = client.post(FINE_TUNE, data or {})
    assert response.status_code == 302
    note = list(get_messages(response.wsgi_request))[-1]
    run = TrainingRun.objects.latest("pk")
    assert f"run #{run.pk}" in str(note)
    return response["Location"], note, run


# "Fine-tune now" sends once the run's row is committed: these tests commit.


@pytest.mark.django_db(transaction=True)
def test_fine_tune_now_queues_a_run_and_sends_it_to_the_broker(staff_client, runs) -> None:
    assert "Fine-tune now" in staff_client.get(LIST).content.decode()
    location, note, run = fine_tune_now(staff_client)
    assert location == LIST
    assert str(note) == (
        f"Fine-tune queued as training run #{run.pk} on the 'training' queue; a worker that consumes it will start it."
    )
    assert (run.status, run.kind, run.message) == (TrainingRun.RunStatus.QUEUED, TrainingRun.Kind.FINETUNE, "")
    assert run.sent_at is not None
    assert take_task_message(run)["task"] == FINE_TUNE_TASK


@pytest.mark.django_db(transaction=True)
def test_fine_tune_now_from_the_dashboard_comes_back_to_it(staff_client, runs) -> None:
    location, _, run = fine_tune_now(staff_client, {"next": "/admin/dashboard/?days=7"})
    assert location == "/admin/dashboard/?days=7"
    take_task_message(run)
    location, _, run = fine_tune_now(staff_client, {"next": "https://elsewhere.example/"})
    assert location == LIST  # never redirects off the site
    take_task_message(run)


@pytest.mark.django_db(transaction=True)
def test_fine_tune_now_with_the_broker_down_keeps_the_run_waiting_until_it_is_back(staff_client, runs) -> None:
    """Nothing listens at the broker's address: the run is kept, unsent, saying why; once the broker answers, the
    dispatcher (run by reconnecting workers and every minute by beat) sends it, once."""
    conf = current_app.conf
    working = conf.broker_url
    conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    try:
        location, note, run = fine_tune_now(staff_client)
    finally:
        conf.broker_url = working
    assert location == LIST
    assert note.level == messages.WARNING
    assert str(note).startswith(f"Training run #{run.pk} is queued but not sent: Waiting for the broker: ")
    assert "Connection refused" in str(note)
    assert (run.status, run.sent_at, run.stage) == (TrainingRun.RunStatus.QUEUED, None, "waiting for the broker")
    assert run.message.endswith("The fine-tune is sent to a worker as soon as the broker is back.")
    assert "waiting for the broker" in staff_client.get(LIST).content.decode()

    assert send_waiting_fine_tunes() == [run.pk]
    assert take_task_message(run)["task"] == FINE_TUNE_TASK
    run.refresh_from_db()
    assert (run.status, run.message, run.stage) == (TrainingRun.RunStatus.QUEUED, "", "sent to a worker")
    assert run.sent_at is not None
    assert send_waiting_fine_tunes() == []  # sent once


def test_fine_tune_now_needs_post_and_permission(django_user_model, staff_client, runs) -> None:
    assert staff_client.get(FINE_TUNE).status_code == 405
    viewer = make_staff(django_user_model, "viewer", "view_trainingrun")
    assert viewer.post(FINE_TUNE).status_code == 403
    assert "Fine-tune now" not in viewer.get(LIST).content.decode()
    assert Client().post(FINE_TUNE)["Location"].startswith("/admin/login/")


def test_the_schedule_is_shown_and_linked(staff_client, runs) -> None:
    default = PeriodicTask.objects.get(task=FINE_TUNE_TASK)  # the default schedule, created by a migration
    assert default.interval.every == 6
    assert default.interval.period == IntervalSchedule.HOURS
    html = staff_client.get(LIST).content.decode()
    assert "Fine-tune on corrections" in html
    assert f"/admin/django_celery_beat/periodictask/{default.pk}/change/" in html
    default.delete()
    html = staff_client.get(LIST).content.decode()
    assert "Add a schedule" in html
    every_day = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.DAYS)
    task = PeriodicTask.objects.create(name="Nightly fine-tune", task=FINE_TUNE_TASK, interval=every_day)
    html = staff_client.get(LIST).content.decode()
    assert "Nightly fine-tune" in html
    assert f"/admin/django_celery_beat/periodictask/{task.pk}/change/" in html
    schedule_list = staff_client.get(f"/admin/django_celery_beat/periodictask/?task={FINE_TUNE_TASK}")
    assert [t.pk for t in schedule_list.context["cl"].result_list] == [task.pk]
    assert staff_client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/").status_code == 200


# The dashboard.


@pytest.fixture
def traffic(active_model) -> list[Drawing]:
    """Six drawings over three days: two corrected to another digit (one of them rejected), one confirmed."""
    now = timezone.now()
    days_ago = [now - timezone.timedelta(days=days) for days in range(3)]
    return [
        DrawingFactory(digit=1, confidence=0.99, created_at=days_ago[0]),
        DrawingFactory(digit=2, confidence=0.98, created_at=days_ago[0]),
        DrawingFactory(digit=3, predicted_digit=5, corrected_label=3, created_at=days_ago[1]),
        DrawingFactory(digit=4, corrected_label=4, correction_status=CorrectionStatus.ACCEPTED, created_at=days_ago[1]),
        DrawingFactory(
            digit=7,
            predicted_digit=1,
            corrected_label=7,
            correction_status=CorrectionStatus.REJECTED,
            created_at=days_ago[2],
        ),
        DrawingFactory(digit=9, confidence=0.2, created_at=days_ago[2]),
    ]


def test_dashboard_figures(traffic, active_model) -> None:
    days, counts = stats.submissions_per_day(7)
    assert len(days) == 7
    assert counts[-3:] == [2, 2, 2]
    assert sum(counts) == 6
    rates = stats.daily_rates(7)
    assert [v for _, v in rates.correction_rate[active_model.name]] == [0.5, 1.0, 0.0]  # oldest day first
    # Only accepted corrections count: the pending 5→3 does not (yet), the rejected one never.
    assert [v for _, v in rates.live_accuracy[active_model.name]] == [1.0, 1.0, 1.0]
    matrix = stats.live_confusion()
    assert matrix[3][5] == 0  # the pending 3-for-a-5 is only a claim
    assert matrix[5][5] == 1
    assert matrix[1][1] == 2  # the right 1, and the 7 whose correction was rejected
    assert sum(map(sum, matrix)) == 6


def test_dashboard_renders_charts_active_version_runs_and_queue(staff_client, traffic, runs, active_model) -> None:
    response = staff_client.get("/admin/dashboard/?days=7")
    html = response.content.decode()
    assert html.count('src="data:image/svg+xml;base64,') == 4
    assert response.context["totals"] == {"drawings": 6, "corrected": 3, "wrong": 0}  # the pending 5→3 is a claim
    assert response.context["correction_rate"] == "50.0%"
    assert response.context["live_accuracy"] == "100.0%"  # no accepted correction names another digit
    assert response.context["to_review"] == 2  # the pending correction, the unsure 9
    assert active_model.name in html
    assert html.count('class="digits-run"') == 3
    assert "Fine-tune now" in html
    assert "<script" in html
    assert off_site_references(html) == []
    assert staff_client.get("/admin/dashboard/?days=bogus").context["days"] == 30


def test_dashboard_is_linked_from_every_admin_page(staff_client, runs) -> None:
    assert 'href="/admin/dashboard/"' in staff_client.get(LIST).content.decode()
