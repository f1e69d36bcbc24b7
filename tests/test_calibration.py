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


def test_the_benchmark_saves_a_fitted_temperature_beside_the_model_it_describes(tmp_path) -> None:
    """``bench.accuracy --fit-temperature --save-temperature`` is how the shipped model gets its T: the metadata
    beside the ``.tflite`` takes T and its MNIST confidence quantiles at T (the drift reference must describe what
    is served); metadata of another model is refused, not overwritten."""
    import json

    from bench.accuracy import model_temperature, save_temperature
    from recognizer.core import shipped

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "metadata.json").write_text((shipped.DEFAULT_MODEL_DIR / "metadata.json").read_text())
    model = folder / shipped.metadata()["tflite_file"]
    probabilities = softmax(np.random.default_rng(2).normal(0, 3, (500, 10)))
    save_temperature(model, 0.5, probabilities)
    metrics = json.loads((folder / "metadata.json").read_text())["metrics"]
    assert model_temperature(model) == metrics["temperature"] == 0.5
    quantiles = metrics["confidence_quantiles"]
    assert quantiles["temperature"] == 0.5
    assert quantiles["count"] == 500
    sharpened = apply_temperature(probabilities, 0.5).max(axis=1)
    assert quantiles["values"][len(quantiles["values"]) // 2] == pytest.approx(np.median(sharpened), abs=0.02)
    with pytest.raises(SystemExit):
        save_temperature(folder / "another.tflite", 0.5, probabilities)
