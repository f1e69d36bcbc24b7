"""Every API error as JSON ``{"detail", "code"}`` with a fitting status, whether raised in a view or before one.

:func:`exception_handler` is DRF's (settings ``EXCEPTION_HANDLER``): our domain errors get their status here, DRF's
own errors get a ``code``, and validation errors a readable ``detail`` plus the per-field ``errors``. The Django
handlers below answer requests that never reach an API view (an unknown URL, a refused host, a crash) the same way
under ``/api/``, and with Django's HTML pages elsewhere.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from recognizer.core.classifier import ModelUnavailable
from recognizer.core.preprocessing import EmptyDrawing, TooManyDigits
from recognizer.core.segmentation import CannotSplit
from recognizer.core.strokes import InvalidStrokes
from recognizer.images import ImageTooLarge, InvalidImage
from recognizer.predictions import CorrectionLocked, SplitConflict

log = logging.getLogger(__name__)

#: Domain errors and their answers, most specific first.
_ERRORS = {
    RequestDataTooBig: (status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "request_too_large"),
    ImageTooLarge: (status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, "image_too_large"),
    InvalidImage: (status.HTTP_400_BAD_REQUEST, "invalid_image"),
    InvalidStrokes: (status.HTTP_400_BAD_REQUEST, "invalid_strokes"),
    EmptyDrawing: (status.HTTP_400_BAD_REQUEST, "empty_drawing"),
    TooManyDigits: (status.HTTP_400_BAD_REQUEST, "number_too_large"),
    CannotSplit: (status.HTTP_400_BAD_REQUEST, "cannot_split"),
    CorrectionLocked: (status.HTTP_409_CONFLICT, "correction_locked"),
    SplitConflict: (status.HTTP_409_CONFLICT, "split_conflict"),
    ModelUnavailable: (status.HTTP_503_SERVICE_UNAVAILABLE, "model_unavailable"),
    DatabaseError: (status.HTTP_503_SERVICE_UNAVAILABLE, "database_unavailable"),
}
#: How long a client should wait before retrying after a 503 (seconds).
RETRY_AFTER_UNAVAILABLE = "5"
DATABASE_DOWN = "The database is unavailable; try again shortly."


def _messages(errors, field: str = "") -> Iterator[str]:
    """DRF's nested validation errors as "field: message" lines."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            yield from _messages(value, "" if key == "non_field_errors" else key)
    elif isinstance(errors, list):
        for item in errors:
            yield from _messages(item, field)
    else:
        yield f"{field}: {errors}" if field else str(errors)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    for kind, (code, name) in _ERRORS.items():
        if isinstance(exc, kind):
            if kind is DatabaseError:
                log.error("Database unavailable while answering %s: %s", context["request"].path, exc)
                detail = DATABASE_DOWN
            elif kind is RequestDataTooBig:
                detail = f"The request body is over the limit of {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
            else:
                detail = str(exc)
            headers = {"Retry-After": RETRY_AFTER_UNAVAILABLE} if code == status.HTTP_503_SERVICE_UNAVAILABLE else None
            return Response({"detail": detail, "code": name}, status=code, headers=headers)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        errors = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = {"detail": " ".join(_messages(errors)), "code": "invalid_input", "errors": errors}
    elif isinstance(response.data, dict) and isinstance(detail := response.data.get("detail"), ErrorDetail):
        response.data.setdefault("code", detail.code)
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Bad request.", "code": "bad_request"}, status=400)
    return defaults.bad_request(request, exception)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        if isinstance(sys.exc_info()[1], DatabaseError):
            body = {"detail": DATABASE_DOWN, "code": "database_unavailable"}
            return JsonResponse(body, status=503, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE})
        return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)
    return defaults.server_error(request)
