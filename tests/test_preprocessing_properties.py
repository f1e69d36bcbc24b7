"""Properties of preprocessing that hold for every drawing, checked on many generated ones (hypothesis).

Drawings are random pen strokes rendered with Pillow the way the page's canvas renders them, on canvases of any
size, placement, colour mode and polarity; uploads are random corruptions of a real PNG.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.conf import settings as django_settings
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from bench.drawing import draw_digit, png_bytes
from recognizer.core.preprocessing import BOX, SIZE, EmptyDrawing, preprocess, split_digits
from recognizer.images import KEPT_MODES, InvalidImage, open_image
from tests.support.measures import center_of_mass, similarity

#: Few examples each: the suite runs on two shared cores. In CI the examples are derandomized (see conftest.py);
#: elsewhere each run explores new ones, and a failure prints how to reproduce it.
SOME = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

point = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
stroke = st.lists(point, min_size=2, max_size=8)


@st.composite
def drawings(draw) -> dict:
    """A drawing as the page makes it: 1-3 strokes, a pen 3-15% of the digit's height, somewhere on a canvas."""
    width, height = draw(st.integers(60, 300)), draw(st.integers(60, 300))
    side = draw(st.floats(0.3, 0.9))
    left, top = draw(st.floats(0.0, 1.0 - side)), draw(st.floats(0.0, 1.0 - side))
    return {
        "strokes": draw(st.lists(stroke, min_size=1, max_size=3)),
        "size": (width, height),
        "box": (left, top, left + side, top + side),
        "pen": draw(st.floats(0.03, 0.15)),
    }


def pen_width(spec: dict) -> int:
    width, height = spec["size"]
    return max(2, round(spec["pen"] * (spec["box"][3] - spec["box"][1]) * min(width, height)))


def render(spec: dict, mode: str = "RGBA") -> Image.Image:
    """Draw ``spec`` on a transparent canvas (or dark-on-white / light-on-black for "white" / "black").

    The canvas has a margin of one pen width all round, so no stroke is cut off by its edge.
    """
    width, height = spec["size"]
    size = min(width, height)
    pen = pen_width(spec)
    left, top, right, bottom = (v * size + pen for v in spec["box"])
    background = {"RGBA": (0, 0, 0, 0), "white": (255, 255, 255, 255), "black": (0, 0, 0, 255)}[mode]
    ink = (255, 255, 255, 255) if mode == "black" else (0, 0, 0, 255)
    image = Image.new("RGBA", (width + 2 * pen, height + 2 * pen), background)
    pen_draw = ImageDraw.Draw(image)
    for line in spec["strokes"]:
        points = [(left + x * (right - left), top + y * (bottom - top)) for x, y in line]
        pen_draw.line(points, fill=ink, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):
            pen_draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=ink)
    return image if mode == "RGBA" else image.convert("RGB")


def preprocess_or_none(image: Image.Image) -> np.ndarray | None:
    try:
        return preprocess(image)
    except EmptyDrawing:
        return None


def ink_extent(out: np.ndarray, threshold: int = 1) -> tuple[int, int]:
    rows = np.nonzero(out.max(axis=1) >= threshold)[0]
    cols = np.nonzero(out.max(axis=0) >= threshold)[0]
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@SOME
@given(drawings())
def test_every_drawing_gives_a_28x28_uint8_input_at_full_contrast_or_is_empty(spec: dict) -> None:
    out = preprocess_or_none(render(spec))
    assume(out is not None)
    assert out.shape == (SIZE, SIZE)
    assert out.dtype == np.uint8
    assert out.max() == 255


@SOME
@given(drawings())
def test_the_ink_fits_the_20_pixel_box_and_is_centred_by_mass(spec: dict) -> None:
    out = preprocess_or_none(render(spec))
    assume(out is not None)
    height, width = ink_extent(out, threshold=40)
    assert max(height, width) <= BOX + 2  # 20 px, plus a pixel of interpolation on each side
    # Centred by mass, as MNIST is, unless the shift pushed ink past the frame (a lopsided shape).
    if out[0].max() == out[-1].max() == out[:, 0].max() == out[:, -1].max() == 0:
        cy, cx = center_of_mass(out.astype(np.float64))
        assert abs(cy - 13.5) < 1.0
        assert abs(cx - 13.5) < 1.0


@SOME
@given(drawings())
def test_preprocessing_is_deterministic(spec: dict) -> None:
    image = render(spec)
    first = preprocess_or_none(image)
    assume(first is not None)
    assert np.array_equal(first, preprocess(image.copy()))


@SOME
@given(drawings(), st.integers(0, 300), st.integers(0, 300), st.sampled_from(["RGBA", "white"]))
def test_where_the_digit_is_on_the_canvas_does_not_matter(spec: dict, dx: int, dy: int, mode: str) -> None:
    """The same drawing moved anywhere on a larger canvas gives exactly the same input."""
    drawing = render(spec, mode=mode)
    here = preprocess_or_none(drawing)
    assume(here is not None)
    background = (0, 0, 0, 0) if mode == "RGBA" else (255, 255, 255)
    canvas = Image.new(drawing.mode, (drawing.width + 300, drawing.height + 300), background)
    canvas.paste(drawing, (dx, dy))
    assert np.array_equal(here, preprocess(canvas))


@SOME
@given(drawings())
def test_dark_ink_on_white_and_light_ink_on_black_read_like_the_transparent_canvas(spec: dict) -> None:
    transparent = preprocess_or_none(render(spec))
    assume(transparent is not None)
    for mode in ("white", "black"):
        opaque = preprocess(render(spec, mode=mode))
        assert np.abs(opaque.astype(int) - transparent.astype(int)).max() <= 1, mode


@SOME
@given(drawings(), st.sampled_from(["L", "LA", "P", "CMYK", "I;16", "1"]))
def test_colour_modes_are_read_alike(spec: dict, mode: str) -> None:
    rgb = render(spec, mode="white")
    reference = preprocess_or_none(rgb)
    assume(reference is not None)
    if mode == "I;16":
        converted = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    else:
        converted = rgb.convert(mode)
    assert similarity(reference, preprocess(converted)) > 0.95


@SOME
@given(drawings(), st.sampled_from([1.5, 2.0, 3.0]))
def test_the_canvas_resolution_does_not_matter(spec: dict, factor: float) -> None:
    """The same drawing on a phone's high-density canvas (2-3 device pixels a point) gives nearly the same input."""
    # With the page's pen (a 14th of the canvas, about a tenth of the digit), not a hairline a pixel shift changes.
    assume(spec["pen"] >= 0.07 and pen_width(spec) >= 3)
    reference = preprocess_or_none(render(spec))
    assume(reference is not None)
    width, height = spec["size"]
    scaled = {**spec, "size": (round(width * factor), round(height * factor))}
    # Pillow draws without anti-aliasing, so strokes land on slightly different pixels at each resolution: the
    # inputs are typically over 0.95 alike, and never below 0.8 (two different digits are usually below 0.6).
    assert similarity(reference, preprocess(render(scaled))) > 0.8


@SOME
@given(st.integers(1, 80), st.integers(1, 80), st.integers(0, 255))
def test_a_uniform_image_of_any_size_and_shade_is_empty(width: int, height: int, shade: int) -> None:
    with pytest.raises(EmptyDrawing):
        preprocess(Image.new("L", (width, height), shade))


@SOME
@given(st.integers(2, 60), st.integers(2, 60), st.data())
def test_any_small_pixel_array_is_either_empty_or_a_valid_input(width: int, height: int, data) -> None:
    pixels = data.draw(st.lists(st.integers(0, 255), min_size=width * height, max_size=width * height))
    image = Image.fromarray(np.array(pixels, dtype=np.uint8).reshape(height, width), "L")
    out = preprocess_or_none(image)
    if out is not None:
        assert out.shape == (SIZE, SIZE)
        assert out.max() == 255


@SOME
@given(st.integers(2, 60), st.integers(2, 60), st.data())
def test_any_small_pixel_array_splits_into_some_digits_or_is_empty(width: int, height: int, data) -> None:
    """The number endpoint's split never comes back empty-handed: digits left to right, or EmptyDrawing."""
    sparse_ink = st.integers(0, 7).map(lambda v: 255 if v == 0 else 0)  # scattered dots as well as strokes
    pixels = data.draw(st.lists(sparse_ink, min_size=width * height, max_size=width * height))
    image = Image.fromarray(np.array(pixels, dtype=np.uint8).reshape(height, width), "L")
    try:
        digits = split_digits(image)
    except EmptyDrawing:
        return
    assert digits
    for digit in digits:
        assert 0 < digit.width <= width
        assert (np.asarray(digit) < 128).any()  # each digit holds ink


REFERENCE_PNG = png_bytes(draw_digit(3))


@SOME
@given(
    st.lists(st.tuples(st.integers(0, len(REFERENCE_PNG) - 1), st.integers(0, 255)), min_size=1, max_size=20),
    st.integers(1, len(REFERENCE_PNG)),
)
def test_a_corrupted_upload_is_refused_cleanly_or_read(edits: list[tuple[int, int]], keep: int) -> None:
    """Any corruption of a real PNG (bytes changed, cut short) is an InvalidImage or EmptyDrawing, never a crash."""
    raw = bytearray(REFERENCE_PNG)
    for position, value in edits:
        raw[position] = value
    try:
        out = preprocess(open_image(bytes(raw[:keep])))
    except (InvalidImage, EmptyDrawing):
        return
    assert out.shape == (SIZE, SIZE)


@SOME
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_are_refused_cleanly(raw: bytes) -> None:
    """Random bytes are refused with a message; the rare ones Pillow reads as some format come back as one frame,
    within the pixel limit, in a mode the rest of the pipeline handles."""
    try:
        image = open_image(raw)
    except InvalidImage as exc:
        message = str(exc)
    else:
        message = None
    if message is not None:
        assert message.endswith(".") or message.endswith(")."), message
        return
    assert image.width * image.height <= django_settings.DIGITS_MAX_IMAGE_PIXELS
    assert getattr(image, "n_frames", 1) == 1
    assert image.mode in KEPT_MODES


@SOME
@given(st.lists(st.integers(1, 9), min_size=1, max_size=6), st.integers(20, 120))
def test_separate_marks_side_by_side_are_split_into_as_many_digits(gaps: list[int], height: int) -> None:
    """Blobs separated by empty columns come back as that many digits, left to right, each with only its own ink."""
    width = 12
    canvas = Image.new("RGBA", ((width + 10) * len(gaps) + 20, height + 20), (0, 0, 0, 0))
    pen = ImageDraw.Draw(canvas)
    blobs, x = [], 10
    for gap in gaps:
        pen.rectangle((x, 10, x + width - 1, 10 + height - 1), fill=(0, 0, 0, 255))
        blobs.append((x, x + width))
        x += width + gap
    digits = split_digits(canvas)
    assert len(digits) == len(blobs)
    for digit in digits:
        assert int((np.asarray(digit) < 128).sum()) == width * height
