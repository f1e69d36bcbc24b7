"""What one prediction costs the database: only the rows it must write, and sessions that still work like Django's.

Counts of SQL statements, not timings (the figures come from bench/). A new client's prediction writes its session,
its submission and its drawing in one transaction, and reads nothing: the model version it names comes with the
loaded model, and the session is neither checked for a free key first nor rewritten by the middleware afterwards.
"""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recognizer.models import Drawing
from recognizer.sessions import SessionStore
from tests.drawing import data_url, draw_digit

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


def test_a_new_clients_prediction_only_inserts_its_session_submission_and_drawing(
    client_api, active_model, settings
) -> None:
    settings.DIGITS_MODEL_REFRESH_SECONDS = 3600  # no periodic active-model check inside the measured request
    client_api.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json")  # loads the model
    client_api.cookies.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client_api.post(PREDICT, {"image": data_url(draw_digit(7))}, format="json")
    assert response.status_code == 201, response.content
    assert _writes_and_reads(queries) == [
        ("INSERT", "django_session"),
        ("INSERT", "recognizer_submission"),
        ("INSERT", "recognizer_drawing"),
    ]
    assert response.json()["model_version"] == active_model.name
    assert Drawing.objects.get(pk=response.json()["id"]).model_version == active_model


@pytest.mark.django_db(transaction=True)
def test_a_new_clients_session_and_drawing_are_committed_together(client_api, active_model, settings) -> None:
    """One commit (one wait for the disk) per prediction, not one for the session and another for the drawing."""
    settings.DIGITS_MODEL_REFRESH_SECONDS = 3600
    client_api.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json")
    client_api.cookies.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client_api.post(PREDICT, {"image": data_url(draw_digit(7))}, format="json")
    assert response.status_code == 201
    assert [q["sql"] for q in queries.captured_queries].count("COMMIT") == 1
    drawing = Drawing.objects.get(pk=response.json()["id"])
    assert Session.objects.filter(session_key=drawing.session_key).exists()
    assert client_api.cookies["sessionid"].value == drawing.session_key


def test_an_empty_canvas_creates_no_session(client_api, active_model) -> None:
    from tests.drawing import blank_canvas

    response = client_api.post(PREDICT, {"image": data_url(blank_canvas())}, format="json")
    assert response.status_code == 400
    assert not Session.objects.exists()


def test_a_returning_client_reuses_its_session_and_writes_no_session_row(client_api, active_model, settings) -> None:
    settings.DIGITS_MODEL_REFRESH_SECONDS = 3600
    first = client_api.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json").json()
    with CaptureQueriesContext(connection) as queries:
        second = client_api.post(PREDICT, {"image": data_url(draw_digit(2))}, format="json").json()
    assert [table for _, table in _writes_and_reads(queries)] == [
        "django_session",  # reading the client's session
        "recognizer_submission",
        "recognizer_drawing",
    ]
    assert Session.objects.count() == 1
    first_key = Drawing.objects.get(pk=first["id"]).session_key
    assert Drawing.objects.get(pk=second["id"]).session_key == first_key


def test_a_session_created_then_changed_in_the_same_request_is_saved() -> None:
    store = SessionStore()
    store.create()
    store["seen"] = [1, 2]
    store.save()
    assert SessionStore(store.session_key).load() == {"seen": [1, 2]}


def test_a_session_created_and_left_as_is_is_written_once() -> None:
    store = SessionStore()
    with CaptureQueriesContext(connection) as queries:
        store.create()
        store.save()  # what SessionMiddleware does at the end of the request
    assert _writes_and_reads(queries) == [("INSERT", "django_session")]
    assert Session.objects.filter(session_key=store.session_key).exists()


def test_cycling_the_key_keeps_the_data_under_the_new_key() -> None:
    store = SessionStore()
    store.create()
    store["user"] = "x"
    store.save()
    old = store.session_key
    store.cycle_key()
    store.save()
    assert store.session_key != old
    assert SessionStore(store.session_key).load() == {"user": "x"}
    assert not Session.objects.filter(session_key=old).exists()
