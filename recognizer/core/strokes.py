"""Strokes as data: the drawing as the page records it, validated, stored compactly and rendered with the page's brush.

A drawing is a list of strokes on a canvas of a known shape. Each stroke is a list of points ``[x, y, t]`` or
``[x, y, t, pressure]``:

* ``x``, ``y``: 0-1 fractions of the canvas's width and height (x right, y down), as the page keeps them, so a
  drawing means the same whatever the screen's pixel count or density;
* ``t``: milliseconds since the drawing started (the first pointer-down is 0);
* ``pressure``: 0-1, only when the device reports it (pens; mice and most fingers report 0.5 or nothing).

The canvas's ``aspect`` (width / height; 1 for a digit, 2-2.5 for a number) and the ``pointer`` type ("mouse",
"touch", "pen") belong to the whole drawing. The page's brush is ``BRUSH_FRACTION`` of the canvas's shorter side
with round caps and joins, and :func:`render` draws exactly that, so a drawing sent as strokes reaches the same
``preprocess`` as the same drawing sent as a picture.

No Django here: the API validates with :func:`parse` and renders with :func:`render`; storage uses :func:`encode`
and :func:`decode`; the export writes :func:`to_quickdraw` (one drawing per NDJSON line, as Quick, Draw! does).
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image

#: The page's pen: this fraction of the canvas's shorter side (app.js BRUSH_FRACTION).
BRUSH_FRACTION = 1 / 14
#: Rendered canvases have this many pixels on their shorter side, as the page's upload (app.js UPLOAD_SIZE).
RENDER_SIZE = 280
POINTER_TYPES = ("mouse", "touch", "pen", "unknown")

#: Bounds a drawing must keep: enough for a 12-digit number written slowly with a pen, little enough to render fast.
MAX_STROKES = 120
MAX_POINTS_PER_STROKE = 2_000
MAX_POINTS = 12_000
#: A drawing lasts at most this long (ms): ten minutes.
MAX_DURATION_MS = 600_000
#: Time may step back this much (ms) between points: coalesced events and clock jitter are not monotonic.
TIME_SLACK_MS = 50
MIN_ASPECT, MAX_ASPECT = 0.2, 6.0
#: Coordinates slightly outside 0-1 (a pen leaving the canvas while captured) are clamped; beyond this, refused.
COORD_SLACK = 0.05


class InvalidStrokes(ValueError):
    """The strokes are malformed or out of bounds; the message says what, in words a person can act on."""


@dataclass(frozen=True)
class Drawing:
    """Validated strokes: each an (n, 4) float32 array of x, y (0-1), t (ms), pressure (NaN when not reported)."""

    strokes: tuple[np.ndarray, ...]
    aspect: float = 1.0
    pointer: str = "unknown"

    @property
    def point_count(self) -> int:
        return sum(len(s) for s in self.strokes)

    @property
    def has_pressure(self) -> bool:
        return any(not np.isnan(s[:, 3]).all() for s in self.strokes)

    def canvas_size(self, shorter: int = RENDER_SIZE) -> tuple[int, int]:
        """(width, height) in pixels of the canvas drawn at ``shorter`` pixels on its shorter side."""
        if self.aspect >= 1:
            return round(shorter * self.aspect), shorter
        return shorter, round(shorter / self.aspect)

    def subset(self, indices: Sequence[int]) -> Drawing:
        """The same canvas with only the strokes at ``indices`` (one digit of a number)."""
        return Drawing(tuple(self.strokes[i] for i in indices), self.aspect, self.pointer)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidStrokes(f"{what} must be a number.")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidStrokes(f"{what} must be a finite number.")
    return number


def parse(data: Any) -> Drawing:
    """Validate strokes as the API receives them and return a :class:`Drawing`; raises :class:`InvalidStrokes`.

    Accepted: ``{"strokes": [[[x, y, t], ...], ...], "aspect": 2.0, "pointer": "pen"}`` or the bare list of strokes
    (aspect 1, pointer unknown). Points may carry a fourth value, the pressure (0-1, or null).
    """
    if isinstance(data, list):
        data = {"strokes": data}
    if not isinstance(data, dict):
        raise InvalidStrokes("Strokes must be an object with a list of strokes, or a list of strokes.")
    unknown = set(data) - {"strokes", "aspect", "pointer"}
    if unknown:
        raise InvalidStrokes(f"Unknown field(s) in strokes: {', '.join(sorted(map(str, unknown)))}.")
    aspect = _number(data.get("aspect", 1.0), "The canvas aspect (width / height)")
    if not MIN_ASPECT <= aspect <= MAX_ASPECT:
        raise InvalidStrokes(f"The canvas aspect (width / height) must be between {MIN_ASPECT} and {MAX_ASPECT}.")
    pointer = data.get("pointer", "unknown")  # absent is unknown; null is no pointer type (the schema says a string)
    if not isinstance(pointer, str) or pointer not in POINTER_TYPES:
        raise InvalidStrokes(f"The pointer type must be one of: {', '.join(POINTER_TYPES)}.")
    raw = data.get("strokes")
    if not isinstance(raw, list):
        raise InvalidStrokes("Strokes must be a list of strokes, each a list of [x, y, t] points.")
    if not raw:
        raise InvalidStrokes("There are no strokes: draw a digit first.")
    if len(raw) > MAX_STROKES:
        raise InvalidStrokes(f"Too many strokes: at most {MAX_STROKES} are accepted, this drawing has {len(raw)}.")
    total = 0
    strokes = []
    last_time = -math.inf
    for i, stroke in enumerate(raw, start=1):
        if not isinstance(stroke, list) or not stroke:
            raise InvalidStrokes(f"Stroke {i} must be a non-empty list of [x, y, t] points.")
        if len(stroke) > MAX_POINTS_PER_STROKE:
            raise InvalidStrokes(f"Stroke {i} has {len(stroke)} points: at most {MAX_POINTS_PER_STROKE} are accepted.")
        total += len(stroke)
        if total > MAX_POINTS:
            raise InvalidStrokes(f"Too many points: at most {MAX_POINTS} in all are accepted.")
        array = np.full((len(stroke), 4), np.nan, dtype=np.float32)
        for j, point in enumerate(stroke):
            where = f"Point {j + 1} of stroke {i}"
            if not isinstance(point, list | tuple) or len(point) not in (3, 4):
                raise InvalidStrokes(f"{where} must be [x, y, t] or [x, y, t, pressure].")
            x, y, t = (_number(v, f"{where}: {name}") for v, name in zip(point[:3], "xyt", strict=True))
            if not (-COORD_SLACK <= x <= 1 + COORD_SLACK and -COORD_SLACK <= y <= 1 + COORD_SLACK):
                raise InvalidStrokes(f"{where} lies outside the canvas: x and y are fractions from 0 to 1.")
            if not 0 <= t <= MAX_DURATION_MS:
                raise InvalidStrokes(f"{where}: t is milliseconds since the drawing began, 0 to {MAX_DURATION_MS}.")
            if t < last_time - TIME_SLACK_MS:
                raise InvalidStrokes(f"{where} goes back in time: t must not decrease.")
            last_time = max(last_time, t)
            pressure = math.nan
            if len(point) == 4 and point[3] is not None:
                pressure = _number(point[3], f"{where}: pressure")
                if not 0 <= pressure <= 1:
                    raise InvalidStrokes(f"{where}: pressure must be between 0 and 1.")
            array[j] = (min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0), t, pressure)
        strokes.append(array)
    return Drawing(tuple(strokes), aspect, pointer)


def from_points(strokes: Sequence[Sequence[Sequence[float]]], aspect: float = 1.0, pointer: str = "unknown") -> Drawing:
    """A :class:`Drawing` from trusted points (tests, benchmarks, the export): validated all the same."""
    return parse({"strokes": [[list(map(float, p)) for p in s] for s in strokes], "aspect": aspect, "pointer": pointer})


# ---------------------------------------------------------------- rendering


def _smooth(points: np.ndarray, steps: int = 6) -> np.ndarray:
    """The page's curve: quadratic Béziers through the midpoints between samples (app.js drawStroke), as a polyline."""
    if len(points) < 3:
        return points
    out = [points[:1]]
    start = points[0]
    u = np.linspace(0, 1, steps + 1)[1:, None]
    for i in range(1, len(points) - 1):
        control, end = points[i], (points[i] + points[i + 1]) / 2
        out.append((1 - u) ** 2 * start + 2 * (1 - u) * u * control + u**2 * end)
        start = end
    out.append(points[-1:])
    return np.concatenate(out)


def render(drawing: Drawing, shorter: int = RENDER_SIZE, crop: bool = False) -> Image.Image:
    """Draw the strokes as the page does: black ink, transparent background, round caps and joins, the brush
    ``BRUSH_FRACTION`` of the shorter side. The image is what the page's upload would be (RGBA, ``shorter`` px).

    With ``crop``, only the ink's bounding box (and a brush's margin) is drawn, at the same scale: the cost follows
    the ink, not the canvas, and ``preprocess`` (which crops to the ink) gives the same input as for the whole canvas.
    """
    width, height = drawing.canvas_size(shorter)
    brush = max(2.0, min(width, height) * BRUSH_FRACTION)
    shift = 4  # sub-pixel precision for OpenCV: coordinates in 1/16 px
    scale = np.array([width, height], dtype=np.float64)
    origin = np.zeros(2)
    if crop:
        points = np.concatenate([s[:, :2] for s in drawing.strokes]).astype(np.float64) * scale
        margin = math.ceil(brush / 2) + 2
        origin = np.floor(points.min(axis=0)) - margin
        far = np.ceil(points.max(axis=0)) + margin
        width, height = int(far[0] - origin[0]) + 1, int(far[1] - origin[1]) + 1
    alpha = np.zeros((height, width), dtype=np.uint8)
    thickness = max(1, round(brush))
    for stroke in drawing.strokes:
        pixels = _smooth(stroke[:, :2].astype(np.float64)) * scale - origin
        line = np.rint(pixels * (1 << shift)).astype(np.int32)
        if len(line) == 1 or np.all(line == line[0]):
            cv2.circle(alpha, tuple(line[0]), round(brush / 2 * (1 << shift)), 255, -1, cv2.LINE_AA, shift)
        else:
            # OpenCV's thick lines have round ends, so consecutive segments give round caps and joins.
            cv2.polylines(alpha, [line], False, 255, thickness, cv2.LINE_AA, shift)
    image = np.zeros((height, width, 4), dtype=np.uint8)
    image[:, :, 3] = alpha
    return Image.fromarray(image, "RGBA")


# ---------------------------------------------------------------- storage

MAGIC = b"DST1"
_POINTERS = {name: i for i, name in enumerate(POINTER_TYPES)}


def encode(drawing: Drawing) -> bytes:
    """Compact bytes for storage: coordinates to 1/65535 of the canvas, time to the ms, pressure to 1/255, zlib'd.

    A typical digit (3 strokes, 60 points) takes ~300 bytes, a PNG of it ~3 KB.
    """
    counts = np.array([len(s) for s in drawing.strokes], dtype="<u2")
    points = np.concatenate(drawing.strokes)
    xy = np.rint(points[:, :2] * 65535).astype("<u2")
    times = np.rint(points[:, 2]).astype(np.int64)
    deltas = np.diff(times, prepend=0).clip(-32768, 32767).astype("<i2")  # the slack allows small steps back
    big = np.abs(np.diff(times, prepend=0)) > 32767
    flags = int(drawing.has_pressure) | (int(big.any()) << 1)
    header = MAGIC + struct.pack("<BBfH", _POINTERS[drawing.pointer], flags, drawing.aspect, len(counts))
    body = counts.tobytes() + xy.tobytes()
    body += times.astype("<u4").tobytes() if big.any() else deltas.tobytes()
    if drawing.has_pressure:
        pressure = np.nan_to_num(points[:, 3], nan=-1.0)
        body += np.where(pressure < 0, 255, np.rint(pressure * 254)).astype(np.uint8).tobytes()
    return header + zlib.compress(body, 9)


def decode(data: bytes) -> Drawing:
    """The drawing :func:`encode` stored."""
    if data[:4] != MAGIC:
        raise InvalidStrokes("Not stored strokes (unknown format).")
    pointer, flags, aspect, n = struct.unpack_from("<BBfH", data, 4)
    body = zlib.decompress(data[4 + struct.calcsize("<BBfH") :])
    counts = np.frombuffer(body, "<u2", n).astype(np.int64)
    total = int(counts.sum())
    offset = 2 * n
    xy = np.frombuffer(body, "<u2", 2 * total, offset).reshape(total, 2).astype(np.float32) / 65535
    offset += 4 * total
    if flags & 2:
        times = np.frombuffer(body, "<u4", total, offset).astype(np.float32)
        offset += 4 * total
    else:
        times = np.cumsum(np.frombuffer(body, "<i2", total, offset).astype(np.int64)).astype(np.float32)
        offset += 2 * total
    pressure = np.full(total, np.nan, dtype=np.float32)
    if flags & 1:
        raw = np.frombuffer(body, np.uint8, total, offset)
        pressure = np.where(raw == 255, np.nan, raw / 254).astype(np.float32)
    points = np.column_stack([xy, times, pressure]).astype(np.float32)
    strokes = tuple(np.split(points, np.cumsum(counts)[:-1]))
    return Drawing(strokes, float(np.float32(aspect)), POINTER_TYPES[pointer])


def to_json(drawing: Drawing) -> dict[str, Any]:
    """The drawing as the API accepts it (``parse(to_json(d))`` gives ``d`` back)."""

    def point(p: np.ndarray) -> list[float | None]:
        values: list[float | None] = [round(float(p[0]), 5), round(float(p[1]), 5), round(float(p[2]))]
        if not np.isnan(p[3]):
            values.append(round(float(p[3]), 3))
        return values

    return {
        "aspect": round(drawing.aspect, 4),
        "pointer": drawing.pointer,
        "strokes": [[point(p) for p in s] for s in drawing.strokes],
    }


def to_quickdraw(drawing: Drawing, shorter: int = 255) -> list[list[list[int]]]:
    """Strokes in the Quick, Draw! raw format: per stroke ``[[x...], [y...], [t...]]``, canvas pixels with the
    shorter side ``shorter``, time in ms."""
    width, height = drawing.canvas_size(shorter)
    return [
        [
            np.rint(s[:, 0] * width).astype(int).tolist(),
            np.rint(s[:, 1] * height).astype(int).tolist(),
            np.rint(s[:, 2]).astype(int).tolist(),
        ]
        for s in drawing.strokes
    ]
