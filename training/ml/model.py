"""The Keras CNN that reads one 28x28 digit.

Small enough to train to 99.5% on two CPU cores in minutes and to serve in well under a millisecond with LiteRT,
big enough to reach that accuracy with augmentation: two convolution blocks and two 128-filter convolutions at 7x7,
with batch normalisation (momentum 0.9, so short fine-tunes and small test runs settle their statistics), then a
global-pooling head with one hidden layer, which keeps the parameter count, and the committed artifact, small.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

#: Momentum of the weights' exponential moving average (``ema``): an average over about the last 1,000 steps, two
#: epochs of MNIST at batch 128. Meant for full runs: over a few dozen steps the average is mostly the start.
EMA_MOMENTUM = 0.999


def build_model(learning_rate: float = 2e-3, label_smoothing: float = 0.0, ema: bool = False) -> keras.Model:
    """A fresh, compiled CNN: uint8-range 28x28x1 input, softmax over the ten digits; ``label_smoothing`` and ``ema``
    as :func:`compile_model`."""
    inputs = keras.Input(shape=(28, 28, 1), name="digit")
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    for filters in (32, 64):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
        x = layers.Dropout(0.1)(x)
    for _ in range(2):
        x = layers.Conv2D(128, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(128, use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(10, activation="softmax", name="probabilities")(x)
    model = keras.Model(inputs, outputs, name="digits_cnn")
    compile_model(model, learning_rate, label_smoothing, ema)
    return model


def compile_model(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    label_smoothing: float = 0.0,
    ema: bool = False,
) -> None:
    """(Re)compile with the optimiser and loss used for both training from scratch and fine-tuning.

    A from-scratch run may smooth its targets (``label_smoothing``, a share of each target spread over the ten digits)
    and train with an exponential moving average of the weights (``ema``; Keras swaps the average in when ``fit``
    ends): two runs of 24 epochs with both (0.1, EMA) read MNIST test at 99.75% and 99.68% (README, "Training").

    The targets are dense distributions over the ten digits (:func:`training.ml.fit.dense_targets`): one-hot for a
    digit, which makes the loss the same as sparse cross-entropy on its label, and uniform for a drawing people said
    is not a digit (outlier exposure).
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, use_ema=ema, ema_momentum=EMA_MOMENTUM),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=[DigitAccuracy()],
    )


def compile_annealed(
    model: keras.Model, rate: float, samples: int, batch_size: int, epochs: int, label_smoothing: float = 0.0
) -> None:
    """Compile for a fine-tune that ends annealed: a cosine from ``rate`` to zero over its ``epochs`` of ``samples``
    (fit it with ``decay="optimizer"``). A trained model left at half its rate loses MNIST accuracy it had."""
    steps = math.ceil(samples / batch_size) * epochs
    compile_model(model, keras.optimizers.schedules.CosineDecay(rate, decay_steps=steps), label_smoothing)


@keras.saving.register_keras_serializable(package="digits")
class DigitAccuracy(keras.metrics.Metric):
    """Accuracy over the examples whose target is a digit: a not-a-digit example (a uniform target) has no right
    answer, and Keras' own accuracy would count it right whenever the model said 0 (the uniform target's argmax)."""

    def __init__(self, name: str = "accuracy", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.right = self.add_variable(shape=(), initializer="zeros", name="right")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        is_digit = ops.cast(ops.max(y_true, axis=-1) > 0.5, "float32")
        hit = ops.cast(ops.argmax(y_true, axis=-1) == ops.argmax(y_pred, axis=-1), "float32")
        self.right.assign_add(ops.sum(hit * is_digit))
        self.total.assign_add(ops.sum(is_digit))

    def result(self):
        return ops.divide_no_nan(self.right, self.total)

    def reset_state(self) -> None:
        self.right.assign(0.0)
        self.total.assign(0.0)
