"""Which corrected drawings may teach the model, and which are kept aside to judge it.

The rules, in one place for the fine-tune pipeline and for anything that shows staff what the next fine-tune will
use:

- only drawings with a correction count; rejected corrections and drawings excluded by staff never train;
- corrections from the public wait as *pending* until staff accept them, unless ``DIGITS_TRAIN_ON_PENDING`` is on;
- the same image counts once (same stored image checksum, or the same 28x28 model input), with its latest label;
- a fixed share of corrections is held out to compare models on, chosen by a hash of the model input, so a drawing
  held out once stays held out and no fine-tuned model has ever trained on what the gate judges it with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db.models import Q, QuerySet

from recognizer.models import Drawing


def usable_corrections(train_on_pending: bool | None = None) -> QuerySet[Drawing]:
    """Corrected drawings that may reach training (duplicates included; see :func:`select_corrections`)."""
    if train_on_pending is None:
        train_on_pending = settings.DIGITS_TRAIN_ON_PENDING
    statuses = [Drawing.CorrectionStatus.ACCEPTED]
    if train_on_pending:
        statuses.append(Drawing.CorrectionStatus.PENDING)
    return Drawing.objects.filter(
        corrected_label__isnull=False, correction_status__in=statuses, excluded_from_training=False
    )


def new_corrections_since(since: datetime | None, train_on_pending: bool | None = None) -> int:
    """How many distinct images got a usable correction (made or accepted) after ``since`` (None: ever)."""
    queryset = usable_corrections(train_on_pending)
    if since is not None:
        queryset = queryset.filter(Q(corrected_at__gt=since) | Q(reviewed_at__gt=since))
    return queryset.values("image_sha256").distinct().count()


def is_heldout(model_input: bytes, share: float) -> bool:
    """Whether a correction belongs to the held-out share: a stable function of its 28x28 input alone."""
    bucket = int.from_bytes(hashlib.sha256(model_input).digest()[:4], "big") / 2**32
    return bucket < share


@dataclass(frozen=True)
class CorrectionSet:
    """Deduplicated corrections as model inputs (N, 28, 28) uint8 and labels, split into training and held out."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_heldout: np.ndarray
    y_heldout: np.ndarray
    duplicates: int

    @property
    def total(self) -> int:
        return len(self.y_train) + len(self.y_heldout)


def _stack(inputs: list[bytes]) -> np.ndarray:
    if not inputs:
        return np.zeros((0, 28, 28), dtype=np.uint8)
    return np.stack([np.frombuffer(raw, dtype=np.uint8).reshape(28, 28) for raw in inputs])


def select_corrections(heldout_share: float | None = None, train_on_pending: bool | None = None) -> CorrectionSet:
    """Everything the next fine-tune learns from and is judged on, following the rules above."""
    if heldout_share is None:
        heldout_share = settings.DIGITS_FINETUNE_HELDOUT_SHARE
    rows = (
        usable_corrections(train_on_pending)
        .order_by("-corrected_at", "-pk")  # the latest correction of an image wins
        .values_list("image_sha256", "model_input", "corrected_label")
        .iterator(chunk_size=2000)
    )
    seen_images: set[str] = set()
    seen_inputs: set[bytes] = set()
    parts: dict[bool, tuple[list[bytes], list[int]]] = {False: ([], []), True: ([], [])}
    duplicates = 0
    for image_sha256, model_input, label in rows:
        model_input = bytes(model_input)
        if image_sha256 in seen_images or model_input in seen_inputs:
            duplicates += 1
            continue
        seen_images.add(image_sha256)
        seen_inputs.add(model_input)
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
