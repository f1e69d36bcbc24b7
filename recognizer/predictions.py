"""The core loop's work: decode a drawing, preprocess, predict, store; and store corrections.

Views and API endpoints stay thin and call these functions. Everything that can fail (decoding, empty canvas, too
many digits, no model) happens before anything is written; the image file and the rows are then written together, and
the file is removed again if the rows cannot be, so a failed request leaves nothing half-written.

A drawing arrives as a picture, as strokes, or both. Strokes are rendered with the page's brush
(:func:`recognizer.core.strokes.render`), so both reach the same ``preprocess``; when both are sent, the strokes are
read and the picture is not decoded. A number from strokes is split by which strokes make which digit
(:mod:`recognizer.core.grouping`); a number from a picture alone by recognition-scored cuts
(:mod:`recognizer.core.segmentation`). Both are bounded: more than ``DIGITS_MAX_NUMBER_DIGITS`` digits is refused.
When the person says the number has another count of digits, :func:`resplit` reads it again into that many.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image

from recognizer import policy, serving
from recognizer.core import grouping, segmentation, whole_digit
from recognizer.core import strokes as core_strokes
from recognizer.core.preprocessing import TooManyDigits, preprocess
from recognizer.core.segmentation import CannotSplit
from recognizer.files import removed_on_failure
from recognizer.images import as_png, open_image
from recognizer.models import Drawing, ShadowPrediction, SplitCorrection, Submission

log = logging.getLogger(__name__)

__all__ = [
    "CannotSplit",
    "CorrectionLocked",
    "SplitConflict",
    "TooManyDigits",
    "correct",
    "create_submission",
    "resplit",
]

Classify = Callable[[np.ndarray], list[serving.Prediction]]


@dataclass(frozen=True)
class _Digit:
    png: bytes
    model_input: np.ndarray
    strokes: bytes | None = None


def _reader(classify: Classify) -> segmentation.Scorer:
    """The model as the splitters (the picture's cuts, the strokes' grouping) want it: the probabilities and, when
    the model gives them, the distances to the digits it learnt (a piece far from every digit is likely two merged
    digits, or part of one)."""

    def read(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        predictions = classify(inputs)
        distances = [p.distance for p in predictions]
        return (
            np.array([p.probabilities for p in predictions]),
            None if any(d is None for d in distances) else np.array(distances, dtype=np.float64),
        )

    return read


def _picture_reader(classify: Classify) -> segmentation.Scorer:
    """The model as a picture's splitting wants it: :func:`_reader`, with each piece also weighed by the whole-digit
    verifier when there is one, both where blank space parts the pieces and among the cuts: two touching digits read
    surely as one are then no longer taken for one."""
    verifier = serving.whole_digit()
    reader = _reader(classify)
    return reader if verifier is None else whole_digit.weighed(reader, verifier, settings.DIGITS_WHOLE_DIGIT_WEIGHT)


def _digits_of_image(image: Image.Image, raw: bytes | None, as_number: bool, classify: Classify) -> list[_Digit]:
    """One digit: the upload itself. A number: each digit's own image, cut where the model reads the pieces best."""
    if not as_number:
        return [_Digit(as_png(image, raw), preprocess(image))]
    limit = settings.DIGITS_MAX_NUMBER_PIXELS
    if image.width * image.height > limit:
        raise TooManyDigits(
            f"The canvas is {image.width}x{image.height} pixels; a number's may have at most {limit:,} pixels."
        )
    pieces = segmentation.split_number(image, _picture_reader(classify), settings.DIGITS_MAX_NUMBER_DIGITS)
    return _digits_of_pieces(pieces)


def _digits_of_pieces(pieces: list[Image.Image]) -> list[_Digit]:
    return [_Digit(as_png(piece), preprocess(piece)) for piece in pieces]


def _digits_of_strokes(drawing: core_strokes.Drawing, as_number: bool, classify: Classify) -> list[_Digit]:
    """One digit: the strokes rendered. A number: the strokes grouped into digits, each rendered on its own ink."""
    if not as_number:
        image = core_strokes.render(drawing)
        return [_Digit(as_png(image), preprocess(image), core_strokes.encode(drawing))]
    return _digits_of_groups(
        grouping.split_drawing(drawing, _reader(classify), preprocess, settings.DIGITS_MAX_NUMBER_DIGITS)
    )


def _digits_of_groups(groups: list[core_strokes.Drawing]) -> list[_Digit]:
    """Each group of strokes rendered on its own ink, keeping its strokes."""
    digits = []
    for group in groups:
        image = core_strokes.render(group, crop=True)
        digits.append(_Digit(as_png(image), preprocess(image), core_strokes.encode(group)))
    return digits


def _store(fieldfile, content: bytes, saved: list) -> None:
    fieldfile.save("upload.png", ContentFile(content), save=False)  # the model's upload_to names it
    saved.append(fieldfile)


def create_submission(
    raw: bytes | None,
    client_key: str,
    as_number: bool = False,
    classify: Classify | None = None,
    network_key: str = "",
    before_classify: Callable[[int], None] | None = None,
    strokes: core_strokes.Drawing | None = None,
) -> Submission:
    """Predict the digit (or, with ``as_number``, each digit of a number) in an uploaded image or in ``strokes``
    (validated by :func:`recognizer.core.strokes.parse`), and store it all.

    ``client_key`` (:mod:`recognizer.api.authentication`) marks the drawings as the client's own. The submission and its
    drawings are written in one transaction, the drawings with one INSERT. ``classify`` turns the 28x28 inputs into
    predictions:
    the active model served with LiteRT unless given (the benchmark's Keras baseline passes its own, so that the two
    differ in nothing else).
    ``network_key`` (:mod:`recognizer.network`) is stored with the submission. ``before_classify`` is called with the
    number of digits once they are known and before they are read (the API charges the rate limit there; splitting
    a number from a picture has read its candidate pieces already, within the bounds of
    :mod:`recognizer.core.segmentation`).
    Raises :class:`~recognizer.images.InvalidImage`, :class:`~recognizer.core.strokes.InvalidStrokes`,
    :class:`~recognizer.core.preprocessing.EmptyDrawing`, :class:`~recognizer.core.preprocessing.TooManyDigits` or
    :class:`~recognizer.serving.ModelUnavailable` before anything is stored.
    """
    read = classify or serving.predict_batch
    if strokes is not None:
        image, raw = core_strokes.render(strokes), None
        digits = _digits_of_strokes(strokes, as_number, read)
    else:
        image = open_image(raw)
        digits = _digits_of_image(image, raw, as_number, read)
    if before_classify is not None:
        before_classify(len(digits))
    inputs = np.stack([d.model_input for d in digits])
    predictions = read(inputs)
    now = timezone.now()
    submission = Submission(
        created_at=now,
        client_key=client_key,
        network_key=network_key,
        number="".join(str(p.digit) for p in predictions),
        # A number keeps its whole drawing (as it keeps its picture); a single digit's is on its drawing.
        strokes=core_strokes.encode(strokes) if strokes is not None and as_number else None,
    )
    with removed_on_failure() as saved:
        if as_number:
            _store(submission.image, as_png(image, raw), saved)
        drawings = _drawings(submission, digits, inputs, predictions, now, saved)
        with transaction.atomic():
            submission.save()
            Drawing.objects.bulk_create(drawings)
    if classify is None:
        _shadow_answers(drawings, inputs)
    submission.ordered_drawings = drawings
    return submission


def _drawings(
    submission: Submission,
    digits: list[_Digit],
    inputs: np.ndarray,
    predictions: list[serving.Prediction],
    now,
    saved: list,
) -> list[Drawing]:
    """The digits' rows, in their order, not yet written; their images are stored (and listed in ``saved``). Each
    gets the not-a-digit detector's logit of its model input (``inputs``, the digits' stacked) when there is a
    detector (read here, on the digits kept, not on every piece a number's splitting tried)."""
    scores = serving.not_a_digit_logits(inputs)
    logits = [None] * len(digits) if scores is None else [float(v) for v in scores]
    drawings = []
    for position, (digit, prediction, logit) in enumerate(zip(digits, predictions, logits, strict=True)):
        drawing = Drawing(
            submission=submission,  # its id is taken when the drawings are written, after the submission
            client_key=submission.client_key,
            position=position,
            image_sha256=hashlib.sha256(digit.png).hexdigest(),
            model_input=digit.model_input.tobytes(),
            strokes=digit.strokes,
            predicted_digit=prediction.digit,
            confidence=prediction.confidence,
            probabilities=prediction.probabilities,
            distance=prediction.distance,
            detector=logit,
            model_version=prediction.version,
            created_at=now,
        )
        _store(drawing.image, digit.png, saved)
        drawings.append(drawing)
    return drawings


class SplitConflict(RuntimeError):
    """Another request split the same number again first: this one's reading is dropped."""


def resplit(submission: Submission, digits: int, *, made_by=None, classify: Classify | None = None) -> Submission:
    """Read a number again into exactly ``digits`` digits, because the person (or staff, ``made_by``) says that is
    how many it has: the first split was wrong ("10" read as one digit, a "0" cut in two).

    Its current count changes nothing (a repeated tap is harmless). Otherwise the stored strokes are regrouped
    (:func:`recognizer.core.grouping.regroup`), or, when they cannot make that many (a number written without
    lifting the pen) or there are none, the stored picture is cut again (:func:`recognizer.core.segmentation.resplit`).
    The new digits are stored like the first reading's; the earlier ones are kept, superseded by a
    :class:`~recognizer.models.SplitCorrection` that says from how many to how many and when: they never train and
    the public can no longer correct them. Raises :class:`CannotSplit` or
    :class:`~recognizer.serving.ModelUnavailable` before anything is stored, and :class:`SplitConflict` (nothing
    stored) when another split of it landed first.
    """
    current = list(submission.drawings.filter(superseded_by=None).order_by("position"))
    if len(current) == digits:
        submission.ordered_drawings = current
        return submission
    read = classify or serving.predict_batch
    scorer, limit = _reader(read), settings.DIGITS_MAX_NUMBER_DIGITS
    new = None
    if submission.strokes is not None:
        strokes = core_strokes.decode(bytes(submission.strokes))
        with contextlib.suppress(CannotSplit):  # then the picture may still be cut into that many
            new = _digits_of_groups(grouping.regroup(strokes, digits, scorer, preprocess, limit))
    if new is None:
        with submission.image.open("rb") as file:
            image = open_image(file.read())
        new = _digits_of_pieces(segmentation.resplit(image, _picture_reader(read), digits, limit))
    inputs = np.stack([d.model_input for d in new])
    predictions = read(inputs)
    now = timezone.now()
    number = "".join(str(p.digit) for p in predictions)
    split = SplitCorrection(
        submission=submission,
        digits_before=len(current),
        digits_after=digits,
        number_before=submission.number,
        number_after=number,
        created_at=now,
        made_by=made_by,
    )
    with removed_on_failure() as saved:
        drawings = _drawings(submission, new, inputs, predictions, now, saved)
        with transaction.atomic():
            split.save()
            earlier = Drawing.objects.filter(pk__in=[d.pk for d in current], superseded_by=None)
            if earlier.update(superseded_by=split) != len(current):
                raise SplitConflict("This number was just read again by another request; reload it.")
            Drawing.objects.bulk_create(drawings)
            Submission.objects.filter(pk=submission.pk).update(number=number)
    if classify is None:
        _shadow_answers(drawings, inputs)
    submission.number, submission.ordered_drawings = number, drawings
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
    """Store a correction: ``label`` is a digit 0-9 or ``Drawing.NOT_A_DIGIT``. A later correction replaces an earlier
    one; staff corrections count as reviewed.

    Corrections from the public wait as *pending* until staff accept them; one made by staff is accepted at once.
    Once staff have reviewed the drawing (accepted or rejected its correction, confirmed its prediction, excluded it:
    anything that stamps *reviewed at* by a person), only staff can change it (:class:`CorrectionLocked`), so a
    client cannot undo a review by correcting again; an automatic decision of the trust policy is not such a review.
    The check and the write are one conditional UPDATE, so a review that lands between a client's request and its
    write still wins: there is no moment in which both see the drawing unreviewed. A public correction then gets its
    trust and the trust policy's decision (:mod:`recognizer.policy`): auto-accepted, auto-excluded or queued;
    ``network`` is the network key it came from (:mod:`recognizer.network`). A digit superseded by a new split of
    its number (:func:`resplit`) was cut wrong: only staff can still change it.
    """
    now = timezone.now()
    rows = Drawing.objects.filter(pk=drawing.pk)
    if reviewer is not None:
        changes = {
            "correction_status": Drawing.CorrectionStatus.ACCEPTED,
            "reviewed_by": reviewer,
            "reviewed_at": now,
        }
    else:
        open_statuses = [
            Drawing.CorrectionStatus.NONE,
            Drawing.CorrectionStatus.PENDING,
            Drawing.CorrectionStatus.AUTO_ACCEPTED,
            Drawing.CorrectionStatus.AUTO_EXCLUDED,
        ]
        if drawing.superseded_by_id is not None:
            raise CorrectionLocked("This digit was replaced when its number was read again: correct the new digits.")
        rows = rows.filter(
            Q(reviewed_at__isnull=True) | Q(reviewed_by__username=policy.POLICY_USERNAME),
            correction_status__in=open_statuses,
            superseded_by=None,
        )
        changes = {"correction_status": Drawing.CorrectionStatus.PENDING, "reviewed_by": None, "reviewed_at": None}
    changes["correction_network"] = network if reviewer is None else ""
    if not rows.update(corrected_label=label, corrected_at=now, **changes):
        raise CorrectionLocked("This drawing's correction has been reviewed by staff and can no longer be changed.")
    drawing.corrected_label, drawing.corrected_at = label, now
    for name, value in changes.items():
        setattr(drawing, name, value)
    if reviewer is None:
        policy.decide(drawing)
    return drawing
