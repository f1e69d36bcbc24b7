"""What one prediction costs the database, and the client cookie that replaced a session row per visitor.

Counts of SQL statements, not timings (the figures come from bench/). A new client's prediction writes its
submission and its drawing in one transaction and reads nothing: the model version it names comes with the loaded
model, and the client's identity is a signed cookie (recognizer/api/authentication.py), not a session row.
"""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.core import signing
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bench.drawing import blank_canvas, data_url, draw_digit
from recognizer.api import authentication as clients
from recognizer.models import Drawing

pytestmark = pytest.mark.django_db

PREDICT = "/api/predictions/"


def _writes_and_reads(queries: CaptureQueriesContext) -> list[tuple[str, str]]:
    """``(verb, table)`` of each data statement, leaving out transaction and savepoint bookkeeping."""
    found = []
    for query in queries.captured_queries:
        words = query["sql"].replace('"', "").split()
        verb = words[0].upper()
        if verb in {"SELECT", "INSERT", "UPDATE", "DELETE"}:
            table = words[words.index("FROM") + 1] if "FROM" in words else words[2 if verb == "INSERT" else 1]
            found.append((verb, table))
    return found


def _cookie(client: APIClient) -> str | None:
    """The client key the cookie ``client`` holds proves, read as the server reads it."""
    request = RequestFactory().get("/")
    request.COOKIES["digits_client"] = client.cookies["digits_client"].value
    return clients.client_key(request)


@pytest.mark.django_db(transaction=True)
def test_a_new_clients_prediction_writes_its_submission_and_drawing_in_one_commit(
    client_api, active_model, settings
) -> None:
    settings.DIGITS_MODEL_REFRESH_SECONDS = 3600  # no periodic active-model check inside the measured request
    client_api.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json")  # loads the model
    client_api.cookies.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client_api.post(PREDICT, {"image": data_url(draw_digit(7))}, format="json")
    assert response.status_code == 201, response.content
    assert _writes_and_reads(queries) == [("INSERT", "recognizer_submission"), ("INSERT", "recognizer_drawing")]
    assert [q["sql"] for q in queries.captured_queries].count("COMMIT") == 1
    assert response.json()["model_version"] == active_model.name
    drawing = Drawing.objects.get(pk=response.json()["id"])
    assert drawing.model_version == active_model
    assert drawing.client_key == _cookie(client_api)
    assert not Session.objects.exists()


def test_the_client_cookie_is_signed_httponly_samesite_and_long_lived(client_api, active_model, settings) -> None:
    response = client_api.post(PREDICT, {"image": data_url(draw_digit(7))}, format="json")
    morsel = response.cookies["digits_client"]
    assert morsel["httponly"]
    assert morsel["samesite"] == "Lax"
    assert int(morsel["max-age"]) == settings.DIGITS_CLIENT_COOKIE_AGE
    assert len(_cookie(client_api)) == clients.KEY_LENGTH
    tampered = client_api.cookies["digits_client"].value.replace(_cookie(client_api), "b" * clients.KEY_LENGTH)
    client_api.cookies["digits_client"] = tampered
    assert _cookie(client_api) is None


def test_a_returning_client_keeps_its_key_and_gets_no_new_cookie(client_api, active_model, settings) -> None:
    settings.DIGITS_MODEL_REFRESH_SECONDS = 3600
    first = client_api.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json").json()
    with CaptureQueriesContext(connection) as queries:
        response = client_api.post(PREDICT, {"image": data_url(draw_digit(2))}, format="json")
    assert _writes_and_reads(queries) == [("INSERT", "recognizer_submission"), ("INSERT", "recognizer_drawing")]
    assert "digits_client" not in response.cookies
    key = Drawing.objects.get(pk=first["id"]).client_key
    assert Drawing.objects.get(pk=response.json()["id"]).client_key == key == _cookie(client_api)


def test_an_empty_canvas_sets_no_cookie_and_writes_nothing(client_api, active_model) -> None:
    response = client_api.post(PREDICT, {"image": data_url(blank_canvas())}, format="json")
    assert response.status_code == 400
    assert "digits_client" not in response.cookies
    assert not Drawing.objects.exists()


@pytest.mark.parametrize("forged", ["", "not-signed", "a" * 32, signing.dumps("a" * 32)])
def test_a_forged_or_unsigned_cookie_gives_no_ownership(client_api, active_model, forged) -> None:
    owner = APIClient()
    body = owner.post(PREDICT, {"image": data_url(draw_digit(3))}, format="json").json()
    client_api.cookies["digits_client"] = forged
    assert client_api.post(body["correction_url"], {"label": 8}, format="json").status_code == 403
    assert client_api.get(f"{PREDICT}{body['id']}/").status_code == 404
    assert client_api.get(f"{PREDICT}recent/").json() == []


def test_another_clients_valid_cookie_is_its_own_not_the_owners(client_api, active_model) -> None:
    owner = APIClient()
    body = owner.post(PREDICT, {"image": data_url(draw_digit(3))}, format="json").json()
    client_api.post(PREDICT, {"image": data_url(draw_digit(4))}, format="json")  # a key of its own
    assert _cookie(client_api) != _cookie(owner)
    assert client_api.post(body["correction_url"], {"label": 8}, format="json").status_code == 403
