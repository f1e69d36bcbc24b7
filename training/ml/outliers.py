"""Drawings that are not digits, made up at training time for outlier exposure.

A model trained on digits alone is sure of itself on anything: a letter, a triangle or a scribble gets a confident
digit. Fine-tuning on such drawings with the uniform distribution as their target (Hendrycks et al., 2019; the target
is :func:`training.ml.fit.dense_targets`' for ``NOT_A_DIGIT_LABEL``) teaches it to spread its probability on them,
which the open-set rules then flag. The drawings are made the way the page makes them (strokes with the page's brush,
:func:`recognizer.core.strokes.render`) and go through the one :func:`recognizer.core.preprocessing.preprocess`.

Kinds (``KINDS``, what a fine-tune draws): letters and symbols of the Liberation fonts (pen, filled or outline), random
scribbles, random polylines and curves, geometric shapes (polygons, zigzags, spirals, grids, arrows), blobs (over-inked
or partial) and doodles. None of the benchmark's non-digits is drawn by these: no DejaVu font, no heart, star, house,
smiley or cross, so ``bench.open_set`` measures drawings the model never saw. Characters written like digits are left
out (``DIGIT_LIKE``): taught that an "S" is no digit, the model would doubt real 5s. Two more kinds are there for a
separate not-a-digit detector (``bench.not_a_digit_detector --kinds``), which may doubt a digit more than the classifier
may: ``letter`` (every Latin letter but those written exactly like a digit) and ``sketch`` (hearts, stars, houses,
faces and crosses of random proportions: the kinds people draw most, made here, not the benchmark's templates).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from recognizer.core import strokes as S
from recognizer.core.open_set import NOT_A_DIGIT_LABEL
from recognizer.core.preprocessing import preprocess, stack_inputs
from training.ml.pen_strokes import pen_samples

FONT_DIR = Path("/usr/share/fonts/truetype/liberation")
FONTS = [
    "LiberationSans-Regular.ttf",
    "LiberationSans-Bold.ttf",
    "LiberationSerif-Regular.ttf",
    "LiberationSerif-Italic.ttf",
    "LiberationMono-Regular.ttf",
    "LiberationSansNarrow-Regular.ttf",
]
#: Characters people write like digits (0 1 2 3 4 5 6 7 8 9), or too close to one after cropping and scaling (a
#: 1 with a long flag is a Λ, an f, a ^).
DIGIT_LIKE = set("OoQDIilLjJTtSsZzBbGgqpdyCcUuhfΛ^|/\\()[]{}!?&$§£ΓГЗзЭэбБвВЬьδθξζεσρβτγοЧчОоЅѕІіЈј")
#: Letters and symbols drawn; no cross, star, heart or house among them (the benchmark's own kinds).
CHARACTERS = [c for c in "ACEFHKMNPRVWXYaefhkmnrvwx#@%<>{}^~€¥ΩΣΔΠΦΨΛΞλπμωψφαηχЖЯЩЫЮДЛИЦШфжшюэЭ" if c not in DIGIT_LIKE]
KINDS = ("glyph", "scribble", "polyline", "shape", "blob", "doodle")
#: Every Latin letter but those written exactly like a digit (O 0, I l 1, S 5, Z 2, B 8, b 6, g q 9): for a
#: detector that only says "not a digit", which may doubt a 7 that looks like a T more than the classifier may.
LETTERS = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in "OoDIliSsZzBbgqG"]
#: One digit drawn from the same fonts (pen or filled: an outlined 1 is a 0) for every this many non-digits.
DIGITS_EVERY = 3
#: Canvas side the drawings are made on: small (preprocessing scales every drawing to 20 px anyway), so fast.
CANVAS = 112
#: How far apart a pen's samples are, in 0-1 of the drawing (a mouse drawing a 200 px digit: about 4 px).
PEN_STEP = 0.02


@dataclass(frozen=True)
class Outliers:
    """Generated drawings: ``images`` (N, 28, 28) uint8 model inputs, their ``labels`` (``NOT_A_DIGIT_LABEL``, or
    the digit of a font digit) and the ``kinds`` they were drawn as."""

    images: np.ndarray
    labels: np.ndarray
    kinds: list[str]


def generate(count: int, seed: int, kinds: tuple[str, ...] = KINDS) -> Outliers:
    """``count`` non-digits, the kinds in turn, and one font digit (labelled) for every ``DIGITS_EVERY`` of them; the
    same ``seed`` gives the same images. ``kinds`` are the non-digits drawn (:data:`DRAW`'s keys; a kind named twice
    is drawn twice as often).

    The font digits are why: taught only that font letters are no digits, the model learns "drawn from a font, or
    unlike MNIST" rather than "a letter", and doubts real digits of other hands (a 1 with a flag and a base read as
    unsure: optdigits' 1s fell from 88% to 53% without them). Drawn the same way as the letters, the digits keep
    what tells a letter from a digit the only thing to learn.
    """
    rng = np.random.default_rng(seed)
    images, labels, made = [], [], []
    while len(made) < count + count // DIGITS_EVERY:
        if len(made) % (DIGITS_EVERY + 1) == DIGITS_EVERY:
            digit = int(rng.integers(10))
            kind, label, image = "digit", digit, _glyph(str(digit), rng.choice(["pen", "filled"]), rng)
        else:
            kind = kinds[len(made) % len(kinds)]
            label, image = NOT_A_DIGIT_LABEL, DRAW[kind](rng)
        model_input = preprocess(image)
        if model_input.max() > 0:  # a drawing the preprocessing found no ink in cannot be read, nor taught
            images.append(model_input)
            labels.append(label)
            made.append(kind)
    return Outliers(stack_inputs(images), np.array(labels, dtype=np.int64), made)


def drawn(strokes: list[np.ndarray], rng: np.random.Generator, thicken: int = 0) -> Image.Image:
    """Strokes (0-1 coordinates) sampled as a pen samples them (corners stay corners), jittered, scaled and placed at
    random, drawn with the page's brush; ``thicken`` dilates the ink by that many pixels (an over-inked pen)."""
    scale, centre = rng.uniform(0.45, 0.9), rng.uniform(0.4, 0.6, 2)
    sampled = [pen_samples(s, PEN_STEP) for s in strokes]
    placed = [np.clip(centre + (s - 0.5) * scale + rng.normal(0, 0.005, s.shape), 0.0, 1.0) for s in sampled]
    image = S.render(S.from_points([[[x, y, 0.0] for x, y in s] for s in placed]), CANVAS)
    if thicken:
        alpha = cv2.dilate(np.asarray(image)[:, :, 3], np.ones((thicken, thicken), np.uint8))
        image = ink_image(alpha)
    return image


def ink_image(alpha: np.ndarray) -> Image.Image:
    """Black ink of opacity ``alpha`` on a transparent canvas, as the page uploads it."""
    rgba = np.zeros((*alpha.shape, 4), np.uint8)
    rgba[:, :, 3] = alpha
    return Image.fromarray(rgba, "RGBA")


def missing_fonts() -> list[str]:
    """The Liberation fonts this machine lacks: without them letters are drawn in Pillow's one default font, and a
    detector learns fewer letters (``manage.py train_not_a_digit`` says so and records it)."""
    return [name for name in FONTS if not (FONT_DIR / name).is_file()]


@cache
def _font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A Liberation font (Debian's fonts-liberation), or Pillow's own where it is not installed: a server without the
    package still fine-tunes with outliers (fewer fonts, and no Greek or Cyrillic glyphs)."""
    path = FONT_DIR / name
    return ImageFont.truetype(str(path), size) if path.is_file() else ImageFont.load_default(size)


def _skeleton(mask: np.ndarray) -> np.ndarray:
    """Morphological skeleton (Lantuéjoul): the glyph's centre lines, to be redrawn with a pen."""
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    skeleton, image = np.zeros_like(mask), mask.copy()
    while image.any():
        eroded = cv2.erode(image, kernel)
        skeleton |= image & ~cv2.dilate(eroded, kernel)
        image = eroded
    return skeleton


def glyph(rng: np.random.Generator) -> Image.Image:
    """A letter or symbol as someone would draw it: its centre lines with a pen, the glyph filled, or its outline."""
    return _glyph(CHARACTERS[rng.integers(len(CHARACTERS))], rng.choice(["pen", "filled", "outline"]), rng)


def _glyph(char: str, style: str, rng: np.random.Generator) -> Image.Image:
    """``char`` of a random font, size and slant, drawn in ``style`` (``pen``, ``filled`` or ``outline``)."""
    font = _font(FONTS[rng.integers(len(FONTS))], int(CANVAS * rng.uniform(0.5, 0.8)))
    image = Image.new("L", (CANVAS, CANVAS), 0)
    ImageDraw.Draw(image).text((CANVAS / 2, CANVAS / 2), char, fill=255, font=font, anchor="mm")
    angle = rng.uniform(-12, 12)
    mask = (np.asarray(image.rotate(angle, resample=Image.BILINEAR)) > 127).astype(np.uint8) * 255
    brush = max(2, round(CANVAS * S.BRUSH_FRACTION * rng.uniform(0.4, 1.0)))
    if style == "pen":
        mask = cv2.dilate(_skeleton(mask), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (brush, brush)))
    elif style == "outline":
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
        mask = cv2.drawContours(np.zeros_like(mask), contours, -1, 255, max(2, brush // 2))
    return ink_image(mask)


def letter(rng: np.random.Generator) -> Image.Image:
    """A Latin letter of :data:`LETTERS` as someone would draw it (pen, filled or outline)."""
    return _glyph(LETTERS[rng.integers(len(LETTERS))], rng.choice(["pen", "filled", "outline"]), rng)


def scribble(rng: np.random.Generator) -> Image.Image:
    """A random walk of 8-30 points in one or two curved strokes: a doodle, crossing itself."""
    walk = np.cumsum(rng.normal(0, 0.22, (int(rng.integers(8, 31)), 2)), axis=0)
    walk = (walk - walk.min(axis=0)) / np.maximum(np.ptp(walk, axis=0), 1e-6)
    cut = int(rng.integers(4, len(walk) - 3)) if rng.random() < 0.3 else len(walk)
    return drawn([_curve(s) for s in (walk[:cut], walk[cut:]) if len(s)], rng)


def polyline(rng: np.random.Generator) -> Image.Image:
    """Two to four random strokes of 3-6 points each (straight or, drawn densely, curved): marks that make no
    digit. A single stroke is avoided (a few random points are too often a 7, a 2 or a 4), and so are straight
    lines (two of them side by side are a 1, or 11)."""
    strokes = []
    for _ in range(int(rng.integers(2, 5))):
        points = rng.uniform(0, 1, (int(rng.integers(3, 7)), 2))
        strokes.append(_curve(points) if rng.random() < 0.5 else points)
    return drawn(strokes, rng)


def _curve(points: np.ndarray, steps: int = 12) -> np.ndarray:
    """A Catmull-Rom spline through ``points``, so a stroke bends instead of turning at corners."""
    if len(points) < 3:
        return points
    padded = np.concatenate([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    pieces = []
    for p0, p1, p2, p3 in zip(padded, padded[1:], padded[2:], padded[3:], strict=False):
        pieces.append(
            0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
        )
    return np.concatenate([*pieces, points[-1:]])


def shape(rng: np.random.Generator) -> Image.Image:
    """A geometric figure: a triangle, square or pentagon, a zigzag, a spiral, a grid, an arrow, a wave of two periods
    or more (one period is an S, a 5)."""
    figure = rng.choice(["polygon", "zigzag", "spiral", "grid", "arrow", "wave"])
    if figure == "polygon":
        sides = int(rng.integers(3, 5))  # more sides, drawn with a thick pen, come close to a circle: a 0
        angles = rng.uniform(0, 2 * math.pi) + np.arange(sides + 1) * 2 * math.pi / sides
        radius = rng.uniform(0.7, 1.0, sides + 1)
        radius[-1] = radius[0]
        strokes = [np.stack([0.5 + 0.5 * radius * np.cos(angles), 0.5 + 0.5 * radius * np.sin(angles)], axis=1)]
    elif figure == "zigzag":
        n = int(rng.integers(6, 11))  # fewer points make a Z or an N, a 2
        strokes = [np.stack([np.linspace(0, 1, n), np.resize([0.2, 0.8], n) + rng.normal(0, 0.05, n)], axis=1)]
    elif figure == "spiral":
        t = np.linspace(0, rng.uniform(2.5, 4.5) * 2 * math.pi, 120)
        strokes = [np.stack([0.5 + 0.5 * t / t[-1] * np.cos(t), 0.5 + 0.5 * t / t[-1] * np.sin(t)], axis=1)]
    elif figure == "grid":
        a, b = sorted(rng.uniform(0.15, 0.85, 2))
        strokes = [np.array([[x, 0.0], [x, 1.0]]) for x in (a, b)] + [np.array([[0.0, y], [1.0, y]]) for y in (a, b)]
    elif figure == "arrow":
        strokes = [np.array([[0.0, 0.5], [1.0, 0.5]]), np.array([[0.7, 0.2], [1.0, 0.5], [0.7, 0.8]])]
    else:
        x = np.linspace(0, 1, 60)
        strokes = [np.stack([x, 0.5 + 0.3 * np.sin(x * rng.uniform(4, 8) * math.pi)], axis=1)]
    turn = rng.uniform(0, 2 * math.pi)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    return drawn([(s - 0.5) @ rotation.T * 0.8 + 0.5 for s in strokes], rng)


def blob(rng: np.random.Generator) -> Image.Image:
    """Too much ink, or a piece of a drawing: a heavily over-inked scribble, or a filled random polygon."""
    if rng.random() < 0.5:
        walk = rng.uniform(0, 1, (int(rng.integers(5, 15)), 2))
        return drawn([walk], rng, thicken=int(rng.integers(8, 20)))
    hull = _wide_hull(rng)
    alpha = np.zeros((CANVAS, CANVAS), np.uint8)
    cv2.fillPoly(alpha, [hull], 255)
    return ink_image(alpha)


def _wide_hull(rng: np.random.Generator) -> np.ndarray:
    """The convex hull of random points, at least 0.7 as wide as long: a thin one, or a wedge, is a thick 1."""
    while True:
        points = (rng.uniform(0.1, 0.9, (int(rng.integers(4, 9)), 2)) * CANVAS).astype(np.int32)
        hull = cv2.convexHull(points)
        sides = cv2.minAreaRect(hull)[1]
        if min(sides) >= 0.7 * max(sides):
            return hull


def _ring(centre: tuple[float, float], radius: float, points: int = 36, wobble: float = 0.0, rng=None) -> np.ndarray:
    """A closed circle, or with ``wobble`` an irregular loop (random harmonics 3-5, never an oval: that is a 0)."""
    t = np.linspace(0, 2 * math.pi, points + 1)
    r = np.full_like(t, radius)
    if wobble and rng is not None:
        for k in (3, 4, 5):
            r += radius * wobble * rng.uniform(-1, 1) * np.cos(k * t + rng.uniform(0, 2 * math.pi))
    return np.stack([centre[0] + r * np.cos(t), centre[1] + r * np.sin(t)], axis=1)


def _arc(centre: tuple[float, float], radius: float, start: float, end: float, points: int = 16) -> np.ndarray:
    t = np.linspace(start, end, points)
    return np.stack([centre[0] + radius * np.cos(t), centre[1] + radius * np.sin(t)], axis=1)


def doodle(rng: np.random.Generator) -> Image.Image:
    """A small picture people draw: a sun, a flower, a tree, a cloud, a fish, an eye, a stick figure, a car, an
    envelope, a cube, a target or an irregular loop (a moon is a bracket, a balloon a 9: left out). Closed and open
    curves, which are what digits are made of, put together as no digit is."""
    figure = rng.choice(
        [
            "sun",
            "flower",
            "tree",
            "cloud",
            "fish",
            "eye",
            "person",
            "car",
            "envelope",
            "cube",
            "target",
            "loop",
        ]
    )
    c = (0.5, 0.5)
    if figure == "sun":
        rays = int(rng.integers(6, 13))
        angles = rng.uniform(0, 2 * math.pi) + np.arange(rays) * 2 * math.pi / rays
        strokes = [_ring(c, 0.22)] + [
            np.array(
                [
                    [0.5 + 0.3 * math.cos(a), 0.5 + 0.3 * math.sin(a)],
                    [0.5 + 0.48 * math.cos(a), 0.5 + 0.48 * math.sin(a)],
                ]
            )
            for a in angles
        ]
    elif figure == "flower":
        petals = int(rng.integers(5, 9))
        strokes = [_ring((0.5, 0.35), 0.08)]
        for a in np.arange(petals) * 2 * math.pi / petals:
            strokes.append(_ring((0.5 + 0.17 * math.cos(a), 0.35 + 0.17 * math.sin(a)), 0.09, 16))
        strokes.append(np.array([[0.5, 0.52], [0.5, 1.0]]))
    elif figure == "tree":
        strokes = [
            _ring((0.5, 0.32), 0.3, wobble=0.12, rng=rng),
            np.array([[0.44, 1.0], [0.44, 0.6]]),
            np.array([[0.56, 1.0], [0.56, 0.6]]),
        ]
    elif figure == "cloud":
        t = np.linspace(0, 2 * math.pi, 120)
        bumps = int(rng.integers(5, 9))
        r = 0.3 + 0.07 * np.abs(np.sin(bumps * t / 2))
        strokes = [np.stack([0.5 + 1.3 * r * np.cos(t), 0.5 + 0.8 * r * np.sin(t)], axis=1)]
    elif figure == "fish":
        body = np.stack([_ring(c, 0.3)[:, 0] * 1.0, 0.5 + (_ring(c, 0.3)[:, 1] - 0.5) * 0.55], axis=1) - [0.1, 0]
        strokes = [body, np.array([[0.68, 0.5], [0.95, 0.3], [0.95, 0.7], [0.68, 0.5]]), _ring((0.3, 0.45), 0.03, 8)]
    elif figure == "eye":
        strokes = [
            np.concatenate(
                [
                    _arc((0.5, 0.9), 0.6, 1.2 * math.pi, 1.8 * math.pi),
                    _arc((0.5, 0.1), 0.6, 0.2 * math.pi, 0.8 * math.pi),
                ]
            ),
            _ring(c, 0.12),
        ]
    elif figure == "person":
        strokes = [
            _ring((0.5, 0.15), 0.12),
            np.array([[0.5, 0.27], [0.5, 0.65]]),
            np.array([[0.2, 0.42], [0.8, 0.42]]),
            np.array([[0.25, 1.0], [0.5, 0.65], [0.75, 1.0]]),
        ]
    elif figure == "car":
        strokes = [
            np.array(
                [
                    [0.0, 0.7],
                    [0.0, 0.5],
                    [0.25, 0.5],
                    [0.35, 0.3],
                    [0.7, 0.3],
                    [0.8, 0.5],
                    [1.0, 0.5],
                    [1.0, 0.7],
                    [0.0, 0.7],
                ]
            ),
            _ring((0.25, 0.75), 0.1),
            _ring((0.75, 0.75), 0.1),
        ]
    elif figure == "envelope":
        strokes = [
            np.array([[0.0, 0.2], [1.0, 0.2], [1.0, 0.8], [0.0, 0.8], [0.0, 0.2]]),
            np.array([[0.0, 0.2], [0.5, 0.55], [1.0, 0.2]]),
        ]
    elif figure == "cube":
        square = np.array([[0.0, 0.3], [0.7, 0.3], [0.7, 1.0], [0.0, 1.0], [0.0, 0.3]])
        back = np.array([0.3, -0.3])
        strokes = [square, square + back, *(np.array([p, p + back]) for p in square[:4])]
    elif figure == "target":
        strokes = [_ring(c, r) for r in (0.45, 0.28, 0.1)[: int(rng.integers(2, 4))]] + [_ring(c, 0.02, 6)]
    else:
        strokes = [_ring(c, 0.4, wobble=rng.uniform(0.15, 0.3), rng=rng)]
    if rng.random() < 0.5:
        strokes = [s * [-1, 1] + [1, 0] for s in strokes]  # mirrored
    turn = rng.uniform(-0.3, 0.3)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    return drawn([(s - 0.5) @ rotation.T * 0.9 + 0.5 for s in strokes], rng)


def sketch(rng: np.random.Generator) -> Image.Image:
    """The doodles people most often draw instead of a digit: a heart, a star, a house, a face or a cross, each of
    random proportions and made of strokes in a random order and direction (the benchmark's own are fixed
    templates, drawn by :mod:`bench.non_digits`)."""
    figure = rng.choice(["heart", "star", "house", "face", "cross"])
    if figure == "heart":
        t = np.linspace(0, 2 * math.pi, 60)
        width, dip, point = rng.uniform(0.8, 1.2), rng.uniform(2, 7), rng.uniform(0.8, 1.3)
        x = width * 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - dip * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)) * np.where(
            np.cos(t) < 0, point, 1
        )
        outline = np.stack([0.5 + x / 40, 0.5 + y / 40], axis=1)
        half = len(outline) // 2  # drawn as one stroke, or as two halves from the top dip to the point
        strokes = [outline] if rng.random() < 0.5 else [outline[: half + 1], outline[half:]]
    elif figure == "star":
        points = int(rng.integers(5, 8))
        angles = rng.uniform(-0.3, 0.3) - math.pi / 2 + np.arange(2 * points + 1) * math.pi / points
        if points == 5 and rng.random() < 0.5:  # the pentagram, drawn without lifting the pen
            tips = -math.pi / 2 + np.arange(6) * 4 * math.pi / 5 + rng.uniform(-0.2, 0.2)
            strokes = [np.stack([0.5 + 0.5 * np.cos(tips), 0.5 + 0.5 * np.sin(tips)], axis=1)]
        else:
            radius = np.where(np.arange(2 * points + 1) % 2 == 0, 0.5, 0.5 * rng.uniform(0.35, 0.6))
            strokes = [np.stack([0.5 + radius * np.cos(angles), 0.5 + radius * np.sin(angles)], axis=1)]
    elif figure == "house":
        eave, left, right = rng.uniform(0.35, 0.55), rng.uniform(0.05, 0.2), rng.uniform(0.8, 0.95)
        walls = np.array([[left, eave], [left, 1.0], [right, 1.0], [right, eave]])
        roof = np.array([[left - 0.05, eave + 0.02], [rng.uniform(0.4, 0.6), 0.0], [right + 0.05, eave + 0.02]])
        strokes = [np.concatenate([walls, walls[:1]]) if rng.random() < 0.6 else walls, roof]
        if rng.random() < 0.6:
            door = rng.uniform(left + 0.1, right - 0.25)
            strokes.append(np.array([[door, 1.0], [door, 0.72], [door + 0.15, 0.72], [door + 0.15, 1.0]]))
        if rng.random() < 0.4:
            strokes.append(_ring((rng.uniform(left + 0.15, right - 0.15), eave + 0.15), 0.06, 4))
    elif figure == "face":
        face = _ring((0.5, 0.5), 0.5, wobble=rng.uniform(0, 0.06), rng=rng)
        smile = rng.choice([1, -1])
        mouth = _arc((0.5, 0.45), 0.28, 0.25 * math.pi, 0.75 * math.pi)
        mouth = mouth if smile > 0 else mouth * [1, -1] + [0, 1.38]
        eyes = [_ring((x, 0.36), rng.uniform(0.015, 0.06), 8) for x in (0.33, 0.67)]
        strokes = [face, *eyes, mouth]
        if rng.random() < 0.3:
            strokes.append(np.array([[0.5, 0.45], [0.47, 0.58], [0.52, 0.58]]))
    else:
        arms = rng.uniform(0.7, 1.0, 2)
        strokes = [np.array([[0.5 - a / 2, 0.5], [0.5 + a / 2, 0.5]]) for a in arms[:1]]
        strokes.append(np.array([[0.5, 0.5 - arms[1] / 2], [0.5, 0.5 + arms[1] / 2]]))
        if rng.random() < 0.5:  # an x rather than a +
            strokes = [(s - 0.5) @ np.array([[0.7071, -0.7071], [0.7071, 0.7071]]) + 0.5 for s in strokes]
    strokes = [s[::-1] if rng.random() < 0.5 else s for s in rng.permutation(np.array(strokes, dtype=object))]
    turn = rng.uniform(-0.25, 0.25)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    stretch = np.array([rng.uniform(0.8, 1.2), 1.0])
    return drawn([((np.asarray(s, float) - 0.5) * stretch) @ rotation.T * 0.9 + 0.5 for s in strokes], rng)


DRAW: dict[str, Callable[[np.random.Generator], Image.Image]] = {
    "glyph": glyph,
    "letter": letter,
    "scribble": scribble,
    "polyline": polyline,
    "shape": shape,
    "blob": blob,
    "doodle": doodle,
    "sketch": sketch,
}
