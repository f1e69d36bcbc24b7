"""The one preprocessing function: any drawing → the 28x28 input the model sees.

Serving, training on corrections and evaluation all call :func:`preprocess` (or :func:`split_digits` for numbers),
so the model sees the same thing everywhere. The steps follow how MNIST itself was made: grayscale ink on a black
background, cropped to the ink, the longer side scaled to 20 px keeping the aspect ratio, then placed in a 28x28
frame so that the centre of mass sits in the middle.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

# OpenCV's thread pool splits even a 28x28 warp across threads; between requests they fall asleep, and waking them
# cost 0.5-1.5 ms a drawing on a busy machine (more than the work itself). One thread per process is faster here,
# and web processes get their parallelism from several workers.
cv2.setNumThreads(1)

SIZE = 28
BOX = 20
#: Ink fainter than this (0-1) is anti-aliasing noise or paper texture, not part of the drawing.
INK_THRESHOLD = 0.15
#: A drawing whose ink covers fewer pixels than this (after thresholding) counts as empty.
MIN_INK_PIXELS = 4


class EmptyDrawing(ValueError):
    """The image holds no ink: there is nothing to recognise."""


def _unit(channel: np.ndarray) -> np.ndarray:
    """uint8 → float32 in 0-1, the fast way: ``np.asarray(image, dtype=float32) / 255.0`` gives the same values but
    converts pixel by pixel and divides through float64, ~10x slower on a canvas-sized drawing."""
    return channel.astype(np.float32) / np.float32(255.0)


def ink_map(image: Image.Image) -> np.ndarray:
    """Return the ink of ``image`` as float32 in 0-1, 1 being full ink, whatever its mode and polarity.

    A transparent background (a canvas exported as RGBA) means the alpha channel is the ink. An opaque image is
    converted to grayscale and its polarity is read off the border: a light border means dark ink on light paper,
    which is inverted, so a light-on-dark drawing (like MNIST) and a dark-on-light one give the same ink.
    """
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float32)
        image = Image.fromarray((arr / max(float(arr.max()), 1.0) * 255).astype(np.uint8), "L")
    if "A" in image.getbands():
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 128:  # some of it is transparent (below 0.5)
            return _unit(alpha)
    gray = _unit(np.asarray(image.convert("L")))
    border = np.concatenate([gray[0, :], gray[-1, :], gray[:, 0], gray[:, -1]])
    if float(np.median(border)) > 0.5:
        gray = 1.0 - gray
    low = float(np.median(border)) if float(np.median(border)) <= 0.5 else 1.0 - float(np.median(border))
    # Stretch so the background is 0 and the strongest ink is 1 (pencil on grey paper reads like pen on white).
    span = max(float(gray.max()) - low, 1e-6)
    return np.clip((gray - low) / span, 0.0, 1.0)


def _significant(ink: np.ndarray) -> np.ndarray:
    return ink >= INK_THRESHOLD


def center_in_frame(ink: np.ndarray) -> np.ndarray:
    """Crop ``ink`` (float 0-1) to its ink, scale to a 20 px box and centre by mass in 28x28; returns uint8.

    Raises :class:`EmptyDrawing` when there is no ink.
    """
    mask = _significant(ink).view(np.uint8)
    if cv2.countNonZero(mask) < MIN_INK_PIXELS:
        raise EmptyDrawing("The canvas is empty: draw a digit first.")
    # The ink's bounding box, then only the crop is masked (a full-size np.nonzero/np.where cost ~0.5 ms a drawing).
    x, y, w, h = cv2.boundingRect(mask)
    crop = np.where(mask[y : y + h, x : x + w], ink[y : y + h, x : x + w], 0.0)
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop.astype(np.float32), (new_w, new_h), interpolation=interpolation)
    frame = np.zeros((SIZE, SIZE), dtype=np.float32)
    top, left = (SIZE - new_h) // 2, (SIZE - new_w) // 2
    frame[top : top + new_h, left : left + new_w] = small
    moments = cv2.moments(frame)
    if moments["m00"] > 0:
        cy, cx = moments["m01"] / moments["m00"], moments["m10"] / moments["m00"]
        shift = np.float32([[1, 0, SIZE / 2 - 0.5 - cx], [0, 1, SIZE / 2 - 0.5 - cy]])
        frame = cv2.warpAffine(frame, shift, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0.0)
    peak = float(frame.max())
    if peak > 0:
        frame = frame / peak
    return np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)


def preprocess(image: Image.Image | np.ndarray) -> np.ndarray:
    """Turn a drawing (PIL image of any size and mode, or a 2-D uint8 ink array) into the model's 28x28 uint8 input."""
    ink = _unit(image) if isinstance(image, np.ndarray) else ink_map(image)
    return center_in_frame(ink)


def digit_spans(image: Image.Image, min_gap_fraction: float = 0.0) -> list[tuple[int, int]]:
    """The horizontal extents ``(left, right)`` of the digits of a number written side by side, left to right.

    Connected strokes are grouped into columns: blobs whose horizontal extents overlap belong to the same digit (so
    the two strokes of a 4, or a 5 whose top bar was lifted, stay together). ``min_gap_fraction`` widens the gap that
    separates digits, as a fraction of the ink height.
    """
    mask = _significant(ink_map(image)).astype(np.uint8)
    if int(mask.sum()) < MIN_INK_PIXELS:
        raise EmptyDrawing("The canvas is empty: draw a digit first.")
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    rows = np.nonzero(mask.any(axis=1))[0]
    gap = min_gap_fraction * float(rows.max() - rows.min() + 1)
    spans = sorted(
        (int(stats[i, cv2.CC_STAT_LEFT]), int(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH]))
        for i in range(1, count)
        if stats[i, cv2.CC_STAT_AREA] >= MIN_INK_PIXELS
    )
    columns: list[list[int]] = []
    for left, right in spans:
        if columns and left <= columns[-1][1] + gap:
            columns[-1][1] = max(columns[-1][1], right)
        else:
            columns.append([left, right])
    return [(left, right) for left, right in columns]
