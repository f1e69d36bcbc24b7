"""Review data for admin tests: drawings made through the real prediction path (for the browser tests; the others
build rows with tests/support/factories.py), an exported data set checked against its drawings, staff with some
permissions and a visitor."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
from django.contrib.auth.models import Permission
from django.test import Client

from bench.drawing import draw_digit, png_bytes
from recognizer.export import MANIFEST, NPZ
from recognizer.models import Drawing
from recognizer.predictions import create_submission
from tests.support.factories import CLIENTS


def submit(digit: int, variant: int = 0, client: str = CLIENTS[0], network: str = "", **state) -> Drawing:
    """Draw ``digit`` (``variant`` changes the pen, so the image differs), predict it, and apply ``state``."""
    image = draw_digit(digit, width=0.05 + 0.01 * variant)
    drawing = create_submission(png_bytes(image), client, network_key=network).ordered_drawings[0]
    if state:
        Drawing.objects.filter(pk=drawing.pk).update(**state)
        drawing.refresh_from_db()
    return drawing


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
