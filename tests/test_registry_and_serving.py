"""Model versions: registration with checksums, refusing broken artifacts, and hot-swapping in a running process."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from bench.drawing import draw_digit, png_bytes
from recognizer import registry, serving
from recognizer.models import ModelVersion
from recognizer.predictions import create_submission

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


def test_a_running_process_serves_a_newly_activated_version(second_version, active_model, settings) -> None:
    settings.DIGITS_MODEL_REFRESH_SECONDS = 0
    first = create_submission(png_bytes(draw_digit(1)), "s").ordered_drawings[0]
    assert first.model_version == active_model
    registry.activate(second_version)
    second = create_submission(png_bytes(draw_digit(1)), "s").ordered_drawings[0]
    assert second.model_version == second_version
    call_command("activate_model", active_model.name)  # rolling back is activating the older one
    third = create_submission(png_bytes(draw_digit(1)), "s").ordered_drawings[0]
    assert third.model_version == active_model


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
