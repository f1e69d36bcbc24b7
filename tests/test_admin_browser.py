"""The admin in a real browser (Debian's Chromium through Playwright) against a live server with real data.

Staff log in through the login form, work the review queue with a bulk action, watch a training run's progress bar
move by itself, and see the dashboard's charts load. Each page is also saved as ``admin-*.png`` and checked; with
``DIGITS_SCREENSHOTS=1`` over the committed ones in ``docs/screenshots``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from recognizer.models import Drawing, ModelVersion, Submission, TrainingRun
from recognizer.review import needs_review
from tests.support.env import csp_violations
from tests.support.factories import CLIENTS, ModelVersionFactory
from tests.support.review_data import submit
from tests.support.screenshots import save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CorrectionStatus = Drawing.CorrectionStatus
PASSWORD = "pw-staff-123"


@pytest.fixture
def page(browser, live_server, staff_user):
    """A page logged in as staff through the admin's own login form."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    tab = context.new_page()
    refused = csp_violations(tab)
    tab.goto(f"{live_server.url}/admin/login/?next=/admin/")
    tab.fill("#id_username", staff_user.username)
    tab.fill("#id_password", PASSWORD)
    tab.click("input[type=submit]")
    tab.wait_for_url(f"{live_server.url}/admin/")
    yield tab
    context.close()
    assert not refused, f"refused by the Content-Security-Policy: {refused}"


def shoot(tab, name: str, tmp_path: Path) -> None:
    """A screenshot of the whole page (256 colours are plenty for admin pages; see save_screenshot)."""
    save_screenshot(tab.screenshot(full_page=True), f"admin-{name}.png", tmp_path, colors=256)


@pytest.fixture
def product(active_model, staff_user) -> dict:
    """A fortnight of real traffic across two model versions, corrections in every state, and training runs."""
    now = timezone.now()
    newer = ModelVersionFactory(
        name="finetune-20260601",
        parent=active_model,
        trained_at=now - timezone.timedelta(days=6),
        metrics={**active_model.metrics, "mnist_test_accuracy": 0.1876, "heldout_corrections_accuracy": 0.64},
        confusion_matrix=active_model.confusion_matrix,
    )
    drawings = []
    for i in range(24):
        digit = i % 10
        state = {}
        if i % 4 == 1:
            state = {
                "corrected_label": (digit + 3) % 10,
                "correction_status": CorrectionStatus.PENDING,
                "corrected_at": now,
            }
        elif i % 6 == 2:
            state = {"corrected_label": digit, "correction_status": CorrectionStatus.ACCEPTED, "corrected_at": now}
        elif i == 11:
            state = {"corrected_label": 1, "correction_status": CorrectionStatus.REJECTED, "corrected_at": now}
        elif i == 19:
            state = {"excluded_from_training": True, "reviewed_by": staff_user, "reviewed_at": now}
        drawing = submit(digit, variant=i // 10, client=CLIENTS[i % len(CLIENTS)], **state)
        when = now - timezone.timedelta(days=13 - i * 13 // 23, hours=i % 5)
        version = newer if i >= 12 else active_model
        Drawing.objects.filter(pk=drawing.pk).update(created_at=when, model_version=version)
        Submission.objects.filter(pk=drawing.submission_id).update(created_at=when)
        drawings.append(drawing)
    history = {
        "loss": [0.61, 0.32, 0.24, 0.2],
        "accuracy": [0.81, 0.9, 0.93, 0.94],
        "val_loss": [0.4, 0.28, 0.23, 0.21],
        "val_accuracy": [0.88, 0.92, 0.935, 0.94],
    }
    runs = {
        "succeeded": TrainingRun.objects.create(
            status=TrainingRun.RunStatus.SUCCEEDED,
            progress=100,
            stage="done",
            started_at=now - timezone.timedelta(days=6, minutes=4),
            finished_at=now - timezone.timedelta(days=6),
            base_version=active_model,
            result_version=newer,
            mnist_samples=6000,
            correction_samples=9,
            heldout_samples=3,
            history=history,
            metrics_before={"mnist_test_accuracy": 0.1721},
            metrics_after={"mnist_test_accuracy": 0.1876, "heldout_corrections_accuracy": 0.64},
        ),
        "failed": TrainingRun.objects.create(
            status=TrainingRun.RunStatus.FAILED,
            started_at=now - timezone.timedelta(days=2, minutes=1),
            finished_at=now - timezone.timedelta(days=2),
            base_version=newer,
            error="MnistUnavailable: could not fetch MNIST into /srv/digits/var/mnist",
        ),
        "running": TrainingRun.objects.create(
            status=TrainingRun.RunStatus.RUNNING,
            progress=12.5,
            stage="epoch 1/3, batch 40/160",
            started_at=now - timezone.timedelta(seconds=75),
            base_version=newer,
            mnist_samples=6000,
            correction_samples=11,
            heldout_samples=3,
        ),
    }
    to_review = needs_review(Drawing.objects.all()).count()
    return {"newer": newer, "drawings": drawings, "runs": runs, "to_review": to_review}


def test_staff_work_the_review_queue_with_a_bulk_action(product, page, live_server, staff_user, tmp_path) -> None:
    page.goto(f"{live_server.url}/admin/")
    assert f"Needs review ({product['to_review']})" in page.inner_text(".digits-shortcuts")
    shoot(page, "index", tmp_path)
    page.click("text=Needs review")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list img.digits-input").count() >= 6  # the pending ones, then the unsure ones
    shoot(page, "review-queue", tmp_path)
    pending = Drawing.objects.filter(correction_status=CorrectionStatus.PENDING).order_by("pk")
    first = pending[0]
    page.check(f"input[name=_selected_action][value='{first.pk}']")
    page.select_option("select[name=action]", "relabel")
    page.select_option("select[name=label]", "2")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "Relabelled as 2: 1 drawing." in page.inner_text(".messagelist")
    first.refresh_from_db()
    assert (first.corrected_label, first.correction_status, first.reviewed_by) == (
        2,
        CorrectionStatus.ACCEPTED,
        staff_user,
    )
    page.goto(f"{live_server.url}/admin/recognizer/drawing/")
    assert page.locator("#result_list tbody tr").count() == len(product["drawings"])
    shoot(page, "drawings", tmp_path)
    page.goto(f"{live_server.url}/admin/recognizer/drawing/{first.pk}/change/")
    shoot(page, "drawing", tmp_path)


def test_a_running_training_run_updates_itself(product, page, live_server, tmp_path) -> None:
    from playwright.sync_api import expect

    running = product["runs"]["running"]
    page.goto(f"{live_server.url}/admin/recognizer/trainingrun/")
    bar = page.locator(f".digits-run[data-run='{running.pk}'] progress")
    assert bar.get_attribute("value") == "12.5"
    TrainingRun.objects.filter(pk=running.pk).update(progress=63.0, stage="epoch 2/3, batch 100/160")
    expect(bar).to_have_js_property("value", 63, timeout=15_000)
    assert "epoch 2/3" in page.inner_text(f".digits-run[data-run='{running.pk}']")
    shoot(page, "training-runs", tmp_path)
    page.goto(f"{live_server.url}/admin/recognizer/trainingrun/{product['runs']['succeeded'].pk}/change/")
    shoot(page, "training-run", tmp_path)


def test_dashboard_and_model_pages_show_their_charts(product, page, live_server, tmp_path) -> None:
    page.goto(f"{live_server.url}/admin/dashboard/")
    charts = page.locator(".digits-charts img")
    assert charts.count() == 4
    for i in range(4):
        assert charts.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    shoot(page, "dashboard", tmp_path)
    newer = product["newer"]
    page.goto(f"{live_server.url}/admin/recognizer/modelversion/")
    shoot(page, "model-versions", tmp_path)
    page.goto(f"{live_server.url}/admin/recognizer/modelversion/{newer.pk}/change/")
    assert page.locator("img.digits-chart").evaluate("img => img.naturalWidth > 0")
    shoot(page, "model-version", tmp_path)
    page.click("a.digits-activate")
    page.wait_for_selector(".digits-compare")
    shoot(page, "activate", tmp_path)
    page.click("input[type=submit]")
    page.wait_for_selector(".messagelist")
    assert ModelVersion.objects.active() == newer
