"""Whole numbers read right: digits apart, close, touching and overlapping, from the picture alone and from strokes.

    .venv/bin/python -m bench.numbers [--numbers 150] [--skip-split-digits]

Numbers of 2 to 4 digits are built from real handwritten digits that no model here trained on: MNIST test, and the
other writers of ``../shared/handwriting`` (optdigits writer-independent, semeion, HwD-1000). Each digit is traced
into pen strokes (skeleton, :mod:`training.ml.pen_strokes`) and written into a number apart, close, touching or
overlapping as :mod:`training.ml.synthetic_numbers` says. Only digits the model reads right alone (traced and rendered)
are used, so a number read wrong is the splitting's error. Read:

* from the picture alone (what the page's canvas uploads): today's ``split_digits`` and the recognition-scored
  segmentation of :mod:`recognizer.core.segmentation`;
* from the strokes: :mod:`recognizer.core.grouping`, each group rendered with :func:`recognizer.core.strokes.render`.

Also: the cost of the 80-stroke picture (a 22 KB PNG scribbled across a number canvas) for both splitters, and the
non-digit figures of :mod:`bench.open_set`'s chosen rule when its results exist.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Machine, markdown_table, pyplot, write_result  # noqa: E402
from bench.handwriting_sets import read_optdigits, read_semeion  # noqa: E402
from recognizer.core import grouping, segmentation, shipped, whole_digit  # noqa: E402
from recognizer.core import strokes as S  # noqa: E402
from recognizer.core.preprocessing import preprocess, split_digits  # noqa: E402
from training.ml.pen_strokes import digit_strokes  # noqa: E402
from training.ml.synthetic_numbers import CASES, compose  # noqa: E402

MODEL = shipped.model_file()
WHOLE_DIGIT = shipped.DEFAULT_MODEL_DIR / "whole_digit.tflite"
HANDWRITING = ROOT.parent / "shared" / "handwriting"
MNIST = ROOT.parent / "shared" / "mnist"


class Model:
    """The shipped model through LiteRT (the site's own classifier), as a scorer: (N, 28, 28) uint8 → (N, 10)
    probabilities."""

    def __init__(self, path: Path = MODEL) -> None:
        from recognizer.core.classifier import Classifier

        self.classifier = Classifier(path.read_bytes())

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self.classifier.predict_many(images, batch_size=256)

    def reading(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities and distances to the digits the model learnt: what the site's stroke grouping is given
        (``recognizer.predictions``), a :data:`recognizer.core.segmentation.Scorer`."""
        return self.classifier.read_many(images, batch_size=256)

    def picture_reading(self, verifier: Path | None = WHOLE_DIGIT) -> segmentation.Scorer:
        """What the site's splitting of a picture is given: :meth:`reading` weighed by the shipped whole-digit
        verifier (``recognizer.predictions._picture_reader``), or :meth:`reading` alone without one."""
        if verifier is None or not verifier.exists():
            return self.reading
        return whole_digit.weighed(self.reading, whole_digit.WholeDigit(verifier.read_bytes()))


# ---------------------------------------------------------------- real digits


def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    from training.ml.mnist import load_mnist

    data = load_mnist(MNIST, fetch=False)
    return data.x_test, data.y_test


def other_writer_sets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each of the other writers' sets (optdigits writer-independent, semeion, HwD-1000) through the site's
    preprocessing to 28x28, by name: a rate on the pooled set can hide one set's own way of making its bitmaps."""
    optdigits, optdigits_labels = read_optdigits(HANDWRITING / "optdigits-orig.windep")
    semeion, semeion_labels = read_semeion(HANDWRITING / "semeion.data")
    hwd, hwd_labels = [], []
    with (HANDWRITING / "hwd-1000" / "dataset.csv").open() as f:
        for row in csv.DictReader(f):
            hwd.append(preprocess(Image.open(HANDWRITING / "hwd-1000" / row["image"]).convert("L")))
            hwd_labels.append(int(row["label"]))
    return {
        "optdigits other writers": (np.stack([_to_input(b, 8) for b in optdigits]), optdigits_labels),
        "semeion": (np.stack([_to_input(b, 12) for b in semeion]), semeion_labels),
        "HwD-1000": (np.stack(hwd), np.array(hwd_labels)),
    }


def other_writers() -> tuple[np.ndarray, np.ndarray]:
    """:func:`other_writer_sets` pooled, in that order."""
    sets = other_writer_sets().values()
    return np.concatenate([x for x, _ in sets]), np.concatenate([y for _, y in sets])


def _to_input(bitmap: np.ndarray, factor: int) -> np.ndarray:
    big = Image.fromarray((255 - bitmap * 255).astype(np.uint8)).resize(
        (bitmap.shape[1] * factor, bitmap.shape[0] * factor), Image.Resampling.BILINEAR
    )
    return preprocess(big)


# ---------------------------------------------------------------- numbers


def usable_digits(
    images: np.ndarray,
    labels: np.ndarray,
    model: Model,
    rng: np.random.Generator,
    count: int,
    also: Sequence[Model] = (),
) -> tuple[dict[int, list[np.ndarray]], np.ndarray]:
    """Trace ``count`` random digits into strokes and keep those the model (and every model in ``also``) reads right
    alone, as strokes rendered with the page's brush at the size they have in a number: a number's error is then the
    splitting's, never the reading of a digit. Which digits those are depends on the model, so two models' figures
    compare only on the digits both read right (``also``)."""
    traced = {}
    for k in rng.choice(len(images), size=min(count, len(images)), replace=False):
        strokes = digit_strokes(images[k])
        if strokes:
            traced[int(k)] = strokes
    keys = np.array(sorted(traced))
    # Each alone as it will be in a number: the same frame and brush (a thicker brush than on a digit's own canvas).
    inputs = np.stack([preprocess(compose([traced[k]], "apart", rng)[1]) for k in keys])
    right = np.logical_and.reduce([m(inputs).argmax(axis=1) == labels[keys] for m in (model, *also)])
    return traced, keys[right]


def written_pairs(
    images: np.ndarray, labels: np.ndarray, model: Model, count: int, seed: int, case: str
) -> list[tuple[str, Image.Image]]:
    """``count`` pairs of real digits written as ``case`` says (touching, overlapping...), with their truth: digits
    the model reads right alone, so a pair read wrong is the splitting's error (the tests' small samples)."""
    rng = np.random.default_rng(seed)
    traced, pool = usable_digits(images, labels, model, rng, 300)
    pairs = []
    for _ in range(count):
        pick = rng.choice(pool, size=2, replace=False)
        truth = "".join(str(int(labels[k])) for k in pick)
        pairs.append((truth, compose([traced[int(k)] for k in pick], case, rng)[1]))
    return pairs


def sample_numbers(
    model: Model, numbers: int, seed: int, also: Sequence[Model] = ()
) -> Iterator[tuple[str, str, list[tuple[str, S.Drawing, Image.Image]]]]:
    """The benchmark's numbers: for each source and case, ``numbers`` numbers of 2-4 usable digits as ``(truth,
    drawing, picture)``. The same ``seed`` gives the same digits in every case and in every benchmark that reads
    numbers (:mod:`bench.segment_verifier`, :mod:`bench.line_model`), so their figures compare."""
    for source, load in (("MNIST test", mnist_test), ("other writers", other_writers)):
        images, labels = load()
        rng = np.random.default_rng(seed)
        traced, pool = usable_digits(images, labels, model, rng, 8 * numbers, also)
        picks = [rng.choice(pool, size=rng.integers(2, 5), replace=False) for _ in range(numbers)]
        for case in CASES:
            case_rng = np.random.default_rng(seed + 1)
            built = []
            for pick in picks:
                drawing, picture = compose([traced[int(k)] for k in pick], case, case_rng)
                built.append(("".join(str(int(labels[k])) for k in pick), drawing, picture))
            yield source, case, built


def read_number(images: list[Image.Image], model: Model) -> str:
    if not images:
        return ""
    probabilities = model(np.stack([preprocess(i) for i in images]))
    return "".join(str(int(d)) for d in probabilities.argmax(axis=1))


def scribble_png(strokes: int = 80, seed: int = 0) -> tuple[bytes, S.Drawing]:
    """80 random strokes across a number canvas, as the page would send them (the costly case of the issue)."""
    rng = np.random.default_rng(seed)
    lines, t = [], 0.0
    for _ in range(strokes):
        start = rng.uniform([0.05, 0.1], [0.95, 0.9])
        points = (start + np.cumsum(rng.normal(0, 0.03, (12, 2)), axis=0)).clip(0, 1)
        lines.append([[float(x), float(y), t + 8 * k] for k, (x, y) in enumerate(points)])
        t += 8 * len(points) + 120
    drawing = S.from_points(lines, aspect=2.0, pointer="touch")
    buffer = io.BytesIO()
    S.render(drawing).save(buffer, format="PNG")
    return buffer.getvalue(), drawing


# ---------------------------------------------------------------- the run


def run(numbers: int, with_split_digits: bool, seed: int = 14, verifier: Path | None = WHOLE_DIGIT) -> dict:
    model = Model()
    picture_scorer = model.picture_reading(verifier)
    results: dict = {}
    for source, case, built in sample_numbers(model, numbers, seed):
        counts = {"split_digits": 0, "segmentation": 0, "strokes": 0}
        times = {"split_digits": [], "segmentation": [], "strokes": []}
        for truth, drawing, picture in built:
            if with_split_digits:
                start = time.perf_counter()
                got = read_number(split_digits(picture), model)
                times["split_digits"].append(time.perf_counter() - start)
                counts["split_digits"] += got == truth
            start = time.perf_counter()
            try:
                got = read_number(segmentation.split_number(picture, picture_scorer), model)
            except segmentation.TooManyDigits:
                got = ""
            times["segmentation"].append(time.perf_counter() - start)
            counts["segmentation"] += got == truth
            start = time.perf_counter()
            groups = grouping.split_drawing(drawing, model.reading, preprocess)
            got = read_number([S.render(d) for d in groups], model)
            times["strokes"].append(time.perf_counter() - start)
            counts["strokes"] += got == truth
        results[(source, case)] = {
            k: (counts[k] / len(built), float(np.median(times[k])) * 1000 if times[k] else float("nan")) for k in counts
        }
        print(source, case, results[(source, case)], flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=150, help="numbers per source (each read in every case)")
    parser.add_argument("--skip-split-digits", action="store_true", help="do not measure today's split_digits")
    parser.add_argument("--seed", type=int, default=14, help="which numbers (the same digits and places per seed)")
    parser.add_argument(
        "--no-verifier", action="store_true", help="cut pictures by the digit model alone (no whole-digit verifier)"
    )
    parser.add_argument("--name", default="numbers", help="results file name (default numbers)")
    args = parser.parse_args()
    verifier = None if args.no_verifier else WHOLE_DIGIT
    machine = Machine()
    results = run(args.numbers, not args.skip_split_digits, args.seed, verifier)

    rows = []
    for (source, case), r in results.items():
        rows.append(
            (
                source,
                case,
                f"{r['split_digits'][0]:.1%}" if not args.skip_split_digits else "-",
                f"{r['segmentation'][0]:.1%}",
                f"{r['strokes'][0]:.1%}",
                f"{r['segmentation'][1]:.0f}",
            )
        )
    table = markdown_table(
        ["digits of", "placed", "picture: split_digits", "picture: segmentation", "strokes: grouping", "ms (seg.)"],
        rows,
    )

    model = Model()
    png, drawing = scribble_png()
    from PIL import Image as _Image

    picture = _Image.open(io.BytesIO(png))
    cost = []
    for name, fn in (
        ("split_digits", lambda: split_digits(picture)),
        ("segmentation", lambda: segmentation.split_number(picture, model.picture_reading(verifier))),
        (
            "strokes (grouping + render)",
            lambda: [S.render(d) for d in grouping.split_drawing(drawing, model.reading, preprocess)],
        ),
    ):
        if name == "split_digits" and args.skip_split_digits:
            continue
        start = time.perf_counter()
        try:
            pieces = len(fn())
        except segmentation.TooManyDigits:
            pieces = "refused"
        cost.append((name, f"{(time.perf_counter() - start) * 1000:.0f}", pieces))
    cost_table = markdown_table(["80-stroke picture", "ms", "digits"], cost)

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, source in zip(axes, ("MNIST test", "other writers"), strict=True):
        x = np.arange(len(CASES))
        for k, (key, label) in enumerate(
            (
                ("split_digits", "picture: split_digits"),
                ("segmentation", "picture: segmentation"),
                ("strokes", "strokes"),
            )
        ):
            ax.bar(x + (k - 1) * 0.27, [results[(source, c)][key][0] * 100 for c in CASES], 0.27, label=label)
        ax.set_xticks(x, list(CASES))
        ax.set_title(source)
        ax.set_ylim(0, 100)
    axes[0].set_ylabel("whole numbers read right (%)")
    axes[0].legend(loc="lower left", fontsize=8)
    cuts = "the digit model and the whole-digit verifier" if verifier else "the digit model alone (--no-verifier)"
    write_result(
        args.name,
        "Numbers: whole numbers read right, by how close the digits are",
        machine,
        [
            f"{args.numbers} numbers of 2-4 digits per source (the same digits in every case, seed {args.seed}), "
            f"{len(png):,} B picture of 80 strokes for the cost. The picture's cuts are scored by {cuts}.",
            table,
            cost_table,
        ],
        fig,
    )


if __name__ == "__main__":
    main()
