"""factory-boy factories for rows whose model is not the point (admin and review tests): drawings, their
submissions and model versions, built without running a model.

A drawing's image is a real PNG of the digit drawn with :func:`bench.drawing.draw_digit`, its ``model_input`` that
image through the real preprocessing and its ``image_sha256`` the PNG's; only the prediction is made up
(``predicted_digit`` defaults to the digit drawn, with ``confidence``). A model version carries the shipped model's
real artifacts and checksums, so it can be verified and activated. Tests of predicting, of the feedback loop and in
the browser use the real model instead (:func:`tests.support.review_data.submit`, the API).
"""

from __future__ import annotations

import functools
import hashlib
import io

import factory
from django.core.files.base import ContentFile
from django.utils import timezone
from factory.django import DjangoModelFactory
from PIL import Image

from bench.drawing import draw_digit, png_bytes
from recognizer.core import shipped
from recognizer.core.preprocessing import preprocess
from recognizer.models import Drawing, ModelVersion, Submission

#: Client keys as recognizer.api.authentication makes them (32 letters and digits): data from a few visitors.
CLIENTS = ("q7XbT2mLw9RkVz4NcP8sHd3JyF6aGe1U", "M4tWn8ZrB2vLx6QpK9cYh3DsJ7fE1gTa", "c3PkR9wX7nTz2LbV6mQy8JsH4dFa1GeU")
CorrectionStatus = Drawing.CorrectionStatus


@functools.cache
def shipped_artifacts() -> dict[str, bytes]:
    """The shipped default model's ``.keras`` and ``.tflite`` bytes, read once."""
    return {field: shipped.model_file(field).read_bytes() for field in ("keras_file", "tflite_file")}


def _artifact(field: str, suffix: str):
    return factory.LazyAttribute(lambda o: ContentFile(shipped_artifacts()[field], name=f"{o.name}{suffix}"))


def _checksum(field: str):
    return factory.LazyFunction(lambda: hashlib.sha256(shipped_artifacts()[field]).hexdigest())


class ModelVersionFactory(DjangoModelFactory):
    """An inactive version with the shipped model's real artifacts (activate it with the registry, which verifies)."""

    class Meta:
        model = ModelVersion

    name = factory.Sequence(lambda n: f"version-{n}")
    keras_file = _artifact("keras_file", ".keras")
    keras_sha256 = _checksum("keras_file")
    tflite_file = _artifact("tflite_file", ".tflite")
    tflite_sha256 = _checksum("tflite_file")
    metrics = factory.LazyFunction(lambda: {"mnist_test_accuracy": 0.99})


def _active_version() -> ModelVersion:
    return ModelVersion.objects.active() or ModelVersionFactory(is_active=True, activated_at=timezone.now())


class SubmissionFactory(DjangoModelFactory):
    class Meta:
        model = Submission

    client_key = CLIENTS[0]
    created_at = factory.LazyFunction(timezone.now)


class DrawingFactory(DjangoModelFactory):
    """A drawn ``digit`` (``pen``: the pen's width, so drawings of one digit differ), predicted by the active version
    (one is made if none is). ``corrected_label`` alone makes a pending correction made when the drawing was."""

    class Meta:
        model = Drawing

    class Params:
        digit = 0
        pen = 0.06
        png = factory.LazyAttribute(lambda o: png_bytes(draw_digit(o.digit, width=o.pen)))

    submission = factory.SubFactory(
        SubmissionFactory,
        client_key=factory.SelfAttribute("..client_key"),
        created_at=factory.SelfAttribute("..created_at"),
    )
    client_key = CLIENTS[0]
    created_at = factory.LazyFunction(timezone.now)
    image = factory.LazyAttribute(lambda o: ContentFile(o.png, name="drawing.png"))
    image_sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.png).hexdigest())
    model_input = factory.LazyAttribute(lambda o: preprocess(Image.open(io.BytesIO(o.png))).tobytes())
    predicted_digit = factory.SelfAttribute("digit")
    confidence = 0.9
    probabilities = factory.LazyAttribute(
        lambda o: [o.confidence if d == o.predicted_digit else (1 - o.confidence) / 9 for d in range(10)]
    )
    model_version = factory.LazyFunction(_active_version)
    corrected_label = None
    corrected_at = factory.LazyAttribute(lambda o: None if o.corrected_label is None else o.created_at)
    correction_status = factory.LazyAttribute(
        lambda o: CorrectionStatus.NONE if o.corrected_label is None else CorrectionStatus.PENDING
    )


def copy_of(drawing: Drawing, **fields) -> Drawing:
    """The same image submitted again (the same PNG bytes, so the same ``image_sha256``) by another client."""
    with drawing.image.open("rb") as fh:
        png = fh.read()
    return DrawingFactory(png=png, predicted_digit=drawing.predicted_digit, client_key=CLIENTS[1], **fields)
