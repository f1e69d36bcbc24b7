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

import numpy as np
from django.conf import settings
from PIL import Image, UnidentifiedImageError

DATA_URL = re.compile(r"^data:(?P<mime>image/[\w.+-]+)?(?:;[\w-]+=[\w.-]+)*;base64,(?P<data>.*)$", re.DOTALL)


#: Modes the rest of the pipeline (preprocessing, PNG storage) handles as they are; others are converted on upload.
KEPT_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B", "I;16L"})


class InvalidImage(ValueError):
    """The upload is not a usable image; the message says why, for the client."""


class ImageTooLarge(InvalidImage):
    """The upload is over the configured byte or pixel limits (HTTP 413 rather than 400)."""


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
        raise ImageTooLarge(f"The image is larger than {settings.DIGITS_MAX_UPLOAD_BYTES} bytes.")
    limit = settings.DIGITS_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
            width, height = image.size
            if width * height > limit:
                raise ImageTooLarge(f"The image has {width}x{height} pixels; at most {limit} pixels are accepted.")
            if getattr(image, "n_frames", 1) > 1:
                raise InvalidImage("Animated or multi-frame images are not accepted: send a single drawing.")
            image.load()
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge("The image is too large once decompressed.") from exc
    except UnidentifiedImageError as exc:
        raise InvalidImage("The file is not an image in a format we can read (PNG, JPEG, GIF, WebP, BMP…).") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImage(f"The image is damaged or truncated ({exc}).") from exc
    return _normalise_mode(image)


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Convert the rarer modes (CMYK or YCbCr JPEG, 32-bit or float TIFF, …) to ones PNG and preprocessing handle.

    32-bit integer and float images are scaled by their maximum like 16-bit ones, so faint values keep their contrast.
    The converted image keeps the original's ``format``: the stored file is the upload re-encoded as PNG.
    """
    if image.mode in KEPT_MODES:
        return image
    try:
        if image.mode in ("I", "F"):
            values = np.asarray(image, dtype=np.float64)
            peak = max(float(values.max()), 1.0)
            converted = Image.fromarray((np.clip(values, 0, None) / peak * 255).astype(np.uint8), "L")
        else:
            converted = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except ValueError as exc:
        raise InvalidImage(f"Images in the {image.mode} colour mode are not supported.") from exc
    converted.format = image.format
    return converted


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


def png_data_url(png: bytes) -> str:
    """PNG bytes as a ``data:`` URL, to show in an ``<img>`` or send as the API's ``image``."""
    return "data:image/png;base64," + base64.b64encode(png).decode()
