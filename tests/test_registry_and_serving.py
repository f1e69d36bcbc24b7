"""Model versions: registration with checksums, refusing broken artifacts, and hot-swapping in a running process."""

from __future__ import annotations

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
    ModelVersion.objects.update(is_active=False)
    ModelVersion.objects.filter(pk=second_version.pk).update(is_active=True)  # bypassing the registry's checks
    assert serving.active_model().name == active_model.name
