"""Strokes through the API: a drawing sent as strokes (instead of, or beside, its picture) is rendered with the page's
brush and read like a picture; malformed strokes get a clear 400; a number's digits are split by their strokes; and a
number's cost is bounded (too many digits: 400)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from bench.drawing import data_url, digit_strokes, draw_digit, draw_number
from recognizer.core import strokes as core_strokes
from recognizer.models import Drawing, Submission

pytestmark = pytest.mark.django_db

PREDICT = "/api/predictions/"
NUMBERS = "/api/numbers/"


def post(client, url: str, body: dict, status: int = 201) -> dict:
    response = client.post(url, body, format="json")
    assert response.status_code == status, response.content
    return response.json()


@pytest.mark.parametrize("digit", range(10))
def test_a_digit_sent_as_strokes_is_read_and_its_strokes_stored(client_api, active_model, digit: int) -> None:
    sent = digit_strokes(str(digit))
    body = post(client_api, PREDICT, {"strokes": sent})
    assert body["digit"] == digit
    assert body["candidates"][0] == digit
    stored = Drawing.objects.get(pk=body["id"]).stroke_drawing
    assert stored is not None
    assert stored.pointer == "mouse"
    assert [len(s) for s in stored.strokes] == [len(s) for s in sent["strokes"]]
    assert np.allclose(stored.strokes[0][:, :2], np.array(sent["strokes"][0])[:, :2], atol=1e-4)


def test_strokes_and_a_picture_of_the_same_drawing_reach_the_same_input(client_api, active_model) -> None:
    drawing = core_strokes.parse(digit_strokes("5"))
    picture = core_strokes.render(drawing)
    from_picture = post(client_api, PREDICT, {"image": data_url(picture)})
    from_strokes = post(client_api, PREDICT, {"strokes": digit_strokes("5")})
    inputs = [Drawing.objects.get(pk=b["id"]).input_array for b in (from_picture, from_strokes)]
    assert np.array_equal(inputs[0], inputs[1])
    assert from_picture["probabilities"] == pytest.approx(from_strokes["probabilities"])


def test_beside_an_image_the_strokes_are_read(client_api, active_model) -> None:
    body = post(client_api, PREDICT, {"image": data_url(draw_digit(1)), "strokes": digit_strokes("7")})
    assert body["digit"] == 7


def test_strokes_in_a_multipart_form_are_json_text(client_api, active_model) -> None:
    response = client_api.post(PREDICT, {"strokes": json.dumps(digit_strokes("3"))}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["digit"] == 3


def test_a_bare_list_of_strokes_is_accepted(client_api, active_model) -> None:
    assert post(client_api, PREDICT, {"strokes": digit_strokes("4")["strokes"]})["digit"] == 4


def test_coordinates_a_little_outside_the_canvas_are_clamped(client_api, active_model) -> None:
    sent = digit_strokes("1")
    sent["strokes"][0][0][1] = -0.03  # a pen leaving the canvas while captured
    assert post(client_api, PREDICT, {"strokes": sent})["digit"] == 1


def _with(change) -> dict:
    sent = digit_strokes("7")
    change(sent)
    return sent


MALFORMED = {
    "not a list or an object": "7",
    "a number": 7,
    "no strokes": {"strokes": []},
    "a stroke that is not a list": {"strokes": [7]},
    "an empty stroke": {"strokes": [[]]},
    "a point of two values": {"strokes": [[[0.5, 0.5]]]},
    "a point of five values": {"strokes": [[[0.5, 0.5, 0, 0.5, 1]]]},
    "a coordinate as a string": {"strokes": [[["0.5", 0.5, 0]]]},
    "a coordinate as a boolean": {"strokes": [[[True, 0.5, 0]]]},
    "a null coordinate": {"strokes": [[[None, 0.5, 0]]]},
    "x far right of the canvas": _with(lambda s: s["strokes"][0].__setitem__(1, [1.5, 0.5, 20])),
    "y far above the canvas": _with(lambda s: s["strokes"][0].__setitem__(1, [0.5, -0.2, 20])),
    "negative time": {"strokes": [[[0.5, 0.5, -5]]]},
    "time going back": {"strokes": [[[0.5, 0.5, 500], [0.5, 0.6, 100]]]},
    "a drawing longer than ten minutes": {"strokes": [[[0.5, 0.5, 0], [0.5, 0.6, 600_001]]]},
    "pressure above 1": {"strokes": [[[0.5, 0.5, 0, 1.5]]]},
    "an unknown pointer": _with(lambda s: s.__setitem__("pointer", "trackball")),
    "a pointer that is not a string": _with(lambda s: s.__setitem__("pointer", {})),
    "a null pointer (the schema fuzz found it accepted)": _with(lambda s: s.__setitem__("pointer", None)),
    "a null aspect": _with(lambda s: s.__setitem__("aspect", None)),
    "an aspect of 0": _with(lambda s: s.__setitem__("aspect", 0)),
    "an unknown field": _with(lambda s: s.__setitem__("colour", "red")),
    "too many strokes": {"strokes": [[[0.5, 0.5, i]] for i in range(core_strokes.MAX_STROKES + 1)]},
    "too many points in a stroke": {
        "strokes": [[[0.5, 0.5, 0]] * (core_strokes.MAX_POINTS_PER_STROKE + 1)],
    },
    "too many points in all": {
        "strokes": [[[0.5, 0.5, 0]] * core_strokes.MAX_POINTS_PER_STROKE] * (core_strokes.MAX_POINTS // 2000 + 1)
    },
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_strokes_get_a_clear_400(client_api, active_model, name: str) -> None:
    body = post(client_api, PREDICT, {"strokes": MALFORMED[name]}, status=400)
    assert body["code"] == "invalid_strokes", body
    assert body["detail"]
    assert "Traceback" not in body["detail"]
    assert not Drawing.objects.exists()


def test_nan_and_infinity_are_refused_in_json_and_in_a_form(client_api, active_model) -> None:
    text = '{"strokes": [[[NaN, 0.5, 0]]]}'
    response = client_api.post(PREDICT, text, content_type="application/json")
    assert response.status_code == 400  # not JSON: DRF's strict parser refuses NaN
    form = client_api.post(PREDICT, {"strokes": "[[[NaN, 0.5, 0]]]"}, format="multipart")
    assert (form.status_code, form.json()["code"]) == (400, "invalid_strokes")
    assert "finite" in form.json()["detail"]
    infinite = client_api.post(PREDICT, '{"strokes": [[[1e999, 0.5, 0]]]}', content_type="application/json")
    assert (infinite.status_code, infinite.json()["code"]) == (400, "invalid_strokes")  # JSON, but not finite
    bad_json = client_api.post(PREDICT, {"strokes": "[[[0.5,"}, format="multipart")
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, "invalid_strokes")


def test_neither_image_nor_strokes_is_a_400(client_api, active_model) -> None:
    body = post(client_api, PREDICT, {}, status=400)
    assert body["code"] == "invalid_input"


@pytest.mark.parametrize("extra", [{}, {"image": "IMAGE"}])
def test_null_strokes_are_refused_even_beside_an_image(client_api, active_model, extra: dict) -> None:
    """The schema says strokes are an object: null is a 400, not read as "no strokes" (the schema fuzz found it)."""
    image = {k: data_url(draw_digit(1)) for k in extra}
    body = post(client_api, PREDICT, {**image, "strokes": None}, status=400)
    assert body["code"] == "invalid_strokes"
    assert not Drawing.objects.exists()


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize("spacing", [0.75, 0.45], ids=["apart", "touching"])
def test_a_number_sent_as_strokes_is_split_by_its_strokes(client_api, active_model, spacing: float) -> None:
    sent = digit_strokes("4071", spacing=spacing)
    body = post(client_api, NUMBERS, {"strokes": sent})
    assert body["number"] == "4071"
    submission = Submission.objects.get(pk=body["submission"])
    assert core_strokes.decode(bytes(submission.strokes)).point_count == sum(len(s) for s in sent["strokes"])
    drawings = Drawing.objects.filter(submission=submission).order_by("position")
    assert [len(d.stroke_drawing.strokes) for d in drawings] == [2, 1, 1, 1]  # the 4 has two strokes


def test_touching_digits_in_a_picture_are_cut_apart(client_api, active_model) -> None:
    """Recognition-scored cuts: draw_number at 0.45 makes the inks of 2 and 3 touch."""
    picture = core_strokes.render(core_strokes.parse(digit_strokes("23", spacing=0.45)))
    body = post(client_api, NUMBERS, {"image": data_url(picture)})
    assert body["number"] == "23"


def _many_digits(count: int) -> dict:
    return digit_strokes("1" * count, spacing=0.35)  # an aspect of 5 at most: within the canvas bounds


def test_more_than_twelve_digits_is_refused_from_strokes(client_api, active_model) -> None:
    assert post(client_api, NUMBERS, {"strokes": _many_digits(12)})["number"] == "1" * 12
    body = post(client_api, NUMBERS, {"strokes": _many_digits(13)}, status=400)
    assert body["code"] == "number_too_large"
    assert "12" in body["detail"]
    assert Submission.objects.count() == 1


def test_more_than_twelve_digits_is_refused_from_a_picture(client_api, active_model) -> None:
    wide = draw_number("1234567890123")
    body = post(client_api, NUMBERS, {"image": data_url(wide)}, status=400)
    assert body["code"] == "number_too_large"


def test_a_scribble_of_many_strokes_costs_bounded_work(client_api, active_model) -> None:
    """80 random strokes across a number canvas (the issue's 9-second picture): answered or refused, quickly."""
    import time

    rng = np.random.default_rng(0)
    strokes, t = [], 0.0
    for _ in range(80):
        start = rng.uniform([0.05, 0.1], [0.95, 0.9])
        points = (start + np.cumsum(rng.normal(0, 0.03, (12, 2)), axis=0)).clip(0, 1)
        strokes.append([[float(x), float(y), t + 8 * k] for k, (x, y) in enumerate(points)])
        t += 8 * len(points) + 120
    began = time.perf_counter()
    response = client_api.post(NUMBERS, {"strokes": {"aspect": 2.0, "strokes": strokes}}, format="json")
    assert response.status_code in (201, 400), response.content
    assert time.perf_counter() - began < 5.0  # generous for a loaded test machine; ~0.5 s unloaded
    picture = Image.new("RGBA", (560, 280))
    picture.alpha_composite(core_strokes.render(core_strokes.parse({"aspect": 2.0, "strokes": strokes})))
    began = time.perf_counter()
    response = client_api.post(NUMBERS, {"image": data_url(picture)}, format="json")
    assert response.status_code in (201, 400), response.content
    assert time.perf_counter() - began < 5.0


def test_an_ambiguous_drawing_names_its_candidates(client_api, active_model) -> None:
    body = post(client_api, PREDICT, {"strokes": digit_strokes("9")})
    assert body["uncertain_reason"] in (None, "ambiguous", "low_confidence", "not_a_digit")
    if body["uncertain_reason"] == "ambiguous":
        assert len(body["candidates"]) >= 2
    else:
        assert len(body["candidates"]) == 1


def test_the_strokes_field_is_documented(client_api) -> None:
    schema = client_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    request = schema["components"]["schemas"]["PredictionRequest"]["properties"]
    assert request["strokes"]["properties"]["strokes"]["maxItems"] == core_strokes.MAX_STROKES
    assert "candidates" in schema["components"]["schemas"]["Drawing"]["properties"]
    assert "ambiguous" in json.dumps(schema["components"]["schemas"]["Drawing"]["properties"]["uncertain_reason"])
