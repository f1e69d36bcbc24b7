"""A number split again into as many digits as its person says: how often the right count gives the right number.

    .venv/bin/python -m bench.resplit [--pairs 40]

Synthetic numbers read by the shipped model through LiteRT. From the picture alone
(:func:`recognizer.core.segmentation.resplit`):

* the 100 pairs 00-99 of :func:`bench.drawing.draw_number`, slots 0.4 or 0.45 line heights apart (the inks touch);
* pairs of handwritten digits (:func:`bench.handwriting.touching_pair`: the ordinary 0, 2, 3, 5, 6 and 8, each its own
  size, slant and pen) whose ink boxes touch, or overlap by 8 or 16 px;
* the digits 0-9 drawn 1.2, 1.5 and 2 times wider than high: one digit, which the model may cut in two.

From strokes (:func:`recognizer.core.grouping.regroup`): the 100 pairs of :func:`bench.drawing.digit_strokes`,
slots 0.3 line heights apart (the second digit begins inside the first).

For each set: how often the model's own split has the right count, how often it reads the number right, and how often
the number is read right when told how many digits it has.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Machine, markdown_table, write_result  # noqa: E402
from bench.drawing import digit_strokes, draw_digit, draw_number  # noqa: E402
from bench.handwriting import touching_pair  # noqa: E402
from bench.numbers import Model  # noqa: E402
from recognizer.core import grouping, segmentation  # noqa: E402
from recognizer.core import strokes as S  # noqa: E402
from recognizer.core.preprocessing import preprocess  # noqa: E402

ORDINARY = [0, 2, 3, 5, 6, 8]


def read(images: list[Image.Image], model: Model) -> str:
    return "".join(str(int(d)) for d in model(np.stack([preprocess(i) for i in images])).argmax(axis=1))


def pictures(pairs: int) -> Iterator[tuple[str, str, Image.Image]]:
    """(set, truth, picture) for the picture sets."""
    for spacing in (0.4, 0.45):
        for n in range(100):
            yield f"draw_number pairs, {spacing} apart", f"{n:02d}", draw_number(f"{n:02d}", spacing=spacing)
    for overlap in (0, 8, 16):
        rng = np.random.default_rng(14)
        for _ in range(pairs):
            a, b = (int(d) for d in rng.choice(ORDINARY, 2))
            yield f"handwritten pairs, overlap {overlap} px", f"{a}{b}", touching_pair(a, b, rng, overlap)
    for width in (1.2, 1.5, 2.0):
        for digit in range(10):
            size = (round(280 * width), 280)
            yield f"one digit {width}x as wide as high", str(digit), draw_digit(digit, size, (0.05, 0.1, 0.95, 0.9))


def tally(cases: Iterator[tuple[str, str, object]], own: Callable, told: Callable) -> dict[str, list[int]]:
    """Per set: [cases, own count right, own reading right, reading right when told the count]."""
    counts: dict[str, list[int]] = {}
    for name, truth, case in cases:
        row = counts.setdefault(name, [0, 0, 0, 0])
        got = own(case)
        row[0] += 1
        row[1] += len(got) == len(truth)
        row[2] += got == truth
        with contextlib.suppress(segmentation.CannotSplit):  # counted as wrong
            row[3] += told(case, len(truth)) == truth
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=40, help="handwritten pairs per overlap")
    args = parser.parse_args()
    machine = Machine()
    model = Model()
    scorer = model.picture_reading()  # as the site splits pictures: with the whole-digit verifier
    counts = tally(
        pictures(args.pairs),
        lambda image: read(segmentation.split_number(image, scorer), model),
        lambda image, n: read(segmentation.resplit(image, scorer, n), model),
    )
    render_all = lambda groups: read([S.render(g, crop=True) for g in groups], model)  # noqa: E731
    pairs = (f"{n:02d}" for n in range(100))
    strokes = (("digit_strokes pairs, 0.3 apart", pair, S.parse(digit_strokes(pair, 0.3))) for pair in pairs)
    counts |= tally(
        strokes,
        lambda drawing: render_all(grouping.split_drawing(drawing, model.reading, preprocess)),
        lambda drawing, n: render_all(grouping.regroup(drawing, n, model.reading, preprocess)),
    )
    share = lambda part, total: f"{part} ({part / total:.0%})"  # noqa: E731
    rows = [
        (name, total, share(count, total), share(right, total), share(told, total))
        for name, (total, count, right, told) in counts.items()
    ]
    table = markdown_table(["set", "numbers", "own count right", "own reading right", "told the count: right"], rows)
    title = "Numbers read again when told how many digits they have"
    write_result("resplit", title, machine, [__doc__.split("\n\n", 2)[2].strip(), table])


if __name__ == "__main__":
    main()
