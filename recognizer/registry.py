"""The model registry: register trained artifacts as versions, verify them, and activate one.

Activation is where hot-swapping starts: flipping ``is_active`` in one transaction is all web processes need, since
each re-reads the active version at most every ``DIGITS_MODEL_REFRESH_SECONDS`` (see :mod:`recognizer.serving`).
A version is only activated after its artifact is read back, its checksum matches and LiteRT loads it, so a corrupt
or missing file can never replace a working model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from recognizer.core import shipped
from recognizer.core.classifier import Classifier, ModelUnavailable
from recognizer.files import removed_on_failure
from recognizer.models import ModelVersion


class ActivationRefused(RuntimeError):
    """The version cannot be activated (missing or corrupt artifact); the active model is unchanged."""


def sha256_of(fileobj) -> str:
    return hashlib.file_digest(fileobj, "sha256").hexdigest()


def register_version(
    name: str,
    keras_path: Path,
    tflite_path: Path,
    *,
    metrics: dict,
    confusion_matrix: list[list[int]] | None = None,
    parent: ModelVersion | None = None,
    training_command: str = "",
    notes: str = "",
) -> ModelVersion:
    """Copy the artifacts into storage and record a new, inactive version with their checksums."""
    version = ModelVersion(
        name=name,
        parent=parent,
        metrics=metrics,
        confusion_matrix=confusion_matrix or [],
        training_command=training_command,
        notes=notes,
    )
    with removed_on_failure() as saved:
        for field, path, checksum in (
            ("keras_file", keras_path, "keras_sha256"),
            ("tflite_file", tflite_path, "tflite_sha256"),
        ):
            with open(path, "rb") as fh:
                setattr(version, checksum, sha256_of(fh))
                fh.seek(0)
                getattr(version, field).save(Path(path).name, File(fh), save=False)
                saved.append(getattr(version, field))
        version.save()
    return version


def verify(version: ModelVersion) -> None:
    """Check that the version's ``.tflite`` is readable in storage (not only in this host's cache), matches its
    checksum and loads in LiteRT."""
    try:
        with version.tflite_file.open("rb") as fh:
            content = fh.read()
    except Exception as exc:  # any storage backend's error: OSError here, botocore's for S3
        raise ActivationRefused(f"model {version.name}: its .tflite artifact is missing ({exc})") from exc
    if hashlib.sha256(content).hexdigest() != version.tflite_sha256:
        raise ActivationRefused(f"model {version.name}: its .tflite artifact is corrupt (checksum mismatch)")
    try:
        Classifier(content)
    except ModelUnavailable as exc:
        raise ActivationRefused(str(exc)) from exc


def activate(version: ModelVersion) -> ModelVersion:
    """Make ``version`` the one served everywhere; refuses (and changes nothing) if its artifact is not sound."""
    verify(version)
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
        ModelVersion.objects.filter(pk=version.pk).update(is_active=True, activated_at=timezone.now())
    version.refresh_from_db()
    return version


def ensure_default_model() -> tuple[ModelVersion, bool]:
    """Make sure some version is active: register and activate the shipped default model if none is.

    Returns the active version and whether it was just created.
    """
    active = ModelVersion.objects.active()
    if active is not None:
        return active, False
    metadata = shipped.metadata()
    version = ModelVersion.objects.filter(name=metadata["name"]).first()
    created = version is None
    if created:
        version = register_version(
            metadata["name"],
            shipped.DEFAULT_MODEL_DIR / metadata["keras_file"],
            shipped.DEFAULT_MODEL_DIR / metadata["tflite_file"],
            metrics=metadata["metrics"],
            confusion_matrix=metadata.get("confusion_matrix"),
            training_command=metadata.get("training_command", ""),
            notes="The default model shipped with Digits.",
        )
    return activate(version), created
