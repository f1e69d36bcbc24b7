"""Real review data for admin and training-data tests: drawings made through the real prediction path, then put in
the review states the tests need, and extra model versions registered from the shipped artifacts."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
from django.contrib.auth.models import Permission
from django.test import Client

from bench.drawing import draw_digit, png_bytes
from recognizer import registry
from recognizer.export import MANIFEST, NPZ
from recognizer.models import Drawing, ModelVersion
from recognizer.predictions import create_submission

#: Client keys as recognizer.api.authentication makes them (32 letters and digits): data from a few visitors.
CLIENTS = ("q7XbT2mLw9RkVz4NcP8sHd3JyF6aGe1U", "M4tWn8ZrB2vLx6QpK9cYh3DsJ7fE1gTa", "c3PkR9wX7nTz2LbV6mQy8JsH4dFa1GeU")


def submit(digit: int, variant: int = 0, client: str = CLIENTS[0], network: str = "", **state) -> Drawing:
    """Draw ``digit`` (``variant`` changes the pen, so the image differs), predict it, and apply ``state``."""
    image = draw_digit(digit, width=0.05 + 0.01 * variant)
    drawing = create_submission(png_bytes(image), client, network_key=network).ordered_drawings[0]
    if state:
        Drawing.objects.filter(pk=drawing.pk).update(**state)
        drawing.refresh_from_db()
    return drawing


def resubmit(drawing: Drawing, **state) -> Drawing:
    """Submit exactly the same image again (same PNG bytes, so the same ``image_sha256``)."""
    with drawing.image.open("rb") as fh:
        raw = fh.read()
    copy = create_submission(raw, CLIENTS[1]).ordered_drawings[0]
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


def check_data_set(files: dict[str, bytes], expected: list[Drawing]) -> dict:
    """Read every file back and check it against the drawings and the manifest; returns the manifest."""
    manifest = json.loads(files[MANIFEST])
    for name, meta in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == meta["sha256"]
        assert len(files[name]) == meta["bytes"]
    expected = sorted(expected, key=lambda d: (d.created_at, d.pk))
    with np.load(io.BytesIO(files[NPZ])) as npz:
        assert npz["images"].shape == (len(expected), 28, 28)
        assert npz["images"].dtype == np.uint8
        assert list(npz["drawing_ids"]) == [d.pk for d in expected]
        assert list(npz["labels"]) == [d.corrected_label for d in expected]
        assert list(npz["predicted"]) == [d.predicted_digit for d in expected]
        for image, drawing in zip(npz["images"], expected, strict=True):
            assert np.array_equal(image, drawing.input_array)
        npz_images, npz_labels = npz["images"], npz["labels"]
    assert manifest["count"] == len(expected)
    assert [s["drawing_id"] for s in manifest["samples"]] == [d.pk for d in expected]
    assert [s["label"] for s in manifest["samples"]] == [d.corrected_label for d in expected]
    return {"manifest": manifest, "images": npz_images, "labels": npz_labels}


def make_staff(django_user_model, name: str, *codenames: str) -> Client:
    """A staff member who is not a superuser, with only the given permissions."""
    user = django_user_model.objects.create_user(name, is_staff=True)  # no password: force_login needs none
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def make_visitor(django_user_model) -> Client:
    """A logged-in user who is not staff."""
    client = Client()
    client.force_login(django_user_model.objects.create_user("visitor"))
    return client
