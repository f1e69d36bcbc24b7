"""Strokes from pictures of real handwriting: thin a digit's ink to its skeleton and trace the skeleton into pen
strokes, so that tests and ``bench/numbers.py`` can send real digits (MNIST, other writers) as strokes too, and the
whole-digit verifier (:mod:`training.ml.whole_digit`) learns from numbers written with them.

The tracing is greedy, as a pen would go: start at the top-left end of the skeleton, follow it (straight on at
crossings), go back over drawn ink to a branch not drawn yet, and lift the pen only to reach another piece. Good
enough to redraw a digit that
the model reads like the original; not a model of how people really order their strokes.
"""

from __future__ import annotations

import itertools
import math
from collections import deque

import numpy as np
from PIL import Image

from recognizer.core.skeleton import NEIGHBOURS, thin


def trace(skeleton: np.ndarray, min_points: int = 3) -> list[np.ndarray]:
    """Pen strokes (arrays of (x, y) pixel centres) along a skeleton: one stroke for each connected part, the pen
    going back over drawn pixels (shortest way) to reach a branch it has not drawn yet, as a person retraces."""
    ys, xs = np.nonzero(skeleton)
    pixels = set(zip(ys.tolist(), xs.tolist(), strict=True))

    def neighbours(pixel: tuple[int, int]) -> list[tuple[int, int]]:
        y, x = pixel
        return [(y + dy, x + dx) for dy, dx in NEIGHBOURS if (y + dy, x + dx) in pixels]

    def route(start: tuple[int, int]) -> list[tuple[int, int]] | None:
        """The shortest way through drawn pixels from ``start`` to an undrawn one (breadth first)."""
        previous = {start: start}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            for n in neighbours(here):
                if n in previous:
                    continue
                previous[n] = here
                if n in unvisited:
                    way = [n]
                    while way[-1] != start:
                        way.append(previous[way[-1]])
                    return way[::-1][1:]
                queue.append(n)
        return None

    unvisited = set(pixels)
    strokes = []
    while unvisited:
        ends = [p for p in unvisited if sum(n in unvisited for n in neighbours(p)) <= 1]
        start = min(ends or unvisited, key=lambda p: p[0] + p[1] * 0.7)  # top-left first, as people start
        path = [start]
        unvisited.discard(start)
        direction = (0, 0)
        while True:
            options = [n for n in neighbours(path[-1]) if n in unvisited]
            if not options:
                way = route(path[-1])
                if way is None or len(way) > 12:
                    break
                path += way
                for p in way:
                    unvisited.discard(p)
                direction = (way[-1][0] - path[-2][0], way[-1][1] - path[-2][1])
                continue
            # Straight on where it can (through crossings), and to 4-neighbours before diagonal ones.
            nxt = max(
                options,
                key=lambda n: (
                    (n[0] - path[-1][0]) * direction[0] + (n[1] - path[-1][1]) * direction[1],
                    -abs(n[0] - path[-1][0]) - abs(n[1] - path[-1][1]),
                ),
            )
            direction = (nxt[0] - path[-1][0], nxt[1] - path[-1][1])
            path.append(nxt)
            unvisited.discard(nxt)
        if len(path) >= min_points:
            strokes.append(np.array([(x, y) for y, x in path], dtype=np.float64))
    return strokes


def digit_strokes(image28: np.ndarray, upscale: int = 3) -> list[np.ndarray]:
    """Strokes of a 28x28 light-on-dark digit, in 0-1 coordinates of its 28x28 frame (x, y), in writing order."""
    size = 28 * upscale
    big = np.asarray(Image.fromarray(image28).resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    skeleton = thin(big >= 100)
    strokes = trace(skeleton, min_points=upscale * 2)
    # Thin the polyline (every other pixel) and keep it in 0-1 of the frame.
    return [np.vstack([s[:-1:2], s[-1:]]) / size for s in strokes]


def pen_samples(points: np.ndarray, step: float) -> np.ndarray:
    """A polyline given by its corners, sampled at most ``step`` apart as a pen samples it. The page draws a
    stroke as a curve through the midpoints between samples (:func:`recognizer.core.strokes.render`), so a square
    given by its four corners alone would come out round."""
    points = np.asarray(points, dtype=np.float64)
    out = [points[:1]]
    for a, b in itertools.pairwise(points):
        n = max(1, math.ceil(math.hypot(*(b - a)) / step))
        out.append(a + (b - a) * np.arange(1, n + 1)[:, None] / n)
    return np.concatenate(out)
