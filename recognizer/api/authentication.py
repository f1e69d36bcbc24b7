"""Who an anonymous client is: a random key in a signed cookie, so that it may see and correct its own drawings; and
the signed correction token that proves the same for a client without the cookie.

Why not Django's session: a session is a database row, written by a new client's first prediction (an INSERT in a
savepoint, a sixth of a prediction's time in ``bench/profile_request.py``) and kept until ``clearsessions``. The
client's key needs no state on the server: the cookie is signed with ``SECRET_KEY``, so it cannot be forged, only
presented by the browser it was given to, like a session cookie (and, like one, it is HttpOnly, SameSite=Lax and
Secure outside DEBUG). Staff still log in with Django's sessions.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import get_random_string

SALT = "recognizer.client"
CORRECTION_SALT = "recognizer.correction"
KEY_LENGTH = 32
#: Attributes on the request: the key its cookie proved (or a new one), and whether the response must send it.
_KEY, _NEW = "_digits_client_key", "_digits_client_new"


def _http_request(request) -> HttpRequest:
    """The Django request under a DRF ``Request`` (attributes set on the wrapper would not reach the middleware)."""
    return getattr(request, "_request", request)


def client_key(request) -> str | None:
    """The key the request's signed cookie proves, if it has a valid one."""
    request = _http_request(request)
    if not hasattr(request, _KEY):
        key = request.get_signed_cookie(
            settings.DIGITS_CLIENT_COOKIE_NAME, default=None, salt=SALT, max_age=settings.DIGITS_CLIENT_COOKIE_AGE
        )
        setattr(request, _KEY, key if key and len(key) == KEY_LENGTH and key.isalnum() else None)
    return getattr(request, _KEY)


def ensure_client_key(request) -> str:
    """The request's client key, making a new one (sent back by :class:`ClientCookieMiddleware`) if it has none."""
    key = client_key(request)
    if key is None:
        request = _http_request(request)
        key = get_random_string(KEY_LENGTH)
        setattr(request, _KEY, key)
        setattr(request, _NEW, True)
    return key


class ClientCookieMiddleware:
    """Sends the cookie for a key :func:`ensure_client_key` made during the request (after a prediction was stored)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, _NEW, False) and response.status_code < 400:
            response.set_signed_cookie(
                settings.DIGITS_CLIENT_COOKIE_NAME,
                getattr(request, _KEY),
                salt=SALT,
                max_age=settings.DIGITS_CLIENT_COOKIE_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response


def correction_token(drawing_id: int) -> str:
    """A signed, timestamped token that lets the client that made a drawing correct it without the client cookie,
    for ``DIGITS_CORRECTION_TOKEN_AGE`` seconds (a day by default)."""
    return signing.dumps(drawing_id, salt=CORRECTION_SALT)


def token_drawing(token: str | None) -> int | None:
    """The drawing a correction token was given for, if it is one and has not expired."""
    if not token:
        return None
    try:
        found = signing.loads(token, salt=CORRECTION_SALT, max_age=settings.DIGITS_CORRECTION_TOKEN_AGE)
    except signing.BadSignature:  # SignatureExpired is one too
        return None
    return found if type(found) is int else None
