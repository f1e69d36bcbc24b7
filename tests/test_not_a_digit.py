"""Corrections that say "not a digit" (issue 14): stored, sent through the API by the same rules as a digit, judged
by the trust policy, reviewed in the admin and exported apart from the digits. The fine-tune that learns from them is
tested in test_finetune.py, the page's button in test_browser.py."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from django.db import IntegrityError, transaction
from PIL import Image, ImageDraw
from rest_framework.test import APIClient

from bench.drawing import data_url, draw_digit, png_bytes
from recognizer import stats, trust
from recognizer.core import strokes as core_strokes
from recognizer.core.idx import read_idx
from recognizer.corrections import select_corrections, training_corrections
from recognizer.export import IDX_IMAGES, IDX_LABELS, NPZ, STROKES, build_data_set
from recognizer.models import Drawing, TrainingRun, TrustPolicy
from recognizer.predictions import correct, create_submission
from tests.support.factories import CLIENTS, DrawingFactory

pytestmark = pytest.mark.django_db
S = Drawing.CorrectionStatus
NOT_A_DIGIT = Drawing.NOT_A_DIGIT
LIST = "/admin/recognizer/drawing/"


def blob() -> Image.Image:
    """A filled square: the shape rules flag it as not a digit whatever the model says."""
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(image).rectangle((60, 60, 220, 220), fill=(0, 0, 0, 255))
    return image


def predicted(client: APIClient, image: Image.Image) -> dict:
    response = client.post("/api/predictions/", {"image": data_url(image)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


# --- Storage ----------------------------------------------------------------------------------------------------


def test_the_database_takes_not_a_digit_beside_the_digits_and_nothing_else(active_model) -> None:
    drawing = DrawingFactory(digit=4, corrected_label=NOT_A_DIGIT)
    drawing.refresh_from_db()
    assert drawing.corrected_not_a_digit
    assert drawing.get_corrected_label_display() == "not a digit"
    with pytest.raises(IntegrityError), transaction.atomic():
        Drawing.objects.filter(pk=drawing.pk).update(corrected_label=NOT_A_DIGIT + 1)


# --- API ------------------------------------------------------------------------------------------------------------


def test_the_owner_says_its_drawing_is_not_a_digit(client_api, active_model) -> None:
    body = predicted(client_api, draw_digit(4))
    response = client_api.post(body["correction_url"], {"not_a_digit": True}, format="json")
    assert response.status_code == 200, response.content
    correction = response.json()["correction"]
    assert (correction["label"], correction["not_a_digit"], correction["status"]) == (None, True, "pending")
    drawing = Drawing.objects.get(pk=body["id"])
    assert (drawing.corrected_label, drawing.correction_status) == (NOT_A_DIGIT, S.PENDING)
    assert client_api.get(f"/api/predictions/{body['id']}/").json()["correction"]["not_a_digit"] is True

    # A later correction to a digit replaces it, like any correction.
    response = client_api.post(body["correction_url"], {"label": 4}, format="json")
    assert response.json()["correction"] == {**correction, "label": 4, "not_a_digit": False, **_at(response)}
    assert Drawing.objects.get(pk=body["id"]).corrected_label == 4


def _at(response) -> dict:
    return {"corrected_at": response.json()["correction"]["corrected_at"]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"label": 3, "not_a_digit": True}, "not both"),
        ({}, "not neither"),
        ({"token": "x"}, "not neither"),
        ({"not_a_digit": False}, "not_a_digit: Send not_a_digit as true"),
        ({"not_a_digit": None}, "not_a_digit: "),
        ({"not_a_digit": 1}, "not_a_digit: Send not_a_digit as true"),
        ({"not_a_digit": "yes"}, "not_a_digit: Send not_a_digit as true"),
        ({"not_a_digit": [True]}, "not_a_digit: Send not_a_digit as true"),
        ({"label": 10}, "label: A label is one digit 0-9"),  # the stored value is not a label anyone may send
    ],
    ids=repr,
)
def test_a_malformed_correction_is_refused_and_changes_nothing(client_api, active_model, body, message) -> None:
    prediction = predicted(client_api, draw_digit(1))
    response = client_api.post(prediction["correction_url"], body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_input"
    assert message in response.json()["detail"]
    drawing = Drawing.objects.get(pk=prediction["id"])
    assert (drawing.corrected_label, drawing.correction_status) == (None, S.NONE)


@pytest.mark.parametrize(("form", "label"), [({"not_a_digit": "true"}, NOT_A_DIGIT), ({"label": "3"}, 3)])
def test_a_form_sends_either_as_text(client_api, active_model, form: dict, label: int) -> None:
    """A form leaves out the field it does not send: that is not a "false" (as DRF reads a missing checkbox)."""
    prediction = predicted(client_api, draw_digit(1))
    token = {"token": prediction["correction_token"]}
    response = APIClient().post(prediction["correction_url"], {**form, **token}, format="multipart")
    assert response.status_code == 200, response.content
    assert Drawing.objects.get(pk=prediction["id"]).corrected_label == label


def test_who_may_say_not_a_digit_is_who_may_correct(client_api, staff_api, staff_user, active_model) -> None:
    prediction = predicted(client_api, draw_digit(2))
    stranger = APIClient()
    stranger.post("/api/predictions/", {"image": data_url(draw_digit(3))}, format="json")  # a client of its own
    response = stranger.post(prediction["correction_url"], {"not_a_digit": True}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    forged = {"not_a_digit": True, "token": "forged"}
    assert APIClient().post(prediction["correction_url"], forged, format="json").status_code == 403
    assert Drawing.objects.get(pk=prediction["id"]).corrected_label is None

    token = {"not_a_digit": True, "token": prediction["correction_token"]}
    assert APIClient().post(prediction["correction_url"], token, format="json").status_code == 200
    response = staff_api.post(prediction["correction_url"], {"not_a_digit": True}, format="json")
    assert response.json()["correction"]["status"] == "accepted"
    drawing = Drawing.objects.get(pk=prediction["id"])
    assert (drawing.corrected_label, drawing.reviewed_by) == (NOT_A_DIGIT, staff_user)
    # Reviewed by staff: the client can no longer change it.
    response = client_api.post(prediction["correction_url"], {"label": 2}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "correction_locked")


def test_the_schema_documents_not_a_digit(client_api) -> None:
    schema = client_api.get("/api/schema/?format=json").json()
    request = schema["components"]["schemas"]["CorrectionRequest"]
    assert "Exactly one of label" in request["description"]
    [ref] = [part["$ref"] for part in request["properties"]["not_a_digit"]["allOf"]]
    assert schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["enum"] == [True]
    assert "label" not in request.get("required", [])
    assert "not_a_digit" in schema["components"]["schemas"]["Correction"]["properties"]
    operation = schema["paths"]["/api/predictions/{id}/correction/"]["post"]
    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert {"label": 7} in [e["value"] for e in examples.values()]
    assert {"not_a_digit": True} in [e["value"] for e in examples.values()]


# --- Trust and the policy -------------------------------------------------------------------------------------------


@pytest.fixture
def deciding(active_model) -> TrustPolicy:
    return TrustPolicy.objects.update_or_create(pk=1, defaults={"mode": TrustPolicy.Mode.DECIDE})[0]


def test_the_model_part_of_not_a_digit_is_how_unsure_the_model_was(deciding) -> None:
    """A clear 7 the model is sure of, said to be no digit, is implausible; a blob the open-set rules flagged is
    as plausible as can be."""
    seven = create_submission(png_bytes(draw_digit(7)), CLIENTS[0]).ordered_drawings[0]
    square = create_submission(png_bytes(blob()), CLIENTS[1]).ordered_drawings[0]
    assert seven.confidence > 0.99
    sure = correct(seven, NOT_A_DIGIT)
    flagged = correct(square, NOT_A_DIGIT)
    assert flagged.trust_reasons["model_probability"] == 1.0
    assert flagged.trust_reasons["model"] == 1.0
    assert sure.trust_reasons["model_probability"] == pytest.approx(1 - seven.confidence)
    assert sure.trust_reasons["model"] < 0.5
    assert flagged.trust > sure.trust
    assert "the model flagged it not a digit itself" in flagged.decision_note
    assert f"the model was {seven.confidence:.1%} sure of its digit" in sure.decision_note


def test_an_auto_accepted_not_a_digit_trains(deciding) -> None:
    deciding.accept_above, deciding.exclude_below = 0.0, 0.0
    deciding.save()
    drawing = correct(create_submission(png_bytes(blob()), CLIENTS[0]).ordered_drawings[0], NOT_A_DIGIT)
    assert drawing.correction_status == S.AUTO_ACCEPTED
    assert drawing.decision_note.startswith("Policy: auto-accepted: trust")
    assert list(training_corrections()) == [drawing]
    selection = select_corrections(heldout_share=0.0)
    assert selection.y_train.tolist() == [NOT_A_DIGIT]
    assert selection.not_a_digit_train == 1


def test_the_reader_votes_on_not_a_digit_too() -> None:
    rng = np.random.default_rng(0)
    inputs = rng.random((40, 784), dtype=np.float32)
    query = (inputs[0] * 255).astype(np.uint8)
    digits_only = (inputs, np.full(40, 3), np.ones(40))
    assert trust.reader_vote(query, NOT_A_DIGIT, digits_only).agreement == 0.0
    others = (inputs, np.full(40, NOT_A_DIGIT), np.ones(40))
    vote = trust.reader_vote(query, NOT_A_DIGIT, others)
    assert (vote.agreement, vote.digit) == (1.0, NOT_A_DIGIT)
    assert trust.reader_vote(query, 3, others).agreement == 0.0


def test_live_figures_count_an_accepted_not_a_digit_as_a_mistake_without_a_confusion_row(active_model) -> None:
    DrawingFactory(digit=4, corrected_label=NOT_A_DIGIT, correction_status=S.ACCEPTED)
    DrawingFactory(digit=5)
    assert stats.totals(Drawing.objects.all()) == {"drawings": 2, "corrected": 1, "wrong": 1}
    matrix = np.array(stats.live_confusion())
    assert matrix.sum() == 1
    assert matrix[5, 5] == 1


# --- Admin ----------------------------------------------------------------------------------------------------------


def test_staff_find_show_accept_and_relabel_not_a_digit_corrections(staff_client, staff_user, active_model) -> None:
    said = DrawingFactory(digit=4, corrected_label=NOT_A_DIGIT)
    digit = DrawingFactory(digit=1, corrected_label=7)
    DrawingFactory(digit=2)

    response = staff_client.get(f"{LIST}?corrected={NOT_A_DIGIT}")
    assert [d.pk for d in response.context["cl"].result_list] == [said.pk]
    page = response.content.decode()
    assert "not a digit" in page
    assert f'href="?corrected={NOT_A_DIGIT}"' in staff_client.get(LIST).content.decode()  # offered as a filter

    staff_client.post(LIST, {"action": "accept_corrections", "_selected_action": [said.pk]})
    said.refresh_from_db()
    assert (said.correction_status, said.reviewed_by) == (S.ACCEPTED, staff_user)

    response = staff_client.post(
        LIST, {"action": "relabel", "label": str(NOT_A_DIGIT), "_selected_action": [digit.pk]}, follow=True
    )
    assert "Relabelled as not a digit: 1 drawing." in response.content.decode()
    digit.refresh_from_db()
    assert (digit.corrected_label, digit.correction_status) == (NOT_A_DIGIT, S.ACCEPTED)

    staff_client.post(LIST, {"action": "reject_corrections", "_selected_action": [said.pk]})
    said.refresh_from_db()
    assert said.correction_status == S.REJECTED
    assert said.pk not in {d.pk for d in training_corrections()}


def test_the_drawing_page_offers_not_a_digit(staff_client, active_model) -> None:
    drawing = DrawingFactory(digit=4)
    url = f"{LIST}{drawing.pk}/change/"
    assert '<option value="10">not a digit</option>' in staff_client.get(url).content.decode()
    staff_client.post(url, {"corrected_label": "10", "correction_status": S.ACCEPTED})
    drawing.refresh_from_db()
    assert (drawing.corrected_label, drawing.correction_status) == (NOT_A_DIGIT, S.ACCEPTED)


# --- Export ---------------------------------------------------------------------------------------------------------


def test_the_export_keeps_not_a_digit_apart_and_idx_holds_digits_only(active_model, tmp_path) -> None:
    digit = DrawingFactory(digit=3, corrected_label=8, correction_status=S.ACCEPTED)
    sent = core_strokes.from_points(
        [[[0.2, 0.9, 0], [0.5, 0.1, 100], [0.8, 0.9, 200]], [[0.3, 0.6, 300], [0.7, 0.6, 400]]]
    )
    said = create_submission(None, CLIENTS[0], strokes=sent).ordered_drawings[0]
    correct(said, NOT_A_DIGIT)
    Drawing.objects.filter(pk=said.pk).update(correction_status=S.ACCEPTED)

    data_set = build_data_set()
    data_set.write(tmp_path)
    with np.load(io.BytesIO(data_set.files[NPZ])) as npz:
        assert npz["labels"].tolist() == [8]
        assert npz["drawing_ids"].tolist() == [digit.pk]
        assert npz["not_a_digit_ids"].tolist() == [said.pk]
        assert npz["not_a_digit_predicted"].tolist() == [said.predicted_digit]
        assert np.array_equal(npz["not_a_digit_images"][0], said.input_array)
    assert read_idx(tmp_path / IDX_LABELS).tolist() == [8]
    assert read_idx(tmp_path / IDX_IMAGES).shape == (1, 28, 28)
    manifest = data_set.manifest
    assert (manifest["count"], manifest["not_a_digit_count"]) == (1, 1)
    assert manifest["label_counts"] == {"8": 1}
    [sample] = manifest["not_a_digit_samples"]
    assert (sample["drawing_id"], sample["label"], sample["not_a_digit"]) == (said.pk, None, True)
    assert manifest["samples"][0]["not_a_digit"] is False
    [line] = [json.loads(line) for line in data_set.files[STROKES].decode().splitlines()]
    assert (line["key_id"], line["word"], line["not_a_digit"], line["index"]) == (str(said.pk), "not a digit", True, 0)
    assert line["recognized"] is False


def test_a_runs_not_a_digit_figures_read_as_shares(staff_client, active_model) -> None:
    figures = {"heldout_not_a_digit_count": 17, "heldout_not_a_digit_flagged": 10 / 17}
    before = {**figures, "heldout_not_a_digit_flagged": 1 / 17, "heldout_not_a_digit_top_probability": 0.80412}
    run = TrainingRun.objects.create(metrics_before=before, metrics_after=figures)
    page = staff_client.get(f"/admin/recognizer/trainingrun/{run.pk}/change/").content.decode()
    assert "<td>5.88%</td><td>58.82%</td>" in page
    assert "<td>0.804</td>" in page
