"""The drawing page. All it needs is the CSRF cookie for its API calls; the page logic is in static JavaScript."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "recognizer/index.html", {"max_digits": settings.DIGITS_MAX_NUMBER_DIGITS})
