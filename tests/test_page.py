"""The drawing page as served (static files, no CDN) and the "recent drawings" endpoint its strip reads."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

from bench.drawing import data_url, draw_digit, draw_number

pytestmark = pytest.mark.django_db

RECENT = "/api/predictions/recent/"


def test_the_page_uses_only_its_own_static_files_and_sets_the_csrf_cookie(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "csrftoken" in response.cookies
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|svg))"', html)
    assert sorted(assets) == [
        "/static/recognizer/app.js",
        "/static/recognizer/favicon.svg",
        "/static/recognizer/style.css",
    ]
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
    assert "http://" not in html
    assert "https://" not in html
    assert "<script>" not in html  # no inline script: the page logic is all in app.js
    assert 'data-predict-url="/api/predictions/"' in html
    assert 'data-number-url="/api/numbers/"' in html
    assert f'data-recent-url="{RECENT}"' in html


def test_the_page_has_labelled_controls_and_a_live_status(client) -> None:
    html = client.get("/").content.decode()
    assert re.search(r'<p id="status"[^>]*role="status"[^>]*aria-live="polite"', html)
    assert re.search(r'<canvas id="pad"[^>]*aria-label="[^"]+"', html)
    assert '<html lang="en">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html  # zoom stays allowed


def post(client: APIClient, url: str, image) -> dict:
    response = client.post(url, {"image": data_url(image)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_recent_lists_only_this_sessions_drawings_newest_first(client_api, active_model) -> None:
    other = APIClient()
    post(other, "/api/predictions/", draw_digit(8))
    first = post(client_api, "/api/predictions/", draw_digit(1))
    number = post(client_api, "/api/numbers/", draw_number("47"))
    response = client_api.get(RECENT)
    assert response.status_code == 200
    ids = [d["id"] for d in response.json()]
    assert ids == [number["digits"][0]["id"], number["digits"][1]["id"], first["id"]]  # a number's digits in order
    assert all(d["correction_token"] is None for d in response.json())
    assert {"digit", "confidence", "uncertain", "uncertain_reason", "input_image", "correction"} <= set(
        response.json()[0]
    )


def test_recent_shows_corrections_and_is_empty_without_a_session(client_api, active_model) -> None:
    assert APIClient().get(RECENT).json() == []
    body = post(client_api, "/api/predictions/", draw_digit(1))
    client_api.post(body["correction_url"], {"label": 7}, format="json")
    assert client_api.get(RECENT).json()[0]["correction"]["label"] == 7


def test_recent_is_limited_to_the_latest_twelve(client_api, active_model) -> None:
    post(client_api, "/api/numbers/", draw_number("1234567"))
    post(client_api, "/api/numbers/", draw_number("1234567"))
    assert len(client_api.get(RECENT).json()) == 12
