"""The one preprocessing function: any canvas → the MNIST-like 28x28 input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.drawing import blank_canvas, draw_digit, draw_number
from bench.handwriting_sets import bitmap_drawing
from recognizer.core.preprocessing import EmptyDrawing, preprocess, split_digits
from tests.support.measures import center_of_mass, similarity


def test_output_is_28x28_uint8_with_ink_scaled_to_full_range() -> None:
    out = preprocess(draw_digit(7))
    assert out.shape == (28, 28)
    assert out.dtype == np.uint8
    assert out.max() == 255
    assert (out == 0).mean() > 0.6  # a black background around the ink, as in MNIST


def test_longer_side_is_20_pixels_and_aspect_ratio_kept() -> None:
    out = preprocess(draw_digit(1, box=(0.45, 0.1, 0.55, 0.9)))  # a tall, thin 1
    rows = np.nonzero(out.max(axis=1) > 40)[0]
    cols = np.nonzero(out.max(axis=0) > 40)[0]
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert 19 <= height <= 21
    assert width < height / 2


def test_centre_of_mass_is_in_the_middle() -> None:
    cy, cx = center_of_mass(preprocess(draw_digit(7, box=(0.0, 0.0, 0.3, 0.3))).astype(np.float64))
    assert abs(cy - 13.5) < 0.6
    assert abs(cx - 13.5) < 0.6


@pytest.mark.parametrize("digit", range(10))
def test_small_digit_in_a_corner_and_huge_digit_give_nearly_the_same_input(digit: int) -> None:
    huge = preprocess(draw_digit(digit, size=(600, 600), box=(0.02, 0.02, 0.98, 0.98)))
    corner = preprocess(draw_digit(digit, size=(600, 600), box=(0.80, 0.80, 0.96, 0.96)))
    assert similarity(huge, corner) > 0.9


def test_any_canvas_size_gives_the_same_input() -> None:
    small = preprocess(draw_digit(3, size=(100, 100)))
    large = preprocess(draw_digit(3, size=(1000, 700), box=(0.29, 0.1, 0.71, 0.9)))  # same aspect ratio
    assert similarity(small, large) > 0.9


@pytest.mark.parametrize("mode", ["white", "black"])
def test_dark_ink_on_white_and_light_ink_on_dark_match_a_transparent_canvas(mode: str) -> None:
    transparent = preprocess(draw_digit(5))
    opaque = preprocess(draw_digit(5, mode=mode))
    assert similarity(transparent, opaque) > 0.98


def tight_crops() -> list[tuple[np.ndarray, np.ndarray]]:
    """Thick digits stretched to fill a 16x16 bitmap, as semeion's scanned digits are, cropped to their ink, whose ink
    covers at least half of their border (thick strokes touching the edges), each with the whole bitmap:
    ``(cropped, bitmap)``, 1 = ink. Drawn here rather than read from semeion, so the suite needs no shared data."""
    crops = []
    for digit in range(10):
        for width in (0.16, 0.2, 0.24, 0.28):
            for box in ((0.0, 0.0, 1.0, 1.0), (0.1, 0.0, 0.9, 1.0), (0.2, 0.0, 0.8, 1.0)):
                alpha = draw_digit(digit, size=(160, 160), box=box, width=width).getchannel("A")
                bitmap = (np.asarray(alpha.resize((16, 16), Image.BOX)) > 127).astype(np.uint8)
                rows, cols = np.nonzero(bitmap)
                crop = bitmap[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
                if np.concatenate([crop[0], crop[-1], crop[:, 0], crop[:, -1]]).mean() >= 0.5:
                    crops.append((crop, bitmap))
    return crops


def scaled(ink: np.ndarray, light_ink: bool) -> Image.Image:
    """A 0/1 ink bitmap as an opaque picture, 12x bilinear as the benchmark scales semeion."""
    shade = ink if light_ink else 1 - ink
    picture = Image.fromarray((shade * 255).astype(np.uint8), "L")
    return picture.resize((ink.shape[1] * 12, ink.shape[0] * 12), Image.BILINEAR)


@pytest.mark.parametrize("light_ink", [False, True], ids=["dark on light", "light on dark"])
def test_a_tightly_cropped_digit_whose_ink_covers_most_of_its_border_is_not_read_inverted(light_ink: bool) -> None:
    crops = tight_crops()
    assert len(crops) >= 20  # most digits, written thick and stretched to the box
    for crop, bitmap in crops:
        with_paper_round_it = preprocess(bitmap_drawing(bitmap, 12))  # how the benchmark reads it
        assert similarity(preprocess(scaled(crop, light_ink)), with_paper_round_it) > 0.9


def test_a_transparent_canvas_is_read_by_its_alpha_however_much_ink_touches_its_edges() -> None:
    crop, _ = tight_crops()[0]
    canvas = Image.new("RGBA", (crop.shape[1] * 12, crop.shape[0] * 12), (0, 0, 0, 0))
    canvas.putalpha(scaled(crop, light_ink=True))  # black ink, transparent paper, as the page exports
    assert np.array_equal(preprocess(canvas), preprocess(np.asarray(canvas.getchannel("A"))))
    page = draw_digit(8, width=0.3)
    assert np.array_equal(preprocess(page), preprocess(np.asarray(page.getchannel("A"))))


def test_grayscale_and_palette_images_are_read_like_rgb() -> None:
    rgb = draw_digit(2, mode="white")
    reference = preprocess(rgb)
    for converted in (rgb.convert("L"), rgb.convert("P"), rgb.convert("LA"), rgb.convert("CMYK")):
        assert similarity(reference, preprocess(converted)) > 0.98, converted.mode


def test_sixteen_bit_images_are_read() -> None:
    gray = np.asarray(draw_digit(4, mode="black").convert("L"), dtype=np.uint16) * 257  # 16-bit grayscale
    assert Image.fromarray(gray).mode.startswith("I;16")
    assert similarity(preprocess(draw_digit(4, mode="black")), preprocess(Image.fromarray(gray))) > 0.98


@pytest.mark.parametrize("width", [0.02, 0.2])
def test_thin_and_thick_strokes_still_give_a_centred_full_height_digit(width: float) -> None:
    out = preprocess(draw_digit(7, width=width))
    rows = np.nonzero(out.max(axis=1) > 40)[0]
    assert 19 <= rows.max() - rows.min() + 1 <= 21
    assert similarity(out, preprocess(draw_digit(7))) > 0.7


@pytest.mark.parametrize(
    "image",
    [blank_canvas(), Image.new("RGB", (280, 280), "white"), Image.new("RGB", (280, 280), "black")],
    ids=["transparent", "all-white", "all-black"],
)
def test_an_empty_canvas_is_refused_with_a_message(image: Image.Image) -> None:
    with pytest.raises(EmptyDrawing, match="draw a digit"):
        preprocess(image)


def test_a_stray_speck_counts_as_empty() -> None:
    image = blank_canvas()
    image.putpixel((10, 10), (0, 0, 0, 255))
    with pytest.raises(EmptyDrawing):
        preprocess(image)


@pytest.mark.parametrize("slant", [0.0, 0.3])
def test_a_number_splits_into_its_digits_left_to_right(slant: float) -> None:
    digits = split_digits(draw_number("2026", slant=slant))
    assert len(digits) == 4
    for image, digit in zip(digits, "2026", strict=True):
        assert similarity(preprocess(image), preprocess(draw_number(digit, slant=slant))) > 0.9


def test_close_slanted_digits_with_no_gap_between_them_keep_only_their_own_ink() -> None:
    number = draw_number("2026", spacing=0.45, slant=0.3)
    inked = (np.asarray(number.getchannel("A")) > 40).any(axis=0).astype(int)
    assert np.count_nonzero(np.diff(inked) == 1) == 1  # one run of inked columns: no blank column to cut along
    digits = split_digits(number)
    assert len(digits) == 4
    for image, digit in zip(digits, "2026", strict=True):
        assert similarity(preprocess(image), preprocess(draw_number(digit, slant=0.3))) > 0.95


def test_the_strokes_of_one_digit_stay_one_digit() -> None:
    assert len(split_digits(draw_digit(4))) == 1  # two strokes, one inside the other's extent
    five = draw_digit(5)
    bar = Image.new("RGBA", five.size, (0, 0, 0, 0))
    bar.paste(five.crop((0, 0, 280, 40)), (0, -20))  # its top bar lifted off the body
    five.paste(Image.new("RGBA", (280, 40), (0, 0, 0, 0)), (0, 0))
    five.alpha_composite(bar)
    assert len(split_digits(five)) == 1


def test_a_speck_beside_a_number_is_not_a_digit() -> None:
    number = draw_number("38")
    speck = Image.new("RGBA", (6, 6), (0, 0, 0, 255))
    with_specks = Image.new("RGBA", (number.width + 40, number.height), (0, 0, 0, 0))
    with_specks.alpha_composite(number)
    with_specks.alpha_composite(speck, (number.width + 20, 200))  # off to the right: dropped
    with_specks.alpha_composite(speck, (100, 5))  # above the 3: part of it
    digits = split_digits(with_specks)
    assert len(digits) == 2
    assert digits[0].height > split_digits(number)[0].height


def test_an_empty_number_is_refused() -> None:
    with pytest.raises(EmptyDrawing):
        split_digits(blank_canvas((600, 280)))
