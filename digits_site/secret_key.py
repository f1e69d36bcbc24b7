"""The signing key of a site started without ``SECRET_KEY``: random, made once, kept under ``var/``.

The run command on a laptop sets no key. A key written in the source would let anyone who reads it forge client
cookies and correction tokens, so instead the first process to start writes 50 random bytes' worth of key to
``var/secret_key`` (mode 0600) and every process after it (web workers, the Celery worker and scheduler, the next
start) reads the same file. Writing is atomic: the key goes to a private temporary file that is then linked to its
name, which fails if another process got there first, so two processes starting at once still share one key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

#: Shorter than this, a kept key is taken for a damaged file rather than used.
MIN_LENGTH = 50


def kept_secret_key(folder: Path, name: str = "secret_key") -> str:
    """The key kept in ``folder/name``, made there first if there is none."""
    path = folder / name
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if len(key) >= MIN_LENGTH:
        return key
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}-")  # mode 0600
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50) + "\n")
        if key:  # a damaged key file: replace it
            os.replace(temporary, path)
        else:
            with contextlib.suppress(FileExistsError):  # another process made it meanwhile: use theirs
                os.link(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path.read_text().strip()
