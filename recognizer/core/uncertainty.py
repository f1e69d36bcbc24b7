"""When to say "I am not sure": the honest signal that goes with every prediction.

A classifier always names one of ten digits, even for a scribble, a filled blob or a whole number drawn in the
single-digit box. Two independent signals decide when that answer must not be presented as fact:

* the model's own doubt: its top probability is below ``DIGITS_LOW_CONFIDENCE``;
* the drawing's shape, read off the 28x28 input the model saw (so it is judged after the same cropping and scaling
  as MNIST): ink filling most of its box or a solid blob, many separate pieces, many closed loops, or a shape much
  wider than tall.

Beyond those, :func:`recognizer.core.open_set.assess` (measured in ``bench/open_set.py``) says "not a digit" when the
model's evidence for any digit is weak, and "ambiguous" with the candidates ("a 4 or a 9?") when a calibrated
prediction set holds two digits or more.

The shape limits were measured on MNIST: together they flag 3 of the 10,000 test digits and 16 of the 60,000 training
digits (10 and 41 before the stroke's strength and a fat marker's cover were allowed for, 2026-12-07), while they
catch blobs, dots, dashes, numbers drawn as one digit and dense scribbles. They cannot catch
everything that is not a digit (a light scribble can look like a digit to any measure); the model's confidence covers
part of the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

from recognizer.core import open_set

#: Pixels of the 28x28 input at or above this value (0-255) count as ink for cover, loops and width.
INK = 128
#: Pieces are counted on fainter ink too, so a thin stroke that scaling left grey is not broken into pieces.
FAINT = 64
#: The digit's longer side is scaled to this many pixels by preprocessing, so the ink lies in a BOX x BOX square.
BOX = 20
#: Ink covering more than this fraction of the BOX x BOX square is a blob, not strokes (MNIST: 99.9% <= 0.59). It was
#: 0.6 until 2026-12-07: digits drawn with a fat marker (a brush 30% of the digit's height) cover 0.60-0.68, and 2.0%
#: of the canvas sweep's were called "not a digit"; at 0.7, 0.47% (bench/not_a_digit_detector.py).
MAX_COVER = 0.7
#: Ink filling more than this fraction of its own bounding box is a solid blob (MNIST: 2 in 70,000 digits that are
#: at least SOLID_WIDTH wide); narrower shapes are exempt, since a 1 fills its own thin box.
MAX_DENSITY = 0.8
SOLID_WIDTH = 8
#: A dense drawing (cover above this) with MAX_HOLES - 1 loops is a scribble; no digit has more than two loops.
DENSE_COVER = 0.45
#: This many closed loops or more: a scribble (MNIST test: never).
MAX_HOLES = 4
#: This many separate pieces or more: dots or several symbols (MNIST test: 0.02%).
MAX_PIECES = 4
#: Wider than tall by more than this: a dash, or several digits in the one-digit box (MNIST test: never).
MAX_ASPECT = 2.5
#: Pieces and loops smaller than this (pixels of the 28x28 input) are noise.
MIN_AREA = 3
#: Shapes are measured at the stroke's own strength: the input is scaled so that this percentile of its inked pixels
#: is full ink. Scaled down to 20 px, a hairline stroke is left grey, under ``INK`` and even ``FAINT`` but for where
#: strokes cross: until 2026-12-07 its pieces were counted as many (or its grey upright parts lost, leaving a shape
#: much wider than tall), and 2.3% of the canvas sweep's 1 px digits were called "not a digit"; now 0.27%. A thicker
#: stroke has more than a tenth of its pixels at full ink already and is measured as it is.
STROKE_PERCENTILE = 90


class Reason(StrEnum):
    """Why a prediction is uncertain, as the API reports it."""

    NOT_A_DIGIT = "not_a_digit"
    AMBIGUOUS = "ambiguous"
    LOW_CONFIDENCE = "low_confidence"


@dataclass(frozen=True)
class Shape:
    """Measures of the ink in a 28x28 model input."""

    cover: float
    density: float
    width: int
    pieces: int
    holes: int
    aspect: float

    @property
    def looks_like_a_digit(self) -> bool:
        return not (
            self.pieces == 0
            or self.cover > MAX_COVER
            or (self.density > MAX_DENSITY and self.width >= SOLID_WIDTH)
            or self.pieces >= MAX_PIECES
            or self.holes >= MAX_HOLES
            or (self.holes >= MAX_HOLES - 1 and self.cover > DENSE_COVER)
            or self.aspect > MAX_ASPECT
        )


def at_full_strength(model_input: np.ndarray) -> np.ndarray:
    """``model_input`` scaled so that ``STROKE_PERCENTILE`` of its inked pixels are full ink (255), so a hairline
    stroke's grey counts as ink as a marker's does; unchanged when they are already."""
    inked = model_input[model_input > 0]
    if not inked.size:
        return model_input
    rank = int(STROKE_PERCENTILE / 100 * (inked.size - 1))
    level = int(np.partition(inked, rank)[rank])  # the percentile, without np.percentile's 50 us a drawing
    if level == 255:
        return model_input
    return np.clip(model_input.astype(np.float32) * (255.0 / level), 0, 255).astype(np.uint8)


def measure(model_input: np.ndarray) -> Shape:
    """The shape of the ink in a 28x28 uint8 input as made by :func:`recognizer.core.preprocessing.preprocess`, at
    the stroke's own strength (:func:`at_full_strength`)."""
    model_input = at_full_strength(model_input)
    ink = (model_input >= INK).astype(np.uint8)
    if not ink.any():
        return Shape(cover=0.0, density=0.0, width=0, pieces=0, holes=0, aspect=1.0)
    _, _, stats, _ = cv2.connectedComponentsWithStats((model_input >= FAINT).astype(np.uint8), connectivity=8)
    pieces = int((stats[1:, cv2.CC_STAT_AREA] >= MIN_AREA).sum())
    # Loops are background regions (4-connected, the dual of 8-connected ink) that do not reach the border.
    _, _, stats, _ = cv2.connectedComponentsWithStats(1 - ink, connectivity=4)
    rows, cols = ink.shape
    holes = sum(
        1
        for left, top, w, h, area in stats[1:]
        if area >= MIN_AREA and left > 0 and top > 0 and left + w < cols and top + h < rows
    )
    ys, xs = np.nonzero(ink)
    width, height = int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)
    return Shape(
        cover=float(ink.sum()) / (BOX * BOX),
        density=float(ink.sum()) / (width * height),
        width=width,
        pieces=pieces,
        holes=holes,
        aspect=width / height,
    )


@dataclass(frozen=True)
class Judgement:
    """Whether a prediction may be presented as fact, and if not, why."""

    reason: Reason | None
    #: The plausible digits, most probable first: one, or two or three when the drawing is ambiguous.
    candidates: list[int] = field(default_factory=list)

    @property
    def uncertain(self) -> bool:
        return self.reason is not None


def judge(
    model_input: np.ndarray,
    probabilities: list[float],
    low_confidence: float,
    distance: float | None = None,
    detector: float | None = None,
) -> Judgement:
    """Judge a prediction: by the drawing's shape and the evidence (the model's top probability and, when they were
    read, its ``distance`` to the digits it learnt and the not-a-digit ``detector``'s logit: not a digit), then by
    a calibrated prediction set (ambiguous), then by the model's confidence against ``low_confidence``."""
    assessment = open_set.assess(probabilities, measure(model_input).looks_like_a_digit, distance, detector)
    if assessment.verdict is open_set.Verdict.NOT_A_DIGIT:
        return Judgement(Reason.NOT_A_DIGIT, assessment.candidates)
    if assessment.verdict is open_set.Verdict.AMBIGUOUS:
        return Judgement(Reason.AMBIGUOUS, assessment.candidates)
    if max(probabilities) < low_confidence:
        return Judgement(Reason.LOW_CONFIDENCE, assessment.candidates)
    return Judgement(None, assessment.candidates)


def judge_many(
    model_inputs: np.ndarray,
    probabilities: np.ndarray,
    low_confidence: float,
    distances: np.ndarray | None = None,
    detectors: np.ndarray | None = None,
) -> list[Judgement]:
    """:func:`judge` for each row of a batch (evaluation, benchmarks); ``distances`` None when the model gives none,
    ``detectors`` None without a detector."""
    far = [None] * len(model_inputs) if distances is None else [float(d) for d in distances]
    logits = [None] * len(model_inputs) if detectors is None else [float(v) for v in detectors]
    return [
        judge(x, row.tolist(), low_confidence, d, v)
        for x, row, d, v in zip(model_inputs, probabilities, far, logits, strict=True)
    ]
