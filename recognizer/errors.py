"""Django's error pages for requests that never reach an API view (an unknown URL, a refused host, a crash):
JSON ``{"detail", "code"}`` under ``/api/``, like every other API answer, and Django's HTML pages elsewhere.

A database error that escapes the views (say, saving the session after the response) is a 503, like in the API.
"""

from __future__ import annotations

import sys

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from recognizer.api import RETRY_AFTER_UNAVAILABLE


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
            body = {"detail": "The database is unavailable; try again shortly.", "code": "database_unavailable"}
            return JsonResponse(body, status=503, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE})
        return JsonResponse({"detail": "Internal server error.", "code": "server_error"}, status=500)
    return defaults.server_error(request)
