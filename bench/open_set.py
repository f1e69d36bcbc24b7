"""That is not a digit, or a 4 or a 9? Measures open-set scores and prediction sets with the shipped model.

    .venv/bin/python -m bench.open_set [--model PATH.tflite] [--name RESULTS]

Real digits: MNIST test and the other writers of ``../shared/handwriting`` (optdigits writer-independent, semeion,
HwD-1000). Calibration (thresholds, conformal quantile), never reported as a test: optdigits' training writers and
2,000 MNIST training digits. Non-digits: :mod:`bench.non_digits` (letters of five DejaVu fonts in three stroke styles,
hearts, stars, houses, scribbles, smileys, crosses).

Scores compared, each thresholded so that 1% of the calibration digits are flagged: the top probability (max
softmax), the energy (log-sum-exp of the logits, read from the .tflite's logits tensor), the Mahalanobis distance of
the penultimate features to the nearest class (shared covariance, fitted on 10,000 MNIST training digits), and each
combined with today's shape rules (:mod:`recognizer.core.uncertainty`). The probabilities are the served ones: scaled
by the model's calibration temperature (its ``metadata.json``), as :func:`recognizer.serving.predictions_from` does:
those are what ``open_set.MIN_TOP_PROBABILITY`` and ``SET_THRESHOLD`` are applied to. The held-out rows and the
per-kind table show the served rule (max softmax + shape) and the probe on fonts and draws of the shapes that neither
the probe nor an outlier-exposed model (``manage.py finetune --outliers``) trained on.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.accuracy import model_temperature  # noqa: E402
from bench.common import Machine, markdown_table, write_result  # noqa: E402
from bench.handwriting_sets import read_optdigits  # noqa: E402
from bench.non_digits import FONTS  # noqa: E402
from bench.numbers import HANDWRITING, MNIST, MODEL, _to_input, other_writers  # noqa: E402
from recognizer.core import open_set, shipped  # noqa: E402
from recognizer.core.calibration import apply_temperature  # noqa: E402
from recognizer.core.classifier import output_indices  # noqa: E402
from recognizer.core.not_a_digit import NotADigitDetector  # noqa: E402
from recognizer.core.preprocessing import preprocess  # noqa: E402
from recognizer.core.uncertainty import Reason, judge_many, measure  # noqa: E402

DETECTOR = shipped.DEFAULT_MODEL_DIR / "not_a_digit.tflite"


class Probe:
    """The model with its inner tensors kept: probabilities, logits and the 128 penultimate features."""

    def __init__(self, path: Path = MODEL) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.temperature = model_temperature(path)
        self.it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
        self.it.allocate_tensors()
        names = {d["name"]: d["index"] for d in self.it.get_tensor_details()}
        self.logits = next(i for n, i in names.items() if "probabilities" in n and "BiasAdd" in n and "MatMul" in n)
        self.features = next(i for n, i in names.items() if "/dense_1/MatMul" in n)
        self.input = self.it.get_input_details()[0]["index"]
        self.output, self.distance = output_indices(self.it)

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        """Served probabilities, logits, penultimate features and the exported distance (None when absent)."""
        probs, logits, feats, far = [], [], [], []
        for start in range(0, len(images), 500):
            batch = images[start : start + 500].reshape(-1, 28, 28, 1).astype(np.float32)
            self.it.resize_tensor_input(self.input, list(batch.shape))
            self.it.allocate_tensors()
            self.it.set_tensor(self.input, batch)
            self.it.invoke()
            probs.append(self.it.get_tensor(self.output).copy())
            logits.append(self.it.get_tensor(self.logits).copy())
            feats.append(self.it.get_tensor(self.features).copy())
            if self.distance is not None:
                far.append(self.it.get_tensor(self.distance).reshape(-1).copy())
        served = apply_temperature(np.concatenate(probs), self.temperature)
        return served, np.concatenate(logits), np.concatenate(feats), np.concatenate(far) if far else None


def shipped_detector() -> NotADigitDetector | None:
    """The not-a-digit detector shipped beside the default model, read through LiteRT as the site reads it; None
    before one is made."""
    return NotADigitDetector.from_file(DETECTOR) if DETECTOR.is_file() else None


def served_flags(
    x: np.ndarray, p: np.ndarray, distances: np.ndarray | None, detector: NotADigitDetector | None
) -> np.ndarray:
    """What the site says "not a digit" to: :func:`recognizer.core.uncertainty.judge` on the served probabilities,
    the model's exported distance and the ``detector``'s logit (None: without a detector)."""
    detectors = None if detector is None else detector.score(x)
    return np.array([j.reason is Reason.NOT_A_DIGIT for j in judge_many(x, p, 0.0, distances, detectors)])


def calibration_digits() -> tuple[np.ndarray, np.ndarray]:
    """optdigits' training writers through the site's preprocessing: real digits never reported as a test."""
    bitmaps, labels = read_optdigits(HANDWRITING / "optdigits-orig.tra")
    return np.stack([_to_input(b, 8) for b in bitmaps]), labels


def main(argv: list[str] | None = None) -> None:
    from bench.non_digits import non_digits
    from training.ml.mnist import load_mnist

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL, help="a .tflite (default: the shipped model)")
    parser.add_argument("--name", default="open_set", help="results file name (default open_set)")
    args = parser.parse_args(argv)
    machine = Machine()
    probe = Probe(args.model)
    detector = shipped_detector()
    mnist = load_mnist(MNIST, fetch=False)
    rng = np.random.default_rng(0)
    train_idx = rng.choice(len(mnist.x_train), 12_000, replace=False)
    fit_x, fit_y = mnist.x_train[train_idx[:10_000]], mnist.y_train[train_idx[:10_000]]
    cal_x, cal_y = calibration_digits()
    cal_x = np.concatenate([cal_x, mnist.x_train[train_idx[10_000:]]])
    cal_y = np.concatenate([cal_y, mnist.y_train[train_idx[10_000:]]])
    other_x, other_y = other_writers()
    things = non_digits(seed=1)
    nd_x = np.stack([preprocess(image) for _, image in things])

    _, _, fit_f, _ = probe(fit_x)
    maha = open_set.fit_mahalanobis(fit_f, fit_y)
    sets = {
        "calibration": (cal_x, cal_y),
        "MNIST test": (mnist.x_test, mnist.y_test),
        "other writers": (other_x, other_y),
    }
    data = {}
    for name, (x, y) in [*sets.items(), ("non-digits", (nd_x, None))]:
        p, logits, f, distances = probe(x)
        shape_ok = np.array([measure(i).looks_like_a_digit for i in x])
        data[name] = {
            "p": p,
            "y": y,
            "shape_bad": ~shape_ok,
            "max softmax": -p.max(axis=1),  # higher = less digit-like, for every score
            "energy": -np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) - logits.max(1),
            "mahalanobis": maha.distance(f),
            "served": served_flags(x, p, distances, detector),
        }
    # A linear probe trained on other non-digits (other fonts, other seeds) and tested on held-out fonts.
    train_fonts, test_fonts = FONTS[:2], FONTS[2:]
    train_nd = np.stack([preprocess(image) for _, image in non_digits(seed=2, per_shape=60, letter_fonts=train_fonts)])
    _, _, train_nd_f, _ = probe(train_nd)
    linear = open_set.fit_probe(fit_f, train_nd_f)
    held = non_digits(seed=3, letter_fonts=test_fonts)
    held_x = np.stack([preprocess(image) for _, image in held])
    held_p, _, held_f, held_distances = probe(held_x)
    held_served = served_flags(held_x, held_p, held_distances, detector)
    held_shape = np.array([not measure(i).looks_like_a_digit for i in held_x])
    for name in sets:
        data[name]["probe"] = linear.score(probe(sets[name][0])[2])
    data["non-digits"]["probe"] = linear.score(probe(nd_x)[2])
    rows = []
    thresholds = {}
    m = data["MNIST test"]
    wrong = m["p"].argmax(1) != m["y"]
    rows.append(
        (
            "**served rule** (shape, top probability, exported distance"
            + (", not-a-digit detector" if detector is not None else "")
            + ": `uncertainty.judge`)",
            f"{data['non-digits']['served'].mean():.1%}",
            f"{m['served'].mean():.2%}",
            f"{data['other writers']['served'].mean():.2%}",
            f"{(wrong & m['served']).sum()}/{wrong.sum()}",
        )
    )
    for score in ("max softmax", "energy", "mahalanobis", "probe"):
        for with_shape in (False, True):
            cal = data["calibration"]
            values = cal[score][~cal["shape_bad"]] if with_shape else cal[score]
            # Flag 1% of the calibration digits in all (the shape rules' own flags included).
            target = 0.01 - (cal["shape_bad"].mean() if with_shape else 0.0)
            threshold = float(np.quantile(values, 1 - max(target, 0.001) * len(cal[score]) / len(values)))
            thresholds[(score, with_shape)] = threshold

            def flagged(d: dict, s: str = score, t: float = threshold, w: bool = with_shape) -> np.ndarray:
                return (d[s] > t) | (d["shape_bad"] if w else False)

            m = data["MNIST test"]
            wrong = m["p"].argmax(1) != m["y"]
            flags_mnist = flagged(m)
            o = data["other writers"]
            nd = flagged(data["non-digits"])
            rows.append(
                (
                    score + (" + shape" if with_shape else ""),
                    f"{nd.mean():.1%}",
                    f"{flags_mnist.mean():.2%}",
                    f"{flagged(o).mean():.2%}",
                    f"{(wrong & flags_mnist).sum()}/{wrong.sum()}",
                )
            )
    # The served rule, max softmax + shape and the probe on the held-out fonts and new draws of the shapes: the
    # probe never trained on them, and neither did an outlier-exposed model (training/ml/outliers.py).
    held_kind = [k for k, _ in held]
    held_scores = {"max softmax + shape": -held_p.max(axis=1), "probe + shape": linear.score(held_f)}
    held_flags = {
        "served rule": held_served,
        **{s: (held_scores[s] > thresholds[(s.removesuffix(" + shape"), True)]) | held_shape for s in held_scores},
    }
    for score, flags in held_flags.items():
        rows.append(
            (
                f"{score}, on held-out fonts ({', '.join(test_fonts)}) and new shapes",
                f"{flags.mean():.1%}",
                "",
                "",
                "",
            )
        )
    table = markdown_table(
        [
            "score (1% of calibration digits flagged)",
            "non-digits flagged",
            "MNIST test flagged",
            "other writers flagged",
            "MNIST errors among flagged",
        ],
        rows,
    )
    kinds = Counter(held_kind)
    per_kind = markdown_table(
        ["non-digit (held out)", "count", *held_flags],
        [
            (
                kind,
                n,
                *(
                    f"{np.mean([f for f, k in zip(flags, held_kind, strict=True) if k == kind]):.0%}"
                    for flags in held_flags.values()
                ),
            )
            for kind, n in kinds.items()
        ],
    )
    # Conformal prediction sets (LAC) on the calibration digits: a set with two or more digits is "ambiguous".
    cal = data["calibration"]
    conformal_rows = []
    for alpha in (0.01, 0.02, 0.05):
        q = open_set.conformal_threshold(cal["p"], cal["y"], alpha)
        for name in ("MNIST test", "other writers"):
            d = data[name]
            member = d["p"] >= 1 - q
            covered = member[np.arange(len(d["y"])), d["y"]].mean()
            size = member.sum(1)
            wrong = d["p"].argmax(1) != d["y"]
            conformal_rows.append(
                (
                    alpha,
                    name,
                    f"{1 - q:.3f}",
                    f"{covered:.2%}",
                    f"{(size >= 2).mean():.2%}",
                    f"{(wrong & (size >= 2)).sum()}/{wrong.sum()}",
                )
            )
    conformal = markdown_table(
        [
            "alpha",
            "digits",
            "a digit is in the set when p ≥",
            "coverage",
            "sets of 2+ (ambiguous)",
            "errors with a 2+ set",
        ],
        conformal_rows,
    )
    write_result(
        args.name,
        "Not a digit, or ambiguous: open-set scores and conformal sets with the shipped model",
        machine,
        [
            f"Model `{args.model.relative_to(ROOT) if args.model.is_relative_to(ROOT) else args.model}`, temperature "
            f"T = {probe.temperature:.3f} (the served probabilities)",
            f"{len(nd_x)} non-digits; calibration {len(cal_x)} digits (optdigits training writers + 2,000 MNIST "
            "train); "
            "thresholds: " + ", ".join(f"{k[0]}{' + shape' if k[1] else ''} {v:.4g}" for k, v in thresholds.items()),
            table,
            "Per kind of held-out non-digit, the served rule, max softmax + shape (the rule before the exported "
            "distance) and the probe:",
            per_kind,
            conformal,
        ],
    )


if __name__ == "__main__":
    main()
