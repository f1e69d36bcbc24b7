"""Numbers written side by side, from digits traced into pen strokes: apart, close, touching or overlapping.

Each digit's strokes (0-1 of its 28x28 frame, :func:`training.ml.pen_strokes.digit_strokes`) are placed on a number
canvas ``HEIGHT`` px high with the page's brush and written left to right with time stamps (10 ms a point, 150 ms
between a digit's strokes, 350 ms between digits). The gap between neighbouring digits' ink boxes is 1.5 brush widths
(apart), 0.5 (close), -1 (overlapping: the next digit's box starts a brush width inside its neighbour's), or touching:
from boxes touching, the next digit slid left until the inks touch (at most a brush width).

``bench/numbers.py`` measures the site's splitters on such numbers of held-out digits; the whole-digit verifier
(:mod:`training.ml.whole_digit`) learns from the cuts of such numbers of MNIST training digits.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from recognizer.core import strokes as S

HEIGHT = 280
BRUSH = HEIGHT * S.BRUSH_FRACTION
#: A digit's 28x28 frame is drawn this many px high (its ink ~ 20/28 of it: 160 px, as people fill the canvas).
FRAME = 224
#: The gap between neighbouring digits' ink boxes, in brush widths (None: slid until the inks touch).
CASES = {"apart": 1.5, "close": 0.5, "touching": None, "overlapping": -1.0}


def _offset(case: str, box_right: float, left_ink: float, left_rows: np.ndarray, right_profile: np.ndarray) -> float:
    """Where the next digit's frame goes (its x), as ``case`` says: its ink box ``CASES[case]`` brush widths right of
    the number's so far, or, touching, slid left from boxes touching until the inks touch row by row (at most a brush
    width). ``left_rows`` is its leftmost ink per canvas row in frame px, ``right_profile`` the number's rightmost ink
    per row so far (NaN where a row has none)."""
    gap = CASES[case]
    box_dx = box_right + (gap if gap is not None else 0.0) * BRUSH - left_ink
    if gap is not None:
        return box_dx
    rows = np.flatnonzero(~np.isnan(left_rows) & ~np.isnan(right_profile))
    contact = float((right_profile[rows] - left_rows[rows]).max()) + 1 if len(rows) else box_dx
    return min(max(contact, box_dx - BRUSH), box_dx)


def compose(digit_strokes_list: list[list[np.ndarray]], case: str, rng: np.random.Generator):
    """Place digits (strokes in 0-1 of their 28x28 frame) side by side as ``case`` says; returns the number's strokes
    as a :class:`Drawing` and its rendered picture."""
    placed = []  # (dx, dy) in canvas px of each digit's frame origin
    canvas_rows = HEIGHT
    right_profile = None  # per canvas row, the rightmost ink column so far
    box_right = None
    for strokes in digit_strokes_list:
        dy = (HEIGHT - FRAME) / 2 + rng.uniform(-10, 10)
        pts = np.concatenate(strokes) * FRAME
        # The digit's ink box in frame px, brush included.
        left_ink = pts[:, 0].min() - BRUSH / 2
        if right_profile is None:
            dx = 40 - left_ink
        else:
            dx = _offset(case, box_right, left_ink, _rendered_rows(strokes, dy, canvas_rows), right_profile)
        placed.append((dx, dy))
        right = _rendered_rows(strokes, dy, canvas_rows, rightmost=True) + dx
        right_profile = right if right_profile is None else np.fmax(right_profile, right)
        box_right = (
            dx + pts[:, 0].max() + BRUSH / 2 if box_right is None else max(box_right, dx + pts[:, 0].max() + BRUSH / 2)
        )
    # At least as wide as high: a narrower canvas (one digit alone, two 1s) would be drawn with its width as the
    # shorter side, larger, with a brush thinner for its size than in a number, and read differently.
    width = max(int(box_right + 40), HEIGHT)
    t = 0.0
    number_strokes = []
    for (dx, dy), strokes in zip(placed, digit_strokes_list, strict=True):
        for stroke in strokes:
            xy = stroke * FRAME + [dx, dy]
            times = t + 10.0 * np.arange(len(xy))
            number_strokes.append(np.column_stack([xy[:, 0] / width, xy[:, 1] / HEIGHT, times]).tolist())
            t = times[-1] + 150
        t += 200
    drawing = S.from_points(number_strokes, aspect=width / HEIGHT, pointer="pen")
    return drawing, S.render(drawing, shorter=HEIGHT)


_ROWS_CACHE: dict[tuple[int, bool], tuple[np.ndarray, int, list[np.ndarray]]] = {}


def _rendered_rows(strokes: list[np.ndarray], dy: float, rows: int, rightmost: bool = False) -> np.ndarray:
    """Per canvas row, the leftmost (or rightmost) ink column of the digit drawn with its frame at (0, dy); NaN where
    the row has no ink."""
    key = (id(strokes), rightmost)
    if key not in _ROWS_CACHE or _ROWS_CACHE[key][2] is not strokes:
        pts = [s * FRAME for s in strokes]
        image = Image.new("L", (FRAME + 2 * round(BRUSH), FRAME + 2 * round(BRUSH)), 0)
        pen = ImageDraw.Draw(image)
        pad = round(BRUSH)
        for s in pts:
            line = [(x + pad, y + pad) for x, y in s]
            pen.line(line, fill=255, width=round(BRUSH), joint="curve")
            for x, y in (line[0], line[-1]):
                pen.ellipse((x - BRUSH / 2, y - BRUSH / 2, x + BRUSH / 2, y + BRUSH / 2), fill=255)
        mask = np.asarray(image) > 127
        cols = np.arange(mask.shape[1], dtype=np.float64) - pad
        edge = np.where(mask, cols[None, :], np.nan)
        inked = mask.any(axis=1)
        extreme = np.full(len(mask), np.nan)
        extreme[inked] = np.nanmax(edge[inked], axis=1) if rightmost else np.nanmin(edge[inked], axis=1)
        # The strokes are kept with their rows: while cached, their id cannot be reused by other strokes (it was, in
        # a long run that freed traced digits, and a later digit was then placed by another one's profile).
        _ROWS_CACHE[key] = (extreme, pad, strokes)
    edge, pad, _ = _ROWS_CACHE[key]
    out = np.full(rows, np.nan)
    for r in range(len(edge)):
        y = round(r - pad + dy)
        if 0 <= y < rows and not np.isnan(edge[r]):
            out[y] = edge[r] if np.isnan(out[y]) else (max if rightmost else min)(out[y], edge[r])
    return out


def compose_bitmaps(images: list[np.ndarray], case: str, rng: np.random.Generator) -> Image.Image:
    """The same placement as :func:`compose` for digits given as 28x28 bitmaps (white ink on black, as MNIST's),
    scaled up to the frame without tracing: a picture with the scanned look of grey, uneven strokes (dark ink on white).
    MNIST's strokes are about a brush width at that scale, so the cases' gaps mean the same."""
    inks = [
        np.asarray(Image.fromarray(i).resize((FRAME, FRAME), Image.Resampling.BILINEAR), np.float32) / 255
        for i in images
    ]
    placed = []  # (dx, dy) of each frame's origin
    right_profile = None
    box_right = 0.0
    for ink in inks:
        dy = round((HEIGHT - FRAME) / 2 + rng.uniform(-10, 10))
        mask = ink > 0.3
        cols = np.flatnonzero(mask.any(axis=0))
        rows = np.flatnonzero(mask.any(axis=1))
        if right_profile is None:
            dx = 40 - int(cols[0])
        else:
            left = np.full(HEIGHT, np.nan)
            left[rows + dy] = mask[rows].argmax(axis=1)
            dx = round(_offset(case, box_right, cols[0], left, right_profile))
        placed.append((dx, dy))
        right = np.full(HEIGHT, np.nan)
        right[rows + dy] = dx + (FRAME - 1 - mask[rows, ::-1].argmax(axis=1))
        right_profile = right if right_profile is None else np.fmax(right_profile, right)
        box_right = max(box_right, dx + float(cols[-1]))
    shift = max(0, -min(dx for dx, _ in placed))  # a frame may begin left of the canvas (its ink does not)
    canvas = np.zeros((HEIGHT, max(dx for dx, _ in placed) + shift + FRAME), np.float32)
    for (dx, dy), ink in zip(placed, inks, strict=True):
        window = canvas[dy : dy + FRAME, dx + shift : dx + shift + FRAME]
        np.maximum(window, ink, out=window)
    canvas = canvas[:, shift : max(int(box_right + 40), HEIGHT) + shift]
    return Image.fromarray(np.rint(255 * (1 - canvas)).astype(np.uint8), "L")
