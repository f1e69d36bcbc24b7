"""Which corrections may train a model: the one rule, shared by the fine-tune and the data-set export.

- Only drawings with a correction count, and only while it stands: an *accepted* one always, a *pending* one only
  when ``include_pending`` (default: the ``DIGITS_TRAIN_ON_PENDING`` setting) says so, a *rejected* one never.
- Exclusion is about the image itself: when staff exclude a drawing, no copy of the same image trains, whatever its
  label (a duplicate resubmitted later must not sneak it back in).
- The same image submitted many times counts once: among eligible copies (same ``image_sha256``) an accepted
  correction beats a pending one, then the most recent correction wins.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Case, Exists, F, IntegerField, OuterRef, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber

from recognizer.models import Drawing

Status = Drawing.CorrectionStatus


def usable_statuses(include_pending: bool | None = None) -> list[str]:
    """The correction statuses that may train: accepted, plus pending when allowed."""
    if include_pending is None:
        include_pending = settings.DIGITS_TRAIN_ON_PENDING
    return [Status.ACCEPTED, Status.PENDING] if include_pending else [Status.ACCEPTED]


def training_corrections(include_pending: bool | None = None) -> QuerySet[Drawing]:
    """Drawings whose image and corrected label may train a model: one per distinct image (see the module rules).

    Returns a plain queryset (ordered oldest first), so callers can filter it further, count it, or stream it.
    """
    excluded_copy = Drawing.objects.filter(image_sha256=OuterRef("image_sha256"), excluded_from_training=True)
    eligible = (
        Drawing.objects.filter(corrected_label__isnull=False, correction_status__in=usable_statuses(include_pending))
        .filter(excluded_from_training=False)
        .exclude(Exists(excluded_copy))
    )
    ranked = eligible.annotate(
        copy_rank=Window(
            RowNumber(),
            partition_by=[F("image_sha256")],
            order_by=[
                Case(
                    When(correction_status=Status.ACCEPTED, then=Value(0)),
                    default=Value(1),
                    output_field=IntegerField(),
                ).asc(),
                F("corrected_at").desc(nulls_last=True),
                F("pk").desc(),
            ],
        )
    ).filter(copy_rank=1)
    return Drawing.objects.filter(pk__in=ranked.values("pk")).order_by("created_at", "pk")
