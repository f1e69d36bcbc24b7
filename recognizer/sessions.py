"""Database sessions that cost one INSERT to create instead of a SELECT, an INSERT and an UPDATE.

Every prediction from a client without a session cookie creates a session (so that client can correct its drawing
later). Django's database backend spends three statements in two transactions on that: a SELECT to check that the
new key is free, the INSERT, and, because a session created during a request counts as modified, an UPDATE by
``SessionMiddleware`` that rewrites the same row just to send the cookie. That was a third of a prediction's SQL.

Here the key's uniqueness is left to the primary key (a collision raises ``CreateError`` and ``create()`` tries a new
key, as Django's own loop does), and the middleware's save is skipped while the session still holds exactly what
``create()`` wrote. Configured with ``SESSION_ENGINE = "recognizer.sessions"``.
"""

from __future__ import annotations

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils.crypto import get_random_string


class SessionStore(DatabaseSessionStore):
    #: The key and data that ``create()`` wrote, while the row still holds them.
    _written: tuple[str, dict] | None = None

    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)  # as Django's, without its SELECT

    def create(self) -> None:
        super().create()
        self._written = (self.session_key, dict(self._session))

    def save(self, must_create: bool = False) -> None:
        if not must_create and self._written == (self.session_key, getattr(self, "_session_cache", None)):
            return  # the row already holds this
        self._written = None  # set again by create() when this save creates the session
        super().save(must_create=must_create)
