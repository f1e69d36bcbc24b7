"""Export a trained Keras model as the two artifacts a version keeps: ``.keras`` (to fine-tune) and ``.tflite``.

The ``.tflite`` answers two things: the probabilities, and how far the drawing's penultimate features lie from the
digits the model learnt (the Mahalanobis distance to the nearest class mean, with a covariance shared by the classes).
A letter, a heart or a house can get a confident softmax, but its features lie far from every digit's: measured in
``bench/open_set.py``, thresholding the distance flags about twice the non-digits that the top probability does for
the same share of real digits flagged. The distance is fitted on MNIST training digits at export, so every version
(trained or fine-tuned) carries its own, and scaled so that 1 is the ``FAR_QUANTILE`` of held-out digits: the
serving rule (:mod:`recognizer.core.open_set`) needs no per-version setting.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras
import numpy as np
from keras import ops

from recognizer.core.open_set import fit_mahalanobis

#: The share of held-out MNIST training digits whose distance is at most 1.
FAR_QUANTILE = 0.998
#: At most this many training digits fit the distance (10,000 fit it, 2,000 set its scale: a few seconds).
DISTANCE_DIGITS = 12_000
#: The share of the digits given to :func:`export_artifacts` that fits the class means and covariance; the rest sets
#: the scale.
FIT_SHARE = 0.8


class DigitDistance(keras.layers.Layer):
    """The Mahalanobis distance of features to the nearest class mean, divided by ``scale``.

    With the precision matrix factored as ``L Lᵀ``, the squared distance to mean ``m`` is ``|f L - m L|²``: one
    matrix product and a squared Euclidean distance, which LiteRT runs as plain ops.
    """

    def __init__(self, means: np.ndarray, precision: np.ndarray, scale: float, **kwargs) -> None:
        super().__init__(**kwargs)
        factor = np.linalg.cholesky(precision).astype(np.float32)
        centres = (means @ factor).astype(np.float32)
        self.factor = self.add_weight(
            shape=factor.shape, initializer=keras.initializers.Constant(factor), trainable=False, name="factor"
        )
        self.centres = self.add_weight(
            shape=centres.T.shape, initializer=keras.initializers.Constant(centres.T), trainable=False, name="centres"
        )
        self.centre_norms = self.add_weight(
            shape=(len(centres),),
            initializer=keras.initializers.Constant((centres**2).sum(axis=1)),
            trainable=False,
            name="centre_norms",
        )
        self.scale = float(scale)

    def call(self, features):
        z = ops.matmul(features, self.factor)
        squared = ops.sum(z * z, axis=-1, keepdims=True) - 2.0 * ops.matmul(z, self.centres) + self.centre_norms
        return ops.sqrt(ops.maximum(ops.min(squared, axis=-1, keepdims=True), 0.0)) / self.scale


def with_distance(model: keras.Model, x: np.ndarray, y: np.ndarray) -> keras.Model:
    """``model`` with a second output, :class:`DigitDistance`, fitted on the first ``DISTANCE_DIGITS`` of digits ``x``
    (prepared, as the model trains on them; in random order) with labels ``y`` (0-9, every digit present)."""
    features = model.get_layer("probabilities").input
    x, labels = x[:DISTANCE_DIGITS], np.asarray(y)[:DISTANCE_DIGITS]
    extracted = keras.Model(model.inputs, features).predict(x, batch_size=500, verbose=0).astype(np.float64)
    fit = int(FIT_SHARE * len(labels))
    if len(set(labels[:fit].tolist())) < 10 or fit == len(labels):
        raise ValueError("the distance needs digits of all ten classes, some of them held out")
    mahalanobis = fit_mahalanobis(extracted[:fit], labels[:fit])
    scale = float(np.quantile(mahalanobis.distance(extracted[fit:]), FAR_QUANTILE))
    distance = DigitDistance(mahalanobis.means, mahalanobis.precision, scale, name="distance")
    return keras.Model(model.inputs, [model.output, distance(features)], name=f"{model.name}_served")


def export_artifacts(
    model: keras.Model, out_dir: Path, stem: str, digits: tuple[np.ndarray, np.ndarray]
) -> tuple[Path, Path]:
    """Write ``<stem>.keras`` (the classifier alone) and ``<stem>.tflite`` (with the distance fitted on ``digits``,
    MNIST training images and labels) into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keras_path = out_dir / f"{stem}.keras"
    tflite_path = out_dir / f"{stem}.tflite"
    model.save(keras_path)
    with tempfile.TemporaryDirectory() as tmp:
        exported = Path(tmp) / "model.tflite"
        with_distance(model, *digits).export(str(exported), format="litert", verbose=False)
        tflite_path.write_bytes(exported.read_bytes())
    return keras_path, tflite_path


def save_litert(model: keras.Model, path: Path) -> None:
    """A side model beside the digit model (the whole-digit verifier, the not-a-digit detector) as the ``.tflite``
    the site reads through LiteRT: the web processes never load TensorFlow."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model.export(str(path), format="litert", verbose=False)
