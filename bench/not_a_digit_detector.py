"""The not-a-digit detector beside the classifier: alone, combined with the classifier's evidence, and as served.

The detector (:mod:`training.ml.not_a_digit`, ``manage.py train_not_a_digit``) is a small binary CNN trained on
MNIST's training digits (and font digits) against generated non-digits. This benchmark reads it through LiteRT, as
the site does, on :mod:`bench.non_digits`' drawings and on real digits, alone and combined with the served
classifier's evidence (:func:`recognizer.core.open_set.evidence`: ``a log distance + b logit - log top``) for a grid
of weights, every rule thresholded so that 1% of the calibration digits (optdigits' training writers, never reported
as a test) are flagged with the shape rules. It prints the threshold of the served weights (``open_set.MAX_EVIDENCE``)
and the served rule's figures, before the detector and with it; beside the benchmark's non-digits, the detector's own
kinds drawn afresh (validation: what it learnt, not what it never saw). Other writers' digits are counted pooled and
set by set, since one set's way of making its bitmaps (semeion stretches every digit to fill its square) can carry
the pooled rate. Digits drawn as the page draws them are counted too: the canvas sweep of :mod:`bench.accuracy`
(1,500 MNIST test digits thinned and stroked again at nine brushes, from 1 px to a fat marker), and its thinnest and
thickest brushes apart. MNIST's test digits are read through the site's preprocessing, as :mod:`bench.accuracy` reads
them (until 2026-12-07 as raw arrays, on which digits-v7 makes 47 errors instead of 39), and the results say how many
of the model's errors the flagged digits hold.

The benchmark's non-digits are its own drawings: DejaVu letters (the detector learns Liberation's) and hearts,
stars, houses, smileys and crosses of fixed templates (the detector learns its own of random proportions).

The detector is read with the calibration recorded beside it (:mod:`recognizer.core.not_a_digit`), as the site
reads it; ``--save-calibration`` records the offset that moves the served weights' fitted threshold onto
``MAX_EVIDENCE`` (run it after ``manage.py train_not_a_digit``; the figures printed are those before it).

    python -m bench.not_a_digit_detector                       # the shipped detector
    python -m bench.not_a_digit_detector --detector var/not_a_digit.tflite --save-calibration
    python -m bench.not_a_digit_detector --train --negatives 20000 --epochs 4 --kinds glyph,scribble
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Machine, markdown_table, setup_django, write_result
from bench.handwriting_sets import BRUSHES, mnist_sweep

setup_django()

from django.conf import settings  # noqa: E402

from bench.non_digits import FONTS, non_digits  # noqa: E402
from bench.numbers import MNIST, other_writer_sets  # noqa: E402
from bench.open_set import DETECTOR, Probe, calibration_digits, served_flags  # noqa: E402
from recognizer.core import open_set, shipped  # noqa: E402
from recognizer.core.not_a_digit import NotADigitDetector, save_calibration  # noqa: E402
from recognizer.core.preprocessing import preprocess  # noqa: E402
from recognizer.core.uncertainty import Reason, judge_many, measure  # noqa: E402
from training.ml import not_a_digit, outliers  # noqa: E402
from training.ml.mnist import load_mnist  # noqa: E402

FLAG_RATE = open_set.FLAG_RATE
#: The seed of the detector's own kinds of non-digits drawn afresh (the validation column): one no training uses.
VALIDATION_SEED = 20_261_206
#: The MNIST test digits the canvas sweep draws again at each brush (as many as bench.accuracy's).
SWEEP_DIGITS = 1500
#: (distance weight, detector weight) pairs measured beside the served pair.
WEIGHTS = [(8, 0), (0, 0.5), (4, 0.25), (8, 0.25), (16, 0.25), (8, 0.5), (16, 0.5), (16, 1.0), (32, 0.5)]


def errors_held(
    x: np.ndarray, p: np.ndarray, distances: np.ndarray | None, logits: np.ndarray, labels: np.ndarray
) -> str:
    """Where the model's MNIST test errors are among the served answers (``logits``: the detector's, read once): how
    many the digits called "not a digit" hold, and how many all the answers the page does not give as fact (also "a
    4 or a 9?" and "not sure")."""
    judgements = judge_many(x, p, settings.DIGITS_LOW_CONFIDENCE, distances, logits)
    wrong = p.argmax(axis=1) != labels
    flagged = np.array([j.reason is Reason.NOT_A_DIGIT for j in judgements])
    unsure = np.array([j.uncertain for j in judgements])
    return (
        f"MNIST test, as served: the {flagged.sum()} digits called not a digit hold {(flagged & wrong).sum()} of the "
        f"model's {wrong.sum()} errors; all {unsure.sum()} answers not given as fact (not a digit, two candidates, "
        f"not sure at {settings.DIGITS_LOW_CONFIDENCE:g}) hold {(unsure & wrong).sum()}."
    )


def sweep_sets(x_test: np.ndarray, y_test: np.ndarray) -> dict[str, np.ndarray]:
    """The canvas sweep's drawings, preprocessed: all of them, then those of its thinnest and thickest brushes."""
    sweep = mnist_sweep(x_test, y_test, SWEEP_DIGITS)
    x = np.stack([preprocess(image) for image in sweep.images])
    brush, names = sweep.groups["brush"], list(BRUSHES)
    thinnest, thickest = names[0], names[-1]
    return {"canvas sweep": x, f"sweep, {thinnest}": x[brush == thinnest], f"sweep, {thickest}": x[brush == thickest]}


def trained(recipe: not_a_digit.Recipe, epochs: int, seed: int) -> NotADigitDetector:
    """A detector trained here as ``manage.py train_not_a_digit`` trains one, exported and read through LiteRT."""
    from training.ml.export import save_litert

    model = not_a_digit.fit(load_mnist(MNIST, fetch=False).x_train, recipe, epochs, seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "not_a_digit.tflite"
        save_litert(model, path)
        return NotADigitDetector(path.read_bytes())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", type=Path, default=DETECTOR, help="a detector .tflite (default: the shipped)")
    parser.add_argument("--train", action="store_true", help="train one here instead (the options below)")
    parser.add_argument("--negatives", type=int, default=20_000, help="with --train: generated non-digits")
    parser.add_argument("--epochs", type=int, default=4, help="with --train")
    parser.add_argument("--seed", type=int, default=0, help="with --train")
    parser.add_argument("--kinds", default=",".join(not_a_digit.KINDS), help="with --train: outliers.DRAW's kinds")
    parser.add_argument("--redrawn", type=int, default=0, help="with --train: MNIST digits drawn again as positives")
    parser.add_argument("--bitmaps", type=int, default=0, help="with --train: MNIST digits as small bitmaps")
    parser.add_argument("--styled", type=int, default=0, help="with --train: 1s, 7s and 4s of other styles")
    parser.add_argument(
        "--save-calibration",
        action="store_true",
        help="record in the detector's .json the offset that makes MAX_EVIDENCE its fitted threshold",
    )
    parser.add_argument("--name", default="not_a_digit_detector", help="result file name in bench/results")
    args = parser.parse_args(argv)
    if args.save_calibration and args.train:
        parser.error("--save-calibration calibrates a detector file (--detector), not one trained by --train")
    machine = Machine()
    if args.train:
        recipe = not_a_digit.Recipe(
            args.negatives, tuple(args.kinds.split(",")), args.redrawn, args.bitmaps, args.styled
        )
        detector = trained(recipe, args.epochs, args.seed)
        which = (
            f"trained here: `--train --negatives {args.negatives} --epochs {args.epochs} --seed {args.seed} "
            f"--kinds {args.kinds} --redrawn {args.redrawn} --bitmaps {args.bitmaps} --styled {args.styled}`"
        )
    else:
        detector = NotADigitDetector.from_file(args.detector)
        path = args.detector.resolve()
        which = f"`{path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}`"
    probe = Probe()
    things = non_digits(seed=1)
    held = non_digits(seed=3, letter_fonts=FONTS[2:])
    validation = outliers.generate(2000, seed=VALIDATION_SEED, kinds=not_a_digit.KINDS)
    others = {name: x for name, (x, _) in other_writer_sets().items()}
    mnist = load_mnist(MNIST, fetch=False)
    sets = {
        "calibration": calibration_digits()[0],
        "validation non-digits": validation.images[validation.labels == outliers.NOT_A_DIGIT_LABEL],
        "MNIST test": np.stack([preprocess(image) for image in mnist.x_test]),
        "other writers": np.concatenate(list(others.values())),
        **others,
        **sweep_sets(mnist.x_test, mnist.y_test),
        "non-digits": np.stack([preprocess(image) for _, image in things]),
        "held-out non-digits": np.stack([preprocess(image) for _, image in held]),
    }
    scores = {}
    mnist_errors = ""
    for name, x in sets.items():
        p, _, _, distances = probe(x)
        logits = detector.score(x)
        if name == "MNIST test":
            mnist_errors = errors_held(x, p, distances, logits, mnist.y_test)
        scores[name] = {
            "without": served_flags(x, p, distances, None),
            "served": served_flags(x, p, distances, detector),
            "shape": np.array([not measure(i).looks_like_a_digit for i in x]),
            "top": p.max(axis=1),
            "distance": distances,
            "detector": logits,
        }

    def combined(s: dict, a: float, b: float) -> np.ndarray:
        """:func:`open_set.evidence` of one set's scores with weights ``a`` and ``b``."""
        return open_set.evidence(s["top"], s["distance"], s["detector"], a, b)

    def threshold(a: float, b: float) -> float:
        """The combined score above which, with the shape rules, FLAG_RATE of calibration digits are flagged."""
        cal = scores["calibration"]
        room = FLAG_RATE * len(cal["shape"]) - cal["shape"].sum()
        ok = ~cal["shape"]
        return float(np.quantile(combined(cal, a, b)[ok], 1 - room / ok.sum()))

    rules = {
        "served rule before the detector (shape, top probability, distance)": {
            n: s["without"] for n, s in scores.items()
        },
        "**served rule** (shape + evidence, `uncertainty.judge`)": {n: s["served"] for n, s in scores.items()},
    }
    alone = np.quantile(scores["calibration"]["detector"], 1 - FLAG_RATE)
    rules["detector alone"] = {n: s["detector"] > alone for n, s in scores.items()}
    for a, b in WEIGHTS:
        cut = threshold(a, b)
        rules[f"shape + {a} log distance + {b} detector - log top"] = {
            n: s["shape"] | (combined(s, a, b) > cut) for n, s in scores.items()
        }
    served_cut = threshold(open_set.DISTANCE_WEIGHT, open_set.DETECTOR_WEIGHT)
    print(f"served weights {open_set.DISTANCE_WEIGHT:g}, {open_set.DETECTOR_WEIGHT:g}: threshold {served_cut:.4f}")
    classifier = shipped.metadata()["name"]
    if args.save_calibration:
        offset = detector.offset + open_set.detector_offset(served_cut)
        record = save_calibration(
            args.detector,
            offset,
            {
                "fitted_on": "optdigits-orig.tra, the 1,934 digits of its 30 training writers, with the shape rules",
                "flag_rate": FLAG_RATE,
                "classifier": classifier,
                "threshold_as_trained": round(served_cut - open_set.DETECTOR_WEIGHT * detector.offset, 4),
                "command": "python -m bench.not_a_digit_detector --detector PATH --save-calibration",
            },
        )
        print(f"calibration: logit offset {offset:+.4f} (fitted with {classifier}) recorded in {record}")
    table = markdown_table(
        ["rule (1% of calibration digits flagged)", *sets],
        [(rule, *(f"{f[n].mean():.2%}" for n in sets)) for rule, f in rules.items()],
    )
    kinds = np.array([k for k, _ in things])
    shown = list(rules)[:3]
    per_kind = markdown_table(
        ["non-digit", "count", *shown],
        [
            (kind, n, *(f"{np.mean(rules[r]['non-digits'][kinds == kind]):.0%}" for r in shown))
            for kind, n in Counter(kinds).items()
        ],
    )
    write_result(
        args.name,
        "The not-a-digit detector, alone, combined with the classifier's evidence, and as served",
        machine,
        [
            f"Detector: {which} (calibration offset {detector.offset:+.4f}); classifier "
            f"`{classifier}`. Served weights: distance {open_set.DISTANCE_WEIGHT:g}, "
            f"detector {open_set.DETECTOR_WEIGHT:g}, threshold `MAX_EVIDENCE` {open_set.MAX_EVIDENCE:g} (fitted "
            f"here at the 1% budget: {served_cut:.4f}). Validation non-digits: 2,000 of the detector's own generator "
            f"(`training.ml.outliers`, its kinds, seed {VALIDATION_SEED}, no training's): what it learnt from, drawn "
            "afresh, where the benchmark's non-digits are drawings it never learnt.",
            table,
            mnist_errors,
            per_kind,
        ],
    )


if __name__ == "__main__":
    main()
