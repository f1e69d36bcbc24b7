"""Issue 12, in-process: bounded numbers, private media, final reviews, expiring tokens, plain-digit labels, clean
JSON errors under /api/, and the admin login slowed then locked (django-axes)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.core import signing
from django.db import connection
from PIL import Image, ImageDraw
from rest_framework.test import APIClient

from bench.drawing import data_url, draw_digit, draw_number
from recognizer import review, serving
from recognizer.models import Drawing

pytestmark = pytest.mark.django_db

PREDICT = "/api/predictions/"
NUMBERS = "/api/numbers/"
CorrectionStatus = Drawing.CorrectionStatus


def strokes(count: int, width: int = 2400, height: int = 280) -> Image.Image:
    """``count`` separate vertical strokes: a "number" of ``count`` digits (the attack of issue 12)."""
    image = Image.new("L", (width, height), 255)
    pen = ImageDraw.Draw(image)
    step = width / count
    for i in range(count):
        x = int(i * step + step / 2)
        pen.line([(x, 40), (x, height - 40)], fill=0, width=max(2, int(step / 6)))
    return image


# Bounded work on the numbers endpoint.


def test_a_number_of_twelve_digits_is_read(client_api, active_model) -> None:
    response = client_api.post(NUMBERS, {"image": data_url(strokes(12))}, format="json")
    assert response.status_code == 201, response.content
    assert len(response.json()["digits"]) == 12


def test_more_digits_than_the_cap_are_refused_early_and_store_nothing(client_api, active_model, monkeypatch) -> None:
    reads = []
    predict_batch = serving.predict_batch
    monkeypatch.setattr(serving, "predict_batch", lambda inputs: reads.append(len(inputs)) or predict_batch(inputs))
    response = client_api.post(NUMBERS, {"image": data_url(strokes(80))}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "number_too_large"
    assert "12" in response.json()["detail"]
    assert reads == []  # refused before the model read a single piece (it read 80 strokes' worth before the cap)
    assert Drawing.objects.count() == 0


def test_a_canvas_over_the_number_limit_is_refused(client_api, active_model, settings) -> None:
    settings.DIGITS_MAX_NUMBER_PIXELS = 200 * 200
    response = client_api.post(NUMBERS, {"image": data_url(draw_number("12", height=300))}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "number_too_large"
    assert "pixels" in response.json()["detail"]


def test_many_specks_are_refused_before_grouping(client_api, active_model) -> None:
    image = Image.new("L", (1200, 400), 255)
    pen = ImageDraw.Draw(image)
    for x in range(5, 1195, 8):
        for y in range(5, 395, 8):
            pen.rectangle([x, y, x + 2, y + 2], fill=0)
    response = client_api.post(NUMBERS, {"image": data_url(image)}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "number_too_large"


# Clean JSON errors under /api/.


def test_a_post_without_the_trailing_slash_gets_a_json_308_to_the_right_address(client_api, active_model) -> None:
    response = client_api.post("/api/predictions", {"image": data_url(draw_digit(1))}, format="json")
    assert response.status_code == 308
    assert response["Location"] == "/api/predictions/"
    assert response.json()["code"] == "trailing_slash_missing"
    assert Drawing.objects.count() == 0


def test_deeply_nested_json_is_a_400(client_api, active_model) -> None:
    body = "[" * 100_000 + "]" * 100_000
    for url in (PREDICT, NUMBERS):
        response = client_api.post(url, body, content_type="application/json")
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "parse_error"


# Private media.


@pytest.fixture
def drawn(active_model) -> tuple[APIClient, dict]:
    owner = APIClient()
    body = owner.post(PREDICT, {"image": data_url(draw_digit(3))}, format="json").json()
    return owner, body


def test_a_drawings_picture_is_for_its_client_and_staff_only(drawn, staff_api, client_api) -> None:
    owner, body = drawn
    drawing = Drawing.objects.get(pk=body["id"])
    url = drawing.image.url
    assert url.startswith("/media/drawings/")
    assert len(url.rsplit("/", 1)[-1]) > 20  # a random name, not a time
    mine = owner.get(url)
    assert mine.status_code == 200
    assert b"".join(mine.streaming_content) == drawing.image.open("rb").read()
    assert mine["Cache-Control"] == "private, no-store"
    assert client_api.get(url).status_code == 404  # another client
    assert staff_api.get(url).status_code == 200


def test_model_artifacts_and_figures_are_for_staff_only(active_model, client_api, staff_api) -> None:
    for field in (active_model.tflite_file, active_model.keras_file):
        assert client_api.get(field.url).status_code == 404
        assert staff_api.get(field.url).status_code == 200
    for path in ("/media/training_runs/1/curves.png", "/media/../db.sqlite3", "/media/secret_key", "/media/x"):
        assert client_api.get(path).status_code == 404


def test_a_numbers_picture_is_its_clients(active_model, client_api) -> None:
    body = client_api.post(NUMBERS, {"image": data_url(draw_number("12"))}, format="json").json()
    submission = Drawing.objects.get(pk=body["digits"][0]["id"]).submission
    assert client_api.get(submission.image.url).status_code == 200
    assert APIClient().get(submission.image.url).status_code == 404


# Corrections.


@pytest.mark.parametrize("label", ["\u0667", "+7", "7.0", " 7", "7 ", 7.0, True, False, "07", "", None, 10, -1])
def test_labels_are_plain_digits_only(drawn, label) -> None:
    owner, body = drawn
    response = owner.post(body["correction_url"], json.dumps({"label": label}), content_type="application/json")
    assert response.status_code == 400, (label, response.content)
    assert response.json()["code"] == "invalid_input"
    assert Drawing.objects.get(pk=body["id"]).corrected_label is None


@pytest.mark.parametrize("label", [7, "7", 0, "0"])
def test_plain_digits_are_taken(drawn, label) -> None:
    owner, body = drawn
    response = owner.post(body["correction_url"], json.dumps({"label": label}), content_type="application/json")
    assert response.status_code == 200
    assert Drawing.objects.get(pk=body["id"]).corrected_label == int(label)


def test_correction_tokens_expire(drawn, settings, monkeypatch) -> None:
    _, body = drawn
    stranger = APIClient()  # no cookie: the token is the only credential
    settings.DIGITS_CORRECTION_TOKEN_AGE = 3600
    later = time.time() + 3601
    monkeypatch.setattr(signing.time, "time", lambda: later)
    response = stranger.post(body["correction_url"], {"label": 5, "token": body["correction_token"]}, format="json")
    assert response.status_code == 403
    monkeypatch.undo()
    response = stranger.post(body["correction_url"], {"label": 5, "token": body["correction_token"]}, format="json")
    assert response.status_code == 200


def test_the_default_token_age_is_a_day(settings) -> None:
    assert settings.DIGITS_CORRECTION_TOKEN_AGE == 24 * 3600


@pytest.mark.parametrize("action", ["confirm", "exclude", "accept", "reject"])
def test_a_review_is_final_for_the_public(drawn, staff_user, action) -> None:
    owner, body = drawn
    drawing = Drawing.objects.get(pk=body["id"])
    if action in {"accept", "reject"}:
        assert owner.post(body["correction_url"], {"label": 5}, format="json").status_code == 200
    queryset = Drawing.objects.filter(pk=drawing.pk)
    {
        "confirm": lambda: review.confirm(queryset, staff_user),
        "exclude": lambda: review.set_excluded(queryset, True, staff_user),
        "accept": lambda: review.accept(queryset, staff_user),
        "reject": lambda: review.reject(queryset, staff_user),
    }[action]()
    before = Drawing.objects.get(pk=drawing.pk)
    response = owner.post(body["correction_url"], {"label": 6}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "correction_locked"
    after = Drawing.objects.get(pk=drawing.pk)
    assert (after.corrected_label, after.reviewed_by_id, after.reviewed_at, after.correction_status) == (
        before.corrected_label,
        staff_user.pk,
        before.reviewed_at,
        before.correction_status,
    )


@pytest.mark.django_db(transaction=True)
def test_a_review_and_a_correction_at_the_same_moment_never_undo_the_review(active_model, staff_user) -> None:
    """Two concurrent requests, many times over: the staff's accept (a real admin action through HTTP) and the
    client's correction (the API), started together on two threads with connections of their own. Whatever the
    order the database puts them in, a review that took effect is never wiped: the correction either came first
    (and was then accepted) or is refused with 409."""
    from django.test import Client

    staff = Client()
    staff.force_login(staff_user)
    outcomes = []
    for _ in range(12 if connection.vendor == "postgresql" else 4):
        owner = APIClient()
        body = owner.post(PREDICT, {"image": data_url(draw_digit(3))}, format="json").json()
        assert owner.post(body["correction_url"], {"label": 5}, format="json").status_code == 200
        barrier = threading.Barrier(2)
        answers: dict[str, int] = {}

        def correct(owner=owner, body=body, barrier=barrier, answers=answers) -> None:
            barrier.wait()
            answers["client"] = owner.post(body["correction_url"], {"label": 6}, format="json").status_code
            connection.close()

        def accept(barrier=barrier, answers=answers, pk=body["id"]) -> None:
            barrier.wait()
            data = {"action": "accept_corrections", "_selected_action": [pk]}
            answers["staff"] = staff.post("/admin/recognizer/drawing/", data).status_code
            connection.close()

        threads = [threading.Thread(target=correct), threading.Thread(target=accept)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        drawing = Drawing.objects.get(pk=body["id"])
        assert answers["staff"] == 302
        assert answers["client"] in {200, 409}
        assert drawing.correction_status == CorrectionStatus.ACCEPTED  # the review stands, whichever came first
        assert drawing.reviewed_by_id == staff_user.pk
        assert drawing.reviewed_at is not None
        assert drawing.corrected_label == (6 if answers["client"] == 200 else 5)
        outcomes.append(answers["client"])
    print("client answers:", outcomes)


# Admin login guessing.


def test_admin_login_guessing_is_slowed_then_locked(staff_user, settings) -> None:
    settings.DIGITS_LOGIN_FAILURE_DELAY = 0.3
    settings.AXES_FAILURE_LIMIT = 3
    browser = APIClient(enforce_csrf_checks=False)
    url = "/admin/login/?next=/admin/"

    def attempt(password: str):
        started = time.perf_counter()
        response = browser.post(url, {"username": "staff", "password": password}, format="multipart")
        return response.status_code, time.perf_counter() - started

    first = attempt("guess-1")
    assert first[0] == 200  # the form again, with an error
    assert first[1] >= 0.3  # slowed
    attempt("guess-2")
    assert attempt("guess-3")[0] == 429  # the third failure locks
    assert attempt("pw-staff-123")[0] == 429  # even the right password, while locked
    other = APIClient(REMOTE_ADDR="10.9.9.9")
    response = other.post(url, {"username": "staff", "password": "pw-staff-123"}, format="multipart")
    assert response.status_code == 302  # another address is not locked out
    from axes.utils import reset

    reset(username="staff")
    assert attempt("pw-staff-123")[0] == 302
