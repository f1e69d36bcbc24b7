"""The non-digits generated for outlier exposure (training/ml/outliers.py): repeatable, and never digit-like."""

from __future__ import annotations

import inspect

import numpy as np

from recognizer.core.open_set import NOT_A_DIGIT_LABEL
from training.ml import outliers
from training.ml.pen_strokes import pen_samples


def test_the_same_seed_gives_the_same_outliers_and_another_seed_others() -> None:
    first, again, other = outliers.generate(24, seed=3), outliers.generate(24, seed=3), outliers.generate(24, seed=4)
    assert first.images.shape == (24 + 24 // outliers.DIGITS_EVERY, 28, 28)
    assert first.images.dtype == np.uint8
    assert np.array_equal(first.images, again.images)
    assert first.kinds == again.kinds
    assert not np.array_equal(first.images, other.images)
    assert set(first.kinds) == {*outliers.KINDS, "digit"}
    is_digit = np.array(first.kinds) == "digit"
    assert (first.labels[~is_digit] == NOT_A_DIGIT_LABEL).all()  # uniform targets: outlier exposure
    assert set(first.labels[is_digit]) <= set(range(10))  # a font digit keeps its label
    assert all(image.max() > 0 for image in first.images)  # every one has ink the preprocessing found


def test_outliers_are_drawn_without_the_liberation_fonts_too(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(outliers, "FONT_DIR", tmp_path / "no-fonts")
    outliers._font.cache_clear()
    try:
        drawn = outliers.generate(24, seed=3)
    finally:
        outliers._font.cache_clear()
    assert all(image.max() > 0 for image in drawn.images)


def test_no_character_is_written_like_a_digit() -> None:
    lookalikes = set("OolIiSsZzBbgqG|")  # 0 1 5 2 8 9 6 ...
    assert lookalikes <= outliers.DIGIT_LIKE
    assert not set(outliers.CHARACTERS) & (outliers.DIGIT_LIKE | set("0123456789"))


def test_the_benchmarks_own_fonts_and_shapes_are_never_drawn() -> None:
    """bench/open_set.py measures DejaVu letters and hearts, stars, houses, smileys and crosses: none are trained on,
    and the product does not need bench/ to make them."""
    assert not any("DejaVu" in font for font in outliers.FONTS)
    assert all((outliers.FONT_DIR / font).is_file() for font in outliers.FONTS)
    assert not set(outliers.CHARACTERS) & set("+×*★☆♥♡☺⌂")  # noqa: RUF001 (the multiplication sign, a cross)
    source = inspect.getsource(outliers)
    assert "from bench" not in source
    assert "import bench" not in source


def test_the_kinds_asked_for_are_drawn_and_a_fine_tune_draws_none_of_the_detectors_own() -> None:
    drawn = outliers.generate(12, seed=1, kinds=("sketch", "letter"))
    assert set(drawn.kinds) == {"sketch", "letter", "digit"}
    assert not {"sketch", "letter"} & set(outliers.KINDS)  # hearts, stars, C, T...: only for the detector


def test_a_polyline_given_by_its_corners_is_sampled_as_a_pen_samples_it_keeping_its_corners() -> None:
    """The page's curve through midpoints rounds a house given by its corners alone into a D under an arch."""
    square = np.array([[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8], [0.2, 0.2]])
    sampled = pen_samples(square, 0.02)
    assert np.linalg.norm(np.diff(sampled, axis=0), axis=1).max() <= 0.02 + 1e-12
    for corner in square:
        assert np.isclose(sampled, corner).all(axis=1).any()
    assert len(sampled) >= 4 * 0.6 / 0.02
