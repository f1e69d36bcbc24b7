"""A simulated user's handwriting, for the feedback-loop tests and ``bench/feedback_loop.py``: ordinary 0, 2, 3, 5,
6 and 8 (the strokes of :mod:`bench.drawing`), but 1, 4, 7 and 9 drawn in a fixed, unusual way that a model trained
on MNIST gets wrong.

- 1: a serif capital I, with wide bars at the top and the foot;
- 4: a pennant: a closed triangle flying to the right from the top of its pole;
- 7: mirror-written, with a crossbar;
- 9: mirror-written, the loop to the right of the stem.

Every drawing is different: the strokes are jittered, slanted, rotated, scaled and placed at random on a transparent
280x280 canvas with a random pen width, as a person drawing with a mouse would.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from bench.drawing import STROKES

Stroke = list[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, points: int = 16) -> Stroke:
    return [
        (cx + rx * math.cos(start + (end - start) * t / points), cy + ry * math.sin(start + (end - start) * t / points))
        for t in range(points + 1)
    ]


UNUSUAL: dict[int, list[Stroke]] = {
    1: [[(0.1, 0.05), (0.9, 0.05)], [(0.5, 0.05), (0.5, 0.95)], [(0.1, 0.95), (0.9, 0.95)]],
    4: [[(0.3, 0.95), (0.3, 0.05), (0.85, 0.3), (0.3, 0.55)]],
    7: [[(0.85, 0.1), (0.15, 0.1), (0.55, 0.95)], [(0.2, 0.5), (0.65, 0.5)]],
    9: [_arc(0.55, 0.3, 0.26, 0.24, 0, 2 * math.pi), [(0.29, 0.3), (0.3, 0.95)]],
}
STYLE: dict[int, list[Stroke]] = {**STROKES, **UNUSUAL}


def render(digit: int, rng: np.random.Generator, size: int = 280) -> Image.Image:
    """One drawing of ``digit`` in the style, as the page's canvas exports it (black ink, transparent background)."""
    height = size * rng.uniform(0.55, 0.85)
    width = height * rng.uniform(0.6, 0.8)
    left = rng.uniform(0.05 * size, size - width - 0.05 * size)
    top = rng.uniform(0.05 * size, size - height - 0.05 * size)
    slant, angle = rng.uniform(-0.2, 0.2), math.radians(rng.uniform(-8, 8))
    cos, sin = math.cos(angle), math.sin(angle)
    pen = max(2, round(height * rng.uniform(0.05, 0.09)))
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for stroke in STYLE[digit]:
        points = []
        for x, y in stroke:
            x, y = x + rng.normal(0, 0.015) - 0.5, y + rng.normal(0, 0.015) - 0.5
            x -= slant * y
            x, y = x * cos - y * sin, x * sin + y * cos
            points.append((left + (x + 0.5) * width, top + (y + 0.5) * height))
        draw.line(points, fill=(0, 0, 0, 255), width=pen, joint="curve")
        for px, py in (points[0], points[-1]):
            draw.ellipse((px - pen / 2, py - pen / 2, px + pen / 2, py + pen / 2), fill=(0, 0, 0, 255))
    return image


def touching_pair(first: int, second: int, rng: np.random.Generator, overlap: int = 0) -> Image.Image:
    """Two drawings of the style side by side on one transparent canvas, each cropped to its ink and centred on the
    line, the second's ink box starting ``overlap`` px inside the first's (0: the boxes touch): a two-digit number
    whose digits may touch, as the page's canvas exports it."""
    a, b = (render(digit, rng) for digit in (first, second))
    a, b = a.crop(a.getbbox()), b.crop(b.getbbox())
    height = max(a.height, b.height)
    out = Image.new("RGBA", (a.width + b.width - overlap + 40, height + 40), (0, 0, 0, 0))
    out.alpha_composite(a, (20, 20 + (height - a.height) // 2))
    out.alpha_composite(b, (20 + a.width - overlap, 20 + (height - b.height) // 2))
    return out
