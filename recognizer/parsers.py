"""Request parsers that refuse oversized bodies before reading them.

Django bounds only form fields (``DATA_UPLOAD_MAX_MEMORY_SIZE``); a JSON body is read whole and a multipart file is
spooled to disk whatever its size. These parsers check ``Content-Length`` first, against the same setting, so a
client cannot make a web process read gigabytes just to be told the image is too large.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework import parsers, status
from rest_framework.exceptions import APIException


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


class _SizeLimited:
    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            raise RequestTooLarge(f"The request body has {length} bytes; at most {limit} are accepted.")
        return super().parse(stream, media_type, parser_context)


class JSONParser(_SizeLimited, parsers.JSONParser):
    pass


class MultiPartParser(_SizeLimited, parsers.MultiPartParser):
    pass


class FormParser(_SizeLimited, parsers.FormParser):
    pass
