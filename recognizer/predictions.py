"""The core loop's work: decode a drawing, preprocess, predict, store; and store corrections.

Views and API endpoints stay thin and call these functions. Everything that can fail (decoding, empty canvas, no
model) happens before anything is written; the image file and the rows are then written together, and the file is
removed again if the rows cannot be, so a failed request leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from recognizer import policy, serving
from recognizer.core.preprocessing import preprocess, split_digits
from recognizer.files import removed_on_failure
from recognizer.images import as_png, open_image
from recognizer.models import Drawing, ShadowPrediction, Submission

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Digit:
    png: bytes
    model_input: np.ndarray


def _digits_of(image: Image.Image, raw: bytes, as_number: bool) -> list[_Digit]:
    """One digit: the upload itself. A number: each digit's own image, stored and preprocessed like a single digit."""
    if not as_number:
        return [_Digit(as_png(image, raw), preprocess(image))]
    return [_Digit(as_png(digit), preprocess(digit)) for digit in split_digits(image)]


def _store(fieldfile, content: bytes, saved: list) -> None:
    fieldfile.save("upload.png", ContentFile(content), save=False)  # the model's upload_to names it
    saved.append(fieldfile)


def create_submission(
    raw: bytes,
    client_key: str,
    as_number: bool = False,
    classify: Callable[[np.ndarray], list[serving.Prediction]] | None = None,
) -> Submission:
    """Predict the digit (or, with ``as_number``, each digit of a number) in an uploaded image and store it all.

    ``client_key`` (:mod:`recognizer.api.authentication`) marks the drawings as the client's own. The submission and its
    drawings are written in one transaction, the drawings with one INSERT. ``classify`` turns the 28x28 inputs into
    predictions:
    the active model served with LiteRT unless given (the benchmark's Keras baseline passes its own, so that the two
    differ in nothing else).
    Raises :class:`~recognizer.images.InvalidImage`, :class:`~recognizer.core.preprocessing.EmptyDrawing` or
    :class:`~recognizer.serving.ModelUnavailable` before anything is stored.
    """
    image = open_image(raw)
    digits = _digits_of(image, raw, as_number)
    predictions = (classify or serving.predict_batch)(np.stack([d.model_input for d in digits]))
    now = timezone.now()
    submission = Submission(created_at=now, client_key=client_key, number="".join(str(p.digit) for p in predictions))
    drawings = []
    with removed_on_failure() as saved:
        if as_number:
            _store(submission.image, as_png(image, raw), saved)
        for position, (digit, prediction) in enumerate(zip(digits, predictions, strict=True)):
            drawing = Drawing(
                submission=submission,  # its id is taken when the drawings are written, after the submission
                client_key=client_key,
                position=position,
                image_sha256=hashlib.sha256(digit.png).hexdigest(),
                model_input=digit.model_input.tobytes(),
                predicted_digit=prediction.digit,
                confidence=prediction.confidence,
                probabilities=prediction.probabilities,
                model_version=prediction.version,
                created_at=now,
            )
            _store(drawing.image, digit.png, saved)
            drawings.append(drawing)
        with transaction.atomic():
            submission.save()
            Drawing.objects.bulk_create(drawings)
    if classify is None:
        _shadow_answers(drawings, np.stack([d.model_input for d in digits]))
    submission.ordered_drawings = drawings
    return submission


def _shadow_answers(drawings: list[Drawing], inputs: np.ndarray) -> None:
    """While a shadow trial runs, its candidate reads the same inputs; its answers are stored, never shown. One more
    LiteRT call and one INSERT; a failure here is logged and never fails the request."""
    try:
        shadow = serving.shadow_predict(inputs)
        if shadow is None:
            return
        trial_id, answers = shadow
        ShadowPrediction.objects.bulk_create(
            [
                ShadowPrediction(trial_id=trial_id, drawing=drawing, digit=answer.digit, confidence=answer.confidence)
                for drawing, answer in zip(drawings, answers, strict=True)
            ]
        )
    except Exception:  # the shadow must never cost a live answer
        log.exception("The shadow trial's candidate could not read drawings %s", [d.pk for d in drawings])


class CorrectionLocked(RuntimeError):
    """Staff have reviewed the drawing's correction: the public can no longer change it."""


def correct(drawing: Drawing, label: int, *, reviewer=None, network: str = "") -> Drawing:
    """Store a correction. A later correction replaces an earlier one; staff corrections count as reviewed.

    Corrections from the public wait as *pending* until staff accept them; one made by staff is accepted at once.
    Once staff have accepted or rejected a correction, only staff can change it (:class:`CorrectionLocked`), so a
    client cannot undo a review by correcting again. A public correction then gets its trust and the trust policy's
    decision (:mod:`recognizer.policy`): auto-accepted, auto-excluded or queued; ``network`` is where it came from
    (:func:`recognizer.trust.network_of`).
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
    drawing.correction_network = network if reviewer is None else ""
    drawing.save(
        update_fields=[
            "corrected_label",
            "corrected_at",
            "correction_status",
            "reviewed_by",
            "reviewed_at",
            "correction_network",
        ]
    )
    if reviewer is None:
        policy.decide(drawing)
    return drawing
