"""Decoding what clients upload into a single-frame PIL image, with every failure turned into a clear message.

Limits (bytes and pixels) come from settings; Pillow's decompression-bomb guard is applied with our own pixel limit
so a tiny file that would expand to gigabytes is refused before it is decoded.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

from django.conf import settings
from PIL import Image, UnidentifiedImageError

DATA_URL = re.compile(r"^data:(?P<mime>image/[\w.+-]+)?(?:;[\w-]+=[\w.-]+)*;base64,(?P<data>.*)$", re.DOTALL)


class InvalidImage(ValueError):
    """The upload is not a usable image; the message says why, for the client."""


def decode_data_url(value: str) -> bytes:
    """Bytes of a ``data:image/...;base64,...`` URL (a bare base64 string is accepted too)."""
    match = DATA_URL.match(value.strip())
    payload = match.group("data") if match else value.strip()
    if not match and value.strip().startswith("data:"):
        raise InvalidImage("The image must be a base64 data URL such as data:image/png;base64,....")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImage("The image data is not valid base64.") from exc
    if not raw:
        raise InvalidImage("The image is empty.")
    return raw


def open_image(raw: bytes) -> Image.Image:
    """Decode ``raw`` fully, enforcing the byte and pixel limits and refusing animations and broken files."""
    if len(raw) > settings.DIGITS_MAX_UPLOAD_BYTES:
        raise InvalidImage(f"The image is larger than {settings.DIGITS_MAX_UPLOAD_BYTES} bytes.")
    limit = settings.DIGITS_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            width, height = image.size
            if width * height > limit:
                raise InvalidImage(f"The image has {width}x{height} pixels; at most {limit} pixels are accepted.")
            if getattr(image, "n_frames", 1) > 1:
                raise InvalidImage("Animated or multi-frame images are not accepted: send a single drawing.")
            image.load()
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage("The image is too large once decompressed.") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage("The file is not an image in a format we can read (PNG, JPEG, GIF, WebP, BMP…).") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(f"The image is damaged or truncated ({exc}).") from exc
    return image


def as_png(image: Image.Image, raw: bytes | None = None) -> bytes:
    """The bytes to store: the upload ``raw`` itself when it is already a PNG, else the image encoded as PNG."""
    if raw is not None and image.format == "PNG":
        return raw
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def array_to_png(array) -> bytes:
    """Encode a grayscale uint8 array (the 28x28 model input, a digit crop) as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
