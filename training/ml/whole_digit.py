"""The whole-digit verifier: learnt from the picture's own cuts on numbers of MNIST training digits.

Numbers of 2-4 MNIST *training* digits are written apart, close, touching and overlapping
(:mod:`training.ml.synthetic_numbers`, the four cases in turn), in two looks in turn: traced into pen strokes and drawn
with the page's brush, and as MNIST's own bitmaps scaled up (grey, uneven strokes, as a scan or another app's
picture). Trained on the first look alone, the verifier scored whole MNIST digits given as bitmaps 0.03-0.29 (median),
against 0.97 for the same digits drawn: it had learnt the brush, not the wholeness.

Each number is cut by :func:`recognizer.core.segmentation.segment`, and every candidate piece it would show the digit
model is kept, labelled by how well its ink matches one of the number's digits alone (IoU of the preprocessed 28x28
inputs): at least ``POSITIVE`` is a whole digit, at most ``NEGATIVE`` is not (two merged digits, a fragment, a digit
with a neighbour's stroke); between is left out, unless the piece is the closest to one of the digits (``CLOSEST``). The
IoUs are bimodal: most candidates lie at 0.2-0.5 and about a tenth at 0.9-1.0. A small CNN learns the difference; the
site reads it through LiteRT (:mod:`recognizer.core.whole_digit`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import keras
import numpy as np
from PIL import Image

from recognizer.core import segmentation
from recognizer.core.preprocessing import ink_map, preprocess
from training.ml.pen_strokes import digit_strokes
from training.ml.synthetic_numbers import CASES, compose, compose_bitmaps

POSITIVE = 0.7
NEGATIVE = 0.45
#: A candidate closest to one of its number's digits is whole from this IoU on: a touching digit cut as well as the
#: cuts can (a neighbour's sliver, a stroke end shared) must not be taught as "not whole", or the verifier would doubt
#: exactly the pieces the cuts should keep.
CLOSEST = 0.5
#: Pixels of a 28x28 input at or above this are ink, for the IoU.
INK = 80
#: Each number's strokes are thinned or thickened by up to this many px (each side, on its 280 px canvas): the page's
#: brush draws a digit's strokes 0.09-0.3 of its height depending on how large it is drawn, and a verifier trained on
#: one width (the traced digits' 0.125) scored clean digits drawn larger 0.0: it had learnt the width.
WIDTH_CHANGE = (6, 8)


def restroked(picture: Image.Image, change: int) -> Image.Image:
    """The picture's ink thinned (``change`` < 0) or thickened by ``change`` px, dark ink on white."""
    ink = ink_map(picture)
    if change:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(change) + 1, 2 * abs(change) + 1))
        ink = (cv2.dilate if change > 0 else cv2.erode)(ink, kernel)
    return Image.fromarray(np.rint(255 * (1 - ink)).astype(np.uint8), "L")


@dataclass(frozen=True)
class Pieces:
    """The cuts' candidate pieces (N, 28, 28) uint8 and each one's best IoU with one digit of its number alone."""

    inputs: np.ndarray
    iou: np.ndarray
    #: Whether the piece is, of its number's candidates, the closest to one of the digits alone: the best the cuts
    #: can do for that digit, whole even when touching or overlapping ink left it less alike (``CLOSEST``).
    closest: np.ndarray

    def labelled(self) -> tuple[np.ndarray, np.ndarray]:
        """The pieces clearly whole or clearly not: x 0-255 with a channel (as LiteRT gets them), y in {0, 1}."""
        whole = (self.iou >= POSITIVE) | (self.closest & (self.iou >= CLOSEST))
        keep = whole | (self.iou <= NEGATIVE)
        return self.inputs[keep].astype("float32")[..., None], whole[keep].astype("float32")


def _uniform(inputs: np.ndarray) -> tuple[np.ndarray, None]:
    """A scorer that knows nothing: the candidates do not depend on the scorer, only the choice among them does."""
    return np.full((len(inputs), 10), 0.1), None


def candidate_pieces(
    images: np.ndarray, numbers: int, rng: np.random.Generator, progress: Callable[[int], None] | None = None
) -> Pieces:
    """The candidates of ``numbers`` numbers written from ``images`` (28x28 training digits), ``progress`` told each
    number done."""
    traced: dict[int, list[np.ndarray]] = {}
    # As many digits as numbers (each is written about three times, in different numbers and cases), at least eight.
    for k in rng.choice(len(images), size=min(len(images), max(numbers, 8)), replace=False):
        strokes = digit_strokes(images[k])
        if strokes:
            traced[int(k)] = strokes
    pool = np.array(sorted(traced))

    def picture(digits: list[int], case: str, drawn: bool, width: int) -> Image.Image:
        if drawn:
            return restroked(compose([traced[k] for k in digits], case, rng)[1], width)
        return restroked(compose_bitmaps([images[k] for k in digits], case, rng), width)

    inputs, scores, bests = [], [], []
    for n in range(numbers):
        pick = [int(k) for k in rng.choice(pool, size=int(rng.integers(2, 5)), replace=False)]
        # Every case in both looks in turn: drawn with the page's brush, and the bitmaps scaled up as scanned.
        case, drawn = list(CASES)[n % len(CASES)], (n // len(CASES)) % 2 == 0
        width = int(rng.integers(-WIDTH_CHANGE[0], WIDTH_CHANGE[1] + 1))
        number = picture(pick, case, drawn, width)
        truths = np.stack([preprocess(picture([k], "apart", drawn, width)) >= INK for k in pick])[None]
        batches: list[np.ndarray] = []

        def record(x: np.ndarray, batches: list[np.ndarray] = batches) -> tuple[np.ndarray, None]:
            batches.append(x.copy())
            return _uniform(x)

        with contextlib.suppress(segmentation.TooManyDigits):  # not for 2-4 digits; refused before any reading
            segmentation.segment(number, record)
        if progress is not None:
            progress(n + 1)
        if not batches:
            continue
        pieces = np.concatenate(batches)
        ink = (pieces >= INK)[:, None]
        iou = (ink & truths).sum(axis=(2, 3)) / np.maximum((ink | truths).sum(axis=(2, 3)), 1)
        closest = np.zeros(len(pieces), dtype=bool)
        closest[iou.argmax(axis=0)] = True
        inputs.append(pieces)
        scores.append(iou.max(axis=1))
        bests.append(closest)
    return Pieces(np.concatenate(inputs), np.concatenate(scores), np.concatenate(bests))


def build() -> keras.Model:
    """Three small convolutions, then a dense layer over the whole 7x7 map and a sigmoid: about 257,000 parameters,
    well under a millisecond a piece. The dense layer sees *where* the ink lies (a neighbour's sliver at one edge, a
    stroke cut off at another), which a global average over the map threw away. With it and 4,800 numbers, 97.0% of
    held-out pieces; the global average on 2,400 numbers, 90.6% (the two changes were made together, so neither's
    share is known). It takes 0-255 inputs, as the digit model does, so the site hands both the same array."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name="whole_digit",
    )


def fit(pieces: Pieces, epochs: int, seed: int, verbose: int = 2) -> tuple[keras.Model, float]:
    """Train the verifier on the labelled pieces; returns it and its accuracy on the 5% held out."""
    keras.utils.set_random_seed(seed)
    x, y = pieces.labelled()
    order = np.random.default_rng(seed).permutation(len(x))
    model = build()
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x[order], y[order], batch_size=256, epochs=epochs, validation_split=0.05, verbose=verbose)
    return model, float(history.history["val_accuracy"][-1])
