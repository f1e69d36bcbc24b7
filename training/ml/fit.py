"""Training and fine-tuning loops shared by ``manage.py train``, ``manage.py finetune`` and the Celery task."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import config as tf_config

from recognizer.core.open_set import NOT_A_DIGIT_LABEL
from recognizer.core.preprocessing import preprocess
from training.ml.augment import augment_batch, make_augmenter

ProgressFn = Callable[[float, str], None]


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Within the block, training with ``seed`` is repeatable: the initial weights, the shuffling and the augmentation
    are seeded and TensorFlow's ops run deterministically (its parallel augmentation otherwise draws in thread
    order). None: nothing changes. Determinism is switched off again after, so it does not slow what follows in the
    same process (TensorFlow offers no public switch back; ``disable_op_determinism`` is its own counterpart)."""
    if seed is None:
        yield
        return
    keras.utils.set_random_seed(seed)
    tf_config.enable_op_determinism()
    try:
        yield
    finally:
        tf_config.disable_op_determinism()


def prepare_images(images: np.ndarray) -> np.ndarray:
    """Run raw 28x28 images (MNIST's) through the one serving preprocessing, so training sees what serving sees."""
    return np.stack([preprocess(image) for image in images])


def dense_targets(labels: np.ndarray) -> np.ndarray:
    """Training targets (N, 10) float32 for labels 0-9 or ``NOT_A_DIGIT_LABEL`` (or ``labels`` already (N, 10)
    distributions, passed through): one-hot for a digit, the uniform
    distribution for a drawing that is not a digit. Cross-entropy to the uniform target is outlier exposure
    (Hendrycks et al., 2019, "Deep Anomaly Detection with Outlier Exposure"): the model learns to spread its
    probability on such drawings, and its low top probability is what the open-set rules flag."""
    labels = np.asarray(labels)
    if labels.ndim == 2:  # already distributions (a fine-tune's distilled targets)
        return labels.astype(np.float32)
    targets = np.zeros((len(labels), 10), dtype=np.float32)
    digits = labels != NOT_A_DIGIT_LABEL
    targets[np.flatnonzero(digits), labels[digits].astype(np.int64)] = 1.0
    targets[~digits] = 1.0 / 10
    return targets


@dataclass
class History:
    """Per-epoch loss and accuracy, and the running training figures within epochs (a fine-tune has only one or two
    epochs, too few points for a curve), kept for the training-run curves."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    step_epoch: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_accuracy: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[float]]:
        return {key: list(value) for key, value in self.__dict__.items()}

    def extend(self, later: History) -> None:
        """Append a later ``fit``'s history (a run's closing phase), its step positions counted on from this one's
        epochs, so the run's curves read as one."""
        offset = len(self.loss)
        for key, value in later.__dict__.items():
            getattr(self, key).extend(v + offset if key == "step_epoch" else v for v in value)


class _Progress(keras.callbacks.Callback):
    """Reports the share of training batches done, so a long run shows a moving progress bar."""

    def __init__(self, total_batches: int, report: ProgressFn, every: int = 20) -> None:
        super().__init__()
        self.total, self.report, self.every, self.done = total_batches, report, every, 0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.done += 1
        if self.done % self.every == 0 or self.done == self.total:
            self.report(min(1.0, self.done / self.total), f"batch {self.done}/{self.total}")


class _StepLog(keras.callbacks.Callback):
    """Samples the running loss and accuracy about ``points`` times per epoch into a :class:`History`."""

    def __init__(self, history: History, steps_per_epoch: int, points: int = 25) -> None:
        super().__init__()
        self.history, self.steps, self.epoch = history, steps_per_epoch, 0
        self.every = max(1, steps_per_epoch // points)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if logs and ((batch + 1) % self.every == 0 or batch + 1 == self.steps):
            self.history.step_epoch.append(self.epoch + (batch + 1) / self.steps)
            self.history.step_loss.append(float(logs["loss"]))
            self.history.step_accuracy.append(float(logs["accuracy"]))


def make_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    augment: bool,
    sample_weight: np.ndarray | None = None,
    seed: int = 0,
) -> tf.data.Dataset:
    """A shuffled, batched, optionally augmented ``tf.data`` pipeline over uint8 28x28 images and their labels (0-9
    or ``NOT_A_DIGIT_LABEL``), as :func:`dense_targets`."""
    images = x.astype(np.float32)[..., None]
    targets = dense_targets(y)
    parts = (images, targets) if sample_weight is None else (images, targets, sample_weight)
    ds = tf.data.Dataset.from_tensor_slices(parts).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if augment:
        augmenter = make_augmenter(seed)
        ds = ds.map(lambda img, *rest: (augment_batch(augmenter, img), *rest), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def fit(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    sample_weight: np.ndarray | None = None,
    augment: bool = True,
    progress: ProgressFn | None = None,
    verbose: int = 1,
    decay: Literal["epoch", "optimizer"] = "epoch",
    seed: int = 0,
) -> History:
    """Train ``model`` in place; returns its per-epoch history.

    With ``decay="epoch"`` (training from scratch) the learning rate decays on a cosine per epoch, down to 1%. With
    ``"optimizer"`` the compiled optimiser carries its own schedule: a fine-tune of an epoch or two compiles a Keras
    ``CosineDecay`` over its steps, so it ends annealed rather than stopping at half its rate (a trained model left
    "hot" loses MNIST accuracy it had). ``seed`` sets the shuffling and augmentation (several fine-tunes of one
    soup each see the examples in their own order and shapes).
    """
    train = make_dataset(x, y, batch_size, augment, sample_weight, seed)
    steps = int(np.ceil(len(x) / batch_size))
    history = History()
    callbacks: list[keras.callbacks.Callback] = [_StepLog(history, steps)]
    if progress is not None:
        callbacks.append(_Progress(steps * epochs, progress))
    if decay == "epoch" and epochs > 1:
        base = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        callbacks.append(
            keras.callbacks.LearningRateScheduler(
                lambda epoch: base * 0.5 * (1 + np.cos(np.pi * epoch / epochs)) + base * 0.01
            )
        )
    val = None
    if validation is not None:
        val = (validation[0].astype(np.float32)[..., None], dense_targets(validation[1]))
    result = model.fit(
        train, epochs=epochs, validation_data=val, callbacks=callbacks, verbose=verbose, shuffle=False
    )  # the dataset shuffles itself
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        getattr(history, key).extend(float(v) for v in result.history.get(key, []))
    return history
