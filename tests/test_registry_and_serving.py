"""Model versions: registration with checksums, refusing broken artifacts, and hot-swapping in a running process."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from bench.drawing import draw_digit, png_bytes
from recognizer import registry, serving
from recognizer.core.calibration import apply_temperature
from recognizer.core.classifier import Classifier
from recognizer.models import ModelVersion
from recognizer.predictions import create_submission
from tests.support.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def test_the_default_model_is_registered_once_with_checksums(active_model) -> None:
    assert active_model.is_active
    with active_model.tflite_file.open("rb") as fh:
        assert registry.sha256_of(fh) == active_model.tflite_sha256
    with active_model.keras_file.open("rb") as fh:
        assert registry.sha256_of(fh) == active_model.keras_sha256
    again, created = registry.ensure_default_model()
    assert again == active_model
    assert not created
    assert ModelVersion.objects.count() == 1


def test_only_one_version_is_active(second_version, active_model) -> None:
    registry.activate(second_version)
    assert list(ModelVersion.objects.filter(is_active=True)) == [second_version]


@pytest.fixture
def weak_version(active_model, small_model_files) -> ModelVersion:
    """A genuinely different model from the active one (two epochs on 3,000 images), registered and inactive."""
    return registry.register_version("weak", *small_model_files, metrics={"mnist_test_accuracy": None})


def probabilities_of(version: ModelVersion, model_input: np.ndarray) -> np.ndarray:
    """The version's own interpreter's answer, calibrated by its temperature as served."""
    with version.tflite_file.open("rb") as fh:
        raw = Classifier(fh.read()).predict(model_input[None]).astype(np.float64)
    return apply_temperature(raw, float(version.metrics.get("temperature", 1.0)))[0]


def test_a_running_process_serves_a_newly_activated_version(weak_version, active_model, settings) -> None:
    """Each answer's probabilities are those of the interpreter of the version it names, and not the other's: the
    swap changed the model that computes, not only the name on the row."""
    settings.DIGITS_MODEL_REFRESH_SECONDS = 0
    image = png_bytes(draw_digit(1))
    served = []
    for version, activate in (
        (active_model, None),
        (weak_version, lambda: registry.activate(weak_version)),
        (active_model, lambda: call_command("activate_model", active_model.name, verbosity=0)),  # rolling back
    ):
        if activate:
            activate()
        drawing = create_submission(image, "s").ordered_drawings[0]
        assert drawing.model_version == version
        served.append(np.asarray(drawing.probabilities))
        other = weak_version if version == active_model else active_model
        assert np.allclose(drawing.probabilities, probabilities_of(version, drawing.input_array), atol=1e-6)
        # Both models may read this clear 1 at over 99%: they still differ far beyond the 1e-6 of the same one.
        assert np.abs(drawing.probabilities - probabilities_of(other, drawing.input_array)).max() > 1e-5
    assert np.abs(served[0] - served[1]).max() > 1e-5
    assert np.allclose(served[0], served[2], atol=1e-6)


def test_a_corrupt_artifact_is_refused_and_the_active_model_stays(second_version, active_model) -> None:
    with default_storage.open(second_version.tflite_file.name, "wb") as fh:
        fh.write(b"not a model")
    with pytest.raises(registry.ActivationRefused, match="corrupt"):
        registry.activate(second_version)
    assert ModelVersion.objects.active() == active_model


def test_a_missing_artifact_is_refused_by_the_command(second_version, active_model) -> None:
    default_storage.delete(second_version.tflite_file.name)
    with pytest.raises(CommandError, match="missing"):
        call_command("activate_model", second_version.name)
    assert ModelVersion.objects.active() == active_model


def test_serving_keeps_the_loaded_model_when_the_new_one_cannot_load(second_version, active_model, settings) -> None:
    settings.DIGITS_MODEL_REFRESH_SECONDS = 0
    assert serving.active_model().name == active_model.name
    default_storage.delete(second_version.tflite_file.name)
    # Same bytes as the active model, which this host has cached: drop that copy, as on a host that never had it.
    serving.cached_path(second_version.tflite_sha256).unlink()
    ModelVersion.objects.update(is_active=False)
    ModelVersion.objects.filter(pk=second_version.pk).update(is_active=True)  # bypassing the registry's checks
    assert serving.active_model().name == active_model.name


def test_a_loaded_artifact_is_cached_on_this_host_by_checksum(active_model) -> None:
    cached = serving.cached_path(active_model.tflite_sha256)
    assert not cached.exists()
    assert serving.active_model().name == active_model.name
    with active_model.tflite_file.open("rb") as fh:
        assert cached.read_bytes() == fh.read()
    # Another process on this host (a restart, the next gunicorn worker) loads it without the storage's copy.
    default_storage.delete(active_model.tflite_file.name)
    serving.reset()
    assert serving.active_model().name == active_model.name


def test_a_damaged_cached_copy_is_fetched_again(active_model) -> None:
    cached = serving.cached_path(active_model.tflite_sha256)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"damaged on this host's disk")
    assert serving.active_model().name == active_model.name
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == active_model.tflite_sha256


def test_an_artifact_that_does_not_match_its_checksum_is_not_served_or_cached(second_version, active_model) -> None:
    with default_storage.open(second_version.tflite_file.name, "wb") as fh:
        fh.write(b"not the registered model")
    ModelVersion.objects.filter(pk=second_version.pk).update(tflite_sha256="0" * 64)  # a version nobody cached
    second_version.refresh_from_db()
    with pytest.raises(serving.ModelUnavailable, match="checksum"):
        serving.load_version(second_version)
    assert not serving.cached_path(second_version.tflite_sha256).exists()


def test_activate_model_list_shows_every_version_and_marks_the_active_one(active_model) -> None:
    ModelVersionFactory(name="weaker", metrics={"mnist_test_accuracy": 0.9123})
    ModelVersionFactory(name="unmeasured", metrics={})
    for args in (["--list"], []):  # without a version, the command lists too
        out = io.StringIO()
        call_command("activate_model", *args, stdout=out)
        lines = {
            line.split()[1] if line.startswith("*") else line.split()[0]: line for line in out.getvalue().splitlines()
        }
        assert set(lines) == {active_model.name, "weaker", "unmeasured"}
        assert lines[active_model.name].startswith(f"* {active_model.name} ")
        assert f"MNIST {active_model.mnist_accuracy:.2%}" in lines[active_model.name]
        assert lines["weaker"].startswith("  weaker ")
        assert "MNIST 91.23%" in lines["weaker"]
        assert "MNIST —" in lines["unmeasured"]
    assert ModelVersion.objects.active() == active_model  # listing activates nothing
