"""Handwriting that is not MNIST's, as drawings the product reads: the sets in ``../shared/handwriting`` and a sweep
of canvas drawings re-stroked from MNIST digits.

Every loader returns PIL images (or uint8 arrays for MNIST itself) with their labels, so a benchmark sends them
through the product's own :func:`recognizer.preprocessing.preprocess`, exactly as an upload would be. The small
binary bitmaps are scaled up to canvas size (8x, 12x for semeion's 16x16, bilinear, dark ink on white), as the set's
README says.

The sweep answers "whatever the brush": each MNIST digit is thinned to its skeleton (Zhang-Suen, in NumPy, since
OpenCV's contrib thinning is not installed) and stroked again on a canvas with a brush from a hairline to a marker
relative to the digit's height, at random size, position, slant and rotation, in the export styles a client sends
(transparent canvas with dark ink, dark on light, light on dark; anti-aliased or not).
"""

from __future__ import annotations

import csv
import gzip
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
HANDWRITING = Path(os.environ.get("DIGITS_HANDWRITING_DIR", ROOT.parent / "shared" / "handwriting"))
MNIST_DIR = Path(os.environ.get("DIGITS_MNIST_DIR", ROOT.parent / "shared" / "mnist"))

#: Brush widths of the sweep as a fraction of the digit's height: a hairline to a marker. The page's pen, a 14th of
#: a 280 px canvas on a digit drawn about 200 px tall, is near 0.1.
BRUSHES: dict[str, float] = {
    "1 px": 0.0,
    "hairline 1.5%": 0.015,
    "thin 3%": 0.03,
    "fine 5%": 0.05,
    "medium 8%": 0.08,
    "thick 12%": 0.12,
    "bold 17%": 0.17,
    "marker 23%": 0.23,
    "fat marker 30%": 0.30,
}
STYLES = ("transparent", "dark on light", "light on dark")
#: Skeletons are traced on the MNIST digit scaled up this many times, so the strokes' centre lines are smooth.
SKELETON_SCALE = 3


@dataclass
class LabelledSet:
    """One evaluation set: images (PIL drawings or a uint8 (N, 28, 28) array) and their labels; ``groups`` holds
    per-image tags (the sweep's brush, style, slant) for breakdowns."""

    name: str
    images: list[Image.Image] | np.ndarray
    labels: np.ndarray
    note: str = ""
    groups: dict[str, np.ndarray] = field(default_factory=dict)


# ---------------------------------------------------------------- the shared sets


def bitmap_drawing(bitmap: np.ndarray, factor: int) -> Image.Image:
    """A 0/1 bitmap (1 = ink) as a canvas-sized drawing: dark ink on white, scaled ``factor`` times, bilinear.

    A margin of an eighth of the bitmap is added on every side, as paper around a written digit: many semeion and
    some optdigits bitmaps are cropped so tightly that the ink touches all four edges. The benchmark has always read
    them with this margin, so its figures stay comparable; cropped tightly, they are read the same way (the
    preprocessing no longer takes a border that is mostly ink for paper: tests/test_preprocessing.py)."""
    margin = bitmap.shape[0] // 8
    padded = np.pad(bitmap, margin)
    paper = Image.fromarray(((1 - padded) * 255).astype(np.uint8), "L")
    return paper.resize((padded.shape[1] * factor, padded.shape[0] * factor), Image.BILINEAR)


def read_optdigits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The original 32x32 optdigits bitmaps: 21 header lines, then 32 rows of 0/1 and a label line per digit."""
    lines = path.read_text().splitlines()[21:]
    bitmaps, labels = [], []
    for start in range(0, len(lines) - 32, 33):
        rows = lines[start : start + 32]
        bitmaps.append(np.array([[int(c) for c in row.strip()] for row in rows], dtype=np.uint8))
        labels.append(int(lines[start + 32].strip()))
    return np.stack(bitmaps), np.array(labels, dtype=np.int64)


def read_semeion(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Semeion: one digit a line, 256 0/1 values of a 16x16 bitmap then a one-hot label."""
    values = np.loadtxt(path)
    return values[:, :256].reshape(-1, 16, 16).round().astype(np.uint8), values[:, 256:].argmax(axis=1)


def optdigits(kind: str) -> LabelledSet:
    """``tra`` (the training writers) or ``windep`` (other writers, the set's writer-independent test)."""
    bitmaps, labels = read_optdigits(HANDWRITING / f"optdigits-orig.{kind}")
    who = "training writers" if kind == "tra" else "other writers"
    return LabelledSet(f"optdigits {kind}", [bitmap_drawing(b, 8) for b in bitmaps], labels, f"32x32, {who}, 8x")


def semeion() -> LabelledSet:
    bitmaps, labels = read_semeion(HANDWRITING / "semeion.data")
    return LabelledSet("semeion", [bitmap_drawing(b, 12) for b in bitmaps], labels, "16x16 scans, 12x")


def hwd_1000() -> LabelledSet:
    folder = HANDWRITING / "hwd-1000"
    with open(folder / "dataset.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    images = []
    for row in rows:
        with Image.open(folder / row["image"]) as image:
            images.append(image.copy())
    return LabelledSet("hwd-1000", images, np.array([int(r["label"]) for r in rows]), "28x28 drawn on a computer")


def read_idx(path: Path) -> np.ndarray:
    """An unsigned-byte IDX file (gzipped or not)."""
    data = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def mnist(split: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images (N, 28, 28) uint8 and labels from ``DIGITS_MNIST_DIR``; ``split`` is ``t10k`` or ``train``."""

    def find(stem: str) -> Path:
        for candidate in (MNIST_DIR / f"{stem}.gz", MNIST_DIR / stem):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"{stem} is not in {MNIST_DIR} (set DIGITS_MNIST_DIR)")

    images = read_idx(find(f"{split}-images-idx3-ubyte"))
    return images, read_idx(find(f"{split}-labels-idx1-ubyte")).astype(np.int64)


# ---------------------------------------------------------------- thinning


def _zhang_suen_tables() -> tuple[np.ndarray, np.ndarray]:
    """For each of the 256 neighbourhoods (bit i = neighbour P(i+2), clockwise from north), may the centre go in the
    first / second sub-iteration of Zhang-Suen thinning?"""
    first, second = np.zeros(256, dtype=bool), np.zeros(256, dtype=bool)
    for code in range(256):
        p = [(code >> i) & 1 for i in range(8)]  # P2 (N), P3 (NE), P4 (E), P5 (SE), P6 (S), P7 (SW), P8 (W), P9 (NW)
        count = sum(p)
        transitions = sum(p[i] == 0 and p[(i + 1) % 8] == 1 for i in range(8))
        if not (2 <= count <= 6 and transitions == 1):
            continue
        n, e, s, w = p[0], p[2], p[4], p[6]
        first[code] = n * e * s == 0 and e * s * w == 0
        second[code] = n * e * w == 0 and n * s * w == 0
    return first, second


_FIRST, _SECOND = _zhang_suen_tables()
# Neighbour offsets (dy, dx) in the order of the table's bits.
_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def thin(masks: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a batch of binary masks (N, H, W) → one-pixel-wide skeletons, all at once."""
    image = np.pad(masks.astype(bool), ((0, 0), (1, 1), (1, 1)))
    height, width = masks.shape[1:]
    for _ in range(max(height, width)):
        changed = False
        for table in (_FIRST, _SECOND):
            code = np.zeros(masks.shape, dtype=np.uint8)
            for bit, (dy, dx) in enumerate(_NEIGHBOURS):
                code |= image[:, 1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width].view(np.uint8) << bit
            centre = image[:, 1:-1, 1:-1]
            remove = centre & table[code]
            if remove.any():
                centre &= ~remove
                changed = True
        if not changed:
            break
    return image[:, 1:-1, 1:-1]


def skeleton_segments(skeleton: np.ndarray) -> np.ndarray:
    """The skeleton as line segments (K, 2, 2) of (x, y) points joining 8-neighbouring pixels (a lone pixel: a dot)."""
    ys, xs = np.nonzero(skeleton)
    on = set(zip(ys.tolist(), xs.tolist(), strict=True))
    segments = []
    for y, x in on:
        joined = False
        for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
            if (y + dy, x + dx) in on:
                segments.append(((x, y), (x + dx, y + dy)))
                joined = True
        if not joined and not any((y - dy, x - dx) in on for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1))):
            segments.append(((x, y), (x, y)))
    return np.array(segments, dtype=np.float64).reshape(-1, 2, 2)


def mnist_skeletons(images: np.ndarray) -> list[np.ndarray]:
    """Each MNIST digit's centre lines as segments, in the coordinates of the digit scaled ``SKELETON_SCALE`` times."""
    size = images.shape[1] * SKELETON_SCALE
    big = np.stack([cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR) for image in images])
    return [skeleton_segments(s) for s in thin(big >= 128)]


# ---------------------------------------------------------------- the sweep


def stroke(
    segments: np.ndarray,
    rng: np.random.Generator,
    brush: float,
    canvas: int,
    style: str,
    antialiased: bool,
) -> tuple[Image.Image, float]:
    """Draw a skeleton on a ``canvas`` px square at a random height, place, slant and rotation, with a brush of
    ``brush`` times the digit's height (at least 1 px); returns the drawing and the slant used."""
    points = segments.reshape(-1, 2)
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    height = canvas * rng.uniform(0.3, 0.85)
    scale = height / max(high[1] - low[1] + 1, 4.0)
    slant = rng.uniform(-0.4, 0.4)
    angle = np.radians(rng.uniform(-10, 10))
    shear = np.array([[1.0, -slant], [0.0, 1.0]])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    placed = (points - centre) * scale @ (rotation @ shear).T
    width_px = max(1, round(brush * height * rng.uniform(0.9, 1.1)))
    margin = width_px / 2 + 2
    extent_low, extent_high = placed.min(axis=0) - margin, placed.max(axis=0) + margin
    room = np.maximum(canvas - (extent_high - extent_low), 0.0)
    offset = -extent_low + rng.uniform(0, 1, 2) * room
    placed = placed + offset
    ink = np.zeros((canvas, canvas), dtype=np.uint8)
    fixed = np.rint(placed * 16).astype(np.int32).reshape(-1, 2, 1, 2)  # 4 fractional bits (shift=4)
    cv2.polylines(ink, list(fixed), False, 255, width_px, cv2.LINE_AA if antialiased else cv2.LINE_8, 4)
    if style == "transparent":
        rgba = np.zeros((canvas, canvas, 4), dtype=np.uint8)
        rgba[..., 3] = ink
        return Image.fromarray(rgba, "RGBA"), slant
    if style == "dark on light":
        return Image.fromarray(255 - ink, "L").convert("RGB"), slant
    return Image.fromarray(ink, "L").convert("RGB"), slant


def sweep(images: np.ndarray, labels: np.ndarray, seed: int = 13) -> LabelledSet:
    """Every digit stroked at every brush of :data:`BRUSHES`, each time at a random size, place, slant, rotation,
    canvas (280 px like the page, or 560 px like a phone's 2x canvas) and export style."""
    rng = np.random.default_rng(seed)
    drawings, brush_names, styles, slants, digit_labels = [], [], [], [], []
    for segments, label in zip(mnist_skeletons(images), labels, strict=True):
        for name, brush in BRUSHES.items():
            style = STYLES[rng.integers(len(STYLES))]
            antialiased = bool(rng.integers(2))
            canvas = 280 if rng.random() < 0.75 else 560
            image, slant = stroke(segments, rng, brush, canvas, style, antialiased)
            drawings.append(image)
            brush_names.append(name)
            styles.append(style + (", anti-aliased" if antialiased else ""))
            slants.append(slant)
            digit_labels.append(label)
    slant = np.array(slants)
    return LabelledSet(
        "canvas sweep",
        drawings,
        np.array(digit_labels),
        f"{len(images)} MNIST test digits x {len(BRUSHES)} brushes",
        groups={
            "brush": np.array(brush_names),
            "style": np.array(styles),
            "slant": np.where(np.abs(slant) < 0.15, "upright (|shear| < 0.15)", "slanted (0.15-0.4)"),
        },
    )


def mnist_sweep(x_test: np.ndarray, y_test: np.ndarray, count: int) -> LabelledSet:
    """The canvas sweep of ``count`` of MNIST's test digits (``x_test``, ``y_test``, which the caller has loaded
    already; the same digits, in the same order, for the same count): every benchmark that reads drawings made with
    a brush reads these."""
    order = np.random.default_rng(0).permutation(len(x_test))[:count]
    return sweep(x_test[order], y_test[order])
