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
#: An opaque drawing's border at least this much of one shade (dark or light) is the paper's shade; a more mixed
#: border belongs to a picture cropped to its ink, whose paper the shapes tell (:func:`paper_is_light`).
CLEAR_BORDER = 0.75
#: Pieces of one shade smaller than this share of the picture (dust, specks, slivers) do not count as pieces.
PIECE_MIN_SHARE = 0.002
#: A drawing whose ink covers fewer pixels than this (after thresholding) counts as empty.
MIN_INK_PIXELS = 4
#: In a number, pieces of ink overlapping horizontally by this fraction of the narrower one are the same digit.
SAME_DIGIT_OVERLAP = 0.5
#: In a number, a piece of ink smaller than this fraction of the tallest piece is a speck, not a digit.
SPECK_FRACTION = 0.15


#: A number may have at most this many separate marks per digit allowed (dots, specks, the strokes of a digit);
#: more is refused before the marks are grouped.
MARKS_PER_DIGIT = 40


class TooManyDigits(ValueError):
    """More digits (or separate marks) than a number may have: refused before any digit is recognized."""


class EmptyDrawing(ValueError):
    """The image holds no ink: there is nothing to recognise."""


def unit_range(channel: np.ndarray) -> np.ndarray:
    """uint8 → float32 in 0-1, the fast way: ``np.asarray(image, dtype=float32) / 255.0`` gives the same values but
    converts pixel by pixel and divides through float64, ~10x slower on a canvas-sized drawing."""
    return channel.astype(np.float32) / np.float32(255.0)


def ink_map(image: Image.Image) -> np.ndarray:
    """Return the ink of ``image`` as float32 in 0-1, 1 being full ink, whatever its mode and polarity.

    A transparent background (a canvas exported as RGBA) means the alpha channel is the ink. An opaque image is
    converted to grayscale and its paper found by :func:`paper_is_light`; light paper means dark ink, which is
    inverted, so a light-on-dark drawing (like MNIST) and a dark-on-light one give the same ink.
    """
    if image.mode in ("P", "PA"):
        image = image.convert("RGBA")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float32)
        image = Image.fromarray((arr / max(float(arr.max()), 1.0) * 255).astype(np.uint8), "L")
    if "A" in image.getbands():
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 128:  # some of it is transparent (below 0.5)
            return unit_range(alpha)
    gray8 = np.asarray(image.convert("L"))
    threshold, _ = cv2.threshold(gray8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    light = gray8 > threshold  # Otsu: the split of the histogram into its two shades, paper and ink
    paper_light = paper_is_light(light)
    gray = unit_range(gray8)
    if paper_light:
        gray = 1.0 - gray
    # The paper's own level, from the border's paper pixels only (ink touching the edge is not paper).
    low = float(np.median(_border(gray)[_border(light) == paper_light]))
    # Stretch so the background is 0 and the strongest ink is 1 (pencil on grey paper reads like pen on white).
    span = max(float(gray.max()) - low, 1e-6)
    return np.clip((gray - low) / span, 0.0, 1.0)


def _border(pixels: np.ndarray) -> np.ndarray:
    """The outermost rows and columns of an image, in one flat array."""
    return np.concatenate([pixels[0, :], pixels[-1, :], pixels[:, 0], pixels[:, -1]])


def _pieces(mask: np.ndarray) -> int:
    """How many connected pieces ``mask`` has, not counting those under ``PIECE_MIN_SHARE`` of the image."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    return int((stats[1:, cv2.CC_STAT_AREA] >= PIECE_MIN_SHARE * mask.size).sum())


def paper_is_light(light: np.ndarray) -> bool:
    """Whether an opaque drawing, split into its light (``light``) and dark pixels, is dark ink on light paper.

    The border is the witness when it is mostly one shade (at least ``CLEAR_BORDER``), as around any digit written
    with paper round it. Otherwise the picture is cropped to the ink, which touches the edges and may cover most of
    the border (a thick digit, a tightly cropped scan), and neither the border nor the whole image (a thick digit can
    be more ink than paper) can be trusted. Then the shapes decide: the ink of a digit is one stroke or a few, while
    the paper is cut into more pieces (the corners the strokes cut off, the holes of 0, 6, 8 and 9). Only when both
    shades have as many pieces does the border's majority decide. On semeion's scans cropped to their ink, the
    border's majority alone read 26 of 1,593 inverted, this rule 2; with paper round the digits, both read all.
    """
    on_border = float(_border(light).mean())
    if on_border >= CLEAR_BORDER or on_border <= 1.0 - CLEAR_BORDER:
        return on_border > 0.5
    light_pieces, dark_pieces = _pieces(light), _pieces(~light)
    if light_pieces == dark_pieces:
        return on_border > 0.5
    return light_pieces > dark_pieces


def significant_ink(ink: np.ndarray) -> np.ndarray:
    return ink >= INK_THRESHOLD


def center_in_frame(ink: np.ndarray) -> np.ndarray:
    """Crop ``ink`` (float 0-1) to its ink, scale to a 20 px box and centre by mass in 28x28; returns uint8.

    Raises :class:`EmptyDrawing` when there is no ink.
    """
    mask = significant_ink(ink).view(np.uint8)
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
    ink = unit_range(image) if isinstance(image, np.ndarray) else ink_map(image)
    return center_in_frame(ink)


def stack_inputs(inputs: list[np.ndarray]) -> np.ndarray:
    """Model inputs as one (N, 28, 28) uint8 array, also when there are none (an empty export, a recipe asking for
    none of a kind), which ``np.stack`` refuses."""
    return np.stack(inputs) if inputs else np.zeros((0, SIZE, SIZE), np.uint8)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> float:
    """How much two horizontal extents overlap, as a fraction of the narrower one."""
    shared = min(a[1], b[1]) - max(a[0], b[0])
    return max(0, shared) / max(1, min(a[1] - a[0], b[1] - b[0]))


def split_digits(image: Image.Image, max_digits: int | None = None, ink: np.ndarray | None = None) -> list[Image.Image]:
    """The digits of a number written side by side, left to right, each as its own image (dark ink on white).

    Connected pieces of ink belong to the same digit when they overlap horizontally by at least
    ``SAME_DIGIT_OVERLAP`` of the narrower one: the two strokes of a 4, or a 5 whose top bar was lifted, stay
    together, while slanted digits that only just overlap their neighbours stay apart. Each digit keeps only its own
    ink, so a neighbour leaning over it does not leak into its image. Specks (smaller than ``SPECK_FRACTION`` of the
    tallest piece's height) join the digit they overlap, or are dropped.

    With ``max_digits``, a drawing of more digits than that (or of more than ``MARKS_PER_DIGIT`` separate marks per
    digit) raises :class:`TooManyDigits` as soon as it is known, before the costly part: cutting out each digit costs
    a pass over the whole image, so the work is bounded by ``max_digits`` passes. ``ink``: the image's
    :func:`ink_map`, when the caller has it already.
    """
    ink = ink_map(image) if ink is None else ink
    mask = significant_ink(ink).astype(np.uint8)
    if int(mask.sum()) < MIN_INK_PIXELS:
        raise EmptyDrawing("The canvas is empty: draw a digit first.")
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if max_digits is not None and len(stats) - 1 > MARKS_PER_DIGIT * max_digits:
        raise TooManyDigits(f"Too many separate marks: a number has at most {max_digits} digits.")
    speck = SPECK_FRACTION * float(stats[1:, cv2.CC_STAT_HEIGHT].max())
    pieces = sorted(
        (int(left), int(left + width), label, max(width, height) < speck)
        for label, (left, _, width, height, area) in enumerate(stats[1:, :5], start=1)
        if area >= MIN_INK_PIXELS
    )
    groups: list[tuple[list[int], list[int]]] = []  # ([left, right], labels) of each digit

    def join(extent: tuple[int, int], label: int, needed: float) -> bool:
        best = max(groups, key=lambda group: _overlap(group[0], extent), default=None)
        if best is None or _overlap(best[0], extent) < needed:
            return False
        best[0][:] = [min(best[0][0], extent[0]), max(best[0][1], extent[1])]
        best[1].append(label)
        return True

    for left, right, label, _ in (piece for piece in pieces if not piece[3]):
        if not join((left, right), label, SAME_DIGIT_OVERLAP):
            groups.append(([left, right], [label]))
            if max_digits is not None and len(groups) > max_digits:
                raise TooManyDigits(f"Too many digits: a number has at most {max_digits}.")
    for left, right, label, _ in (piece for piece in pieces if piece[3]):
        join((left, right), label, needed=1e-9)
    if not groups:
        raise EmptyDrawing("The canvas is empty: draw a digit first.")
    digits = []
    for _, members in sorted(groups, key=lambda g: g[0][0]):
        own = np.isin(labels, members)
        # Keep the faint anti-aliased rim around the digit's strokes, but none of another digit's ink.
        rim = cv2.dilate(own.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~(mask.astype(bool) & ~own)
        ys, xs = np.nonzero(rim)
        crop = np.where(rim, ink, 0.0)[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        digits.append(Image.fromarray(np.rint(255.0 * (1.0 - crop)).astype(np.uint8), "L"))
    return digits
