"""Bad input: every kind gets a 4xx JSON answer that says what is wrong, and leaves no row and no file behind.

Unusual but valid images (palette, 16-bit, CMYK, LA, 32-bit and float TIFF) are accepted and read like the
ordinary RGB drawing they show.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.db import OperationalError
from PIL import Image
from rest_framework.test import APIClient

from bench.drawing import blank_canvas, data_url, draw_digit, png_bytes
from recognizer import review
from recognizer.api import exceptions as errors
from recognizer.core.preprocessing import preprocess
from recognizer.models import Drawing, Submission
from tests.support.measures import similarity

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/api/predictions/", "/api/numbers/"]


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def as_data_url(raw: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(side: int) -> bytes:
    """A valid black-and-white PNG of ``side`` x ``side`` pixels, all zero: a few hundred KB that decode to
    hundreds of MB. Compressed row by row, so making it needs little memory."""
    row = bytes(1 + (side + 7) // 8)  # filter byte + packed 1-bit pixels
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def animated(fmt: str) -> bytes:
    frames = [draw_digit(1, mode="white"), draw_digit(7, mode="white")]
    return encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100)


def stored_files() -> list[Path]:
    """Files in storage other than the model artifacts the ``active_model`` fixture registers."""
    root = Path(django_settings.MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file() and "models" not in path.relative_to(root).parts]


def assert_refused(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """A JSON error with ``status`` that says what is wrong (its ``code``, the offending ``field``); nothing stored."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["detail"]
    assert body["code"] == code or (code is None and body["code"] == "invalid_input")
    if field is not None:
        assert body["errors"][field]
        assert field in body["detail"] or field == "non_field_errors"
    assert Submission.objects.count() == 0
    assert Drawing.objects.count() == 0
    assert stored_files() == []
    return body


@pytest.fixture
def post(client_api, active_model):
    def send(endpoint: str, image: str | bytes | Image.Image) -> object:
        value = data_url(image) if isinstance(image, Image.Image) else image
        value = as_data_url(value) if isinstance(value, bytes) else value
        return client_api.post(endpoint, {"image": value}, format="json")

    return send


# --- The body itself --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_body_that_is_not_json(client_api, active_model, endpoint: str) -> None:
    response = client_api.post(endpoint, data="{'image': nope", content_type="application/json")
    body = assert_refused(response, 400, code="parse_error")
    assert "JSON" in body["detail"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("payload", [{}, {"picture": "x"}, {"image": None}], ids=str)
def test_a_missing_image(client_api, active_model, endpoint: str, payload: dict) -> None:
    assert_refused(client_api.post(endpoint, payload, format="json"), 400, field="image")


@pytest.mark.parametrize("payload", ["[1, 2]", "42", '"data:image/png;base64,"'])
def test_json_that_is_not_an_object(client_api, active_model, payload: str) -> None:
    response = client_api.post(ENDPOINTS[0], data=payload, content_type="application/json")
    assert_refused(response, 400, field="non_field_errors")


@pytest.mark.parametrize("value", [123, ["data:image/png;base64,AAAA"], {"data": "AAAA"}], ids=str)
def test_an_image_that_is_not_a_string(client_api, active_model, value) -> None:
    assert_refused(client_api.post(ENDPOINTS[0], {"image": value}, format="json"), 400, field="image")


def test_an_unsupported_content_type(client_api, active_model) -> None:
    response = client_api.post(ENDPOINTS[0], data=png_bytes(draw_digit(1)), content_type="image/png")
    assert_refused(response, 415, code="unsupported_media_type")


# --- The image encoding -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "value",
    [
        "data:image/png;base64",  # no comma, no data
        "data:image/png,iVBORw0KGgo=",  # not base64-encoded
        "data:text/plain;base64,aGVsbG8=",  # not an image type
        "data:image/png;base64,@@@@",  # not base64
        "data:image/png;base64,iVBORw0KGgo",  # base64 with its padding cut
        "data:image/png;base64,",  # empty
        "",
        "not a data url at all",
    ],
)
def test_a_malformed_data_url_or_base64(post, endpoint: str, value: str) -> None:
    assert_refused(post(endpoint, value), 400, code="invalid_image")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [b"hello world", b"%PDF-1.4 a document", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, bytes(range(256)) * 4],
    ids=["text", "pdf", "png-signature-only", "binary"],
)
def test_not_an_image(post, endpoint: str, raw: bytes) -> None:
    body = assert_refused(post(endpoint, raw), 400, code="invalid_image")
    assert "not an image" in body["detail"] or "damaged" in body["detail"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_a_truncated_png(post, endpoint: str, fraction: float) -> None:
    raw = png_bytes(draw_digit(3))
    assert_refused(post(endpoint, raw[: int(len(raw) * fraction)]), 400, code="invalid_image")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("raw", [animated("GIF"), animated("PNG"), animated("TIFF")], ids=["gif", "apng", "tiff"])
def test_an_animated_or_multi_frame_image(post, endpoint: str, raw: bytes) -> None:
    body = assert_refused(post(endpoint, raw), 400, code="invalid_image")
    assert "multi-frame" in body["detail"]


# --- Size limits ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_image_over_the_byte_limit(post, settings, endpoint: str) -> None:
    raw = png_bytes(draw_digit(3))
    settings.DIGITS_MAX_UPLOAD_BYTES = len(raw) - 1
    body = assert_refused(post(endpoint, raw), 413, code="image_too_large")
    assert str(len(raw) - 1) in body["detail"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_image_over_the_pixel_limit(post, settings, endpoint: str) -> None:
    settings.DIGITS_MAX_IMAGE_PIXELS = 279 * 280
    body = assert_refused(post(endpoint, draw_digit(3)), 413, code="image_too_large")
    assert "280x280" in body["detail"]


def test_the_limits_accept_an_image_just_within_them(post, settings) -> None:
    raw = png_bytes(draw_digit(3))
    settings.DIGITS_MAX_UPLOAD_BYTES, settings.DIGITS_MAX_IMAGE_PIXELS = len(raw), 280 * 280
    assert post(ENDPOINTS[0], raw).status_code == 201


@pytest.mark.parametrize("side", [6000, 20000], ids=["over-our-limit", "over-pillows-bomb-guard"])
def test_a_decompression_bomb(post, side: int) -> None:
    raw = bomb_png(side)
    assert len(raw) < django_settings.DIGITS_MAX_UPLOAD_BYTES  # small on the wire: only its pixels give it away
    assert_refused(post(ENDPOINTS[0], raw), 413, code="image_too_large")


def test_a_request_body_over_the_limit_is_refused_before_it_is_read(client_api, active_model, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client_api.post(ENDPOINTS[0], {"image": data_url(draw_digit(3))}, format="json")
    assert_refused(response, 413, code="request_too_large")


def test_a_multipart_upload_over_the_limit_is_refused(client_api, active_model, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    upload = io.BytesIO(png_bytes(draw_digit(3)))
    upload.name = "three.png"
    response = client_api.post(ENDPOINTS[0], {"image": upload}, format="multipart")
    assert_refused(response, 413, code="request_too_large")


# --- Empty drawings ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    "image",
    [
        blank_canvas(),
        Image.new("RGB", (280, 280), "black"),
        Image.new("RGB", (280, 280), "white"),
        Image.new("L", (1, 1)),
    ],
    ids=["transparent", "all-black", "all-white", "one-pixel"],
)
def test_an_empty_canvas(post, endpoint: str, image: Image.Image) -> None:
    body = assert_refused(post(endpoint, image), 400, code="empty_drawing")
    assert "draw a digit" in body["detail"]


def specks() -> Image.Image:
    """A few isolated dots: more ink than a single stray pixel, but nothing the size of a digit."""
    image = blank_canvas((400, 200))
    for x in range(20, 380, 40):
        image.putpixel((x, 100), (0, 0, 0, 255))
    return image


def test_specks_are_not_a_number(post) -> None:
    body = assert_refused(post("/api/numbers/", specks()), 400, code="empty_drawing")
    assert "draw a digit" in body["detail"]


# --- Unusual but valid images: accepted and read correctly -------------------------------------------------------


def _sixteen_bit() -> bytes:
    gray = np.asarray(draw_digit(5, mode="white").convert("L"), dtype=np.uint16) * 257
    return encoded(Image.fromarray(gray), "PNG")


def _thirty_two_bit(mode: str) -> bytes:
    gray = np.asarray(draw_digit(5, mode="white").convert("L"), dtype=np.float32) * 1000.0
    return encoded(Image.fromarray(gray.astype(np.int32 if mode == "I" else np.float32), mode), "TIFF")


UNUSUAL = {
    "palette": lambda: encoded(draw_digit(5, mode="white").convert("P"), "PNG"),
    "palette-transparent": lambda: encoded(draw_digit(5).convert("P"), "PNG"),
    "grayscale-alpha": lambda: encoded(draw_digit(5).convert("LA"), "PNG"),
    "16-bit": _sixteen_bit,
    "1-bit": lambda: encoded(draw_digit(5, mode="white").convert("1"), "PNG"),
    "cmyk-jpeg": lambda: encoded(draw_digit(5, mode="white").convert("CMYK"), "JPEG", quality=95),
    "cmyk-tiff": lambda: encoded(draw_digit(5, mode="white").convert("CMYK"), "TIFF"),
    "32-bit-tiff": lambda: _thirty_two_bit("I"),
    "float-tiff": lambda: _thirty_two_bit("F"),
    "webp": lambda: encoded(draw_digit(5), "WEBP", lossless=True),
}


@pytest.mark.parametrize("kind", UNUSUAL)
def test_unusual_image_modes_are_accepted_and_read_like_rgb(client_api, active_model, kind: str) -> None:
    raw = UNUSUAL[kind]()
    response = client_api.post(ENDPOINTS[0], {"image": as_data_url(raw)}, format="json")
    assert response.status_code == 201, response.content
    drawing = Drawing.objects.get(pk=response.json()["id"])
    reference = preprocess(draw_digit(5))
    assert similarity(reference, drawing.input_array) > 0.97, kind
    with default_storage.open(drawing.image.name, "rb") as fh:
        stored = fh.read()
    assert Image.open(io.BytesIO(stored)).format == "PNG"  # kept as PNG whatever was sent
    assert drawing.image_sha256 == hashlib.sha256(stored).hexdigest()


# --- Corrections ------------------------------------------------------------------------------------------------


@pytest.fixture
def prediction(client_api, active_model) -> dict:
    response = client_api.post(ENDPOINTS[0], {"image": data_url(draw_digit(1))}, format="json")
    assert response.status_code == 201
    return response.json()


def assert_correction_refused(response, status: int, pk: int, code: str | None = None) -> None:
    assert response.status_code == status, response.content
    if code:
        assert response.json()["code"] == code
    assert Drawing.objects.get(pk=pk).corrected_label is None


@pytest.mark.parametrize("label", [-1, 10, 3.5, "seven", "", None, True, [3]], ids=repr)
def test_a_label_that_is_not_0_to_9(client_api, prediction, label) -> None:
    response = client_api.post(prediction["correction_url"], {"label": label}, format="json")
    assert_correction_refused(response, 400, prediction["id"], code="invalid_input")
    assert response.json()["errors"]["label"]
    assert response.json()["detail"].startswith("label: ")


def test_a_correction_body_that_is_not_json(client_api, prediction) -> None:
    response = client_api.post(prediction["correction_url"], data="label=3", content_type="application/json")
    assert_correction_refused(response, 400, prediction["id"], code="parse_error")


def test_correcting_a_drawing_that_is_not_yours(prediction) -> None:
    stranger = APIClient()
    stranger.post(ENDPOINTS[0], {"image": data_url(draw_digit(2))}, format="json")  # a session of its own
    response = stranger.post(prediction["correction_url"], {"label": 7}, format="json")
    assert_correction_refused(response, 403, prediction["id"], code="permission_denied")


def test_a_token_for_another_drawing_does_not_open_this_one(client_api, prediction) -> None:
    other = client_api.post(ENDPOINTS[0], {"image": data_url(draw_digit(2))}, format="json").json()
    response = APIClient().post(
        prediction["correction_url"], {"label": 7, "token": other["correction_token"]}, format="json"
    )
    assert_correction_refused(response, 403, prediction["id"])


def test_correcting_twice_the_second_replaces_the_first(client_api, prediction) -> None:
    assert client_api.post(prediction["correction_url"], {"label": 7}, format="json").status_code == 200
    assert Drawing.objects.get(pk=prediction["id"]).corrected_label == 7
    response = client_api.post(prediction["correction_url"], {"label": 4}, format="json")
    assert response.status_code == 200
    assert response.json()["correction"] == {**response.json()["correction"], "label": 4, "status": "pending"}
    assert Drawing.objects.get(pk=prediction["id"]).corrected_label == 4


def test_after_staff_review_the_public_cannot_change_the_correction(client_api, staff_api, prediction) -> None:
    assert staff_api.post(prediction["correction_url"], {"label": 7}, format="json").status_code == 200
    response = client_api.post(prediction["correction_url"], {"label": 4}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "correction_locked"
    drawing = Drawing.objects.get(pk=prediction["id"])
    assert (drawing.corrected_label, drawing.correction_status) == (7, Drawing.CorrectionStatus.ACCEPTED)
    assert staff_api.post(prediction["correction_url"], {"label": 4}, format="json").status_code == 200
    drawing.refresh_from_db()
    assert (drawing.corrected_label, drawing.correction_status) == (4, Drawing.CorrectionStatus.ACCEPTED)


def test_after_staff_reject_a_correction_the_public_cannot_correct_again(client_api, staff_user, prediction) -> None:
    """A rejection locks too: otherwise a client whose wrong label was rejected would resubmit it, pending again."""
    assert client_api.post(prediction["correction_url"], {"label": 7}, format="json").status_code == 200
    assert review.reject(Drawing.objects.filter(pk=prediction["id"]), staff_user) == [prediction["id"]]
    before = Drawing.objects.get(pk=prediction["id"])
    for label in (7, 4):
        response = client_api.post(prediction["correction_url"], {"label": label}, format="json")
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "correction_locked"
    after = Drawing.objects.get(pk=prediction["id"])
    assert (after.corrected_label, after.correction_status) == (7, Drawing.CorrectionStatus.REJECTED)
    assert (after.corrected_at, after.reviewed_by, after.reviewed_at) == (
        before.corrected_at,
        staff_user,
        before.reviewed_at,
    )


@pytest.mark.parametrize("pk", ["999999", "abc", "1.5", "-1", "99999999999999999999999", "%00"])
def test_an_unknown_id(client_api, prediction, pk: str) -> None:
    for response in (
        client_api.post(f"{ENDPOINTS[0]}{pk}/correction/", {"label": 1}, format="json"),
        client_api.get(f"{ENDPOINTS[0]}{pk}/"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert Drawing.objects.get(pk=prediction["id"]).corrected_label is None


# --- Requests that never reach an API view --------------------------------------------------------------------------


def test_an_unknown_url_under_the_api_is_a_json_404_and_elsewhere_a_page(client) -> None:
    response = client.get("/api/no-such-thing/")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found.", "code": "not_found"})
    page = client.get("/no-such-page/")
    assert page.status_code == 404
    assert page["Content-Type"].startswith("text/html")


def test_a_request_for_another_host_is_a_json_400(client, db) -> None:
    response = client.post("/api/predictions/", {}, HTTP_HOST="evil.example")
    assert (response.status_code, response.json()["code"]) == (400, "bad_request")


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (OperationalError("server closed the connection"), 503, "database_unavailable"),
        (KeyError("x"), 500, "server_error"),
    ],
)
def test_an_error_that_escapes_the_api_views_is_still_json(rf, error: Exception, status: int, code: str) -> None:
    """Say the database fails while a middleware saves the session, after the view answered."""
    try:
        raise error
    except type(error):
        response = errors.server_error(rf.get("/api/predictions/"))
        page = errors.server_error(rf.get("/"))
    assert (response.status_code, json.loads(response.content)["code"]) == (status, code)
    assert page.status_code == 500
    assert page["Content-Type"].startswith("text/html")
