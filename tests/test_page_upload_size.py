"""The page sends its drawing at 280 px whatever the screen's pixel density, in a real browser.

A phone's canvas has ~3 device pixels per CSS pixel; sent as is, its PNG would cost the server 10-20 ms to decode
(bench/predict_inprocess.py, --size) for the same 28x28 model input.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from PIL import Image

from recognizer.models import Drawing
from recognizer.registry import ensure_default_model
from tests.support.env import skip_or_fail

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def draw_and_predict(url: str) -> tuple[int, int, dict]:
    """Draw a stroke on a 3x-density screen and press Predict: (canvas width in device pixels, status, answer).

    Playwright's sync API runs an event loop in this thread, so the test touches the database only outside it.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*ARGS, "--disable-sync"])
        page = browser.new_context(viewport={"width": 420, "height": 900}, device_scale_factor=3).new_page()
        page.goto(url)
        canvas_width = page.evaluate("document.querySelector('#pad').width")
        box = page.locator("#pad").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.85, steps=12)
        page.mouse.up()
        with page.expect_response("**/api/predictions/") as answer:
            page.click("#predict")
        result = canvas_width, answer.value.status, answer.value.json()
        browser.close()
    return result


def test_a_high_density_canvas_is_sent_at_280_px(live_server) -> None:
    if not CHROMIUM.exists():
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    ensure_default_model()
    canvas_width, status, body = draw_and_predict(live_server.url)
    assert canvas_width > 600  # the canvas really is high-density
    assert status == 201
    drawing = Drawing.objects.get(pk=body["id"])
    with default_storage.open(drawing.image.name, "rb") as fh:
        stored = Image.open(io.BytesIO(fh.read()))
    assert stored.size == (280, 280)
    assert stored.getchannel("A").getbbox() is not None  # the stroke is in it
