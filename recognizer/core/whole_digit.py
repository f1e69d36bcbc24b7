"""Is this piece one whole digit? A small learnt check that helps a number's picture be split into its digits.

Splitting a picture (:func:`recognizer.core.segmentation.split_number`) keeps its separate pieces of ink when the digit
model reads each surely, else cuts it where the model reads the pieces best. Its commonest error on touching digits
is the count: two touching digits are one piece of ink, and the model often reads that piece surely as one digit (a
"17" as a 7), which neither width nor the model's distance catches. The verifier is a second, small LiteRT model that
reads the same 28x28 input and answers how likely it is one whole digit rather than two merged, a fragment, or a
digit with a neighbour's stroke (trained by ``manage.py train_whole_digit`` on the cuts' own candidates:
:mod:`training.ml.whole_digit`). :func:`weighed` scales each piece's probabilities by ``v ** WEIGHT``, so the sure
pieces need the verifier's assent too, and the cuts score a piece by ``log p_top + WEIGHT log v``.

Measured (``bench/segment_verifier.py``, ``tests/test_whole_digit.py``): touching pairs of held-out MNIST digits read
right 84 -> 95 and 84 -> 93 of 100; whole numbers in bench/results/segment_verifier.md.
"""

from __future__ import annotations

import numpy as np

from recognizer.core.classifier import OneScore
from recognizer.core.segmentation import Scorer, read
from recognizer.core.uncertainty import INK

#: How much the verifier's log score weighs beside the digit model's log top probability (the setting
#: ``DIGITS_WHOLE_DIGIT_WEIGHT`` is the site's). Chosen on bench/segment_verifier.py's numbers of seeds 14 and 7,
#: checked on seed 21: the shipped verifier is decided enough that at 0.5 it split other writers' whole digits.
WEIGHT = 0.25
#: The least verifier score counted, so one piece it doubts cannot outweigh everything else.
FLOOR = 1e-4
#: Only pieces at least this wide for their height (ink of the 28x28 input) are weighed: two digits merged are wide,
#: while a narrow piece is a 1 or a stroke of a digit, which the verifier cannot tell apart (it scored a plain
#: upright 1 at 0.01) and the cuts' height and distance penalties already judge. Without it, draw_number's 100 touching
#: pairs (bench.resplit) fell from 100 to 91 read right, every wrong one a 1 absorbed by its neighbour; with 0.4-0.7,
#: 100, and the 100 touching MNIST pairs of tests/test_whole_digit.py 94-95 (95 with none).
MIN_ASPECT = 0.6


def aspects(images: np.ndarray) -> np.ndarray:
    """Width over height of each input's ink (N,), as :func:`recognizer.core.uncertainty.measure` reads a drawing's
    shape, for a whole batch at once; 0 for an input without ink."""
    ink = images >= INK
    extents = []
    for inked in (ink.any(axis=1), ink.any(axis=2)):  # columns, rows
        index = np.arange(inked.shape[1])
        extents.append(np.where(inked, index, -1).max(axis=1) - np.where(inked, index, inked.shape[1]).min(axis=1) + 1)
    return np.maximum(extents[0], 0) / np.maximum(extents[1], 1)


class WholeDigit(OneScore):
    """The verifier's ``.tflite``: its score is the probability (0-1) that an input is one whole digit."""


def weighed(scorer: Scorer, verifier: WholeDigit, weight: float = WEIGHT) -> Scorer:
    """``scorer`` with each piece at least ``MIN_ASPECT`` wide scaled by the verifier's score to the power ``weight``:
    the cuts take the log of the top probability, so such a piece gains ``weight log v``. The distances pass
    unchanged."""

    def weighed_scorer(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        probabilities, distances = read(scorer, inputs)
        whole = np.clip(verifier.score(inputs), FLOOR, 1.0) ** weight
        return probabilities * np.where(aspects(inputs) >= MIN_ASPECT, whole, 1.0)[:, None], distances

    return weighed_scorer
