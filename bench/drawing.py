"""Real drawings for tests: digits rendered as pen strokes with Pillow, and MNIST digits blown up to canvas size."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from PIL import Image, ImageDraw

from training.ml.pen_strokes import pen_samples

# Each digit as strokes in a 0-1 box (x right, y down), the way people draw them with a mouse.
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [
        [(0.5 + 0.32 * math.sin(t / 20 * 2 * math.pi), 0.5 - 0.45 * math.cos(t / 20 * 2 * math.pi)) for t in range(21)]
    ],
    1: [[(0.42, 0.18), (0.55, 0.05), (0.55, 0.95)]],
    2: [[(0.2, 0.25), (0.35, 0.08), (0.6, 0.05), (0.78, 0.2), (0.75, 0.42), (0.2, 0.95), (0.85, 0.95)]],
    3: [
        [
            (0.2, 0.12),
            (0.5, 0.03),
            (0.78, 0.18),
            (0.7, 0.4),
            (0.45, 0.5),
            (0.75, 0.6),
            (0.8, 0.82),
            (0.5, 0.97),
            (0.18, 0.88),
        ]
    ],
    4: [[(0.6, 0.05), (0.15, 0.65), (0.85, 0.65)], [(0.62, 0.3), (0.62, 0.97)]],
    5: [[(0.78, 0.05), (0.28, 0.05), (0.24, 0.45), (0.55, 0.4), (0.78, 0.55), (0.78, 0.8), (0.5, 0.97), (0.2, 0.88)]],
    6: [
        [
            (0.7, 0.05),
            (0.35, 0.35),
            (0.22, 0.7),
            (0.35, 0.95),
            (0.65, 0.95),
            (0.75, 0.72),
            (0.6, 0.52),
            (0.35, 0.55),
            (0.24, 0.7),
        ]
    ],
    7: [[(0.15, 0.07), (0.85, 0.07), (0.4, 0.97)]],
    8: [
        [
            (0.5, 0.5),
            (0.25, 0.3),
            (0.5, 0.05),
            (0.75, 0.28),
            (0.5, 0.5),
            (0.2, 0.72),
            (0.5, 0.96),
            (0.8, 0.72),
            (0.5, 0.5),
        ]
    ],
    9: [[(0.75, 0.35), (0.5, 0.52), (0.25, 0.35), (0.45, 0.05), (0.75, 0.2), (0.75, 0.35), (0.7, 0.97)]],
}


def draw_digit(
    digit: int,
    size: tuple[int, int] = (280, 280),
    box: tuple[float, float, float, float] = (0.2, 0.1, 0.8, 0.9),
    width: float = 0.06,
    mode: str = "RGBA",
) -> Image.Image:
    """Render ``digit`` as strokes inside ``box`` (fractions of the canvas) with a pen ``width`` times the box height.

    ``mode`` "RGBA" is what the page's canvas exports (black ink, transparent background); "white" is dark ink on
    white paper, "black" light ink on black.
    """
    w, h = size
    left, top, right, bottom = box[0] * w, box[1] * h, box[2] * w, box[3] * h
    pen = max(1, round(width * (bottom - top)))
    background = {"RGBA": (0, 0, 0, 0), "white": (255, 255, 255, 255), "black": (0, 0, 0, 255)}[mode]
    ink = (255, 255, 255, 255) if mode == "black" else (0, 0, 0, 255)
    image = Image.new("RGBA", size, background)
    pen_draw = ImageDraw.Draw(image)
    for stroke in STROKES[digit]:
        points = [(left + x * (right - left), top + y * (bottom - top)) for x, y in stroke]
        pen_draw.line(points, fill=ink, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):
            pen_draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=ink)
    return image if mode == "RGBA" else image.convert("RGB")


def draw_number(digits: str, height: int = 280, spacing: float = 0.75, slant: float = 0.0) -> Image.Image:
    """Several digits side by side on one transparent canvas, as the page sends a number.

    Each digit is drawn in a slot 3/4 as wide as the canvas is high, with the proportions :func:`draw_digit` gives it;
    slots start ``spacing`` x height apart (less than 3/4 packs the digits closer). ``slant`` leans the digits right
    as handwriting does (their tops shift right by ``slant`` x height), so that close neighbours overlap horizontally.
    """
    width = round(0.75 * height)
    image = Image.new(
        "RGBA", (round(spacing * height * (len(digits) - 1) + width + slant * height), height), (0, 0, 0, 0)
    )
    for i, char in enumerate(digits):
        part = draw_digit(int(char), size=(width, height), box=(0.15, 0.1, 0.85, 0.9))
        if slant:
            lean = (1, slant, -slant * height, 0, 1, 0)  # x_source = x + slant * (y - height)
            part = part.transform((width + round(slant * height), height), Image.Transform.AFFINE, lean, Image.BILINEAR)
        image.alpha_composite(part, (round(i * spacing * height), 0))
    return image


def digit_strokes(
    digits: str,
    spacing: float = 0.75,
    pointer: str = "mouse",
    ms_per_point: float = 12.0,
    pause_ms: float = 150.0,
) -> dict:
    """The API's ``strokes`` for ``digits`` written as :func:`draw_digit` (one digit) or :func:`draw_number` (several,
    slots ``spacing`` x height apart: less packs them closer, so that they touch) draw them, left to right, with times.
    """
    height = 280
    if len(digits) == 1:
        width, slots, box = 280, [(0.0, 280.0)], (0.2, 0.1, 0.8, 0.9)
    else:
        slot = 0.75 * height
        width = spacing * height * (len(digits) - 1) + slot
        slots, box = [(i * spacing * height, slot) for i in range(len(digits))], (0.15, 0.1, 0.85, 0.9)
    strokes, t = [], 0.0
    for char, (left, slot_width) in zip(digits, slots, strict=True):
        for stroke in STROKES[int(char)]:
            points = []
            for x, y in pen_samples(np.array(stroke), 0.04).tolist():
                px = left + (box[0] + x * (box[2] - box[0])) * slot_width
                py = (box[1] + y * (box[3] - box[1])) * height
                points.append([round(px / width, 5), round(py / height, 5), round(t)])
                t += ms_per_point
            strokes.append(points)
            t += pause_ms
        t += 2 * pause_ms
    return {"aspect": round(width / height, 4), "pointer": pointer, "strokes": strokes}


def mnist_as_drawing(image28: np.ndarray, size: int = 280) -> Image.Image:
    """An MNIST digit enlarged to canvas size as dark ink on white paper (another real kind of input)."""
    big = Image.fromarray(255 - image28).resize((size, size), Image.Resampling.BILINEAR)
    return big.convert("RGB")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode()


def blank_canvas(size: tuple[int, int] = (280, 280)) -> Image.Image:
    return Image.new("RGBA", size, (0, 0, 0, 0))
