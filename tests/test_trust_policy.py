"""The trust policy with the real database and the real shipped model: trust on arrival, automatic decisions recorded
as the policy user, the status transitions staff can make, and which corrections may train."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from recognizer import policy, review, trust
from recognizer.corrections import training_corrections
from recognizer.models import Drawing, TrustPolicy
from recognizer.network import network_key
from recognizer.predictions import CorrectionLocked, correct
from tests.support.review_data import CLIENTS, submit

S = Drawing.CorrectionStatus
pytestmark = pytest.mark.django_db


@pytest.fixture
def deciding(active_model) -> TrustPolicy:
    return TrustPolicy.objects.update_or_create(pk=1, defaults={"mode": TrustPolicy.Mode.DECIDE})[0]


def other_label(drawing: Drawing) -> tuple[int, int]:
    """The label the model found most plausible after its answer, and the least plausible one."""
    ranked = sorted(range(10), key=lambda d: drawing.probabilities[d], reverse=True)
    return ranked[1], ranked[-1]


def test_model_plausibility_is_a_log_scale():
    probabilities = [0.5, 0.3, 0.1, 0.01, 1e-3, 1e-4, 1e-6, 0, 0, 0]
    scores = [trust.model_plausibility(probabilities[d]) for d in range(7)]
    assert scores[0] == scores[1] == 1.0
    assert scores[5] == scores[6] == 0.0
    assert scores == sorted(scores, reverse=True)


def test_trust_is_stored_with_its_reasons(deciding):
    drawing = submit(4, client=CLIENTS[0])
    plausible, implausible = other_label(drawing)
    high = correct(drawing, plausible, network=network_key("10.0.0.1"))
    assert high.trust is not None
    assert set(high.trust_reasons) >= {"model", "reader", "client", "network", "burst"}
    assert high.correction_network == network_key("10.0.0.1")
    low = correct(submit(4, variant=1, client=CLIENTS[1]), implausible)
    assert low.trust < high.trust
    assert low.trust_reasons["model"] == 0.0


def test_decide_records_the_policy_like_staff(deciding):
    deciding.accept_above, deciding.exclude_below = 0.0, 0.0  # every correction is auto-accepted
    deciding.save()
    drawing = correct(submit(3), 8)
    assert drawing.correction_status == S.AUTO_ACCEPTED
    assert drawing.reviewed_by.username == policy.POLICY_USERNAME
    assert not drawing.reviewed_by.is_active
    assert drawing.reviewed_at is not None
    assert drawing.decision_note.startswith("Policy: auto-accepted: trust")
    entry = LogEntry.objects.get(object_id=str(drawing.pk))
    assert entry.user.username == "policy"
    assert "auto-accepted" in entry.get_change_message()
    assert drawing.pk in set(training_corrections().values_list("pk", flat=True))


def test_implausible_correction_is_auto_excluded_with_the_reason(deciding):
    # On an empty site the reader has nothing to compare with (neutral 0.5) and the client no record: a lone
    # implausible correction lands just above the default 0.35 (staff decide it); a stricter policy excludes it.
    deciding.exclude_below = 0.45
    deciding.save()
    drawing = submit(7)
    _, implausible = other_label(drawing)
    drawing = correct(drawing, implausible)
    assert drawing.correction_status == S.AUTO_EXCLUDED
    assert f"the model gave {implausible}" in drawing.decision_note
    assert "below 0.45" in drawing.decision_note
    assert drawing.pk not in set(training_corrections().values_list("pk", flat=True))
    assert drawing.pk not in set(training_corrections(include_pending=True).values_list("pk", flat=True))


def test_the_uncertain_middle_is_queued_by_priority(deciding):
    deciding.accept_above, deciding.exclude_below = 1.0, 0.0  # nothing is decided automatically
    deciding.save()
    first = correct(submit(2), other_label(submit(2, variant=3))[0])
    second = correct(submit(5, client=CLIENTS[1]), 6)
    for drawing in (first, second):
        assert drawing.correction_status == S.PENDING
        assert drawing.reviewed_by is None
        assert drawing.review_priority is not None
        assert drawing.decision_note.startswith("Policy: queued for staff")
    queue = list(review.needs_review(Drawing.objects.all()))
    assert {first, second} <= set(queue[:2])
    assert queue[0].review_priority >= queue[1].review_priority


def test_a_poor_record_keeps_even_a_trusted_correction_for_staff(deciding):
    """However plausible a correction looks, a client (or network) whose record alone is below the exclusion threshold
    is not auto-accepted: a flood can line up the other evidence, so staff decide."""
    deciding.accept_above = deciding.exclude_below = 0.25  # a plausible correction is auto-accepted on its trust alone
    deciding.save()
    for variant in range(6):  # six earlier corrections of this client, rejected by staff
        submit(1, variant=variant, client=CLIENTS[2], corrected_label=7, correction_status=S.REJECTED)
    drawing = submit(4, client=CLIENTS[2])
    plausible, _ = other_label(drawing)
    drawing = correct(drawing, plausible)
    assert drawing.trust >= deciding.accept_above
    assert drawing.trust_reasons["client"] < deciding.exclude_below
    assert drawing.correction_status == S.PENDING
    assert "but a record below 0.25" in drawing.decision_note
    fresh = correct(submit(4, client=CLIENTS[0]), plausible)  # the same correction from a client with no record
    assert fresh.correction_status == S.AUTO_ACCEPTED


def test_only_people_vouch_in_the_readers_vote(deciding):
    """A correction the policy accepted weighs like a waiting one (its client's share of uncorrected drawings), so
    the policy's decisions cannot carry the next ones; one staff accepted, or a confident prediction, weighs 1."""
    by_policy = submit(7, client=CLIENTS[1], corrected_label=1, correction_status=S.AUTO_ACCEPTED)
    by_staff = submit(7, variant=1, client=CLIENTS[2], corrected_label=1, correction_status=S.ACCEPTED)
    weights = trust.reader_pool(CLIENTS[0], None)[2]  # newest first: staff's, then the policy's
    assert weights.tolist() == [1.0, 0.0]  # the policy's: its client corrected every drawing it made
    submit(3, variant=2, client=CLIENTS[1])  # that client now leaves one drawing of two uncorrected
    assert trust.reader_pool(CLIENTS[0], None)[2][-1] == 0.5
    assert by_staff.pk > by_policy.pk


def test_advise_mode_only_advises(active_model):
    TrustPolicy.objects.update_or_create(pk=1, defaults={"mode": TrustPolicy.Mode.ADVISE, "exclude_below": 0.45})
    drawing = correct(submit(7), other_label(submit(7, variant=2))[1])
    assert drawing.correction_status == S.PENDING
    assert drawing.reviewed_by is None
    assert drawing.decision_note.startswith("Policy would auto-exclude it: trust")


def test_staff_reverse_automatic_decisions(deciding, staff_user):
    deciding.accept_above, deciding.exclude_below = 0.0, 0.0
    deciding.save()
    auto = correct(submit(1), 7)
    assert auto.correction_status == S.AUTO_ACCEPTED
    review.reject(Drawing.objects.filter(pk=auto.pk), staff_user)
    auto.refresh_from_db()
    assert auto.correction_status == S.REJECTED
    assert auto.reviewed_by == staff_user
    with pytest.raises(CorrectionLocked):  # staff decided: the client can no longer change it
        correct(auto, 1)

    deciding.accept_above, deciding.exclude_below = 1.0, 1.0  # now every correction is auto-excluded
    deciding.save()
    excluded = correct(submit(9), 4)
    assert excluded.correction_status == S.AUTO_EXCLUDED
    review.accept(Drawing.objects.filter(pk=excluded.pk), staff_user)
    excluded.refresh_from_db()
    assert excluded.correction_status == S.ACCEPTED
    assert excluded.pk in set(training_corrections().values_list("pk", flat=True))


def test_a_client_may_correct_an_automatic_decision_again(deciding):
    deciding.accept_above, deciding.exclude_below = 1.0, 1.0
    deciding.save()
    drawing = correct(submit(6), 0)
    assert drawing.correction_status == S.AUTO_EXCLUDED
    deciding.accept_above, deciding.exclude_below = 0.0, 0.0
    deciding.save()
    drawing = correct(drawing, 6)  # not locked: only staff decisions lock a correction
    assert drawing.correction_status == S.AUTO_ACCEPTED
    assert drawing.corrected_label == 6


def test_staff_decision_reconsiders_the_clients_waiting_corrections(deciding, staff_user):
    deciding.accept_above, deciding.exclude_below = 0.99, 0.0
    deciding.save()
    drawings = [correct(submit(d, client=CLIENTS[2]), (d + 1) % 10) for d in (2, 3, 4)]
    assert all(d.correction_status == S.PENDING for d in drawings)
    before = {d.pk: d.trust for d in drawings}
    review.reject(Drawing.objects.filter(pk=drawings[0].pk), staff_user)
    assert policy.reconsider([CLIENTS[2]]) == 2
    for drawing in drawings[1:]:
        drawing.refresh_from_db()
        assert drawing.trust < before[drawing.pk]  # one rejection lowers the client's record


def test_a_burst_lowers_trust(deciding):
    deciding.burst_corrections = 2
    deciding.save()
    drawings = [correct(submit(d, client=CLIENTS[0]), (d + 1) % 10) for d in range(4)]
    assert drawings[-1].trust_reasons["burst"] == 4
    base = (
        trust.WEIGHTS["model"] * drawings[-1].trust_reasons["model"]
        + trust.WEIGHTS["reader"] * drawings[-1].trust_reasons["reader"]
        + trust.WEIGHTS["client"] * drawings[-1].trust_reasons["client"]
        + trust.WEIGHTS["network"] * drawings[-1].trust_reasons["network"]
    )
    assert drawings[-1].trust == pytest.approx(base * 2 / 4, abs=1e-3)


def test_the_api_correction_goes_through_the_policy(deciding, client_api):
    response = client_api.post("/api/predictions/", {"image": _data_url(8)}, format="json", REMOTE_ADDR="10.9.8.7")
    drawing_id = response.json()["id"]
    answer = client_api.post(
        f"/api/predictions/{drawing_id}/correction/", {"label": 3}, format="json", REMOTE_ADDR="10.9.8.7"
    )
    assert answer.status_code == 200
    drawing = Drawing.objects.get(pk=drawing_id)
    assert drawing.trust is not None
    assert drawing.correction_network == network_key("10.9.8.7")
    assert drawing.correction_status in (S.AUTO_ACCEPTED, S.PENDING, S.AUTO_EXCLUDED)


def _data_url(digit: int) -> str:
    from bench.drawing import data_url, draw_digit

    return data_url(draw_digit(digit))
