"""Model versions in the admin: metrics, confusion matrix, artifacts, and activation or roll-back with confirmation."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone

from recognizer import registry, stats
from recognizer.models import Drawing, ModelVersion
from tests.support.factories import DrawingFactory, ModelVersionFactory
from tests.support.review_data import make_staff, make_visitor, submit

pytestmark = pytest.mark.django_db
CorrectionStatus = Drawing.CorrectionStatus
LIST = "/admin/recognizer/modelversion/"


def confirm_url(version: ModelVersion) -> str:
    return f"{LIST}{version.pk}/activate/"


@pytest.fixture
def candidate(active_model) -> ModelVersion:
    """A newer version (real artifacts) recorded 0.02 below the active one on MNIST, with held-out corrections
    accuracy from a fine-tune."""
    per_digit = {str(d): 0.9 for d in range(10)}
    return ModelVersionFactory(
        name="candidate",
        metrics={
            "mnist_test_accuracy": active_model.metrics["mnist_test_accuracy"] - 0.02,
            "heldout_corrections_accuracy": 0.85,
            "per_digit_accuracy": per_digit,
        },
        confusion_matrix=[[7 if i == j else 1 for j in range(10)] for i in range(10)],
        parent=active_model,
        trained_at=timezone.now() + timezone.timedelta(hours=1),
    )


def messages_of(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_version_list_shows_metrics_live_accuracy_and_state(staff_client, active_model, candidate) -> None:
    DrawingFactory(digit=1, corrected_label=1)  # right (pending)
    DrawingFactory(digit=2)  # right: nobody corrected it
    DrawingFactory(digit=3, predicted_digit=8, corrected_label=3, correction_status=CorrectionStatus.ACCEPTED)  # wrong
    DrawingFactory(digit=4, predicted_digit=9, corrected_label=4, correction_status=CorrectionStatus.REJECTED)  # stands
    response = staff_client.get(LIST)
    html = response.content.decode()
    assert f"{active_model.metrics['mnist_test_accuracy']:.2%}" in html  # the default model's MNIST accuracy
    assert f"{candidate.metrics['mnist_test_accuracy']:.2%}" in html
    assert "85.00%" in html  # held-out corrections accuracy, shown when the fine-tune recorded it
    assert ">active<" in html
    assert ">inactive<" in html
    rows = {v.name: v for v in response.context["cl"].result_list}
    assert (rows[active_model.name].served, rows[active_model.name].wrong) == (4, 1)
    assert "75.0%" in html  # live accuracy of the default model: 3 of 4 stand as right


def test_live_accuracy_ignores_pending_and_excluded_corrections(active_model) -> None:
    now = timezone.now()
    submit(1, predicted_digit=1, corrected_label=7, correction_status=CorrectionStatus.PENDING, corrected_at=now)
    excluded = submit(
        2, predicted_digit=2, corrected_label=3, correction_status=CorrectionStatus.ACCEPTED, corrected_at=now
    )
    Drawing.objects.filter(pk=excluded.pk).update(excluded_from_training=True)
    submit(3, predicted_digit=8, corrected_label=3, correction_status=CorrectionStatus.ACCEPTED, corrected_at=now)
    counted = stats.with_live_counts(ModelVersion.objects.filter(pk=active_model.pk)).get()
    assert (counted.served, counted.wrong) == (3, 1)  # only the accepted, included 8→3 is wrong


def test_version_page_shows_confusion_matrix_metrics_and_verified_artifacts(staff_client, candidate) -> None:
    html = staff_client.get(f"{LIST}{candidate.pk}/change/").content.decode()
    assert 'src="data:image/svg+xml;base64,' in html
    assert "Held-out corrections accuracy" in html
    assert "MNIST accuracy on 7s" in html
    assert candidate.tflite_sha256 in html
    assert candidate.keras_sha256 in html
    assert html.count("checksum matches") == 2
    assert ">Activate<" in html
    assert candidate.parent.name in html


def test_a_tampered_artifact_shows_as_a_mismatch(staff_client, candidate) -> None:
    storage = candidate.tflite_file.storage
    storage.delete(candidate.tflite_file.name)
    storage.save(candidate.tflite_file.name, ContentFile(b"not a model"))
    html = staff_client.get(f"{LIST}{candidate.pk}/change/").content.decode()
    assert "checksum MISMATCH" in html


def test_confirmation_page_shows_the_metric_differences(staff_client, active_model, candidate) -> None:
    response = staff_client.get(confirm_url(candidate))
    html = response.content.decode()
    assert response.context["title"] == "Activate candidate?"
    assert "-2.00 pp" in html  # the candidate's MNIST accuracy is 2 points below the active one
    assert "85.00%" in html
    per_seven = next(row for row in response.context["rows"] if row[0] == "MNIST accuracy on 7s")
    expected = 0.9 - active_model.metrics["per_digit_accuracy"]["7"]
    assert f"{expected * 100:+.2f} pp" in per_seven[3]
    ModelVersion.objects.get(pk=candidate.pk)
    assert ModelVersion.objects.active() == active_model  # looking changes nothing


def test_more_real_digits_answered_not_a_digit_shows_as_a_loss(staff_client, active_model, candidate) -> None:
    """A rate where less is better: the candidate that tells more MNIST test digits they are none is shown red."""
    for version, flagged in ((active_model, 0.0019), (candidate, 0.0040)):
        version.metrics["mnist_test_flagged"] = flagged
        version.save(update_fields=["metrics"])
    rows = staff_client.get(confirm_url(candidate)).context["rows"]
    flagged = next(row for row in rows if row[0] == "MNIST test digits answered not a digit")
    assert flagged[1:3] == ("0.19%", "0.40%")
    assert 'digits-diff--bad">+0.21 pp' in flagged[3]
    accuracy = next(row for row in rows if row[0] == "MNIST test accuracy")
    assert 'digits-diff--bad">-2.00 pp' in accuracy[3]


def test_activation_goes_through_the_registry_and_is_logged(staff_client, staff_user, active_model, candidate) -> None:
    response = staff_client.post(confirm_url(candidate), follow=True)
    assert "candidate is now active" in messages_of(response)
    assert ModelVersion.objects.active() == candidate
    entry = LogEntry.objects.get(object_id=str(candidate.pk), content_type__model="modelversion")
    assert entry.user == staff_user
    assert f"Activated; previously active: {active_model.name}" in entry.get_change_message()


def test_rolling_back_to_an_older_version(staff_client, active_model, candidate) -> None:
    registry.activate(candidate)
    html = staff_client.get(f"{LIST}{active_model.pk}/change/").content.decode()
    assert ">Roll back to this<" in html
    response = staff_client.get(confirm_url(active_model))
    assert response.context["title"] == f"Roll back to {active_model.name}?"
    assert "+2.00 pp" in response.content.decode()
    staff_client.post(confirm_url(active_model))
    assert ModelVersion.objects.active() == active_model
    entry = LogEntry.objects.get(object_id=str(active_model.pk), content_type__model="modelversion")
    assert "Rolled back from candidate" in entry.get_change_message()


def test_a_broken_artifact_is_refused_and_the_active_model_stays(staff_client, active_model, candidate) -> None:
    storage = candidate.tflite_file.storage
    storage.delete(candidate.tflite_file.name)
    response = staff_client.post(confirm_url(candidate), follow=True)
    assert "Activation refused, the active model is unchanged" in messages_of(response)
    assert ModelVersion.objects.active() == active_model


def test_activating_the_active_version_changes_nothing(staff_client, active_model) -> None:
    response = staff_client.get(confirm_url(active_model), follow=True)
    assert "already the active version" in messages_of(response)


@pytest.mark.parametrize("action", ["activate_version", "roll_back_to_version"])
def test_list_actions_lead_to_the_confirmation_page(staff_client, active_model, candidate, action: str) -> None:
    response = staff_client.post(LIST, {"action": action, "_selected_action": [candidate.pk]})
    assert response.status_code == 302
    assert response["Location"] == confirm_url(candidate)
    response = staff_client.post(LIST, {"action": action, "_selected_action": [candidate.pk, active_model.pk]})
    assert "Select exactly one version" in messages_of(staff_client.get(LIST))
    assert ModelVersion.objects.active() == active_model


def test_who_may_activate(django_user_model, active_model, candidate) -> None:
    url = confirm_url(candidate)
    assert Client().get(url)["Location"].startswith("/admin/login/")
    client = make_visitor(django_user_model)
    assert client.post(url)["Location"].startswith("/admin/login/")
    viewer = make_staff(django_user_model, "viewer", "view_modelversion")
    assert viewer.get(f"{LIST}{candidate.pk}/change/").status_code == 200
    assert ">Activate<" not in viewer.get(f"{LIST}{candidate.pk}/change/").content.decode()
    assert viewer.get(url).status_code == 403
    assert viewer.post(url).status_code == 403
    assert ModelVersion.objects.active() == active_model
    manager = make_staff(django_user_model, "manager", "view_modelversion", "change_modelversion")
    assert manager.post(url).status_code == 302
    assert ModelVersion.objects.active() == candidate
