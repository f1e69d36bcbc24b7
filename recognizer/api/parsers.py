"""Request parsers that fail cleanly (a 4xx with a JSON error, never a 500) on hostile bodies.

Django bounds JSON and form bodies by ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (DRF reads them through ``request.body``), but
streams a multipart file to disk whatever its size, and the API would then read it whole just to say it is too
large. :class:`MultiPartParser` checks ``Content-Length`` against the same setting first and fails the same way.

JSON nested thousands of levels deep (``[[[[...]]]]``, a few kilobytes) makes Python's decoder raise
``RecursionError``, which DRF's parser does not catch: :class:`JSONParser` answers it as malformed JSON (400).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the document is nested too deeply.") from exc


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if limit is not None and length > limit:
            raise RequestDataTooBig(f"The request body has {length} bytes; at most {limit} are accepted.")
        return super().parse(stream, media_type, parser_context)
