"""recognizer.core: strokes (bounds, storage, rendering with the page's brush), grouping strokes into digits,
segmenting touching digits in a picture, and the open-set rule. No database, no Django: the shipped model is read
with LiteRT directly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.drawing import STROKES
from recognizer.core import grouping, open_set, segmentation
from recognizer.core import strokes as S
from recognizer.core.preprocessing import preprocess


@pytest.fixture(scope="module")
def model():
    from bench.numbers import Model

    return Model()


def digit_points(digit: int, left: float, width: float, t0: float, aspect: float = 1.0) -> list[list[list[float]]]:
    """The strokes of ``digit`` (bench.drawing) in a slot starting at ``left`` (0-1 of the canvas width)."""
    out, t = [], t0
    for stroke in STROKES[digit]:
        points = []
        for k, (x, y) in enumerate(stroke):
            points.append([left + (0.15 + 0.7 * x) * width, 0.1 + 0.8 * y, t + 12 * k])
        t += 12 * len(stroke) + 150
        out.append(points)
    return out


def number(digits: str, step: float, aspect: float) -> S.Drawing:
    """Digits side by side; each slot is ``1 / aspect`` of the width (square), slots ``step`` slots apart."""
    slot = 1 / aspect
    strokes, t = [], 0.0
    for i, char in enumerate(digits):
        part = digit_points(int(char), 0.02 + i * step * slot, slot, t)
        strokes += part
        t = part[-1][-1][2] + 350
    return S.from_points(strokes, aspect=aspect, pointer="mouse")


# ---------------------------------------------------------------- strokes


def test_rendered_strokes_reach_the_same_preprocess_and_are_read(model) -> None:
    inputs = [preprocess(S.render(number(str(d), 1, 1.0))) for d in range(10)]
    assert list(model(np.stack(inputs)).argmax(axis=1)) == list(range(10))


def test_render_uses_the_pages_brush() -> None:
    image = S.render(S.from_points([[[0.1, 0.5, 0], [0.9, 0.5, 100]]], aspect=2.0))
    assert image.size == (560, 280)
    alpha = np.asarray(image.getchannel("A"))
    column = alpha[:, 280] > 127
    assert abs(int(column.sum()) - 280 / 14) <= 2  # the pen is 1/14 of the shorter side
    assert alpha[140, 560 // 10 - 8] > 127  # round cap: ink beyond the stroke's first point


def test_encode_decode_round_trip_is_compact() -> None:
    drawing = number("407", 1.1, 3.5)
    data = S.encode(drawing)
    back = S.decode(data)
    assert len(back.strokes) == len(drawing.strokes)
    assert back.pointer == "mouse"
    assert back.aspect == pytest.approx(3.5)
    for a, b in zip(drawing.strokes, back.strokes, strict=True):
        assert np.allclose(a[:, :2], b[:, :2], atol=1e-4)
        assert np.allclose(a[:, 2], b[:, 2], atol=0.5)
    assert len(data) < len(str(S.to_json(drawing))) / 3
    assert S.parse(S.to_json(drawing)).point_count == drawing.point_count


def test_pressure_is_kept() -> None:
    drawing = S.from_points([[[0.1, 0.1, 0, 0.3], [0.5, 0.5, 10, 0.9]]], pointer="pen")
    back = S.decode(S.encode(drawing))
    assert back.has_pressure
    assert back.strokes[0][1, 3] == pytest.approx(0.9, abs=0.01)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"strokes": []}, "no strokes"),
        ({"strokes": "x"}, "list of strokes"),
        ([[[0.1, 0.2]]], "[x, y, t]"),
        ([[[0.1, 2.0, 0]]], "outside the canvas"),
        ([[[0.1, math.nan, 0]]], "finite"),
        ([[[0.1, 0.1, "0"]]], "must be a number"),
        ([[[0.1, 0.1, 500], [0.2, 0.2, 100]]], "back in time"),
        ([[[0.1, 0.1, 0, 1.5]]], "pressure"),
        ({"strokes": [[[0, 0, 0]]], "aspect": 50}, "aspect"),
        ({"strokes": [[[0, 0, 0]]], "pointer": "nose"}, "pointer"),
        ({"strokes": [[[0, 0, 0]]], "colour": "red"}, "Unknown field"),
        ([[[0.1, 0.1, 0]]] * (S.MAX_STROKES + 1), "Too many strokes"),
        ([[[0.1, 0.1, 0]] * (S.MAX_POINTS_PER_STROKE + 1)], "at most"),
        ([[[0.1, 0.1, 0]] * 1500] * 9, "Too many points"),
    ],
)
def test_malformed_strokes_are_refused_with_a_message(data, message: str) -> None:
    with pytest.raises(S.InvalidStrokes, match=message.replace("[", r"\[").replace("]", r"\]")):
        S.parse(data)


# ---------------------------------------------------------------- grouping strokes


@pytest.mark.parametrize("step", [1.2, 0.8, 0.62])  # apart, close to touching, overlapping
def test_strokes_are_grouped_into_digits_even_when_they_overlap(step: float, model) -> None:
    drawing = number("4175", step, 5.0)
    groups = grouping.group_strokes(drawing)
    assert [len(g) for g in groups] == [2, 1, 1, 1]
    scored = grouping.split_drawing(drawing, model.reading, preprocess)
    read = model(np.stack([preprocess(S.render(d)) for d in scored])).argmax(axis=1)
    assert "".join(map(str, read)) == "4175"


def _strokes_in_slot(parts: list[list[tuple[float, float]]], left: float, width: float, t0: float) -> list:
    out, t = [], t0
    for part in parts:
        out.append([[left + (0.15 + 0.7 * x) * width, 0.1 + 0.8 * y, t + 12 * k] for k, (x, y) in enumerate(part)])
        t += 12 * len(part) + 150
    return out


def _read_strokes(drawing: S.Drawing, model) -> str:
    digits = grouping.split_drawing(drawing, model.reading, preprocess)
    return "".join(str(int(d)) for d in model(np.stack([preprocess(S.render(d)) for d in digits])).argmax(axis=1))


def test_a_digit_drawn_in_pieces_the_model_reads_alone_stays_one_digit(model) -> None:
    """A 0 begun with a short arc, then finished in a second stroke, and a 9 drawn stem first, then its loop: the
    arc alone is read confidently (a 7), and so is the loop (a 0 beside a 1), but each is too short to be a digit of
    this line."""
    ring = [
        (0.5 + 0.32 * math.sin(t / 20 * 2 * math.pi), 0.5 - 0.45 * math.cos(t / 20 * 2 * math.pi))
        for t in range(-3, 18)
    ]
    zero = _strokes_in_slot([ring[:7], ring[6:]], 0.02 + 1 / 3, 1 / 3, 2000)
    assert _read_strokes(S.from_points(digit_points(2, 0.02, 1 / 3, 0) + zero, aspect=3.0), model) == "20"
    stem = [(0.72, 0.1), (0.72, 0.5), (0.66, 0.95)]
    loop = [(0.72, 0.25)] + [
        (0.48 + 0.25 * math.cos(a), 0.28 + 0.22 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 16)
    ]
    nine = _strokes_in_slot([stem, loop], 0.02 + 1 / 3, 1 / 3, 2000)
    assert _read_strokes(S.from_points(digit_points(1, 0.02, 1 / 3, 0) + nine, aspect=3.0), model) == "19"


def test_a_late_stroke_joins_the_digit_it_lies_in() -> None:
    drawing = number("71", 1.2, 2.5)
    late = [[x, y, t + 2000] for x, y, t in [[0.15, 0.5, 0], [0.28, 0.5, 50]]]
    drawing = S.from_points([*S.to_json(drawing)["strokes"], late], aspect=2.5)
    assert grouping.group_strokes(drawing) == [[0, 2], [1]]


def test_a_flat_line_across_a_number_canvas_is_one_group(model) -> None:
    """No stroke fits one digit's width, so the model has no candidate to read: the rules group it."""
    line = S.from_points([[[0.05, 0.5, 0], [0.95, 0.5, 300]]], aspect=2.0)
    assert len(grouping.split_drawing(line, model.reading, preprocess)) == 1


# ---------------------------------------------------------------- segmenting pictures


@pytest.mark.parametrize("step", [1.2, 0.75])
def test_touching_digits_in_a_picture_are_cut_apart(step: float, model) -> None:
    picture = S.render(number("305", step, 4.0))
    images = segmentation.split_number(picture, model.reading)
    read = model(np.stack([preprocess(i) for i in images])).argmax(axis=1)
    assert "".join(map(str, read)) == "305"


def test_pairs_drawn_touching_are_read_as_two_digits_from_the_picture_alone(model) -> None:
    """00 to 99 with slots 0.4 line heights apart (the inks touch): a wide piece is rather two digits than one (81 of
    100 were read right when the width penalty began at a full line height; 95 with it at 0.85)."""
    from bench.drawing import draw_number

    right = 0
    for pair in (f"{a}{b}" for a in range(10) for b in range(10)):
        images = segmentation.split_number(draw_number(pair, spacing=0.4), model.reading)
        right += "".join(str(int(d)) for d in model(np.stack([preprocess(i) for i in images])).argmax(axis=1)) == pair
    assert right >= 92


def test_too_many_separate_digits_are_refused(model) -> None:
    bars = [[[0.02 + 0.06 * i, 0.2, 10 * i], [0.02 + 0.06 * i, 0.8, 10 * i + 5]] for i in range(16)]
    drawing = S.from_points(bars, aspect=6.0)
    with pytest.raises(segmentation.TooManyDigits, match="at most 12"):
        segmentation.segment(S.render(drawing), model.reading)


def test_the_cost_is_bounded_for_a_scribbled_picture(model) -> None:
    import time

    from bench.numbers import scribble_png

    _, drawing = scribble_png()
    picture = S.render(drawing)
    start = time.perf_counter()
    result = segmentation.segment(picture, model.reading)
    assert time.perf_counter() - start < 5.0
    assert result.candidates <= segmentation.MAX_CANDIDATES


# ---------------------------------------------------------------- open set


def test_assess_flags_not_a_digit_and_ambiguity() -> None:
    sure = np.eye(10)[4] * 0.98 + 0.002
    assert open_set.assess(sure).verdict is open_set.Verdict.DIGIT
    four_or_nine = np.full(10, 0.005)  # the 9 just inside the prediction set, the 4 above it
    four_or_nine[9] = open_set.SET_THRESHOLD + 0.01
    four_or_nine[4] = 1.0 - four_or_nine[9] - 0.04
    verdict = open_set.assess(four_or_nine)
    assert verdict.verdict is open_set.Verdict.AMBIGUOUS
    assert verdict.candidates[:2] == [4, 9]
    flat = np.full(10, 0.1)
    assert open_set.assess(flat).verdict in (open_set.Verdict.NOT_A_DIGIT, open_set.Verdict.AMBIGUOUS)
    assert open_set.assess(sure, looks_like_a_digit=False).verdict is open_set.Verdict.NOT_A_DIGIT
    # Far from every digit the model learnt: not a digit, however sure; near, or not given: as the probabilities say.
    assert open_set.assess(sure, distance=1.3).verdict is open_set.Verdict.NOT_A_DIGIT
    assert open_set.assess(sure, distance=0.4).verdict is open_set.Verdict.DIGIT
    assert open_set.assess(sure, distance=None).verdict is open_set.Verdict.DIGIT


def test_conformal_threshold_covers_the_calibration_digits() -> None:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(10) * 0.3, 500)
    labels = p.argmax(axis=1)
    q = open_set.conformal_threshold(p, labels, alpha=0.1)
    covered = (p[np.arange(500), labels] >= 1 - q).mean()
    assert covered >= 0.9
