"""A separate "is this a digit?" network beside the classifier: trained, measured, and combined with the served rule.

The served rule (:func:`recognizer.core.uncertainty.judge`: shape rules, top probability and the classifier's exported
distance) flags about half of :mod:`bench.non_digits`' drawings. This benchmark trains a small binary CNN on MNIST's
training digits (and :mod:`training.ml.outliers`' font digits) against that generator's non-digits, augmented as the
classifier is, and measures it alone and combined with the served rule's scores, every rule thresholded so that 1% of
the calibration digits (optdigits training writers, never reported as a test) are flagged: the budget the served
rule has. None of the benchmark's non-digits (DejaVu letters, hearts, stars, houses, smileys, crosses) is generated
for training.

    python -m bench.not_a_digit_detector --negatives 20000 --epochs 4
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Machine, markdown_table, setup_django, write_result

setup_django()

from bench.non_digits import FONTS, non_digits  # noqa: E402
from bench.numbers import MNIST, other_writers  # noqa: E402
from bench.open_set import Probe, calibration_digits, served_flags  # noqa: E402
from recognizer.core.preprocessing import preprocess  # noqa: E402
from recognizer.core.uncertainty import measure  # noqa: E402
from training.ml import outliers  # noqa: E402

FLAG_RATE = 0.01


def train_detector(negatives: int, epochs: int, seed: int, kinds: tuple[str, ...]):
    """A 3-conv binary CNN: logit > 0 means "not a digit". Classes weighted equally; same augmentation as the
    classifier's training (rotation, zoom, shift, stroke thickness)."""
    import keras
    import tensorflow as tf

    from training.ml.augment import augment_batch, make_augmenter
    from training.ml.mnist import load_mnist

    keras.utils.set_random_seed(seed)
    generated = outliers.generate(negatives, seed=seed + 11, kinds=kinds)
    mnist = load_mnist(MNIST, fetch=False)
    not_digit = generated.labels == outliers.NOT_A_DIGIT_LABEL
    digits = np.concatenate([mnist.x_train, generated.images[~not_digit]])
    x = np.concatenate([digits, generated.images[not_digit]]).astype(np.float32)[..., None]
    y = np.concatenate([np.zeros(len(digits)), np.ones(not_digit.sum())]).astype(np.float32)
    weights = np.where(y == 1, 0.5 * len(y) / not_digit.sum(), 0.5 * len(y) / len(digits)).astype(np.float32)
    augmenter = make_augmenter(seed=seed)
    data = (
        tf.data.Dataset.from_tensor_slices((x, y, weights))
        .shuffle(len(x), seed=seed)
        .batch(128)
        .map(lambda a, b, c: (augment_batch(augmenter, a) / 255.0, b, c), num_parallel_calls=2)
        .prefetch(2)
    )
    layers = keras.layers
    inputs = keras.Input((28, 28, 1))
    h = inputs
    for width in (16, 32, 64):
        h = layers.MaxPooling2D()(layers.Conv2D(width, 3, activation="relu", padding="same")(h))
    h = layers.Dropout(0.3)(layers.Dense(64, activation="relu")(layers.Flatten()(h)))
    model = keras.Model(inputs, layers.Dense(1)(h))
    steps = epochs * (len(x) // 128 + 1)
    model.compile(
        keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
        keras.losses.BinaryCrossentropy(from_logits=True),
    )
    model.fit(data, epochs=epochs, verbose=2)
    return model


def main(argv: list[str] | None = None) -> None:
    from training.ml.mnist import load_mnist

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--negatives", type=int, default=20_000, help="generated non-digits to train on")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--kinds", default=",".join(outliers.KINDS), help="non-digit kinds to train on (training.ml.outliers.DRAW)"
    )
    parser.add_argument("--name", default="not_a_digit_detector", help="result file name in bench/results")
    args = parser.parse_args(argv)
    kinds = tuple(args.kinds.split(","))
    machine = Machine()
    detector = train_detector(args.negatives, args.epochs, args.seed, kinds)
    probe = Probe()
    things = non_digits(seed=1)
    held = non_digits(seed=3, letter_fonts=FONTS[2:])
    sets = {
        "calibration": calibration_digits()[0],
        "MNIST test": load_mnist(MNIST, fetch=False).x_test,
        "other writers": other_writers()[0],
        "non-digits": np.stack([preprocess(image) for _, image in things]),
        "held-out non-digits": np.stack([preprocess(image) for _, image in held]),
    }
    scores = {}
    for name, x in sets.items():
        p, _, _, distances = probe(x)
        scores[name] = {
            "served": served_flags(x, p, distances),
            "shape": np.array([not measure(i).looks_like_a_digit for i in x]),
            "top": p.max(axis=1),
            "distance": distances,
            "detector": detector.predict(x[..., None].astype(np.float32) / 255.0, batch_size=1000, verbose=0)[:, 0],
        }

    def combined(s: dict, a: float, b: float) -> np.ndarray:
        """Higher is less like a digit: the log distance weighted ``a``, the detector's logit ``b``, and the
        negative log top probability."""
        return a * np.log(np.maximum(s["distance"], 1e-6)) + b * s["detector"] - np.log(s["top"])

    def flags(a: float, b: float) -> dict[str, np.ndarray]:
        """Shape rules, or the combined score above the threshold that flags FLAG_RATE of calibration digits."""
        cal = scores["calibration"]
        room = FLAG_RATE * len(cal["shape"]) - cal["shape"].sum()
        ok = ~cal["shape"]
        threshold = np.quantile(combined(cal, a, b)[ok], 1 - room / ok.sum())
        return {name: s["shape"] | (combined(s, a, b) > threshold) for name, s in scores.items()}

    rules = {"served rule (shape, top probability, distance)": {n: s["served"] for n, s in scores.items()}}
    detector_alone = np.quantile(scores["calibration"]["detector"], 1 - FLAG_RATE)
    rules["detector alone"] = {n: s["detector"] > detector_alone for n, s in scores.items()}
    for a, b in [(8, 0), (0, 0.5), (4, 0.25), (8, 0.25), (16, 0.25), (16, 0.5)]:
        rules[f"shape + {a} log distance + {b} detector - log top"] = flags(a, b)
    table = markdown_table(
        ["rule (1% of calibration digits flagged)", *sets],
        [(rule, *(f"{f[n].mean():.2%}" for n in sets)) for rule, f in rules.items()],
    )
    kinds = [k for k, _ in things]
    shown = [
        "served rule (shape, top probability, distance)",
        "detector alone",
        "shape + 8 log distance + 0.25 detector - log top",
    ]
    per_kind = markdown_table(
        ["non-digit", "count", *shown],
        [
            (kind, n, *(f"{np.mean(rules[r]['non-digits'][np.array(kinds) == kind]):.0%}" for r in shown))
            for kind, n in Counter(kinds).items()
        ],
    )
    write_result(
        args.name,
        "A separate not-a-digit network, alone and combined with the served rule",
        machine,
        [
            f"Command: `python -m bench.not_a_digit_detector --negatives {args.negatives} --epochs {args.epochs} "
            f"--seed {args.seed} --kinds {args.kinds}`; shipped classifier `digits-v2`",
            table,
            per_kind,
        ],
    )


if __name__ == "__main__":
    main()
