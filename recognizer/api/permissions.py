"""Who may correct a drawing, or say how many digits a number has: staff; the client that made it, by a correction
token or by its client cookie. A number's own is any of its digits' tokens (earlier splits' digits included).

A cookie is sent by the browser whatever page asks, so a request whose only credential is the cookie must also carry
the CSRF token; the correction token is itself the credential and needs none. DRF checks CSRF only for logged-in
users, hence the explicit check here.
"""

from __future__ import annotations

from django.utils.crypto import constant_time_compare
from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.views import APIView

from recognizer.api.authentication import client_key, token_drawing
from recognizer.models import Drawing, Submission


def _token_proves(token_for: int | None, made: Drawing | Submission) -> bool:
    """A correction token names one drawing: it proves that drawing, and the number the drawing is a digit of."""
    if token_for is None:
        return False
    if isinstance(made, Submission):
        return made.drawings.filter(pk=token_for).exists()
    return token_for == made.pk


class MayCorrect(permissions.BasePermission):
    """Object permission for correcting a drawing or splitting a number again; the token is read from the request
    body's ``token``."""

    message = "You can only correct your own drawings."

    def has_object_permission(self, request: Request, view: APIView, made: Drawing | Submission) -> bool:
        if request.user.is_staff:
            return True
        token = request.data.get("token") if isinstance(request.data, dict) else None
        if _token_proves(token_drawing(token if isinstance(token, str) else None), made):
            return True
        key = client_key(request)
        if key and made.client_key and constant_time_compare(key, made.client_key):
            SessionAuthentication().enforce_csrf(request)
            return True
        return False
