"""Serving the active model in web processes with LiteRT, and swapping it when another version is activated.

Web processes never import TensorFlow: they load the active version's ``.tflite`` with ``ai-edge-litert`` once, and
at most every ``DIGITS_MODEL_REFRESH_SECONDS`` check (one indexed query) whether another version became active. A
prediction is computed and labelled by the same :class:`LoadedModel` object, so a response's ``model_version`` is
always the model that computed it, even while a swap happens in another thread.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from django.conf import settings

from recognizer.calibration import apply_temperature

if TYPE_CHECKING:
    from recognizer.models import ModelVersion


class ModelUnavailable(RuntimeError):
    """No model version is active, or its artifact cannot be loaded."""


class Classifier:
    """A LiteRT interpreter over one ``.tflite`` model, safe to call from several threads.

    Web processes use one thread per interpreter (they serve requests in parallel instead); evaluation, which scores
    10,000 images in a worker, may use more.
    """

    def __init__(self, model_content: bytes, num_threads: int = 1) -> None:
        try:
            self._interpreter = Interpreter(model_content=model_content, num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelUnavailable(f"the model artifact cannot be loaded: {exc}") from exc
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._batch = 1
        self._lock = threading.Lock()

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for uint8 inputs (N, 28, 28) as made by :func:`recognizer.preprocessing.preprocess`."""
        batch = images.reshape(-1, 28, 28, 1).astype(np.float32)
        with self._lock:
            if batch.shape[0] != self._batch:
                self._interpreter.resize_tensor_input(self._input, list(batch.shape))
                self._interpreter.allocate_tensors()
                self._batch = batch.shape[0]
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            return self._interpreter.get_tensor(self._output).copy()

    def predict_many(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Probabilities for a large set of inputs, in fixed-size batches (evaluation on 10,000 images)."""
        return np.concatenate([self.predict(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


@dataclass(frozen=True)
class LoadedModel:
    """A model version and its loaded classifier, always used together.

    The version's row is kept so that a stored prediction can point at it (and a response name it) without a query.
    """

    version: ModelVersion
    classifier: Classifier

    @property
    def version_id(self) -> int:
        return self.version.pk

    @property
    def name(self) -> str:
        return self.version.name


_lock = threading.Lock()
_loaded: LoadedModel | None = None
_checked_at = 0.0


def _active_version_id() -> int | None:
    from recognizer.models import ModelVersion

    return ModelVersion.objects.filter(is_active=True).values_list("pk", flat=True).first()


def load_version(version: ModelVersion) -> LoadedModel:
    """Read a version's ``.tflite`` from storage and load it (raises :class:`ModelUnavailable`)."""
    try:
        with version.tflite_file.open("rb") as fh:
            content = fh.read()
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(f"the artifact of model {version.name} cannot be read: {exc}") from exc
    return LoadedModel(version, Classifier(content))


def active_model() -> LoadedModel:
    """The active model, loaded once per process and swapped when another version becomes active."""
    global _loaded, _checked_at
    now = time.monotonic()
    current = _loaded
    if current is not None and now - _checked_at < settings.DIGITS_MODEL_REFRESH_SECONDS:
        return current
    with _lock:
        if _loaded is not None and time.monotonic() - _checked_at < settings.DIGITS_MODEL_REFRESH_SECONDS:
            return _loaded
        active_id = _active_version_id()
        if active_id is None:
            raise ModelUnavailable("no model version is active: run `python manage.py ensure_model`")
        if _loaded is None or _loaded.version_id != active_id:
            from recognizer.models import ModelVersion

            try:
                _loaded = load_version(ModelVersion.objects.get(pk=active_id))
            except ModelUnavailable:
                if _loaded is None:
                    raise
                # Keep serving the model we have; the broken one is reported by the registry and /healthz.
        _checked_at = time.monotonic()
        return _loaded


def loaded_version_name() -> str | None:
    """The name of the version this process has loaded, if any (for /healthz); loads nothing."""
    current = _loaded
    return current.name if current is not None else None


def reset() -> None:
    """Forget the loaded model (tests, and after the database is swapped under a process)."""
    global _loaded, _checked_at
    with _lock:
        _loaded, _checked_at = None, 0.0


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: list[float]
    version: ModelVersion

    @property
    def version_id(self) -> int:
        return self.version.pk

    @property
    def version_name(self) -> str:
        return self.version.name


def predict(model_input: np.ndarray) -> Prediction:
    """Classify one 28x28 uint8 input with the active model."""
    return predict_batch(model_input[None])[0]


def predict_batch(inputs: np.ndarray) -> list[Prediction]:
    """Classify several 28x28 inputs (the digits of one number) with one model, in one call."""
    model = active_model()
    return predictions_from(model.classifier.predict(inputs), model.version)


def predictions_from(probabilities: np.ndarray, version: ModelVersion) -> list[Prediction]:
    """One :class:`Prediction` per row of ``probabilities`` (N, 10), scaled by the version's calibration temperature
    (``metrics["temperature"]``, 1 when absent) and renormalised to sum to exactly 1."""
    probabilities = apply_temperature(probabilities, float((version.metrics or {}).get("temperature", 1.0)))
    return [Prediction(int(p.argmax()), float(p.max()), [float(v) for v in p], version) for p in probabilities]
