"""Real review data for admin and training-data tests: drawings made through the real prediction path, then put in
the review states the tests need, and extra model versions registered from the shipped artifacts."""

from __future__ import annotations

import shutil
from pathlib import Path

from recognizer import registry
from recognizer.models import Drawing, ModelVersion
from recognizer.predictions import create_submission
from tests.drawing import draw_digit, png_bytes


def submit(digit: int, variant: int = 0, session: str = "session-a", **state) -> Drawing:
    """Draw ``digit`` (``variant`` changes the pen, so the image differs), predict it, and apply ``state``."""
    image = draw_digit(digit, width=0.05 + 0.01 * variant)
    drawing = create_submission(png_bytes(image), session).ordered_drawings[0]
    if state:
        Drawing.objects.filter(pk=drawing.pk).update(**state)
        drawing.refresh_from_db()
    return drawing


def resubmit(drawing: Drawing, **state) -> Drawing:
    """Submit exactly the same image again (same PNG bytes, so the same ``image_sha256``)."""
    with drawing.image.open("rb") as fh:
        raw = fh.read()
    copy = create_submission(raw, "session-b").ordered_drawings[0]
    assert copy.image_sha256 == drawing.image_sha256
    if state:
        Drawing.objects.filter(pk=copy.pk).update(**state)
        copy.refresh_from_db()
    return copy


def register_copy(source: ModelVersion, name: str, directory: Path, **fields) -> ModelVersion:
    """Another version with ``source``'s real artifacts under a new name (``fields``: metrics, parent, ...)."""
    paths = []
    for field, suffix in (("keras_file", ".keras"), ("tflite_file", ".tflite")):
        target = directory / f"{name}{suffix}"
        with getattr(source, field).open("rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        paths.append(target)
    trained_at = fields.pop("trained_at", None)
    version = registry.register_version(name, *paths, metrics=fields.pop("metrics", {}), **fields)
    if trained_at is not None:
        ModelVersion.objects.filter(pk=version.pk).update(trained_at=trained_at)
        version.refresh_from_db()
    return version
