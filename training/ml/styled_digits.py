"""1s, 7s, 4s and 9s written the way much of the world writes them and MNIST's American writers rarely did: a 1 with
a long flag and often a base, a crossed 7, an open 4, a 9 whose tail curls left (or leaves its loop from the lower
left, like a rho).

Both networks learn from them: the not-a-digit detector as digits (:mod:`training.ml.not_a_digit`: without them
it took flagged 1s for non-digits), and the digit model beside MNIST (``manage.py train --styled N``; the 1s alone
in a run's closing epochs, ``--finish-ones N``): other writers' 1s were its weakest digit (optdigits' other writers
87.9%, semeion 77.2%, read as 4s and 7s). The curled 9s came later (2026-12-07): with the 1s mended, other writers'
9s were the weakest digit (optdigits' other writers 91.7%, semeion 75.9%), nearly all read as 3s, their tails bent
left like a 3's lower arc. Neither network learns them by default: taught to the digit model (``bench.augment_probe``,
variant ``nines``) and to the detector (``manage.py train_not_a_digit --nines N``), they moved too little (README).
"""

from __future__ import annotations

import math

import numpy as np

from recognizer.core.preprocessing import preprocess, stack_inputs
from training.ml import outliers

#: The digits ``--styled`` draws, in turn (:func:`strokes` draws 9s too, for the not-a-digit detector and the probe).
DIGITS = (1, 7, 4)


def strokes(digit: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Strokes (0-1, y down) of ``digit`` (one of :data:`DIGITS`, or 9) in its style, of random proportions."""
    if digit == 1:
        top, foot = np.array([rng.uniform(0.5, 0.6), 0.05]), rng.uniform(0.9, 1.0)
        flag = top + rng.uniform(0.2, 0.7) * np.array([-math.cos(a := rng.uniform(0.5, 1.2)), math.sin(a)])
        drawn = [np.array([flag, top, [top[0], foot]])]
        if rng.random() < 0.6:  # a base
            half = rng.uniform(0.12, 0.3)
            drawn.append(np.array([[top[0] - half, foot], [top[0] + half, foot]]))
        return drawn
    if digit == 7:
        corner, bar = np.array([rng.uniform(0.75, 0.9), 0.08]), rng.uniform(0.4, 0.6)
        start = [rng.uniform(0.1, 0.25), rng.uniform(0.08, 0.25)]
        bend = rng.uniform(0.3, 0.55)
        drawn = [np.array([start, [start[0], 0.08], corner, [bend, 0.95]])]
        cross = corner[0] + (bend - corner[0]) * (bar - 0.08) / 0.87
        drawn.append(np.array([[cross - rng.uniform(0.15, 0.3), bar], [cross + rng.uniform(0.15, 0.3), bar]]))
        return drawn
    if digit == 9:
        return _curled_nine(rng)
    stem, waist = rng.uniform(0.55, 0.75), rng.uniform(0.55, 0.7)  # the open 4
    return [
        np.array([[rng.uniform(0.25, 0.45), 0.05], [0.1, waist], [0.9, waist]]),
        np.array([[stem, 0.3], [stem, 0.98]]),
    ]


def _curled_nine(rng: np.random.Generator) -> list[np.ndarray]:
    """A 9 whose loop is drawn from its right side over the top and round, then a stem down that curls left at the
    foot (a hook up to a little past a half turn); three in ten leave the loop from its lower left instead, like a
    rho."""
    cx, cy = rng.uniform(0.42, 0.55), rng.uniform(0.22, 0.32)
    rx, ry = rng.uniform(0.2, 0.32), rng.uniform(0.15, 0.24)
    start = rng.uniform(-0.3, 0.3)
    a = np.linspace(start, start + 2 * math.pi + rng.uniform(0.0, 0.4), 40)
    loop = np.stack([cx + rx * np.cos(a), cy - ry * np.sin(a)], axis=1)
    foot, hook = rng.uniform(0.85, 0.98), rng.uniform(0.12, 0.28)
    if rng.random() < 0.3:
        leaves = math.pi + rng.uniform(0.3, 0.9)
        x, y = cx + rx * math.cos(leaves), cy - ry * math.sin(leaves)
        t = np.linspace(0, 1, 20)
        tail = np.stack([x + rng.uniform(-0.15, 0.1) * t**2, y + (foot - y) * t], axis=1)
        return [np.concatenate([loop, loop[:1]]), tail]
    x, y = loop[-1]
    stem = np.stack([np.full(20, x), y + (foot - hook - y) * np.linspace(0, 1, 20)], axis=1)
    t = np.linspace(0, rng.uniform(0.6, 1.1) * math.pi, 20)
    curl = np.stack([x - hook + hook * np.cos(t), foot - hook + hook * np.sin(t)], axis=1)
    return [np.concatenate([loop, stem, curl])]


def labels(count: int, digits: tuple[int, ...] = DIGITS) -> np.ndarray:
    """The digits of :func:`images`' ``count`` drawings, in order."""
    return np.array([digits[k % len(digits)] for k in range(count)], dtype=np.uint8)


def images(count: int, seed: int, digits: tuple[int, ...] = DIGITS) -> np.ndarray:
    """``count`` drawings of ``digits`` (some of :data:`DIGITS`) in turn, slanted a little, drawn as the non-digits
    are (:func:`training.ml.outliers.drawn`: the page's brush, a random size and place) and preprocessed: (N, 28, 28)
    uint8, the same for the same ``seed``."""
    rng = np.random.default_rng(seed)
    out = []
    for digit in labels(count, digits):
        drawn = strokes(int(digit), rng)
        shear = np.array([[1.0, rng.uniform(-0.25, 0.15)], [0.0, 1.0]])
        out.append(preprocess(outliers.drawn([(s - 0.5) @ shear.T + 0.5 for s in drawn], rng)))
    return stack_inputs(out)
