"""Staff review of drawings: accept or reject corrections, relabel, exclude from training, confirm predictions, and
exclude at once every correction of clients that flood wrong ones.

Each operation works on a queryset at once (the admin's bulk actions), stamps who reviewed and when on every drawing
it changes, and returns the ids it changed. What the states mean for training is decided in
:mod:`recognizer.corrections`; the admin also writes each change to its history (``LogEntry``).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.utils import timezone

from recognizer.models import Drawing

CorrectionStatus = Drawing.CorrectionStatus


#: The review queue's order: pending corrections first, those whose decision would help most first (the trust
#: policy's ``review_priority``), then the least confident, then the newest.
REVIEW_ORDER = [
    Case(When(correction_status=CorrectionStatus.PENDING, then=Value(0)), default=Value(1)).asc(),
    F("review_priority").desc(nulls_last=True),
    "confidence",
    "-created_at",
]


def needs_review(queryset: QuerySet[Drawing]) -> QuerySet[Drawing]:
    """Pending corrections, then unreviewed uncorrected predictions below the low-confidence threshold.

    Excluded drawings are out of the queue: excluding one is a review decision in itself. So are digits superseded
    by a new split of their number: they never train.

    Ordered by :data:`REVIEW_ORDER`.
    """
    unsure = Q(
        correction_status=CorrectionStatus.NONE, confidence__lt=settings.DIGITS_LOW_CONFIDENCE, reviewed_at__isnull=True
    )
    waiting = queryset.filter(excluded_from_training=False, superseded_by=None)
    return waiting.filter(Q(correction_status=CorrectionStatus.PENDING) | unsure).order_by(*REVIEW_ORDER)


def _update(queryset: QuerySet[Drawing], reviewer, now: datetime | None = None, **changes) -> list[int]:
    """Apply ``changes`` with the reviewer's stamp; returns the ids changed (for the admin's history)."""
    ids = list(queryset.values_list("pk", flat=True))
    queryset.update(reviewed_by=reviewer, reviewed_at=now or timezone.now(), **changes)
    return ids


def accept(queryset: QuerySet[Drawing], reviewer) -> list[int]:
    """Accept the corrections in ``queryset`` (drawings without one are left alone): they may now train."""
    return _update(
        queryset.filter(corrected_label__isnull=False), reviewer, correction_status=CorrectionStatus.ACCEPTED
    )


def reject(queryset: QuerySet[Drawing], reviewer) -> list[int]:
    """Reject the corrections in ``queryset``: the label stays on record but never trains."""
    return _update(
        queryset.filter(corrected_label__isnull=False), reviewer, correction_status=CorrectionStatus.REJECTED
    )


def relabel(queryset: QuerySet[Drawing], label: int, reviewer) -> list[int]:
    """Give every drawing in ``queryset`` the correct ``label`` (a digit, or ``Drawing.NOT_A_DIGIT``), as an accepted
    correction made by ``reviewer``."""
    if label not in dict(Drawing.LABEL_CHOICES):
        raise ValueError(f"a label is a digit 0-9 or {Drawing.NOT_A_DIGIT} (not a digit), not {label}")
    now = timezone.now()
    return _update(
        queryset, reviewer, now, corrected_label=label, corrected_at=now, correction_status=CorrectionStatus.ACCEPTED
    )


def set_excluded(queryset: QuerySet[Drawing], excluded: bool, reviewer) -> list[int]:
    """Exclude the drawings from training (or include them again); their correction status is kept."""
    return _update(queryset.exclude(excluded_from_training=excluded), reviewer, excluded_from_training=excluded)


def confirm(queryset: QuerySet[Drawing], reviewer) -> list[int]:
    """Mark uncorrected predictions as looked at and right, which takes them out of the review queue."""
    return _update(queryset.filter(corrected_label__isnull=True), reviewer)


def exclude_clients(queryset: QuerySet[Drawing], reviewer) -> list[int]:
    """Exclude from training every correction made by the clients (``client_key``) of the drawings in ``queryset``.

    One client flooding wrong corrections is spotted on one of its drawings; this takes all the others out with it.
    Drawings without a client key are no client's, so they bring no others.
    """
    keys = queryset.exclude(client_key="").values("client_key")
    return set_excluded(Drawing.objects.filter(client_key__in=keys, corrected_label__isnull=False), True, reviewer)


def corrections_per_client() -> QuerySet:
    """Rows of ``client_key`` and ``count``: how many corrections each client made (drawings without a key are no
    client's)."""
    corrections = Drawing.objects.exclude(client_key="").filter(corrected_label__isnull=False)
    return corrections.order_by().values("client_key").annotate(count=Count("pk"))


def top_correcting_clients(limit: int = 10) -> list[tuple[str, int]]:
    """The clients with the most corrections, most first, with their counts: a flood stands out at the top."""
    counted = corrections_per_client().order_by("-count", "client_key").values_list("client_key", "count")
    return list(counted[:limit])


def corrections_per_network() -> QuerySet:
    """Rows of ``network`` (the submissions' anonymous network key, :mod:`recognizer.network`) and ``count``: how many
    corrections came from each network. A client that clears its cookie between corrections is many clients but one
    network."""
    corrections = Drawing.objects.exclude(submission__network_key="").filter(corrected_label__isnull=False)
    return corrections.order_by().values(network=F("submission__network_key")).annotate(count=Count("pk"))


def top_correcting_networks(limit: int = 10) -> list[tuple[str, int]]:
    """The networks with the most corrections, most first, with their counts."""
    counted = corrections_per_network().order_by("-count", "network").values_list("network", "count")
    return list(counted[:limit])


def exclude_networks(queryset: QuerySet[Drawing], reviewer) -> list[int]:
    """Exclude from training every correction that came from the networks of the drawings in ``queryset``: a flood
    from one network (whatever cookies it used) is taken out from one of its drawings."""
    keys = queryset.exclude(submission__network_key="").values("submission__network_key")
    flood = Drawing.objects.filter(submission__network_key__in=keys, corrected_label__isnull=False)
    return set_excluded(flood, True, reviewer)
