"""Who may do what: the public predicts and corrects its own drawings; everything else is for staff.

And CSRF: a request whose only credential is a session cookie (staff's login, or an anonymous client's session
that made the drawing) must carry the CSRF token, so another site cannot make a browser send it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

from bench.drawing import data_url, draw_digit
from recognizer.models import Drawing

pytestmark = pytest.mark.django_db

PREDICT = "/api/predictions/"
#: Everything the API offers. Staff work (activating models, fine-tuning, reviewing) is in the admin, not here.
PUBLIC_OPERATIONS = {
    ("post", "/api/predictions/"),
    ("get", "/api/predictions/{id}/"),
    ("get", "/api/predictions/recent/"),  # this session's own latest drawings
    ("post", "/api/predictions/{id}/correction/"),
    ("post", "/api/numbers/"),
    ("post", "/api/numbers/{id}/split/"),  # a number's count of digits corrected
    ("get", "/api/predictions/"),  # the full listing: staff only (below)
}


def test_the_api_offers_only_predicting_reading_back_and_correcting(client_api) -> None:
    schema = client_api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    offered = {(method, path) for path, item in schema["paths"].items() for method in item}
    assert offered == PUBLIC_OPERATIONS


@pytest.fixture
def visitor(django_user_model) -> APIClient:
    """A logged-in user who is not staff: no more rights than the public."""
    client = APIClient()
    client.force_login(django_user_model.objects.create_user("visitor", password="pw-visitor-123"))
    return client


def test_the_full_listing_is_refused_to_the_public_and_to_non_staff(client_api, visitor, staff_api, active_model):
    client_api.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json")
    for client in (client_api, visitor):
        response = client.get(PREDICT)
        assert response.status_code == 403
        assert response.json()["code"] in {"not_authenticated", "permission_denied"}
    assert staff_api.get(PREDICT).status_code == 200


def test_non_staff_users_correct_only_their_own_drawings(client_api, visitor, active_model) -> None:
    body = client_api.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json").json()
    response = visitor.post(body["correction_url"], {"label": 7}, format="json")
    assert response.status_code == 403
    assert visitor.get(f"{PREDICT}{body['id']}/").status_code == 404
    assert Drawing.objects.get(pk=body["id"]).corrected_label is None


# --- CSRF ----------------------------------------------------------------------------------------------------------


@pytest.fixture
def browser(active_model) -> APIClient:
    """A client that checks CSRF like a real browser session does: it has loaded the page, which sets the cookie."""
    client = APIClient(enforce_csrf_checks=True)
    assert client.get("/").status_code == 200
    assert client.cookies["csrftoken"].value
    return client


def csrf_header(client: APIClient) -> dict:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def test_correcting_by_session_cookie_alone_needs_the_csrf_token(browser) -> None:
    body = browser.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json").json()
    forged = browser.post(body["correction_url"], {"label": 7}, format="json")  # what a cross-site form could send
    assert forged.status_code == 403
    assert "CSRF" in forged.json()["detail"]
    assert Drawing.objects.get(pk=body["id"]).corrected_label is None
    genuine = browser.post(body["correction_url"], {"label": 7}, format="json", **csrf_header(browser))
    assert genuine.status_code == 200
    assert Drawing.objects.get(pk=body["id"]).corrected_label == 7


def test_a_wrong_csrf_token_is_refused(browser) -> None:
    body = browser.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json").json()
    response = browser.post(body["correction_url"], {"label": 7}, format="json", HTTP_X_CSRFTOKEN="x" * 32)
    assert response.status_code == 403
    assert Drawing.objects.get(pk=body["id"]).corrected_label is None


def test_a_form_post_from_another_site_is_refused(browser) -> None:
    """The classic CSRF: an HTML form elsewhere posting to the correction URL with the visitor's cookies."""
    body = browser.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json").json()
    response = browser.post(body["correction_url"], {"label": "7"}, HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert Drawing.objects.get(pk=body["id"]).corrected_label is None


def test_the_correction_token_is_itself_the_credential_and_needs_no_csrf_token(browser) -> None:
    """Only the client that made the drawing was given its token; another site cannot know it."""
    body = browser.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json").json()
    response = browser.post(body["correction_url"], {"label": 7, "token": body["correction_token"]}, format="json")
    assert response.status_code == 200
    drawing = Drawing.objects.get(pk=body["id"])
    assert (drawing.corrected_label, drawing.correction_status) == (7, Drawing.CorrectionStatus.PENDING)


def test_staff_sessions_need_the_csrf_token_for_everything(staff_user, active_model) -> None:
    staff = APIClient(enforce_csrf_checks=True)
    staff.force_login(staff_user)
    staff.get("/")
    assert staff.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json").status_code == 403
    body = staff.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json", **csrf_header(staff)).json()
    assert Drawing.objects.count() == 1  # the refused prediction stored nothing
    assert staff.post(body["correction_url"], {"label": 7}, format="json").status_code == 403
    assert Drawing.objects.get(pk=body["id"]).corrected_label is None
    response = staff.post(body["correction_url"], {"label": 7}, format="json", **csrf_header(staff))
    assert response.status_code == 200
    drawing = Drawing.objects.get(pk=body["id"])
    assert (drawing.corrected_label, drawing.correction_status, drawing.reviewed_by) == (
        7,
        Drawing.CorrectionStatus.ACCEPTED,
        staff_user,
    )


def test_the_page_hands_out_the_csrf_cookie_its_script_sends_back(client) -> None:
    response = client.get("/")
    assert response.cookies["csrftoken"].value
    assert not response.cookies["csrftoken"]["httponly"]  # the script must be able to read it
    assert "X-CSRFToken" in Path(finders.find("recognizer/app.js")).read_text()
