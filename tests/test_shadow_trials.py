"""Shadow trials with the real database, the real shipped model and real candidates: the candidate reads live drawings
through the real prediction path (answers stored, never shown), and the trial promotes it or refuses it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bench.drawing import mnist_as_drawing, png_bytes
from recognizer import registry, serving
from recognizer.models import ModelVersion, ShadowPrediction, ShadowTrial, TrainingRun, TrustPolicy
from recognizer.predictions import correct, create_submission
from tests.support.factories import ModelVersionFactory
from tests.support.review_data import CLIENTS, submit
from training import shadow
from training.finetune import FinetuneOptions, Verdict, _activate_if_passed
from training.tasks import decide_shadow_trials

pytestmark = pytest.mark.django_db
Status = ShadowTrial.Status


@pytest.fixture
def trial_policy(active_model) -> TrustPolicy:
    policy, _ = TrustPolicy.objects.update_or_create(
        pk=1,
        defaults={"shadow_trials": True, "shadow_drawings": 12, "shadow_hours": 24, "shadow_min_labelled": 10},
    )
    return policy


def test_the_candidate_reads_live_drawings_unseen_and_a_sound_one_is_promoted(trial_policy, active_model, tmp_path):
    candidate = ModelVersionFactory(name="candidate", parent=active_model)
    trial = shadow.start_trial(candidate, active_model)
    drawings = [submit(digit % 10, variant=digit // 10) for digit in range(12)]
    answers = dict(ShadowPrediction.objects.filter(trial=trial).values_list("drawing_id", "digit"))
    assert set(answers) == {d.pk for d in drawings}  # every live drawing read by the candidate too
    for drawing in drawings:
        assert drawing.model_version == active_model  # what was shown is the active model's answer
        assert answers[drawing.pk] == drawing.predicted_digit  # the same artifacts read the same
    correct(drawings[0], (drawings[0].predicted_digit + 1) % 10)  # one correction: both models were wrong on it

    assert decide_shadow_trials()[0]["status"] == Status.PROMOTED
    trial.refresh_from_db()
    assert trial.decided_by == "policy"
    assert trial.figures["judged"] == 12
    assert trial.figures["corrected"] == 1
    assert trial.figures["candidate_right"] == trial.figures["baseline_right"] == 11
    assert ModelVersion.objects.active() == candidate
    assert "promoted by policy" in ModelVersion.objects.get(pk=candidate.pk).notes
    serving.reset()
    assert create_submission(png_bytes(mnist_as_drawing(_blob())), CLIENTS[0]).ordered_drawings[0].model_version == (
        candidate
    )


def test_a_worse_candidate_is_refused(trial_policy, active_model, small_model_files, mnist):
    """A weak real model (two epochs on 3,000 images) as the candidate: on real digits people let stand, it agrees
    with them less often than the shipped model, so it is refused and the shipped model stays active. 400 digits:
    on the first 150 a lucky training of the weak model once read every one as the shipped model does."""
    trial_policy.shadow_drawings = 400
    trial_policy.save()
    weak = registry.register_version("weak", *small_model_files, metrics={}, parent=active_model)
    trial = shadow.start_trial(weak, active_model)
    for image in mnist.x_test[:400]:
        create_submission(png_bytes(mnist_as_drawing(image)), CLIENTS[1])
    shadow.decide(trial)
    trial.refresh_from_db()
    assert trial.status == Status.REFUSED
    assert trial.figures["candidate_right"] < trial.figures["baseline_right"]
    # Refused as worse overall, or for the digit it reads worst (whichever it is for this training of the weak model).
    assert trial.reason.startswith(("Worse live than the active model", "Reads the "))
    assert ModelVersion.objects.active() == active_model


def test_a_candidate_better_on_average_but_worse_on_one_digit_is_refused(trial_policy, active_model, tmp_path):
    """What a targeted poisoning looks like live: the candidate reads three 7s as 1 that the active model read right,
    and fixes four other drawings people corrected. Better on average, refused for the 7s."""
    trial_policy.shadow_drawings = 16
    trial_policy.save()
    candidate = ModelVersionFactory(name="poisoned", parent=active_model)
    trial = shadow.start_trial(candidate, active_model)
    sevens = [submit(7, variant=v) for v in range(3)]
    others = [submit(d % 10, variant=d // 10) for d in range(13)]
    assert all(s.predicted_digit == 7 for s in sevens)
    ShadowPrediction.objects.filter(trial=trial, drawing__in=sevens).update(digit=1)
    for drawing in others[:4]:  # people corrected the active model; the candidate read them as they said
        label = (drawing.predicted_digit + 1) % 10
        correct(drawing, label)
        ShadowPrediction.objects.filter(trial=trial, drawing=drawing).update(digit=label)

    shadow.decide(trial)
    trial.refresh_from_db()
    assert trial.figures["candidate_right"] > trial.figures["baseline_right"]
    assert (trial.figures["worst_digit"], trial.figures["worst_digit_loss"]) == (7, 3)
    assert trial.status == Status.REFUSED
    assert trial.reason.startswith("Reads the 7s worse live: 3 more of them wrong")
    assert ModelVersion.objects.active() == active_model


def test_a_trial_is_judged_only_when_due_and_extended_once_for_want_of_evidence(trial_policy, active_model, tmp_path):
    candidate = ModelVersionFactory(name="candidate")
    trial = shadow.start_trial(candidate, active_model)
    submit(3)
    assert shadow.decide(trial).status == Status.RUNNING  # 1 of 12 drawings, time not up: not due
    later = timezone.now() + timedelta(hours=25)
    trial = shadow.decide(trial, now=later)  # time is up, 1 judged of the 10 needed: extended once
    assert trial.status == Status.RUNNING
    assert trial.extended == 1
    assert trial.target_drawings == 24
    trial = shadow.decide(trial, now=later + timedelta(hours=25))
    assert trial.status == Status.REFUSED
    assert trial.reason.startswith("Not enough evidence")
    assert ModelVersion.objects.active() == active_model


def test_a_passed_candidate_starts_a_trial_instead_of_being_activated(trial_policy, active_model, tmp_path):
    candidate = ModelVersionFactory(name="ft-candidate", parent=active_model)
    run = TrainingRun.objects.create(status=TrainingRun.RunStatus.RUNNING)
    status, message = _activate_if_passed(
        run, candidate, active_model, Verdict(True, "Passed the gate."), FinetuneOptions.from_settings()
    )
    assert status == TrainingRun.RunStatus.SUCCEEDED
    assert "Shadow trial" in message
    trial = ShadowTrial.objects.get(status=Status.RUNNING)
    assert (trial.candidate, trial.baseline, trial.training_run) == (candidate, active_model, run)
    assert ModelVersion.objects.active() == active_model


def test_staff_promote_extend_and_stop_in_the_admin(trial_policy, active_model, tmp_path, staff_client):
    url = reverse("admin:recognizer_shadowtrial_changelist")
    first = shadow.start_trial(ModelVersionFactory(name="first"), active_model)
    submit(5)
    page = staff_client.get(url)
    assert page.status_code == 200
    assert b"first" in page.content
    assert staff_client.get(reverse("admin:recognizer_shadowtrial_change", args=[first.pk])).status_code == 200

    staff_client.post(url, {"action": "extend_trials", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert (first.extended, first.target_drawings) == (1, 24)
    staff_client.post(url, {"action": "stop_trials", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert (first.status, first.decided_by) == (Status.STOPPED, "staff")

    second = shadow.start_trial(ModelVersionFactory(name="second"), active_model)
    staff_client.post(url, {"action": "promote_trials", "_selected_action": [second.pk]})
    second.refresh_from_db()
    assert (second.status, second.decided_by) == (Status.PROMOTED, "staff")
    assert ModelVersion.objects.active().name == "second"


def test_the_policy_page_is_one_row(staff_client):
    response = staff_client.get(reverse("admin:recognizer_trustpolicy_changelist"))
    assert response.status_code == 302
    assert staff_client.get(response["Location"]).status_code == 200
    assert TrustPolicy.objects.count() == 1


def _blob():
    import numpy as np

    image = np.zeros((28, 28), dtype=np.uint8)
    image[6:22, 12:16] = 255
    return image
