"""Temperature scaling: so that a confidence of 0.9 is right about nine times in ten.

A network trained with cross-entropy on clean MNIST is over-confident on other hands: most of its mistakes on real
handwriting come with a confidence above 0.9. One number, the temperature T, fitted on held-out handwriting that
is never reported as a test, softens (T > 1) the probabilities without changing which digit wins:
``p_i ∝ exp(log p_i / T)``, the same as dividing the logits by T, since the model's softmax output only loses a
per-row constant in the log. A model version carries its T in ``metrics["temperature"]`` (absent = 1).
"""

from __future__ import annotations

import numpy as np

#: Probabilities are clipped to this before the log: a float32 softmax underflows to 0 for hopeless classes.
FLOOR = 1e-12


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Rescale probabilities (N, 10) by ``temperature``; rows still sum to 1 and the argmax does not change."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if temperature == 1.0:
        return probabilities / probabilities.sum(axis=1, keepdims=True)
    # p ** (1/T) = exp(log p / T); no overflow since p <= 1, and the top class (p >= 0.1) keeps the sum away from 0.
    scaled = np.power(np.maximum(probabilities, FLOOR), 1.0 / temperature)
    return scaled / scaled.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    scaled = apply_temperature(probabilities, temperature)
    return float(-np.log(np.clip(scaled[np.arange(len(labels)), labels], FLOOR, 1.0)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray, low: float = 0.25, high: float = 8.0) -> float:
    """The temperature minimising the negative log-likelihood of ``labels`` (a golden-section search on log T)."""
    a, b = np.log(low), np.log(high)
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if negative_log_likelihood(probabilities, labels, np.exp(c)) < negative_log_likelihood(
            probabilities, labels, np.exp(d)
        ):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over ``bins`` equal-width confidence bins, weighted by
    how many predictions fall in each."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(total / max(len(labels), 1))
