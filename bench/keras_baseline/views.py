"""A prediction view as most tutorials write it: the Keras model in the web process, ``model.predict`` per request.

Everything else is the product's own code — the same request parsing, decoding, preprocessing, storage of the
drawing, session and JSON answer as ``POST /api/predictions/`` — so the two differ only in how the model runs:
TensorFlow and Keras here, LiteRT on the ``.tflite`` there. The model is the active version's ``.keras``, the twin
of the ``.tflite`` the product serves.
"""

from __future__ import annotations

import functools
import threading

import keras
import numpy as np
from rest_framework import permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from recognizer import predictions, serving
from recognizer.api.authentication import ensure_client_key
from recognizer.api.serializers import DrawingSerializer
from recognizer.api.views import request_image
from recognizer.models import ModelVersion

_lock = threading.Lock()


@functools.cache
def _active() -> tuple[ModelVersion, keras.Model]:
    version = ModelVersion.objects.active()
    if version is None:
        raise serving.ModelUnavailable("no model version is active")
    return version, keras.saving.load_model(version.keras_file.path, compile=False)


def keras_classify(inputs: np.ndarray) -> list[serving.Prediction]:
    with _lock:
        version, model = _active()
    batch = inputs.reshape(-1, 28, 28, 1).astype(np.float32)
    return serving.predictions_from(np.asarray(model.predict(batch, verbose=0)), version=version)


class KerasPredictionView(APIView):
    permission_classes = [permissions.AllowAny]

    def post(self, request: Request) -> Response:
        submission = predictions.create_submission(
            request_image(request), ensure_client_key(request), classify=keras_classify
        )
        context = {"request": request, "include_token": True}
        data = DrawingSerializer(submission.ordered_drawings[0], context=context).data
        return Response(data, status=status.HTTP_201_CREATED)
