"""The trust policy: what happens to a correction when it arrives, decided from its trust (:mod:`recognizer.trust`).

With the policy's mode on *decide*:

- trust at or above ``accept_above``: **auto-accepted** (``AUTO_ACCEPTED``): it trains like an accepted one, and staff
  can reject or relabel it like any other; unless the client's or the network's record alone is below
  ``exclude_below``: then it waits for staff, since the other evidence (the reader's neighbours, the model) can be
  lined up by whoever floods from that network;
- trust below ``exclude_below``: **auto-excluded** (``AUTO_EXCLUDED``), with the reason in ``decision_note``: it never
  trains unless staff accept it;
- in between: **pending**, in the review queue, ordered by ``review_priority`` (how much a decision would help).

On *advise* the trust and what the policy would do are stored and shown, and every correction waits for staff as
before; on *off* the same, without the advice. Every automatic decision is recorded like a staff one: the drawing's
``reviewed_by`` is the ``policy`` user, ``reviewed_at`` the moment, and a ``LogEntry`` in the drawing's history says
why. Staff decisions always win: a correction staff accepted or rejected is never touched by the policy again.
"""

from __future__ import annotations

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.utils import timezone

from recognizer import trust
from recognizer.models import Drawing, TrustPolicy

CorrectionStatus = Drawing.CorrectionStatus
POLICY_USERNAME = "policy"
#: Statuses only staff set; the policy leaves them alone.
STAFF_DECIDED = (CorrectionStatus.ACCEPTED, CorrectionStatus.REJECTED)


def policy_user():
    """The user automatic decisions are recorded as: inactive, no password, so nobody can log in as it."""
    user, created = get_user_model().objects.get_or_create(
        username=POLICY_USERNAME, defaults={"is_active": False, "is_staff": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def review_priority(value: float, policy: TrustPolicy, model_probability: float, pending_of_client: int) -> float:
    """How much a staff decision on a queued correction would help, 0-1 and a little more:

    - the more uncertain the trust (the middle of the band between the thresholds), the more a decision tells;
    - the less the model believed the label, the more the model would learn from it if it is right;
    - a decision also settles the client's record, which decides its other waiting corrections: a little more for
      each (up to 10).
    """
    low, high = policy.exclude_below, policy.accept_above
    middle, half = (low + high) / 2, max((high - low) / 2, 1e-6)
    uncertainty = max(0.0, 1.0 - abs(value - middle) / half)
    return round(uncertainty * (0.5 + 0.5 * (1.0 - model_probability)) + 0.02 * min(pending_of_client, 10), 4)


def decide(drawing: Drawing, policy: TrustPolicy | None = None) -> Drawing:
    """Compute the trust of ``drawing``'s correction and apply the policy; saves the drawing's trust fields."""
    policy = policy or TrustPolicy.current()
    if drawing.corrected_label is None or drawing.correction_status in STAFF_DECIDED:
        return drawing
    label = drawing.corrected_label
    assessed = trust.assess(drawing, label, policy)
    drawing.trust, drawing.trust_reasons = assessed.value, assessed.reasons
    why = trust.explain(assessed.value, assessed.reasons, label)
    record = min(assessed.reasons["client"], assessed.reasons["network"])
    if assessed.value >= policy.accept_above and record < policy.exclude_below:
        verdict, status = "queued for staff", CorrectionStatus.PENDING
        why = f"{why} (at or above {policy.accept_above:.2f}, but a record below {policy.exclude_below:.2f})"
    elif assessed.value >= policy.accept_above:
        verdict, status = "auto-accepted", CorrectionStatus.AUTO_ACCEPTED
        why = f"{why} (at or above {policy.accept_above:.2f})"
    elif assessed.value < policy.exclude_below:
        verdict, status = "auto-excluded", CorrectionStatus.AUTO_EXCLUDED
        why = f"{why} (below {policy.exclude_below:.2f})"
    else:
        verdict, status = "queued for staff", CorrectionStatus.PENDING
        why = f"{why} (between {policy.exclude_below:.2f} and {policy.accept_above:.2f})"
    fields = ["trust", "trust_reasons", "decision_note", "review_priority"]
    drawing.review_priority = None
    if policy.mode == TrustPolicy.Mode.DECIDE:
        drawing.decision_note = f"Policy: {verdict}: {why}."
        if status == CorrectionStatus.PENDING:
            pending = Drawing.objects.filter(client_key=drawing.client_key, correction_status=CorrectionStatus.PENDING)
            drawing.review_priority = review_priority(
                assessed.value,
                policy,
                assessed.reasons["model_probability"],
                pending.exclude(pk=drawing.pk).count() if drawing.client_key else 0,
            )
        _record(drawing, status, drawing.decision_note)
        fields += ["correction_status", "reviewed_by", "reviewed_at"]
    else:
        drawing.correction_status = CorrectionStatus.PENDING
        would = {"auto-accepted": "auto-accept it", "auto-excluded": "auto-exclude it", "queued for staff": "queue it"}
        advice = f"Policy would {would[verdict]}: {why}."
        drawing.decision_note = advice if policy.mode == TrustPolicy.Mode.ADVISE else ""
    drawing.save(update_fields=fields)
    return drawing


def _record(drawing: Drawing, status: str, note: str) -> None:
    """Stamp an automatic decision like a staff one (queued ones stay unreviewed) and log it in the history."""
    drawing.correction_status = status
    if status == CorrectionStatus.PENDING:
        drawing.reviewed_by, drawing.reviewed_at = None, None
        return
    user = policy_user()
    drawing.reviewed_by, drawing.reviewed_at = user, timezone.now()
    LogEntry.objects.log_actions(user.pk, [drawing], CHANGE, note, single_object=True)


def reconsider(client_keys, policy: TrustPolicy | None = None) -> int:
    """Decide again the waiting (pending) corrections of these clients, whose record staff just changed; returns how
    many were decided again."""
    policy = policy or TrustPolicy.current()
    if policy.mode != TrustPolicy.Mode.DECIDE:
        return 0
    waiting = Drawing.objects.filter(
        client_key__in=[key for key in client_keys if key], correction_status=CorrectionStatus.PENDING
    )
    count = 0
    for drawing in waiting.order_by("pk"):
        decide(drawing, policy)
        count += 1
    return count
