"""Saying how many digits a number has (``POST /api/numbers/{id}/split/``): the number is read again into that many,
the new digits stored and correctable, the earlier ones kept but superseded (never trained on, no longer correctable
by the public); only its client (cookie with CSRF, or a digit's token) and staff may; malformed counts get a clear
400; it is rate limited like corrections; the admin shows it. Real model, real database, real drawings."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from bench.drawing import data_url, digit_strokes, draw_digit, draw_number
from recognizer import corrections, predictions, review
from recognizer.models import Drawing, SplitCorrection, Submission

pytestmark = pytest.mark.django_db

PREDICT = "/api/predictions/"
NUMBERS = "/api/numbers/"


def post(client: APIClient, url: str, body: dict, status: int, **extra) -> dict:
    response = client.post(url, body, format="json", **extra)
    assert response.status_code == status, response.content
    return response.json()


@pytest.fixture
def touching_14(client_api, active_model) -> dict:
    """A "14" drawn with its digits touching (slots 0.2 line heights apart), sent as a picture: read as one. (At 0.25
    it was read as one until the whole-digit verifier; it is now read as two.)"""
    body = post(client_api, NUMBERS, {"image": data_url(draw_number("14", spacing=0.2))}, 201)
    assert len(body["digits"]) == 1
    return body


def test_told_two_digits_the_number_is_read_again_into_two(client_api, touching_14) -> None:
    before = Drawing.objects.get(pk=touching_14["digits"][0]["id"])
    body = post(client_api, touching_14["split_url"], {"digits": 2}, 200)
    assert body["number"] == "14"
    assert [d["digit"] for d in body["digits"]] == [1, 4]
    assert [d["position"] for d in body["digits"]] == [0, 1]
    assert all(d["correction_token"] and not d["superseded"] for d in body["digits"])
    assert body["submission"] == touching_14["submission"]
    submission = Submission.objects.get(pk=body["submission"])
    assert submission.number == "14"
    # The earlier digit is kept, superseded by a record of the split.
    before.refresh_from_db()
    split = SplitCorrection.objects.get(submission=submission)
    assert before.superseded_by == split
    assert (split.digits_before, split.digits_after) == (1, 2)
    assert (split.number_before, split.number_after) == (touching_14["number"], "14")
    assert split.made_by is None
    assert submission.drawings.count() == 3
    # The new digits are the client's own: correctable, on the strip, readable back.
    new = body["digits"][1]
    assert post(client_api, new["correction_url"], {"label": 4}, 200)["correction"]["label"] == 4
    recent = client_api.get(f"{PREDICT}recent/").json()
    assert {d["id"] for d in recent} == {d["id"] for d in body["digits"]}
    assert client_api.get(f"{PREDICT}{before.pk}/").json()["superseded"] is True


def test_a_number_from_strokes_is_regrouped_and_keeps_its_strokes(client_api, active_model) -> None:
    body = post(client_api, NUMBERS, {"strokes": digit_strokes("71", spacing=0.1)}, 201)
    assert body["number"] == "7"  # the 1 starts inside the 7: grouped as one digit
    split = post(client_api, body["split_url"], {"digits": "2"}, 200)
    assert split["number"] == "71"
    drawings = [Drawing.objects.get(pk=d["id"]) for d in split["digits"]]
    assert all(len(d.stroke_drawing.strokes) == 1 for d in drawings)


def test_strokes_that_cannot_make_the_count_are_cut_as_a_picture(client_api, active_model) -> None:
    """A "00" written without lifting the pen is one stroke: the stored picture is cut instead."""
    two = digit_strokes("00", spacing=0.7)
    one_stroke = {**two, "strokes": [two["strokes"][0] + two["strokes"][1]]}
    body = post(client_api, NUMBERS, {"strokes": one_stroke}, 201)
    assert len(body["digits"]) == 1
    split = post(client_api, body["split_url"], {"digits": 2}, 200)
    assert split["number"] == "00"
    assert all(Drawing.objects.get(pk=d["id"]).strokes is None for d in split["digits"])


def test_a_digit_cut_in_two_is_one_again(client_api, active_model) -> None:
    wide_four = draw_digit(4, size=(640, 280), box=(0.05, 0.1, 0.95, 0.9))
    body = post(client_api, NUMBERS, {"image": data_url(wide_four)}, 201)
    # A 4 over twice as wide as high is taken for two digits (a 0 that wide was too, until a skeleton's kinks stopped
    # parting its strokes, 2026-12-06): the person says there was one.
    assert len(body["digits"]) >= 2
    assert post(client_api, body["split_url"], {"digits": 1}, 200)["number"] == "4"


def test_the_same_count_changes_nothing(client_api, touching_14) -> None:
    body = post(client_api, touching_14["split_url"], {"digits": 1}, 200)
    assert [d["id"] for d in body["digits"]] == [d["id"] for d in touching_14["digits"]]
    assert not SplitCorrection.objects.exists()


def test_split_again_and_back(client_api, touching_14) -> None:
    two = post(client_api, touching_14["split_url"], {"digits": 2}, 200)
    one = post(client_api, touching_14["split_url"], {"digits": 1}, 200)
    assert len(one["digits"]) == 1
    submission = Submission.objects.get(pk=touching_14["submission"])
    assert [(s.digits_before, s.digits_after) for s in submission.split_corrections.order_by("pk")] == [(1, 2), (2, 1)]
    assert all(Drawing.objects.get(pk=d["id"]).superseded_by is not None for d in two["digits"])
    assert submission.drawings.filter(superseded_by=None).count() == 1


@pytest.mark.parametrize(
    ("digits", "message"),
    [
        (0, "greater than or equal to 1"),
        (13, "less than or equal to 12"),
        (-2, "greater than or equal to 1"),
        ("two", "valid integer"),
        (2.0, "valid integer"),
        (True, "valid integer"),
        (" 2", "valid integer"),
        ("\u0662", "valid integer"),  # an Arabic-Indic two
        (None, "may not be null"),
    ],
)
def test_a_malformed_count_is_refused_with_what_is_wrong(client_api, touching_14, digits, message: str) -> None:
    body = post(client_api, touching_14["split_url"], {"digits": digits}, 400)
    assert body["code"] == "invalid_input"
    assert message in body["detail"]
    assert not SplitCorrection.objects.exists()


def test_no_count_is_refused(client_api, touching_14) -> None:
    body = post(client_api, touching_14["split_url"], {}, 400)
    assert "digits" in body["errors"]


def test_more_digits_than_the_ink_can_make_is_refused_and_nothing_changes(client_api, active_model) -> None:
    body = post(client_api, NUMBERS, {"image": data_url(draw_number("1", spacing=1.0))}, 201)
    refused = post(client_api, body["split_url"], {"digits": 12}, 400)
    assert refused["code"] == "cannot_split"
    assert "cannot be cut into 12 digits" in refused["detail"]
    assert Drawing.objects.filter(superseded_by__isnull=False).count() == 0
    assert Drawing.objects.count() == 1


def test_a_single_digit_prediction_is_not_a_number(client_api, active_model) -> None:
    body = post(client_api, PREDICT, {"image": data_url(draw_digit(1))}, 201)
    assert post(client_api, f"{NUMBERS}{body['submission']}/split/", {"digits": 2}, 404)["code"] == "not_found"
    assert client_api.post(f"{NUMBERS}99999999/split/", {"digits": 2}, format="json").status_code == 404
    assert client_api.post(f"{NUMBERS}x1/split/", {"digits": 2}, format="json").status_code == 404


# ---------------------------------------------------------------- who may


def test_another_client_may_not(touching_14) -> None:
    body = post(APIClient(), touching_14["split_url"], {"digits": 2}, 403)
    assert "your own" in body["detail"]
    assert not SplitCorrection.objects.exists()


def test_a_cookieless_client_may_with_a_digits_token(touching_14) -> None:
    stranger = APIClient()
    post(stranger, touching_14["split_url"], {"digits": 2, "token": "forged"}, 403)
    token = touching_14["digits"][0]["correction_token"]
    two = post(stranger, touching_14["split_url"], {"digits": 2, "token": token}, 200)
    # The earlier digit's token still proves the number (it was handed to the same client), as do the new ones'.
    post(stranger, touching_14["split_url"], {"digits": 1, "token": two["digits"][1]["correction_token"]}, 200)


def test_another_numbers_token_proves_nothing(client_api, touching_14) -> None:
    other = post(client_api, NUMBERS, {"image": data_url(draw_number("35"))}, 201)
    token = other["digits"][0]["correction_token"]
    post(APIClient(), touching_14["split_url"], {"digits": 2, "token": token}, 403)


def test_by_cookie_alone_it_needs_the_csrf_token(active_model) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    assert browser.get("/").status_code == 200
    csrf = {"HTTP_X_CSRFTOKEN": browser.cookies["csrftoken"].value}
    body = post(browser, NUMBERS, {"image": data_url(draw_number("14", spacing=0.2))}, 201)
    post(browser, body["split_url"], {"digits": 2}, 403)
    assert post(browser, body["split_url"], {"digits": 2}, 200, **csrf)["number"] == "14"


def test_staff_may_and_are_recorded(touching_14, staff_api, staff_user) -> None:
    post(staff_api, touching_14["split_url"], {"digits": 2}, 200)
    assert SplitCorrection.objects.get().made_by == staff_user


def test_it_is_rate_limited_like_corrections(client_api, touching_14, settings, throttle_clock) -> None:
    limits = {"predict": None, "predict_address": None, "correct": "2/min", "correct_address": None}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": limits}
    cache.clear()
    post(client_api, touching_14["split_url"], {"digits": 2}, 200)
    post(client_api, touching_14["split_url"], {"digits": 1}, 200)
    response = client_api.post(touching_14["split_url"], {"digits": 2}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert response["Retry-After"]


# ---------------------------------------------------------------- what the earlier digits become


def test_superseded_digits_never_train_leave_the_queue_and_only_staff_correct_them(client_api, touching_14, staff_api):
    first = touching_14["digits"][0]
    post(client_api, first["correction_url"], {"label": 4}, 200)
    drawing = Drawing.objects.get(pk=first["id"])
    assert drawing in review.needs_review(Drawing.objects.all())
    Drawing.objects.filter(pk=drawing.pk).update(correction_status=Drawing.CorrectionStatus.ACCEPTED)
    assert corrections.training_corrections().filter(pk=drawing.pk).exists()

    post(client_api, touching_14["split_url"], {"digits": 2}, 200)
    Drawing.objects.filter(pk=drawing.pk).update(correction_status=Drawing.CorrectionStatus.PENDING)
    assert drawing not in review.needs_review(Drawing.objects.all())
    Drawing.objects.filter(pk=drawing.pk).update(correction_status=Drawing.CorrectionStatus.ACCEPTED)
    assert not corrections.training_corrections().filter(pk=drawing.pk).exists()
    refused = post(client_api, first["correction_url"], {"label": 1}, 409)
    assert "read again" in refused["detail"]
    assert post(staff_api, first["correction_url"], {"label": 1}, 200)["correction"]["label"] == 1


def test_a_split_that_lost_a_race_stores_nothing(client_api, touching_14, monkeypatch, settings) -> None:
    """Another request splits the same number while this one reads it: the one that writes second stores nothing."""
    submission_id = touching_14["submission"]
    real = predictions._digits_of_pieces

    def meanwhile(pieces):
        monkeypatch.setattr(predictions, "_digits_of_pieces", real)
        predictions.resplit(Submission.objects.get(pk=submission_id), 2)  # the other request, first to write
        return real(pieces)

    monkeypatch.setattr(predictions, "_digits_of_pieces", meanwhile)
    with pytest.raises(predictions.SplitConflict):
        predictions.resplit(Submission.objects.get(pk=submission_id), 2)
    assert SplitCorrection.objects.count() == 1
    assert Drawing.objects.filter(superseded_by=None).count() == 2
    files = [f for f in Path(settings.MEDIA_ROOT).rglob("*.png")]
    assert len(files) == Drawing.objects.count() + 1  # each drawing's image and the number's picture: no stray file


# ---------------------------------------------------------------- documented, and shown to staff


def test_the_schema_documents_the_split(client_api, db) -> None:
    schema = client_api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/numbers/{id}/split/"]["post"]
    assert set(operation["responses"]) >= {"200", "400", "403", "404", "409", "429"}
    body = schema["components"]["schemas"]["SplitRequest"]
    assert body["properties"]["digits"]["minimum"] == 1
    assert body["properties"]["digits"]["maximum"] == 12
    assert "split_url" in schema["components"]["schemas"]["Number"]["properties"]


def test_the_admin_shows_the_split(client_api, touching_14, staff_client) -> None:
    post(client_api, touching_14["split_url"], {"digits": 2}, 200)
    submission = touching_14["submission"]
    listing = staff_client.get("/admin/recognizer/submission/").content.decode()
    assert "1 → 2 digits" in listing
    page = staff_client.get(f"/admin/recognizer/submission/{submission}/change/").content.decode()
    assert "1 → 2 digits" in page
    assert page.index(">current<") < page.index("superseded (1 digit)")  # the current digits listed first
    old = touching_14["digits"][0]["id"]
    drawing_page = staff_client.get(f"/admin/recognizer/drawing/{old}/change/").content.decode()
    assert "Replaced when its number was read again as 2 digits" in drawing_page
    drawings = staff_client.get("/admin/recognizer/drawing/").content.decode()
    assert "superseded" in drawings
