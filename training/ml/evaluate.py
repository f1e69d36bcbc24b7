"""Evaluate an exported ``.tflite`` artifact, the very file web processes serve, on labelled 28x28 inputs."""

from __future__ import annotations

import os

import numpy as np

from recognizer.core.calibration import apply_temperature
from recognizer.core.classifier import Classifier
from recognizer.core.drift import confidence_quantiles
from recognizer.core.uncertainty import Reason, judge_many


def confusion(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """10x10 counts: rows are true digits, columns predicted digits."""
    matrix = np.zeros((10, 10), dtype=np.int64)
    np.add.at(matrix, (y_true.astype(np.int64), y_pred.astype(np.int64)), 1)
    return matrix


def metrics_from_predictions(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[dict, list[list[int]]]:
    """Accuracy, per-digit accuracy and the confusion matrix (as lists, ready for JSON)."""
    matrix = confusion(y_true, y_pred)
    totals = matrix.sum(axis=1)
    per_digit = {str(d): (float(matrix[d, d] / totals[d]) if totals[d] else None) for d in range(10)}
    accuracy = float((y_true == y_pred).mean()) if len(y_true) else None
    return {"accuracy": accuracy, "count": len(y_true), "per_digit_accuracy": per_digit}, matrix.tolist()


def evaluate_tflite(
    model_content: bytes, x: np.ndarray, y: np.ndarray, with_probabilities: bool = False
) -> tuple[dict, list[list[int]]]:
    """Run the LiteRT model over ``x`` (N, 28, 28) uint8 and score it against labels ``y`` (with
    ``with_probabilities``, the metrics also carry the (N, 10) ``probabilities`` and the (N,) ``distances``, None
    when the artifact gives none: not for JSON)."""
    if len(x) == 0:
        metrics, matrix = metrics_from_predictions(y, y)
        probabilities, distances = np.zeros((0, 10)), None
    else:
        probabilities, distances = Classifier(model_content, num_threads=os.cpu_count() or 1).read_many(x)
        metrics, matrix = metrics_from_predictions(np.asarray(y), probabilities.argmax(axis=1))
    if with_probabilities:
        metrics.update(probabilities=probabilities, distances=distances)
    return metrics, matrix


def mnist_test_metrics(
    model_content: bytes,
    x_test: np.ndarray,
    y_test: np.ndarray,
    temperature: float = 1.0,
    detectors: np.ndarray | None = None,
) -> tuple[dict, list[list[int]]]:
    """A version's MNIST figures, as stored in its ``metrics``: test accuracy, count, per-digit accuracy, and the
    quantiles of its confidence at the calibration ``temperature`` it will serve with (the dashboard's drift
    reference when the version has served too few drawings: :mod:`recognizer.core.drift`). With the not-a-digit
    detector's logits of ``x_test`` (``detectors``), also the share of these real digits the site would answer
    "not a digit" (``mnist_test_flagged``: the feedback loop's gate keeps it from rising)."""
    metrics, matrix = evaluate_tflite(model_content, x_test, y_test, with_probabilities=True)
    figures = {
        "mnist_test_accuracy": metrics["accuracy"],
        "mnist_test_count": metrics["count"],
        "per_digit_accuracy": metrics["per_digit_accuracy"],
    }
    if metrics["count"]:
        confidences = apply_temperature(metrics["probabilities"], temperature).max(axis=1)
        figures["confidence_quantiles"] = {
            "values": confidence_quantiles(confidences),
            "count": metrics["count"],
            "temperature": temperature,
        }
        if detectors is not None:
            served = apply_temperature(metrics["probabilities"], temperature)
            judged = judge_many(x_test, served, 0.0, metrics["distances"], detectors)
            figures["mnist_test_flagged"] = float(np.mean([j.reason is Reason.NOT_A_DIGIT for j in judged]))
    return figures, matrix


def not_a_digit_metrics(
    model_content: bytes, x: np.ndarray, temperature: float, low_confidence: float, detectors: np.ndarray | None = None
) -> dict:
    """How a model answers drawings people said are not a digit, as the product would show it (at the served
    ``temperature``, with the not-a-digit detector's logits ``detectors`` when there is one, judged by
    :func:`recognizer.core.uncertainty.judge`): the share it flags as not a digit, the share it presents as
    uncertain for any reason, and its mean top probability."""
    if len(x) == 0:
        return {"count": 0, "flagged": None, "uncertain": None, "top_probability": None}
    probabilities, distances = Classifier(model_content, num_threads=os.cpu_count() or 1).read_many(x)
    probabilities = apply_temperature(probabilities, temperature)
    judged = judge_many(x, probabilities, low_confidence, distances, detectors)
    return {
        "count": len(x),
        "flagged": float(np.mean([j.reason is Reason.NOT_A_DIGIT for j in judged])),
        "uncertain": float(np.mean([j.uncertain for j in judged])),
        "top_probability": float(probabilities.max(axis=1).mean()),
    }
