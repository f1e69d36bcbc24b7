"""The core loop's work: decode a drawing, preprocess, predict, store; and store corrections.

Views and API endpoints stay thin and call these functions. Everything that can fail (decoding, empty canvas, no
model) happens before anything is written; the image file and the rows are then written together, and the file is
removed again if the rows cannot be, so a failed request leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from django.core import signing
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from PIL import Image

from recognizer import serving
from recognizer.images import as_png, open_image
from recognizer.models import Drawing, Submission
from recognizer.preprocessing import preprocess, split_digits

CORRECTION_SALT = "recognizer.correction"


@dataclass(frozen=True)
class _Digit:
    png: bytes
    model_input: np.ndarray


def _digits_of(image: Image.Image, raw: bytes, as_number: bool) -> list[_Digit]:
    """One digit: the upload itself. A number: each digit's own image, stored and preprocessed like a single digit."""
    if not as_number:
        return [_Digit(as_png(image, raw), preprocess(image))]
    return [_Digit(as_png(digit), preprocess(digit)) for digit in split_digits(image)]


def _store(fieldfile, name: str, content: bytes, saved: list) -> None:
    fieldfile.save(name, ContentFile(content), save=False)
    saved.append(fieldfile)


def create_submission(
    raw: bytes,
    client_key: str,
    as_number: bool = False,
    classify: Callable[[np.ndarray], list[serving.Prediction]] | None = None,
) -> Submission:
    """Predict the digit (or, with ``as_number``, each digit of a number) in an uploaded image and store it all.

    ``client_key`` (see :mod:`recognizer.clients`) marks the drawings as the client's own. The submission and its
    drawings are written in one transaction, the drawings with one INSERT. ``classify`` turns the 28x28 inputs into
    predictions:
    the active model served with LiteRT unless given (the benchmark's Keras baseline passes its own, so that the two
    differ in nothing else).
    Raises :class:`~recognizer.images.InvalidImage`, :class:`~recognizer.preprocessing.EmptyDrawing` or
    :class:`~recognizer.serving.ModelUnavailable` before anything is stored.
    """
    image = open_image(raw)
    digits = _digits_of(image, raw, as_number)
    predictions = (classify or serving.predict_batch)(np.stack([d.model_input for d in digits]))
    now = timezone.now()
    stamp = f"{now:%H%M%S%f}"
    submission = Submission(created_at=now, client_key=client_key, number="".join(str(p.digit) for p in predictions))
    saved: list = []
    drawings = []
    try:
        if as_number:
            _store(submission.image, f"number-{stamp}.png", as_png(image, raw), saved)
        for position, (digit, prediction) in enumerate(zip(digits, predictions, strict=True)):
            sha = hashlib.sha256(digit.png).hexdigest()
            drawing = Drawing(
                submission=submission,  # its id is taken when the drawings are written, after the submission
                client_key=client_key,
                position=position,
                image_sha256=sha,
                model_input=digit.model_input.tobytes(),
                predicted_digit=prediction.digit,
                confidence=prediction.confidence,
                probabilities=prediction.probabilities,
                model_version=prediction.version,
                created_at=now,
            )
            _store(drawing.image, f"{sha[:16]}-{stamp}-{position}.png", digit.png, saved)
            drawings.append(drawing)
        with transaction.atomic():
            submission.save()
            Drawing.objects.bulk_create(drawings)
    except BaseException:
        for fieldfile in saved:
            fieldfile.storage.delete(fieldfile.name)
        raise
    submission.ordered_drawings = drawings
    return submission


def correction_token(drawing: Drawing) -> str:
    """A signed token that lets the client that made ``drawing`` correct it without a session cookie."""
    return signing.dumps(drawing.pk, salt=CORRECTION_SALT)


def token_matches(drawing: Drawing, token: str | None) -> bool:
    if not token:
        return False
    try:
        return signing.loads(token, salt=CORRECTION_SALT) == drawing.pk
    except signing.BadSignature:
        return False


class Grounds(StrEnum):
    """Why a client may correct a drawing; the API asks for a CSRF token only when it is the client's cookie."""

    STAFF = "staff"
    TOKEN = "token"  # noqa: S105 (a name, not a secret)
    COOKIE = "cookie"


class CorrectionLocked(RuntimeError):
    """Staff have reviewed the drawing's correction: the public can no longer change it."""


def correction_grounds(
    drawing: Drawing, *, client_key: str | None, is_staff: bool, token: str | None = None
) -> Grounds | None:
    """Staff may correct anything; the public only what its own correction token or client cookie made (else
    ``None``)."""
    if is_staff:
        return Grounds.STAFF
    if token_matches(drawing, token):
        return Grounds.TOKEN
    if client_key and drawing.client_key and constant_time_compare(client_key, drawing.client_key):
        return Grounds.COOKIE
    return None


def correct(drawing: Drawing, label: int, *, reviewer=None) -> Drawing:
    """Store a correction. A later correction replaces an earlier one; staff corrections count as reviewed.

    Corrections from the public wait as *pending* until staff accept them; one made by staff is accepted at once.
    Once staff have accepted or rejected a correction, only staff can change it (:class:`CorrectionLocked`), so a
    client cannot undo a review by correcting again.
    """
    reviewed = (Drawing.CorrectionStatus.ACCEPTED, Drawing.CorrectionStatus.REJECTED)
    if reviewer is None and drawing.correction_status in reviewed:
        raise CorrectionLocked("This drawing's correction has been reviewed by staff and can no longer be changed.")
    now = timezone.now()
    drawing.corrected_label = label
    drawing.corrected_at = now
    if reviewer is not None:
        drawing.correction_status = Drawing.CorrectionStatus.ACCEPTED
        drawing.reviewed_by, drawing.reviewed_at = reviewer, now
    else:
        drawing.correction_status = Drawing.CorrectionStatus.PENDING
        drawing.reviewed_by, drawing.reviewed_at = None, None
    drawing.save(update_fields=["corrected_label", "corrected_at", "correction_status", "reviewed_by", "reviewed_at"])
    return drawing
