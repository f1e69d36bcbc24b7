"""Stored files (``MEDIA_ROOT``), served only to those who may see them; ``/media/`` is not a public folder.

- A drawing's picture (``drawings/…``) and a number's (``submissions/…``): to staff and to the client that drew it
  (its signed client cookie); a 404 for anyone else, as if it did not exist. Names are random as well
  (``recognizer.models``), so none can be guessed from a time or a content.
- Model artifacts (``models/…``) and training runs' figures (``training_runs/…``): staff only.
- Anything else: 404.

Files are streamed by Django (``FileResponse``); the embedded set-up has no web server in front. Behind one, keep
``MEDIA_ROOT`` out of what it serves: these checks are the only way in.
"""

from __future__ import annotations

import mimetypes
from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET

from recognizer.api.authentication import client_key
from recognizer.models import Drawing, Submission

STAFF_ONLY = ("models", "training_runs")


def _client_may_see(request: HttpRequest, owner: str | None) -> bool:
    key = client_key(request)
    return bool(key and owner and constant_time_compare(key, owner))


def may_see(request: HttpRequest, name: str) -> bool:
    folder = name.split("/", 1)[0]
    staff = request.user.is_authenticated and request.user.is_staff
    if folder == "drawings":
        owner = Drawing.objects.filter(image=name).values_list("client_key", flat=True).first()
    elif folder == "submissions":
        owner = Submission.objects.filter(image=name).values_list("client_key", flat=True).first()
    elif folder in STAFF_ONLY:
        return staff
    else:
        return False
    if owner is None:  # no such file on record
        return False
    return staff or _client_may_see(request, owner)


@require_GET
def serve(request: HttpRequest, path: str) -> FileResponse:
    name = PurePosixPath(path)
    if name.is_absolute() or ".." in name.parts or not name.parts:
        raise Http404("No such file.")
    if not may_see(request, str(name)) or not default_storage.exists(str(name)):
        raise Http404("No such file.")
    content_type = mimetypes.guess_type(name.name)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(str(name), "rb"), content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
