"""The REST API: predict (a digit or a number), read a prediction back, correct it, split a number again. Thin: the
work is in :mod:`recognizer.predictions`; this module maps HTTP to it, and :mod:`recognizer.api.exceptions` turns
errors into JSON."""

from __future__ import annotations

import json

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from recognizer import predictions
from recognizer.api import authentication as clients
from recognizer.api import throttling
from recognizer.api.permissions import MayCorrect
from recognizer.api.serializers import (
    CorrectionRequestSerializer,
    DrawingSerializer,
    ErrorSerializer,
    NumberSerializer,
    PredictionRequestSerializer,
    SplitRequestSerializer,
)
from recognizer.core import strokes as core_strokes
from recognizer.images import decode_data_url
from recognizer.models import Drawing, Submission
from recognizer.network import request_network_key


def request_strokes(request: Request) -> core_strokes.Drawing | None:
    """The request's ``strokes``, validated (:func:`recognizer.core.strokes.parse`), or None when it has none.

    In JSON they are an object (or a bare list of strokes); in a multipart form, the same as JSON text.
    """
    if not isinstance(request.data, dict) or "strokes" not in request.data:
        return None
    value = request.data.get("strokes")
    if value is None:  # the schema says an object: null is refused, not read as "no strokes"
        raise core_strokes.InvalidStrokes("Strokes may not be null: send them, or leave the field out.")
    if isinstance(value, str) and request.content_type.startswith("multipart/"):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise core_strokes.InvalidStrokes("Strokes in a form must be JSON text.") from error
    return core_strokes.parse(value)


def request_image(request: Request) -> bytes:
    """The raw image bytes of a request: a multipart ``image`` file or a JSON ``image`` data URL."""
    upload = request.FILES.get("image")
    if upload is not None:
        return upload.read()
    value = request.data.get("image") if isinstance(request.data, dict) else None
    if not isinstance(value, str):
        # Only a malformed request pays for the serializer: it says what is wrong (not an object, no image, null).
        PredictionRequestSerializer(data=request.data).is_valid(raise_exception=True)
        raise ValidationError({"image": ["Send the image as a data URL string or as a multipart file."]})
    return decode_data_url(value)


def create_submission(request: Request, as_number: bool, **options) -> Submission:
    """Read the request's drawing (strokes when it has them, else its image) and predict it; ``options`` go to
    :func:`recognizer.predictions.create_submission`."""
    strokes = request_strokes(request)
    raw = request_image(request) if strokes is None else None
    return predictions.create_submission(
        raw,
        clients.ensure_client_key(request),
        as_number=as_number,
        strokes=strokes,
        network_key=request_network_key(request),
        **options,
    )


#: How many drawings the "recent" endpoint returns: the page's strip of this client's drawings.
RECENT_COUNT = 12


#: A real 32x32 drawing of a 7, so "Try it out" in the API docs (and schemathesis) gets a real prediction.
_REQUEST_EXAMPLE = OpenApiExample(
    "a drawn 7",
    value={
        "image": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAQAAADZc7J/AAAAYElEQVR42tWUURIAEAhEy7j/lZ8DUD"
        "INo/0Ua18TIuWl0wpn+9vR8UW93UFQ8+6p0gOWrtIIUQOsdM8SJA2w21sDAW8+KiDgD/j/COxe6O8IW4DLCcgZEPsj0wh+C5ECGsCNDzFjTqy0A"
        "AAAAElFTkSuQmCC"
    },
)


#: The same 7 drawn as strokes (a mouse, two strokes' worth of points in one), as the page sends it beside the image.
_STROKES_EXAMPLE = OpenApiExample(
    "a 7 as strokes",
    value={
        "strokes": {
            "aspect": 1.0,
            "pointer": "mouse",
            "strokes": [[[0.2, 0.12, 0], [0.5, 0.12, 60], [0.8, 0.12, 120], [0.62, 0.5, 220], [0.45, 0.9, 320]]],
        }
    },
)


#: The two kinds of correction, for the API docs.
_CORRECTION_EXAMPLES = [
    OpenApiExample("it is a 7", value={"label": 7}),
    OpenApiExample("it is not a digit", value={"not_a_digit": True}),
]


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


_PREDICT_ERRORS = {
    400: _error(
        "Not an image, malformed strokes, an empty canvas, or a number with too many digits or too large a canvas."
    ),
    413: _error("The image or the request is over the size limits."),
    415: _error("Send JSON or a multipart form."),
    429: _error("Too many predictions; see the Retry-After header."),
    503: _error("No model is available, or the database is down."),
}
#: Which rate limit (``DIGITS_RATE_*``) applies to which action; reading back a drawing is not limited. Saying how
#: many digits a number has is a correction of it.
_THROTTLE_SCOPES = {"create": "predict", "correction": "correct", "split": "correct"}
#: Actions on what a client made, which it proves by its cookie or a correction token (:class:`MayCorrect`).
_OWNERS_ACTIONS = {"correction", "split"}


class _ClientActions:
    """Viewsets whose actions are rate limited per client and address, and whose owners' actions answer a stranger
    403, never 401: an anonymous client proves itself by cookie or token, never by logging in."""

    @property
    def throttle_scope(self) -> str | None:
        return _THROTTLE_SCOPES.get(self.action)

    def get_permissions(self) -> list[permissions.BasePermission]:
        return [MayCorrect()] if self.action in _OWNERS_ACTIONS else super().get_permissions()

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> None:
        if self.action in _OWNERS_ACTIONS:
            raise PermissionDenied(message, code)
        super().permission_denied(request, message, code)


class DrawingPagination(PageNumberPagination):
    """The staff listing, a page at a time (``?page=2``, ``?page_size=`` up to 500), newest first."""

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        self.page_size = settings.DIGITS_LIST_PAGE_SIZE
        return super().get_page_size(request)


@extend_schema_view(
    list=extend_schema(responses={200: DrawingSerializer(many=True), 403: _error("Staff only.")}),
    retrieve=extend_schema(responses={200: DrawingSerializer, 404: _error("No such drawing, or not yours.")}),
)
class PredictionViewSet(_ClientActions, mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """Predictions: every one is stored, with its drawing and the 28x28 input the model saw."""

    serializer_class = DrawingSerializer
    queryset = Drawing.objects.select_related("model_version").order_by("-created_at", "-pk")
    pagination_class = DrawingPagination
    # Ids are numbers that fit the database's integer: anything else is a plain 404, never a database error.
    lookup_value_regex = r"[0-9]{1,18}"

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action == "list":
            return [permissions.IsAdminUser()]
        return super().get_permissions()

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.request.user.is_staff:
            return queryset
        return queryset.filter(client_key=clients.client_key(self.request) or "-")

    @extend_schema(
        request=PredictionRequestSerializer,
        examples=[_REQUEST_EXAMPLE, _STROKES_EXAMPLE],
        responses={201: DrawingSerializer, **_PREDICT_ERRORS},
    )
    def create(self, request: Request) -> Response:
        """Predict the digit in an image and store it; the answer says how to correct it."""
        submission = create_submission(request, as_number=False)
        drawing = submission.ordered_drawings[0]
        context = {**self.get_serializer_context(), "include_token": True}
        return Response(DrawingSerializer(drawing, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: DrawingSerializer(many=True)})
    @action(detail=False, methods=["get"], url_path="recent", url_name="recent", pagination_class=None)
    def recent(self, request: Request) -> Response:
        """This client's own latest drawings (by its cookie), newest submission first, a number's digits in order."""
        key = clients.client_key(request)
        drawings = Drawing.objects.none()
        if key:
            drawings = Drawing.objects.select_related("model_version").filter(client_key=key, superseded_by=None)
        drawings = drawings.order_by("-submission_id", "position")
        return Response(self.get_serializer(drawings[:RECENT_COUNT], many=True).data)

    @extend_schema(
        request=CorrectionRequestSerializer,
        examples=_CORRECTION_EXAMPLES,
        responses={
            200: DrawingSerializer,
            400: _error(
                "Neither or both of label and not_a_digit, a label that is not a digit 0-9, or a not_a_digit "
                "that is not true."
            ),
            403: _error("Not your drawing, or no CSRF token with the client cookie."),
            404: _error("No such drawing."),
            409: _error("Staff have reviewed it: it can no longer be changed."),
            429: _error("Too many corrections; see the Retry-After header."),
            503: _error("The database is down."),
        },
    )
    @action(detail=True, methods=["post"], url_path="correction", url_name="correction")
    def correction(self, request: Request, pk: str) -> Response:
        """Correct a prediction: the digit that was drawn (``label``), or ``not_a_digit: true`` when it is no digit at
        all. The client that made the drawing (its token or cookie) and staff may.

        A second correction replaces the first, until staff have reviewed it (then 409).
        """
        drawing = get_object_or_404(Drawing.objects.select_related("model_version"), pk=pk)
        serializer = CorrectionRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.check_object_permissions(request, drawing)
        reviewer = request.user if request.user.is_staff else None
        network = request_network_key(request)
        predictions.correct(drawing, serializer.validated_data["label"], reviewer=reviewer, network=network)
        return Response(self.get_serializer(drawing).data)


class NumberViewSet(_ClientActions, viewsets.GenericViewSet):
    """Numbers: several digits written side by side, each stored and correctable as its own drawing; a number split
    wrong is read again into as many digits as its person says it has."""

    serializer_class = NumberSerializer
    lookup_value_regex = PredictionViewSet.lookup_value_regex

    @extend_schema(
        request=PredictionRequestSerializer,
        examples=[_REQUEST_EXAMPLE, _STROKES_EXAMPLE],
        responses={201: NumberSerializer, **_PREDICT_ERRORS},
    )
    def create(self, request: Request) -> Response:
        """Read a whole number: each digit is predicted, stored and returned with its own correction URL."""
        submission = create_submission(
            request,
            as_number=True,
            # The throttle counted one digit; the others are charged once they are known, before they are read.
            before_classify=lambda digits: throttling.charge(request, self, digits - 1),
        )
        context = {**self.get_serializer_context(), "include_token": True}
        return Response(NumberSerializer(submission, context=context).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=SplitRequestSerializer,
        responses={
            200: NumberSerializer,
            400: _error(
                "digits is not a whole number from 1 to the most a number may have (invalid_input), or the drawing "
                "cannot be cut into that many (cannot_split)."
            ),
            403: _error("Not your number, or no CSRF token with the client cookie."),
            404: _error("No such number (a single digit's prediction is not one)."),
            409: _error("Another request split it again first (split_conflict)."),
            429: _error("Too many corrections; see the Retry-After header."),
            503: _error("No model is available, or the database is down."),
        },
    )
    @action(detail=True, methods=["post"], url_path="split", url_name="split")
    def split(self, request: Request, pk: str) -> Response:
        """Say how many digits the number really has ("10" was read as one digit, a "0" was cut in two): it is read
        again into exactly that many, each stored and correctable; the earlier digits are kept, superseded, and no
        longer train. The same count as now changes nothing. The client that drew it (its cookie, or the
        correction token of any of its digits) and staff may.
        """
        submission = get_object_or_404(Submission.objects.exclude(image=""), pk=pk)
        serializer = SplitRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.check_object_permissions(request, submission)
        made_by = request.user if request.user.is_staff else None
        predictions.resplit(submission, serializer.validated_data["digits"], made_by=made_by)
        context = {**self.get_serializer_context(), "include_token": True}
        return Response(NumberSerializer(submission, context=context).data)
