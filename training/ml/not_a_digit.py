"""The not-a-digit detector: a small network beside the digit model that answers "is this a digit at all?".

The digit model's own evidence (its top probability, its distance to the digits it learnt) misses drawings that
look enough like some digit: a heart, a smiley, many letters. Teaching the digit model itself to doubt them (outlier
exposure, ``manage.py finetune --outliers``) cost it other hands' digits (README), so this is a separate binary CNN,
trained on MNIST's training digits and font digits (label 0) against generated non-digits (label 1: letters and
symbols, scribbles, shapes, blobs, doodles, and hearts, stars, houses, faces and crosses of random proportions,
:mod:`training.ml.outliers`), with the classifier's augmentation. Both classes weigh the same.

It reads the same 28x28 input as the digit model (0-255, :func:`recognizer.core.preprocessing.preprocess`) and
outputs one logit, higher for less digit-like; the site reads it through LiteRT and combines it with the digit
model's evidence (:func:`recognizer.core.open_set.assess`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from training.ml import outliers
from training.ml.augment import augment_batch, make_augmenter

#: What the detector learns "not a digit" from: the fine-tune's kinds, every Latin letter not written like a digit,
#: and the doodles people draw most.
KINDS = (*outliers.KINDS, "letter", "sketch")


def training_set(
    digits: np.ndarray, negatives: int, seed: int, kinds: tuple[str, ...] = KINDS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``digits`` (N, 28, 28) and the generated drawings as ``(x, y, weights)``: x float32 0-255 with a channel, y 1
    for not a digit, weights that make both classes weigh half."""
    generated = outliers.generate(negatives, seed=seed, kinds=kinds)
    not_digit = generated.labels == outliers.NOT_A_DIGIT_LABEL
    positives = np.concatenate([digits, generated.images[~not_digit]])
    x = np.concatenate([positives, generated.images[not_digit]]).astype(np.float32)[..., None]
    y = np.concatenate([np.zeros(len(positives)), np.ones(int(not_digit.sum()))]).astype(np.float32)
    weights = np.where(y == 1, 0.5 * len(y) / not_digit.sum(), 0.5 * len(y) / len(positives)).astype(np.float32)
    return x, y, weights


def build() -> keras.Model:
    """Three convolutions and a small dense layer: about 60,000 parameters, far under a millisecond a drawing. It
    takes 0-255 inputs, as the digit model does, so the site hands both the same array."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(1),
        ],
        name="not_a_digit",
    )


def fit(
    digits: np.ndarray, negatives: int, epochs: int, seed: int, kinds: tuple[str, ...] = KINDS, verbose: int = 2
) -> keras.Model:
    """Train the detector (Adam, cosine decay from 2e-3, batches of 128, augmented as the classifier is)."""
    keras.utils.set_random_seed(seed)
    x, y, weights = training_set(digits, negatives, seed + 11, kinds)
    augmenter = make_augmenter(seed=seed)
    data = (
        tf.data.Dataset.from_tensor_slices((x, y, weights))
        .shuffle(len(x), seed=seed)
        .batch(128)
        .map(lambda a, b, c: (augment_batch(augmenter, a), b, c), num_parallel_calls=2)
        .prefetch(2)
    )
    model = build()
    steps = epochs * (len(x) // 128 + 1)
    model.compile(
        keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
        keras.losses.BinaryCrossentropy(from_logits=True),
    )
    model.fit(data, epochs=epochs, verbose=verbose)
    return model
