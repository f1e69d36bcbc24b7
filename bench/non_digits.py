"""Things people draw that are not digits: letters from the machine's fonts in three stroke styles, and hearts,
stars, houses, scribbles, smileys and crosses drawn with the page's brush. For measuring "that is not a digit".

Letters that are written like digits (O o D I l i S s Z z B b g q G) are left out: no reader could tell them apart.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from recognizer.core import strokes as S
from training.ml.outliers import PEN_STEP
from training.ml.pen_strokes import pen_samples, thin, trace

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSerif-Italic.ttf"]
DIGIT_LIKE = set("OoDIliSsZzBbgqG")
LETTERS = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in DIGIT_LIKE]
SHAPES = ("heart", "star", "house", "scribble", "smiley", "cross")
SIZE = 280


def _glyph_mask(char: str, font: str, size: int = 200) -> np.ndarray:
    image = Image.new("L", (SIZE, SIZE), 0)
    face = ImageFont.truetype(str(FONT_DIR / font), size)
    ImageDraw.Draw(image).text((SIZE / 2, SIZE / 2), char, fill=255, font=face, anchor="mm")
    return np.asarray(image) > 127


def letter(char: str, font: str, style: str, rng: np.random.Generator) -> Image.Image:
    """A letter as someone would draw it on the page: ``pen`` (its skeleton redrawn with the page's brush),
    ``filled`` (the glyph itself, thick) or ``outline`` (its outline with a thinner pen)."""
    mask = _glyph_mask(char, font)
    if style == "filled":
        ink = mask
    elif style == "outline":
        import cv2

        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        canvas = np.zeros(mask.shape, np.uint8)
        cv2.drawContours(canvas, contours, -1, 255, max(2, round(SIZE * S.BRUSH_FRACTION / 2)))
        ink = canvas > 0
    else:
        small = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((84, 84), Image.BILINEAR)) > 100
        paths = trace(thin(small), min_points=3)
        points = [[[float(x) / 84, float(y) / 84, 0.0] for x, y in p[::2]] for p in paths]
        jitter = rng.normal(0, 0.004, 2)
        points = [[[min(1, max(0, x + jitter[0])), min(1, max(0, y + jitter[1])), t] for x, y, t in p] for p in points]
        return S.render(S.from_points(points), SIZE)
    alpha = (ink * 255).astype(np.uint8)
    image = np.zeros((SIZE, SIZE, 4), np.uint8)
    image[:, :, 3] = alpha
    return Image.fromarray(image, "RGBA")


def _shape_strokes(kind: str, rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    t = np.linspace(0, 2 * math.pi, 40)
    if kind == "heart":
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return [list(zip(0.5 + x / 40, 0.5 + y / 40, strict=True))]
    if kind == "star":
        angles = -math.pi / 2 + np.arange(6) * 4 * math.pi / 5
        return [[(0.5 + 0.38 * math.cos(a), 0.52 + 0.38 * math.sin(a)) for a in angles]]
    if kind == "house":
        return [[(0.2, 0.9), (0.2, 0.45), (0.8, 0.45), (0.8, 0.9), (0.2, 0.9)], [(0.15, 0.5), (0.5, 0.12), (0.85, 0.5)]]
    if kind == "smiley":
        face = list(zip(0.5 + 0.38 * np.cos(t), 0.5 + 0.38 * np.sin(t), strict=True))
        mouth = [(0.5 + 0.2 * math.cos(a), 0.55 + 0.15 * math.sin(a)) for a in np.linspace(0.3, math.pi - 0.3, 12)]
        return [face, [(0.36, 0.38), (0.37, 0.4)], [(0.63, 0.38), (0.64, 0.4)], mouth]
    if kind == "cross":
        if rng.random() < 0.5:
            return [[(0.2, 0.2), (0.8, 0.8)], [(0.8, 0.2), (0.2, 0.8)]]
        return [[(0.5, 0.15), (0.5, 0.85)], [(0.15, 0.5), (0.85, 0.5)]]
    # scribble: a random walk of 8-20 segments over the canvas
    return [[tuple(p) for p in rng.uniform(0.15, 0.85, (int(rng.integers(8, 21)), 2))]]


def shape(kind: str, rng: np.random.Generator) -> Image.Image:
    """A shape drawn with the page's brush: its corners jittered, scaled and moved a little, then sampled as a pen
    samples it (a scribble's random points are its samples).

    Until 2026-12-05 the house and the star were sent as their corners alone, and the page's curve through the
    midpoints between samples rounded them: the house came out a D under an arch and the star a blob, unlike any
    drawn by hand (figures before that date were measured on those)."""
    scale, dx, dy = rng.uniform(0.7, 1.05), rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08)
    strokes = []
    for stroke in _shape_strokes(kind, rng):
        corners = []
        for x, y in stroke:
            x = 0.5 + (x - 0.5) * scale + dx + rng.normal(0, 0.008)
            y = 0.5 + (y - 0.5) * scale + dy + rng.normal(0, 0.008)
            corners.append([min(1.0, max(0.0, x)), min(1.0, max(0.0, y))])
        points = corners if kind == "scribble" else pen_samples(np.array(corners), PEN_STEP).tolist()
        strokes.append([[x, y, 0.0] for x, y in points])
    return S.render(S.from_points(strokes), SIZE)


def non_digits(seed: int, per_shape: int = 40, letter_fonts: list[str] | None = None) -> list[tuple[str, Image.Image]]:
    """(kind, image) pairs: every allowed letter in each font and style, and ``per_shape`` of each shape."""
    rng = np.random.default_rng(seed)
    out: list[tuple[str, Image.Image]] = []
    for font in letter_fonts or FONTS:
        for style in ("pen", "filled", "outline"):
            for char in LETTERS:
                out.append((f"letter ({style})", letter(char, font, style, rng)))
    for kind in SHAPES:
        out += [(kind, shape(kind, rng)) for _ in range(per_shape)]
    return out
