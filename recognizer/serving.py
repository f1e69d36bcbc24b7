"""Serving the active model in web processes with LiteRT, and swapping it when another version is activated.

Web processes never import TensorFlow: they load the active version's ``.tflite`` with ``ai-edge-litert`` once, and
at most every ``DIGITS_MODEL_REFRESH_SECONDS`` check (one indexed query) whether another version became active. A
prediction is computed and labelled by the same :class:`LoadedModel` object, so a response's ``model_version`` is
always the model that computed it, even while a swap happens in another thread.

Artifacts live in the default storage (a local folder, or an object store that every node reaches): a process reads
the ``.tflite`` from there once, checks it against the SHA-256 recorded at registration, and keeps it in this host's
cache (``DIGITS_MODEL_CACHE_DIR``, files named by their checksum), so a restart or the host's other workers load it
without fetching it again. A cached file is checked against the checksum too before it is used.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from django.conf import settings

from recognizer.core.calibration import apply_temperature
from recognizer.core.classifier import Classifier, ModelUnavailable, OneScore
from recognizer.core.not_a_digit import NotADigitDetector
from recognizer.core.whole_digit import WholeDigit
from recognizer.models import ModelVersion, ShadowTrial

log = logging.getLogger(__name__)
S = TypeVar("S", bound=OneScore)


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
    return ModelVersion.objects.filter(is_active=True).values_list("pk", flat=True).first()


def cached_path(sha256: str) -> Path:
    """Where this host keeps the artifact whose SHA-256 is ``sha256``."""
    return Path(settings.DIGITS_MODEL_CACHE_DIR) / f"{sha256}.tflite"


def artifact_bytes(version: ModelVersion) -> bytes:
    """A version's ``.tflite``, from this host's cache when it holds it, else from storage (then cached); either way
    checked against the version's recorded SHA-256 (raises :class:`ModelUnavailable`)."""
    expected = version.tflite_sha256
    cached = cached_path(expected)
    try:
        content = cached.read_bytes()
    except OSError:
        content = None
    if content is not None and hashlib.sha256(content).hexdigest() == expected:
        return content
    try:
        with version.tflite_file.open("rb") as fh:
            content = fh.read()
    except Exception as exc:  # any storage backend's error: OSError here, botocore's for S3
        raise ModelUnavailable(f"the artifact of model {version.name} cannot be read: {exc}") from exc
    if hashlib.sha256(content).hexdigest() != expected:
        raise ModelUnavailable(f"the artifact of model {version.name} does not match its checksum")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f".{expected}.{os.getpid()}.{threading.get_ident()}.part")
        partial.write_bytes(content)
        partial.replace(cached)  # atomic: the host's other processes see the whole file or none
    except OSError as exc:
        log.warning("Model %s is served without a local cached copy: %s", version.name, exc)
    return content


def load_version(version: ModelVersion) -> LoadedModel:
    """Load a version's ``.tflite`` (cached or from storage, checksum verified) in LiteRT (raises
    :class:`ModelUnavailable`)."""
    return LoadedModel(version, Classifier(artifact_bytes(version)))


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
            try:
                _loaded = load_version(ModelVersion.objects.get(pk=active_id))
            except ModelUnavailable:
                if _loaded is None:
                    raise
                # Keep serving the model we have; the broken one is reported by the registry and /healthz.
        _checked_at = time.monotonic()
        return _loaded


_side_models: dict[tuple[type, Path], OneScore | None] = {}


def _side_model(kind: type[S], path: Path, name: str, without: str) -> S | None:
    """The small model of ``kind`` in ``path``, loaded once per process; None when it cannot be read (logged once:
    no ``name``, and what the site does ``without`` it)."""
    key = (kind, path)
    if key not in _side_models:
        with _lock:
            if key not in _side_models:
                try:
                    _side_models[key] = kind.from_file(path)
                except (OSError, ModelUnavailable) as exc:
                    log.warning("No %s (%s): %s", name, exc, without)
                    _side_models[key] = None
    return _side_models[key]  # type: ignore[return-value]


def whole_digit() -> WholeDigit | None:
    """The whole-digit verifier that helps cut a number's picture (``DIGITS_WHOLE_DIGIT_FILE``); None when it is
    switched off (``DIGITS_WHOLE_DIGIT_WEIGHT`` 0) or cannot be read, and the cuts then choose by the digit model
    alone (numbers are still read, touching ones less well)."""
    if settings.DIGITS_WHOLE_DIGIT_WEIGHT <= 0:
        return None
    return _side_model(
        WholeDigit,
        Path(settings.DIGITS_WHOLE_DIGIT_FILE),
        "whole-digit verifier",
        "numbers are cut by the digit model alone",
    )


def not_a_digit_detector() -> NotADigitDetector | None:
    """The not-a-digit detector (``DIGITS_NOT_A_DIGIT_FILE``); None when it cannot be read, and "not a digit" is
    then judged by the digit model's evidence alone (fewer non-digits caught)."""
    return _side_model(
        NotADigitDetector,
        Path(settings.DIGITS_NOT_A_DIGIT_FILE),
        "not-a-digit detector",
        "not a digit is judged by the digit model's evidence alone",
    )


def not_a_digit_logits(images: np.ndarray) -> np.ndarray | None:
    """The not-a-digit detector's (calibrated) logits of model inputs (N, 28, 28); None without a detector or
    without inputs."""
    detector = not_a_digit_detector()
    return detector.score(images) if detector is not None and len(images) else None


def loaded_version_name() -> str | None:
    """The name of the version this process has loaded, if any (for /healthz); loads nothing."""
    current = _loaded
    return current.name if current is not None else None


def reset() -> None:
    """Forget the loaded models (tests, and after the database is swapped under a process)."""
    global _loaded, _checked_at
    with _lock:
        _loaded, _checked_at = None, 0.0
        _side_models.clear()
    reset_shadow()


@dataclass(frozen=True)
class Prediction:
    digit: int
    confidence: float
    probabilities: list[float]
    version: ModelVersion
    #: The distance to the digits the model learnt, 1 at the not-a-digit threshold (None: not exported with it).
    distance: float | None = None

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
    return predictions_from(*model.classifier.read(inputs), version=model.version)


def predictions_from(
    probabilities: np.ndarray, distances: np.ndarray | None = None, *, version: ModelVersion
) -> list[Prediction]:
    """One :class:`Prediction` per row of ``probabilities`` (N, 10), scaled by the version's calibration temperature
    (``metrics["temperature"]``, 1 when absent) and renormalised to sum to exactly 1, with its ``distances`` (N,)
    when the model gives them."""
    probabilities = apply_temperature(probabilities, float((version.metrics or {}).get("temperature", 1.0)))
    far = [None] * len(probabilities) if distances is None else [float(d) for d in distances]
    return [
        Prediction(int(p.argmax()), float(p.max()), [float(v) for v in p], version, d)
        for p, d in zip(probabilities, far, strict=True)
    ]


# Shadow trials: the candidate of the running trial (if any), loaded the same way and refreshed on the same cadence.
_shadow_lock = threading.Lock()
_shadow: tuple[int, LoadedModel] | None = None
_shadow_checked_at = 0.0


def shadow_model() -> tuple[int, LoadedModel] | None:
    """``(trial id, candidate)`` of the running shadow trial, loaded once per process; None when no trial runs (or
    its artifact cannot be loaded: a shadow never costs a live answer)."""
    global _shadow, _shadow_checked_at
    if time.monotonic() - _shadow_checked_at < settings.DIGITS_MODEL_REFRESH_SECONDS:
        return _shadow
    with _shadow_lock:
        if time.monotonic() - _shadow_checked_at < settings.DIGITS_MODEL_REFRESH_SECONDS:
            return _shadow
        running = ShadowTrial.objects.filter(status=ShadowTrial.Status.RUNNING)
        running = running.values_list("pk", "candidate_id").first()
        if running is None:
            _shadow = None
        elif _shadow is None or _shadow[0] != running[0]:
            try:
                _shadow = (running[0], load_version(ModelVersion.objects.get(pk=running[1])))
            except ModelUnavailable:
                _shadow = None
        _shadow_checked_at = time.monotonic()
        return _shadow


def shadow_predict(inputs: np.ndarray) -> tuple[int, list[Prediction]] | None:
    """The running trial's candidate's answers for ``inputs`` (never shown), or None when no trial runs."""
    shadow = shadow_model()
    if shadow is None:
        return None
    trial_id, model = shadow
    return trial_id, predictions_from(*model.classifier.read(inputs), version=model.version)


def reset_shadow() -> None:
    global _shadow, _shadow_checked_at
    with _shadow_lock:
        _shadow, _shadow_checked_at = None, 0.0
