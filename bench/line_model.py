"""Would a model that reads the whole line read touching numbers from a picture better than cutting it?

Issue 14 offers two ways to read numbers whose digits touch from the picture alone: over-segmentation with
recognition-scored cuts (what the site does: :mod:`recognizer.core.segmentation`) or a line model trained on
synthetic multi-digit strings. This benchmark builds the second far enough to measure it: a small CRNN (three conv
layers, a bidirectional GRU over the columns, CTC over the ten digits and a blank) trained on strings of 1-4 MNIST
*training* digits pasted side by side, from a few pixels apart to overlapping by a stroke width, then read greedily.
It is measured on exactly the numbers of ``bench.numbers`` (same seed, same digits of MNIST test and other writers,
same placements), so its rows sit beside that table's.

A line model gives the digits, not where each one is: the site would still need the cuts (told the count) to store
each digit as its own correctable drawing. This answers only whether the reading is worth building on.

    python -m bench.line_model --strings 60000 --epochs 6
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Machine, markdown_table, write_result
from bench.numbers import MNIST, Model, sample_numbers
from recognizer.core.preprocessing import ink_map

#: The line model's input: 28 rows (the ink 20 high, as MNIST's digits) by 128 columns (four wide digits).
ROWS, COLUMNS, INK_ROWS = 28, 128, 20
BLANK = 10
MAX_DIGITS = 4


def line_input(ink: np.ndarray) -> np.ndarray:
    """Ink (0-1, any size) as the line model reads it: cropped to the ink, scaled to 20 px high (the width in
    proportion, at most the frame's), placed 4 px from the top and left; uint8."""
    rows, cols = np.flatnonzero(ink.max(axis=1) > 0.1), np.flatnonzero(ink.max(axis=0) > 0.1)
    out = np.zeros((ROWS, COLUMNS), np.uint8)
    if not len(rows):
        return out
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(np.float32)
    scale = INK_ROWS / crop.shape[0]
    width = max(1, min(COLUMNS - 8, round(crop.shape[1] * scale)))
    small = cv2.resize(crop, (width, INK_ROWS), interpolation=cv2.INTER_AREA)
    out[4 : 4 + INK_ROWS, 4 : 4 + width] = np.clip(small * 255, 0, 255).astype(np.uint8)
    return out


def synthetic_string(images: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[int]]:
    """1-4 random MNIST digits side by side, each slid left until its ink touches its neighbour's, then moved by
    -3 to +5 px (overlapping by about a stroke to apart), up or down by up to 3 px; the ink sometimes thickened."""
    count = int(rng.integers(1, MAX_DIGITS + 1))
    canvas = np.zeros((40, 40 * count + 20), np.float32)
    right = np.full(40, -np.inf)  # per row, the rightmost ink column so far
    digits = []
    cursor = 4
    for _ in range(count):
        k = int(rng.integers(len(images)))
        digit = images[k].astype(np.float32) / 255.0
        cols = np.flatnonzero(digit.max(axis=0) > 0.1)
        digit = digit[:, cols[0] : cols[-1] + 1]
        dy = 6 + int(rng.integers(-3, 4))
        placed = np.zeros((40, digit.shape[1]), np.float32)
        placed[dy : dy + 28] = digit
        left = np.array([np.flatnonzero(r > 0.1)[0] if (r > 0.1).any() else np.inf for r in placed])
        both = np.isfinite(left) & np.isfinite(right)
        contact = int((right[both] - left[both]).max()) + 1 if both.any() else cursor
        x = max(0, contact + int(rng.integers(-3, 6)))
        end = min(canvas.shape[1], x + placed.shape[1])
        canvas[:, x:end] = np.maximum(canvas[:, x:end], placed[:, : end - x])
        ink_cols = np.where(placed[:, : end - x] > 0.1, np.arange(x, end)[None, :], -np.inf).max(axis=1)
        right = np.maximum(right, ink_cols)
        cursor = end
        digits.append(int(labels[k]))
    if rng.random() < 0.4:  # a pen thicker than MNIST's, as the page's brush often is
        canvas = cv2.dilate(canvas, np.ones((2, 2), np.uint8))
    return line_input(canvas), digits


def build_model():
    import keras

    layers = keras.layers
    inputs = keras.Input((ROWS, COLUMNS, 1))
    h = layers.Rescaling(1 / 255)(inputs)
    h = layers.MaxPooling2D((2, 2))(layers.Conv2D(32, 3, activation="relu", padding="same")(h))
    h = layers.MaxPooling2D((2, 2))(layers.Conv2D(64, 3, activation="relu", padding="same")(h))
    h = layers.Conv2D(128, 3, activation="relu", padding="same")(h)
    h = layers.MaxPooling2D((ROWS // 4, 1))(h)  # one feature vector per column of 4 px
    h = layers.Reshape((COLUMNS // 4, 128))(h)
    h = layers.Bidirectional(layers.GRU(64, return_sequences=True))(h)
    return keras.Model(inputs, layers.Dense(BLANK + 1)(h))


def ctc_loss(y_true, y_pred):
    from keras import ops

    y_true = ops.cast(y_true, "int32")
    lengths = ops.sum(ops.cast(y_true >= 0, "int32"), axis=1)
    steps = ops.full((ops.shape(y_pred)[0],), ops.shape(y_pred)[1], dtype="int32")
    return ops.ctc_loss(ops.where(y_true >= 0, y_true, 0), y_pred, lengths, steps, mask_index=BLANK)


def decode(logits: np.ndarray) -> list[str]:
    """Greedy CTC: the best class per column, repeats merged, blanks dropped."""
    out = []
    for best in logits.argmax(axis=-1):
        digits, last = [], BLANK
        for c in best:
            if c != last and c != BLANK:
                digits.append(str(int(c)))
            last = c
        out.append("".join(digits))
    return out


def main(argv: list[str] | None = None) -> None:
    import keras

    from training.ml.mnist import load_mnist

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", type=int, default=60_000, help="synthetic training strings")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--numbers", type=int, default=100, help="numbers per source and case, as bench.numbers")
    parser.add_argument("--seed", type=int, default=14, help="bench.numbers' seed")
    args = parser.parse_args(argv)
    machine = Machine()
    keras.utils.set_random_seed(0)
    mnist = load_mnist(MNIST, fetch=False)
    rng = np.random.default_rng(0)
    x, y = [], np.full((args.strings, MAX_DIGITS), -1, np.int32)
    for i in range(args.strings):
        image, digits = synthetic_string(mnist.x_train, mnist.y_train, rng)
        x.append(image)
        y[i, : len(digits)] = digits
    x = np.stack(x)[..., None]
    model = build_model()
    steps = args.epochs * (len(x) // 128 + 1)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)), loss=ctc_loss)
    start = time.perf_counter()
    model.fit(x, y, batch_size=128, epochs=args.epochs, verbose=2)
    train_s = time.perf_counter() - start

    reader = Model()
    rows = []
    for source, case, built in sample_numbers(reader, args.numbers, args.seed):
        truths = [truth for truth, _, _ in built]
        inputs = np.stack([line_input(ink_map(picture)) for _, _, picture in built])
        read = decode(model.predict(inputs[..., None], batch_size=200, verbose=0))
        right = np.mean([a == b for a, b in zip(read, truths, strict=True)])
        rows.append((source, case, f"{right:.1%}"))
        print(source, case, f"{right:.1%}", flush=True)
    write_result(
        "line_model",
        "A line model (CRNN + CTC on synthetic MNIST strings) on bench.numbers' pictures",
        machine,
        [
            f"Command: `python -m bench.line_model --strings {args.strings} --epochs {args.epochs} --numbers "
            f"{args.numbers} --seed {args.seed}`; {model.count_params():,} parameters; trained in {train_s / 60:.1f} "
            "min. The numbers are bench.numbers' (same seed and sample): compare with its picture columns.",
            markdown_table(["digits of", "placed", "whole number read right (line model, greedy CTC)"], rows),
        ],
    )


if __name__ == "__main__":
    main()
