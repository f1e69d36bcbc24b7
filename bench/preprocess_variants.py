"""Candidate preprocessing steps, measured with ``bench.accuracy`` before any goes into the product.

The same steps as :func:`recognizer.core.preprocessing.preprocess` (ink, crop, 20 px box, centre of mass), with a
working image in between (the crop scaled to a ``V_WORK`` px box) where two optional steps run, chosen by
environment variables so one benchmark command measures each:

- stroke width normalised towards MNIST's (``V_TARGET``, relative to the box; MNIST's training digits have a median
  of 0.127 by this estimate), or only clamped into ``V_LOW``-``V_HIGH``: the width is estimated as 2 x ink area /
  boundary pixels, then the ink is dilated or eroded (elliptic kernel) by the difference;
- deskewing by image moments (``V_DESKEW``: the share of the skew removed, ``V_DEAD``: skew left alone below it).

    V_TARGET=0.127 python -m bench.accuracy --quick --preprocess bench.preprocess_variants:preprocess --name x

Results: ``bench/results/preprocessing_variants.md``.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
from PIL import Image

from recognizer.core.preprocessing import BOX, MIN_INK_PIXELS, SIZE, EmptyDrawing, ink_map, significant_ink, unit_range

WORK = int(os.environ.get("V_WORK", "60"))
TARGET = float(os.environ.get("V_TARGET", "0"))
LOW = float(os.environ.get("V_LOW", "0"))
HIGH = float(os.environ.get("V_HIGH", "1"))
TOLERANCE = float(os.environ.get("V_TOL", "0.5"))
DESKEW = float(os.environ.get("V_DESKEW", "0"))
DEAD = float(os.environ.get("V_DEAD", "0"))


def stroke_width(work: np.ndarray) -> float:
    """Mean stroke width in pixels: 2 x area / boundary length (a strip of width w and length l: 2wl / 2l)."""
    mask = (work >= 0.35).astype(np.uint8)
    area = cv2.countNonZero(mask)
    boundary = area - cv2.countNonZero(cv2.erode(mask, np.ones((3, 3), np.uint8)))
    return 2.0 * area / max(boundary, 1)


def _box(crop: np.ndarray, box: int) -> np.ndarray:
    h, w = crop.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(crop.astype(np.float32), size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _crop(image: np.ndarray, threshold: float) -> np.ndarray:
    x, y, w, h = cv2.boundingRect((image >= threshold).astype(np.uint8))
    return image[y : y + h, x : x + w]


def _deskew(work: np.ndarray) -> np.ndarray:
    moments = cv2.moments(work)
    if abs(moments["mu02"]) < 1e-6:
        return work
    skew = moments["mu11"] / moments["mu02"]
    shear = float(np.sign(skew) * max(abs(skew) - DEAD, 0.0)) * DESKEW
    if not shear:
        return work
    pad = int(abs(shear) * work.shape[0]) + 2
    work = np.pad(work, ((2, 2), (pad, pad)))
    cy = moments["m01"] / moments["m00"] + 2
    matrix = np.float32([[1, -shear, shear * cy], [0, 1, 0]])
    work = cv2.warpAffine(work, matrix, work.shape[::-1], flags=cv2.INTER_LINEAR, borderValue=0.0)
    return _box(_crop(work, 0.05), WORK)


def _normalise_width(work: np.ndarray) -> np.ndarray:
    width = stroke_width(work)
    target = TARGET * WORK if TARGET else min(max(width, LOW * WORK), HIGH * WORK)
    if abs(width - target) <= TOLERANCE:
        return work
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (round(abs(width - target)) + 1,) * 2)
    changed = cv2.dilate(work, kernel) if target > width else cv2.erode(work, kernel)
    return _crop(changed, 0.05) if changed.max() >= 0.35 else work


def center(ink: np.ndarray) -> np.ndarray:
    mask = significant_ink(ink).view(np.uint8)
    if cv2.countNonZero(mask) < MIN_INK_PIXELS:
        raise EmptyDrawing("The canvas is empty: draw a digit first.")
    x, y, w, h = cv2.boundingRect(mask)
    crop = np.where(mask[y : y + h, x : x + w], ink[y : y + h, x : x + w], 0.0)
    work = _box(crop, WORK)
    work = work / max(float(work.max()), 1e-6)
    if DESKEW:
        work = _deskew(work)
    if TARGET or LOW or HIGH < 1:
        work = _normalise_width(work)
    small = _box(work, BOX)
    frame = np.zeros((SIZE, SIZE), dtype=np.float32)
    top, left = (SIZE - small.shape[0]) // 2, (SIZE - small.shape[1]) // 2
    frame[top : top + small.shape[0], left : left + small.shape[1]] = small
    moments = cv2.moments(frame)
    if moments["m00"] > 0:
        cy, cx = moments["m01"] / moments["m00"], moments["m10"] / moments["m00"]
        shift = np.float32([[1, 0, SIZE / 2 - 0.5 - cx], [0, 1, SIZE / 2 - 0.5 - cy]])
        frame = cv2.warpAffine(frame, shift, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=0.0)
    frame = frame / max(float(frame.max()), 1e-6)
    return np.clip(np.rint(frame * 255.0), 0, 255).astype(np.uint8)


def preprocess(image: Image.Image | np.ndarray) -> np.ndarray:
    """A candidate of :func:`recognizer.core.preprocessing.preprocess`, with the steps the environment selects."""
    return center(unit_range(image) if isinstance(image, np.ndarray) else ink_map(image))
