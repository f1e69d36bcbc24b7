"""The API end to end: real PNG drawings in, predictions stored, corrections by their owner only."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image
from rest_framework.test import APIClient

from bench.drawing import data_url, draw_digit, draw_number, mnist_as_drawing, png_bytes
from recognizer.core.preprocessing import preprocess
from recognizer.models import Drawing, Submission
from tests.support.env import off_site_references

pytestmark = pytest.mark.django_db

PREDICT = "/api/predictions/"


def predict(client: APIClient, image: Image.Image) -> dict:
    response = client.post(PREDICT, {"image": data_url(image)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_predict_from_a_data_url_returns_the_prediction_and_how_to_correct_it(client_api, active_model) -> None:
    body = predict(client_api, draw_digit(7))
    assert set(body) >= {"id", "digit", "confidence", "probabilities", "model_version", "correction_url"}
    assert len(body["probabilities"]) == 10
    assert sum(body["probabilities"]) == pytest.approx(1.0, abs=1e-6)
    assert body["digit"] == int(np.argmax(body["probabilities"]))
    assert body["confidence"] == pytest.approx(max(body["probabilities"]))
    assert body["model_version"] == active_model.name
    assert body["correction_url"].endswith(f"/api/predictions/{body['id']}/correction/")
    assert body["correction_token"]
    assert body["input_image"].startswith("data:image/png;base64,")


def test_predict_from_a_multipart_file(client_api, active_model) -> None:
    upload = io.BytesIO(png_bytes(draw_digit(1)))
    upload.name = "one.png"
    response = client_api.post(PREDICT, {"image": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert Drawing.objects.filter(pk=response.json()["id"]).exists()


def test_every_prediction_is_stored_with_its_image_and_exact_model_input(client_api, active_model) -> None:
    image = draw_digit(3)
    body = predict(client_api, image)
    drawing = Drawing.objects.get(pk=body["id"])
    with default_storage.open(drawing.image.name, "rb") as fh:
        assert fh.read() == png_bytes(image)  # the submitted PNG itself
    assert np.array_equal(drawing.input_array, preprocess(image))
    assert drawing.predicted_digit == body["digit"]
    assert drawing.probabilities == pytest.approx(body["probabilities"])
    assert drawing.model_version == active_model
    assert drawing.correction_status == Drawing.CorrectionStatus.NONE
    assert drawing.client_key


@pytest.mark.parametrize("index", range(20))
def test_mnist_test_digits_drawn_on_a_canvas_are_recognised(client_api, active_model, mnist, index: int) -> None:
    body = predict(client_api, mnist_as_drawing(mnist.x_test[index]))
    assert body["digit"] == int(mnist.y_test[index])


@pytest.mark.parametrize("digit", range(10))
def test_digits_drawn_with_strokes_are_recognised(client_api, active_model, digit: int) -> None:
    assert predict(client_api, draw_digit(digit))["digit"] == digit


def test_get_returns_the_stored_prediction_to_its_owner(client_api, active_model) -> None:
    body = predict(client_api, draw_digit(4))
    response = client_api.get(f"{PREDICT}{body['id']}/")
    assert response.status_code == 200
    assert response.json()["digit"] == body["digit"]
    assert response.json()["correction_token"] is None  # only handed out at creation


def test_others_cannot_read_a_drawing(client_api, active_model) -> None:
    body = predict(client_api, draw_digit(4))
    assert APIClient().get(f"{PREDICT}{body['id']}/").status_code == 404


def test_the_owner_corrects_its_drawing(client_api, active_model) -> None:
    body = predict(client_api, draw_digit(1))
    response = client_api.post(body["correction_url"], {"label": 7}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["correction"]["label"] == 7
    drawing = Drawing.objects.get(pk=body["id"])
    assert drawing.corrected_label == 7
    assert drawing.correction_status == Drawing.CorrectionStatus.PENDING
    assert drawing.corrected_at is not None


def test_another_client_cannot_correct_someone_elses_drawing(client_api, active_model) -> None:
    body = predict(client_api, draw_digit(1))
    response = APIClient().post(body["correction_url"], {"label": 7}, format="json")
    assert response.status_code == 403
    assert "your own" in response.json()["detail"]
    assert Drawing.objects.get(pk=body["id"]).corrected_label is None


def test_a_cookieless_client_corrects_with_its_token(client_api, active_model) -> None:
    body = predict(client_api, draw_digit(1))
    other = APIClient()
    assert other.post(body["correction_url"], {"label": 2, "token": "forged"}, format="json").status_code == 403
    assert Drawing.objects.get(pk=body["id"]).corrected_label is None  # the forged token stored nothing
    response = other.post(body["correction_url"], {"label": 2, "token": body["correction_token"]}, format="json")
    assert response.status_code == 200
    drawing = Drawing.objects.get(pk=body["id"])
    assert (drawing.corrected_label, drawing.correction_status) == (2, Drawing.CorrectionStatus.PENDING)


def test_staff_correct_any_drawing_and_it_counts_as_reviewed(client_api, staff_api, staff_user, active_model) -> None:
    body = predict(client_api, draw_digit(1))
    response = staff_api.post(body["correction_url"], {"label": 7}, format="json")
    assert response.status_code == 200
    drawing = Drawing.objects.get(pk=body["id"])
    assert drawing.corrected_label == 7
    assert drawing.correction_status == Drawing.CorrectionStatus.ACCEPTED
    assert drawing.reviewed_by == staff_user
    assert drawing.reviewed_at == drawing.corrected_at


def test_without_an_active_model_the_api_answers_503(client_api, db) -> None:
    response = client_api.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json")
    assert response.status_code == 503
    assert Drawing.objects.count() == 0


def test_a_failed_database_write_leaves_no_file_behind(client_api, active_model, monkeypatch) -> None:
    def broken_save(*args, **kwargs):
        from django.db import DatabaseError

        raise DatabaseError("disk full")

    monkeypatch.setattr(Submission, "save", broken_save)
    response = client_api.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json")
    assert response.status_code == 503
    assert Drawing.objects.count() == 0
    _, files = default_storage.listdir("drawings") if default_storage.exists("drawings") else ([], [])
    assert files == []


def test_a_number_is_read_digit_by_digit_and_each_digit_is_stored(client_api, active_model) -> None:
    response = client_api.post("/api/numbers/", {"image": data_url(draw_number("2026"))}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"] == "2026"
    assert [d["digit"] for d in body["digits"]] == [2, 0, 2, 6]
    submission = Submission.objects.get(pk=body["submission"])
    assert submission.image
    assert submission.number == "2026"
    assert list(submission.drawings.order_by("position").values_list("predicted_digit", flat=True)) == [2, 0, 2, 6]
    third = body["digits"][2]
    response = client_api.post(third["correction_url"], {"label": 3}, format="json")
    assert response.status_code == 200, response.content
    labels = submission.drawings.order_by("position").values_list("corrected_label", "correction_status")
    assert list(labels) == [(None, "none"), (None, "none"), (3, "pending"), (None, "none")]  # that digit alone


def test_the_full_listing_is_for_staff_only(client_api, staff_api, active_model) -> None:
    predict(client_api, draw_digit(1))
    assert client_api.get(PREDICT).status_code == 403
    response = staff_api.get(PREDICT)
    assert response.status_code == 200
    assert response.json()["count"] == 1
    assert len(response.json()["results"]) == 1


def test_the_staff_listing_is_paginated_newest_first(client_api, staff_api, active_model, settings) -> None:
    settings.DIGITS_LIST_PAGE_SIZE = 2
    ids = [predict(client_api, draw_digit(d))["id"] for d in (1, 2, 3)]
    first = staff_api.get(PREDICT).json()
    assert first["count"] == 3
    assert [d["id"] for d in first["results"]] == ids[::-1][:2]
    second = staff_api.get(first["next"]).json()
    assert [d["id"] for d in second["results"]] == ids[:1]
    assert len(staff_api.get(PREDICT, {"page_size": 100000}).json()["results"]) == 3  # capped at 500, not refused


def test_openapi_schema_and_docs(client_api) -> None:
    schema = client_api.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/predictions/{id}/correction/" in text
    assert "/api/numbers/" in text
    docs = client_api.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    assert off_site_references(docs.content.decode()) == []
