"""Staff review drawings in the admin; nobody else gets in."""

from __future__ import annotations

import pytest
from django.test import Client

from recognizer.models import Drawing
from recognizer.predictions import correct, create_submission
from tests.drawing import draw_digit, png_bytes

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/",
    "/admin/recognizer/drawing/",
    "/admin/recognizer/modelversion/",
    "/admin/recognizer/trainingrun/",
    "/admin/recognizer/submission/",
]


@pytest.fixture
def drawings(active_model) -> list[Drawing]:
    made = [create_submission(png_bytes(draw_digit(d)), "session-a").ordered_drawings[0] for d in (1, 7, 3)]
    correct(made[0], 4)
    return made


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.mark.parametrize("url", PAGES)
def test_admin_pages_render_for_staff(staff_client, drawings, url: str) -> None:
    response = staff_client.get(url)
    assert response.status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_users_are_sent_to_the_login_page(drawings, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_non_staff_users_are_refused(django_user_model, drawings) -> None:
    user = django_user_model.objects.create_user("visitor", password="pw-visitor-123")
    client = Client()
    client.force_login(user)
    response = client.get("/admin/recognizer/drawing/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_drawing_list_shows_thumbnail_prediction_confidence_correction_and_version(staff_client, drawings) -> None:
    html = staff_client.get("/admin/recognizer/drawing/").content.decode()
    for drawing in drawings:
        assert drawing.image.url in html
        assert f"{drawing.confidence:.1%}" in html
    assert "data:image/png;base64," in html  # the 28x28 input the model saw
    assert drawings[0].model_version.name in html
    assert "Pending review" in html


def test_drawing_filters(staff_client, drawings) -> None:
    corrected = staff_client.get("/admin/recognizer/drawing/?corrected=yes").context["cl"].result_list
    assert [d.pk for d in corrected] == [drawings[0].pk]
    uncorrected = staff_client.get("/admin/recognizer/drawing/?corrected=no").context["cl"].result_list
    assert {d.pk for d in uncorrected} == {drawings[1].pk, drawings[2].pk}
    digit = drawings[1].predicted_digit
    by_digit = staff_client.get(f"/admin/recognizer/drawing/?predicted_digit={digit}").context["cl"].result_list
    assert all(d.predicted_digit == digit for d in by_digit)
    assert by_digit
    day = drawings[0].created_at
    by_date = (
        staff_client.get(f"/admin/recognizer/drawing/?created_at__year={day.year}&created_at__month={day.month}")
        .context["cl"]
        .result_list
    )
    assert len(by_date) == 3


def test_drawing_detail_shows_the_image_and_model_input(staff_client, drawings) -> None:
    html = staff_client.get(f"/admin/recognizer/drawing/{drawings[0].pk}/change/").content.decode()
    assert drawings[0].image.url in html
    assert 'width="224"' in html
