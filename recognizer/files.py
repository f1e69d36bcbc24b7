"""Files written next to database rows: removed again when the rows cannot be written, so nothing is half-stored."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models.fields.files import FieldFile


@contextmanager
def removed_on_failure() -> Iterator[list[FieldFile]]:
    """Yield a list to append each saved :class:`FieldFile` to; if the block raises, every one is deleted."""
    saved: list[FieldFile] = []
    try:
        yield saved
    except BaseException:
        for fieldfile in saved:
            fieldfile.storage.delete(fieldfile.name)
        raise
