"""A simulated user's handwriting, for the feedback-loop tests and ``bench/feedback_loop.py``: ordinary 0, 2, 3, 5,
6 and 8 (the strokes of :mod:`tests.drawing`), but 1, 4, 7 and 9 drawn in a fixed, unusual way that a model trained
on MNIST gets wrong.

- 1: a long flag and a foot bar, like a printed serif 1;
- 4: closed, in one stroke, the crossbar running far to the right;
- 7: a crossbar on the stem and a curl at the foot;
- 9: a loop on a stem that curls back to the left, like a handwritten g.

Every drawing is different: the strokes are jittered, slanted, rotated, scaled and placed at random on a transparent
280x280 canvas with a random pen width, as a person drawing with a mouse would.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from tests.drawing import STROKES

Stroke = list[tuple[float, float]]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, points: int = 16) -> Stroke:
    return [
        (cx + rx * math.cos(start + (end - start) * t / points), cy + ry * math.sin(start + (end - start) * t / points))
        for t in range(points + 1)
    ]


UNUSUAL: dict[int, list[Stroke]] = {
    1: [[(0.25, 0.3), (0.55, 0.05), (0.55, 0.95)], [(0.28, 0.95), (0.82, 0.95)]],
    4: [[(0.68, 0.95), (0.68, 0.05), (0.12, 0.66), (0.95, 0.66)]],
    7: [[(0.15, 0.12), (0.85, 0.1), (0.5, 0.6), (0.45, 0.85), (0.6, 0.97)], [(0.3, 0.5), (0.75, 0.5)]],
    9: [
        _arc(0.5, 0.3, 0.26, 0.24, 0, 2 * math.pi),
        [(0.76, 0.3), (0.76, 0.75), (0.62, 0.95), (0.38, 0.97), (0.22, 0.85)],
    ],
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
