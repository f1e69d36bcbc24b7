"""Who may correct a drawing: staff; the client that made it, by its correction token or by its client cookie.

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

from recognizer.api.authentication import client_key, token_matches
from recognizer.models import Drawing


class MayCorrect(permissions.BasePermission):
    """Object permission for the correction action; the token is read from the request body's ``token``."""

    message = "You can only correct your own drawings."

    def has_object_permission(self, request: Request, view: APIView, drawing: Drawing) -> bool:
        if request.user.is_staff:
            return True
        token = request.data.get("token") if isinstance(request.data, dict) else None
        if token_matches(drawing.pk, token if isinstance(token, str) else None):
            return True
        key = client_key(request)
        if key and drawing.client_key and constant_time_compare(key, drawing.client_key):
            SessionAuthentication().enforce_csrf(request)
            return True
        return False
