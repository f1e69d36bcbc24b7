"""The REST API: predict (a digit or a number), read a prediction back, correct it. Thin: the work is in
:mod:`recognizer.predictions`; this module maps HTTP to it and errors to clear JSON answers."""

from __future__ import annotations

from django.db import DatabaseError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from recognizer import predictions
from recognizer.images import InvalidImage, decode_data_url
from recognizer.models import Drawing
from recognizer.preprocessing import EmptyDrawing
from recognizer.serializers import (
    CorrectionRequestSerializer,
    DrawingSerializer,
    NumberSerializer,
    PredictionRequestSerializer,
)
from recognizer.serving import ModelUnavailable

_ERRORS = {
    InvalidImage: (status.HTTP_400_BAD_REQUEST, "invalid_image"),
    EmptyDrawing: (status.HTTP_400_BAD_REQUEST, "empty_drawing"),
    ModelUnavailable: (status.HTTP_503_SERVICE_UNAVAILABLE, "model_unavailable"),
    DatabaseError: (status.HTTP_503_SERVICE_UNAVAILABLE, "database_unavailable"),
}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus our domain errors as JSON ``{"detail", "code"}`` with a fitting status."""
    for kind, (code, name) in _ERRORS.items():
        if isinstance(exc, kind):
            detail = str(exc) if kind is not DatabaseError else "The database is unavailable; try again shortly."
            return Response({"detail": detail, "code": name}, status=code)
    return drf_exception_handler(exc, context)


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


_REQUEST_EXAMPLE = OpenApiExample("data URL", value={"image": "data:image/png;base64,iVBORw0KGgo..."})


class PredictionViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Predictions: every one is stored, with its drawing and the 28x28 input the model saw."""

    serializer_class = DrawingSerializer
    queryset = Drawing.objects.select_related("model_version")

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
        responses={
            201: DrawingSerializer,
            400: OpenApiResponse(description="Not an image, or an empty canvas."),
            503: OpenApiResponse(description="No model is available."),
        },
    )
    def create(self, request: Request) -> Response:
        """Predict the digit in an image and store it; the answer says how to correct it."""
        submission = predictions.create_submission(_uploaded_image(request), lambda: _session_key(request))
        drawing = submission.ordered_drawings[0]
        context = {**self.get_serializer_context(), "include_token": True}
        return Response(DrawingSerializer(drawing, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=CorrectionRequestSerializer,
        responses={200: DrawingSerializer, 403: OpenApiResponse(description="Not your drawing.")},
    )
    @action(detail=True, methods=["post"], url_path="correction", url_name="correction")
    def correction(self, request: Request, pk: str) -> Response:
        """Correct a prediction: the client that made the drawing (its session or token) and staff may."""
        drawing = get_object_or_404(Drawing.objects.select_related("model_version"), pk=pk)
        serializer = CorrectionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        allowed = predictions.may_correct(
            drawing,
            session_key=request.session.session_key,
            is_staff=request.user.is_staff,
            token=serializer.validated_data.get("token"),
        )
        if not allowed:
            raise PermissionDenied("You can only correct your own drawings.")
        reviewer = request.user if request.user.is_staff else None
        predictions.correct(drawing, serializer.validated_data["label"], reviewer=reviewer)
        return Response(self.get_serializer(drawing).data)


class NumberViewSet(viewsets.GenericViewSet):
    """Numbers: several digits written side by side, each stored and correctable as its own drawing."""

    serializer_class = NumberSerializer

    @extend_schema(request=PredictionRequestSerializer, examples=[_REQUEST_EXAMPLE], responses={201: NumberSerializer})
    def create(self, request: Request) -> Response:
        """Read a whole number: each digit is predicted, stored and returned with its own correction URL."""
        submission = predictions.create_submission(
            _uploaded_image(request), lambda: _session_key(request), as_number=True
        )
        context = {**self.get_serializer_context(), "include_token": True}
        return Response(NumberSerializer(submission, context=context).data, status=status.HTTP_201_CREATED)
