"""Temperature scaling: confidence that means what it says, without ever changing the predicted digit."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from recognizer.core.calibration import apply_temperature, expected_calibration_error, fit_temperature
from recognizer.serving import predictions_from


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_temperature_keeps_the_digit_and_sums_to_one() -> None:
    probabilities = softmax(np.random.default_rng(0).normal(0, 4, (200, 10)))
    for temperature in (0.5, 1.0, 1.7, 4.0):
        scaled = apply_temperature(probabilities, temperature)
        assert np.array_equal(scaled.argmax(axis=1), probabilities.argmax(axis=1))
        assert np.allclose(scaled.sum(axis=1), 1.0)
    assert (apply_temperature(probabilities, 2.0).max(axis=1) <= probabilities.max(axis=1) + 1e-12).all()


def test_the_fitted_temperature_undoes_an_over_confident_model() -> None:
    """Labels drawn from softmax(logits); a model reporting softmax(3 * logits) is over-confident by T = 3."""
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 1.5, (20000, 10))
    labels = np.array([rng.choice(10, p=p) for p in softmax(logits)])
    over_confident = softmax(3.0 * logits)
    temperature = fit_temperature(over_confident, labels)
    assert temperature == pytest.approx(3.0, rel=0.05)
    fitted = apply_temperature(over_confident, temperature)
    assert expected_calibration_error(fitted, labels) < 0.02 < expected_calibration_error(over_confident, labels)


def test_serving_applies_the_versions_temperature() -> None:
    probabilities = np.array([[0.9, 0.1] + [0.0] * 8], dtype=np.float32)
    plain = predictions_from(probabilities, version=SimpleNamespace(metrics={}))[0]
    softened = predictions_from(probabilities, version=SimpleNamespace(metrics={"temperature": 2.0}))[0]
    assert plain.digit == softened.digit == 0
    assert plain.confidence == pytest.approx(0.9)
    assert softened.confidence == pytest.approx(3 / 4, abs=1e-4)  # sqrt(0.9) / (sqrt(0.9) + sqrt(0.1))
    assert sum(softened.probabilities) == pytest.approx(1.0)
