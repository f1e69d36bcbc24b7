"""The REST API: predict (a digit or a number), read a prediction back, correct it. Thin: the work is in
:mod:`recognizer.predictions`; this module maps HTTP to it and errors to clear JSON answers."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import ErrorDetail, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from recognizer import predictions
from recognizer.images import ImageTooLarge, InvalidImage, decode_data_url
from recognizer.models import Drawing
from recognizer.preprocessing import EmptyDrawing
from recognizer.serializers import (
    CorrectionRequestSerializer,
    DrawingSerializer,
    ErrorSerializer,
    NumberSerializer,
    PredictionRequestSerializer,
)
from recognizer.serving import ModelUnavailable

log = logging.getLogger(__name__)

#: Domain errors and their answers, most specific first.
_ERRORS = {
    RequestDataTooBig: (status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "request_too_large"),
    ImageTooLarge: (status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "image_too_large"),
    InvalidImage: (status.HTTP_400_BAD_REQUEST, "invalid_image"),
    EmptyDrawing: (status.HTTP_400_BAD_REQUEST, "empty_drawing"),
    predictions.CorrectionLocked: (status.HTTP_409_CONFLICT, "correction_locked"),
    ModelUnavailable: (status.HTTP_503_SERVICE_UNAVAILABLE, "model_unavailable"),
    DatabaseError: (status.HTTP_503_SERVICE_UNAVAILABLE, "database_unavailable"),
}
#: How long a client should wait before retrying after a 503 (seconds).
RETRY_AFTER_UNAVAILABLE = "5"


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus our domain errors, as JSON ``{"detail", "code"}`` with a fitting status.

    DRF's own errors (404, 403, 429 …) get the same ``code`` field; validation errors keep DRF's per-field form.
    """
    for kind, (code, name) in _ERRORS.items():
        if isinstance(exc, kind):
            if kind is DatabaseError:
                log.error("Database unavailable while answering %s: %s", context["request"].path, exc)
                detail = "The database is unavailable; try again shortly."
            elif kind is RequestDataTooBig:
                detail = f"The request body is over the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
            else:
                detail = str(exc)
            headers = {"Retry-After": RETRY_AFTER_UNAVAILABLE} if code == status.HTTP_503_SERVICE_UNAVAILABLE else None
            return Response({"detail": detail, "code": name}, status=code, headers=headers)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict):
        detail = response.data.get("detail")
        if isinstance(detail, ErrorDetail):
            response.data.setdefault("code", detail.code)
    return response


def _uploaded_image(request: Request) -> bytes:
    """The raw image bytes of a request: a multipart ``image`` file or a JSON ``image`` data URL."""
    upload = request.FILES.get("image")
    if upload is not None:
        return upload.read()
    serializer = PredictionRequestSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    value = serializer.validated_data["image"]
    if not isinstance(value, str):
        raise ValidationError({"image": ["Send the image as a data URL string or as a multipart file."]})
    return decode_data_url(value)


def _session_key(request: Request) -> str:
    """The client's session key, creating the session so the client can correct its drawing later."""
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


def _enforce_csrf(request: Request) -> None:
    """Refuse a request whose only credential is the session cookie unless it carries the CSRF token.

    DRF checks CSRF only for logged-in users; an anonymous client's session cookie is a credential too (it may
    correct the drawings it made), and a cross-site form could send it along.
    """
    SessionAuthentication().enforce_csrf(request)


_REQUEST_EXAMPLE = OpenApiExample("data URL", value={"image": "data:image/png;base64,iVBORw0KGgo..."})
_PREDICT_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Not an image, or an empty canvas."),
    413: OpenApiResponse(ErrorSerializer, description="The image or the request is over the size limits."),
    429: OpenApiResponse(ErrorSerializer, description="Too many predictions; see the Retry-After header."),
    503: OpenApiResponse(ErrorSerializer, description="No model is available, or the database is down."),
}
#: Which rate limit (``DIGITS_RATE_*``) applies to which action; reading back a drawing is not limited.
_THROTTLE_SCOPES = {"create": "predict", "correction": "correct"}


class _Throttled:
    """Viewsets whose ``create`` and ``correction`` actions are rate limited per client."""

    @property
    def throttle_scope(self) -> str | None:
        return _THROTTLE_SCOPES.get(self.action)


class PredictionViewSet(_Throttled, mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Predictions: every one is stored, with its drawing and the 28x28 input the model saw."""

    serializer_class = DrawingSerializer
    queryset = Drawing.objects.select_related("model_version")
    # Ids are numbers that fit the database's integer: anything else is a plain 404, never a database error.
    lookup_value_regex = r"[0-9]{1,18}"

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action == "list":
            return [permissions.IsAdminUser()]
        return [permissions.AllowAny()]

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.request.user.is_staff:
            return queryset
        return queryset.filter(session_key=self.request.session.session_key or "-")

    @extend_schema(
        request=PredictionRequestSerializer,
        examples=[_REQUEST_EXAMPLE],
        responses={201: DrawingSerializer, **_PREDICT_ERRORS},
    )
    def create(self, request: Request) -> Response:
        """Predict the digit in an image and store it; the answer says how to correct it."""
        submission = predictions.create_submission(_uploaded_image(request), _session_key(request))
        drawing = submission.ordered_drawings[0]
        context = {**self.get_serializer_context(), "include_token": True}
        return Response(DrawingSerializer(drawing, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CorrectionRequestSerializer,
        responses={
            200: DrawingSerializer,
            400: OpenApiResponse(description="The label is not a digit 0-9."),
            403: OpenApiResponse(ErrorSerializer, description="Not your drawing, or no CSRF token with a session."),
            404: OpenApiResponse(ErrorSerializer, description="No such drawing."),
            409: OpenApiResponse(ErrorSerializer, description="Staff have reviewed it: it can no longer be changed."),
            429: OpenApiResponse(ErrorSerializer, description="Too many corrections; see the Retry-After header."),
            503: OpenApiResponse(ErrorSerializer, description="The database is down."),
        },
    )
    @action(detail=True, methods=["post"], url_path="correction", url_name="correction")
    def correction(self, request: Request, pk: str) -> Response:
        """Correct a prediction: the client that made the drawing (its token or session) and staff may.

        A second correction replaces the first, until staff have reviewed it (then 409).
        """
        drawing = get_object_or_404(Drawing.objects.select_related("model_version"), pk=pk)
        serializer = CorrectionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grounds = predictions.correction_grounds(
            drawing,
            session_key=request.session.session_key,
            is_staff=request.user.is_staff,
            token=serializer.validated_data.get("token"),
        )
        if grounds is None:
            raise PermissionDenied("You can only correct your own drawings.")
        if grounds is predictions.Grounds.SESSION:
            _enforce_csrf(request)
        reviewer = request.user if request.user.is_staff else None
        predictions.correct(drawing, serializer.validated_data["label"], reviewer=reviewer)
        return Response(self.get_serializer(drawing).data)


class NumberViewSet(_Throttled, viewsets.GenericViewSet):
    """Numbers: several digits written side by side, each stored and correctable as its own drawing."""

    serializer_class = NumberSerializer

    @extend_schema(
        request=PredictionRequestSerializer,
        examples=[_REQUEST_EXAMPLE],
        responses={201: NumberSerializer, **_PREDICT_ERRORS},
    )
    def create(self, request: Request) -> Response:
        """Read a whole number: each digit is predicted, stored and returned with its own correction URL."""
        submission = predictions.create_submission(_uploaded_image(request), _session_key(request), as_number=True)
        context = {**self.get_serializer_context(), "include_token": True}
        return Response(NumberSerializer(submission, context=context).data, status=status.HTTP_201_CREATED)
