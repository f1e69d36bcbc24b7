"""Which corrections may train a model: the one rule, shared by the fine-tune and the data-set export.

- Only drawings with a correction count, and only while it stands: an *accepted* or *auto-accepted* (by the trust
  policy, :mod:`recognizer.policy`) one always, a *pending* one only when ``include_pending`` (default: the
  ``DIGITS_TRAIN_ON_PENDING`` setting) says so, a *rejected* or *auto-excluded* one never.
- Exclusion is about the image itself: when staff exclude a drawing, no copy of the same image trains, whatever its
  label (a duplicate resubmitted later must not sneak it back in).
- A digit superseded by a new split of its number (the person said the number has another count of digits) never
  trains: it was cut wrong, whatever its label.
- The same image submitted many times counts once: among eligible copies (same ``image_sha256``) an accepted
  correction beats a pending one, then the most recent correction wins. For training, two files that give the very
  same 28x28 model input are the same image too (:func:`select_corrections`), decided by the same preference, and
  so they are when counting what is new since the last fine-tune (:func:`new_corrections_since`).
- A fixed share of corrections is held out to judge models on, chosen by a hash of the model input
  (:func:`is_heldout`), so a drawing held out once stays held out and no fine-tuned model has ever trained on what
  the gate judges it with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db.models import Case, Exists, F, IntegerField, OrderBy, OuterRef, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber

from recognizer.models import Drawing, input_sha256

CorrectionStatus = Drawing.CorrectionStatus


def usable_statuses(include_pending: bool | None = None) -> list[str]:
    """The correction statuses that may train: accepted and auto-accepted, plus pending when allowed."""
    if include_pending is None:
        include_pending = settings.DIGITS_TRAIN_ON_PENDING
    trusted = [CorrectionStatus.ACCEPTED, CorrectionStatus.AUTO_ACCEPTED]
    return [*trusted, CorrectionStatus.PENDING] if include_pending else trusted


def _preferred_first() -> list[OrderBy]:
    """The order in which copies of one image compete: accepted, auto-accepted, pending, then the latest correction."""
    return [
        Case(
            When(correction_status=CorrectionStatus.ACCEPTED, then=Value(0)),
            When(correction_status=CorrectionStatus.AUTO_ACCEPTED, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        ).asc(),
        F("corrected_at").desc(nulls_last=True),
        F("pk").desc(),
    ]


def _eligible(include_pending: bool | None) -> QuerySet[Drawing]:
    """Every copy whose correction may train: usable status, not superseded by a new split, and no copy of its image
    excluded by staff."""
    excluded_copy = Drawing.objects.filter(image_sha256=OuterRef("image_sha256"), excluded_from_training=True)
    return (
        Drawing.objects.filter(corrected_label__isnull=False, correction_status__in=usable_statuses(include_pending))
        .filter(excluded_from_training=False, superseded_by=None)  # a digit of a wrong split is no digit
        .exclude(Exists(excluded_copy))
    )


def training_corrections(include_pending: bool | None = None) -> QuerySet[Drawing]:
    """Drawings whose image and corrected label may train a model: one per distinct image (see the module rules).

    Returns a plain queryset (ordered oldest first), so callers can filter it further, count it, or stream it.
    """
    ranked = (
        _eligible(include_pending)
        .annotate(copy_rank=Window(RowNumber(), partition_by=[F("image_sha256")], order_by=_preferred_first()))
        .filter(copy_rank=1)
    )
    return Drawing.objects.filter(pk__in=ranked.values("pk")).order_by("created_at", "pk")


def new_corrections_since(since: datetime | None, include_pending: bool | None = None) -> int:
    """How many distinct model inputs got a usable correction (made or accepted) after ``since`` (None: ever) that
    was not already usable, with the same label, before it.

    What counts is what a fine-tune would learn that the last one (started at ``since``) did not have: copies of one
    image count once however many files they came from (the same input, :attr:`Drawing.input_sha256`), and a copy of
    an image already trained on with the same label counts not at all. One COUNT(DISTINCT) query on an indexed column.
    """
    queryset = training_corrections(include_pending)
    if since is not None:
        changed = Q(corrected_at__gt=since) | Q(reviewed_at__gt=since)
        trained = (
            _eligible(include_pending)
            .exclude(changed)
            .filter(input_sha256=OuterRef("input_sha256"), corrected_label=OuterRef("corrected_label"))
        )
        queryset = queryset.filter(changed).exclude(Exists(trained))
    return queryset.values("input_sha256").distinct().count()


def is_heldout(model_input: bytes, share: float) -> bool:
    """Whether a correction belongs to the held-out share: a stable function of its 28x28 input alone."""
    bucket = int(input_sha256(model_input)[:8], 16) / 2**32
    return bucket < share


@dataclass(frozen=True)
class CorrectionSet:
    """Training corrections as model inputs (N, 28, 28) uint8 and labels (0-9, or ``Drawing.NOT_A_DIGIT``), split
    into training and held out."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_heldout: np.ndarray
    y_heldout: np.ndarray
    duplicates: int

    @property
    def total(self) -> int:
        return len(self.y_train) + len(self.y_heldout)

    @property
    def not_a_digit_train(self) -> int:
        return int((self.y_train == Drawing.NOT_A_DIGIT).sum())

    @property
    def heldout_digits(self) -> tuple[np.ndarray, np.ndarray]:
        """The held-out corrections to a digit, inputs and labels: what held-out accuracy is measured on."""
        keep = self.y_heldout != Drawing.NOT_A_DIGIT
        return self.x_heldout[keep], self.y_heldout[keep]

    @property
    def heldout_not_digits(self) -> np.ndarray:
        """The held-out inputs people said are not a digit: a model should flag them (no accuracy to measure)."""
        return self.x_heldout[self.y_heldout == Drawing.NOT_A_DIGIT]


def _stack(inputs: list[bytes]) -> np.ndarray:
    if not inputs:
        return np.zeros((0, 28, 28), dtype=np.uint8)
    return np.stack([np.frombuffer(raw, dtype=np.uint8).reshape(28, 28) for raw in inputs])


def select_corrections(heldout_share: float | None = None, include_pending: bool | None = None) -> CorrectionSet:
    """Everything the next fine-tune learns from and is judged on: :func:`training_corrections`, with copies of the
    same model input counted once, split by :func:`is_heldout`."""
    if heldout_share is None:
        heldout_share = settings.DIGITS_FINETUNE_HELDOUT_SHARE
    rows = (
        training_corrections(include_pending)
        .order_by(*_preferred_first())
        .values_list("model_input", "corrected_label")
        .iterator(chunk_size=2000)
    )
    seen: set[bytes] = set()
    parts: dict[bool, tuple[list[bytes], list[int]]] = {False: ([], []), True: ([], [])}
    duplicates = 0
    for model_input, label in rows:
        model_input = bytes(model_input)
        if model_input in seen:
            duplicates += 1
            continue
        seen.add(model_input)
        inputs, labels = parts[is_heldout(model_input, heldout_share)]
        inputs.append(model_input)
        labels.append(label)
    return CorrectionSet(
        x_train=_stack(parts[False][0]),
        y_train=np.asarray(parts[False][1], dtype=np.uint8),
        x_heldout=_stack(parts[True][0]),
        y_heldout=np.asarray(parts[True][1], dtype=np.uint8),
        duplicates=duplicates,
    )
