"""Staff review drawings in the admin: the list, every filter, the review queue, every bulk action, and who may."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.utils import timezone

from recognizer.models import Drawing
from tests.support.factories import DrawingFactory
from tests.support.review_data import check_data_set, make_staff, make_visitor, submit

pytestmark = pytest.mark.django_db
CorrectionStatus = Drawing.CorrectionStatus
LIST = "/admin/recognizer/drawing/"

PAGES = [
    "/admin/",
    "/admin/dashboard/",
    LIST,
    f"{LIST}?review=needed",
    "/admin/recognizer/modelversion/",
    "/admin/recognizer/trainingrun/",
    "/admin/recognizer/submission/",
]


@pytest.fixture
def drawings(active_model) -> dict[str, Drawing]:
    """Drawings in every review state, with confidences spread over the bands."""
    return {
        "pending": DrawingFactory(digit=1, confidence=0.95, corrected_label=4),
        "accepted": DrawingFactory(
            digit=7, confidence=0.995, corrected_label=7, correction_status=CorrectionStatus.ACCEPTED
        ),
        "rejected": DrawingFactory(
            digit=3, confidence=0.6, corrected_label=8, correction_status=CorrectionStatus.REJECTED
        ),
        "unsure": DrawingFactory(digit=0, confidence=0.3),
        "unsure_too": DrawingFactory(digit=6, confidence=0.55),
        "sure": DrawingFactory(digit=9, confidence=0.92),
        "excluded": DrawingFactory(digit=2, confidence=0.4, excluded_from_training=True),
    }


def results(client: Client, query: str = "") -> list[Drawing]:
    response = client.get(f"{LIST}{query}")
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def keys(drawings: dict[str, Drawing], found: list[Drawing]) -> set[str]:
    by_pk = {d.pk: name for name, d in drawings.items()}
    return {by_pk[d.pk] for d in found}


# Who may get in.


def test_admin_pages_render_for_staff(staff_client, drawings) -> None:
    for url in PAGES:
        assert staff_client.get(url).status_code == 200, url


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_users_are_sent_to_the_login_page(db, url: str) -> None:
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", PAGES)
def test_non_staff_users_are_refused(django_user_model, url: str) -> None:
    client = make_visitor(django_user_model)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_permission_on_drawings_are_refused(django_user_model, drawings) -> None:
    client = make_staff(django_user_model, "intern")
    assert client.get(LIST).status_code == 403
    assert client.get(f"/admin/recognizer/drawing/{drawings['pending'].pk}/change/").status_code == 403


def test_view_only_staff_see_drawings_but_cannot_review_them(django_user_model, drawings) -> None:
    client = make_staff(django_user_model, "auditor", "view_drawing")
    assert client.get(LIST).status_code == 200
    pending = drawings["pending"]
    client.post(LIST, {"action": "accept_corrections", "_selected_action": [pending.pk]})
    pending.refresh_from_db()
    assert pending.correction_status == CorrectionStatus.PENDING
    assert pending.reviewed_by is None


# The list.


def test_drawing_list_shows_images_prediction_confidence_correction_version_and_date(staff_client, drawings) -> None:
    html = staff_client.get(LIST).content.decode()
    for drawing in drawings.values():
        assert drawing.image.url in html
        assert f"{drawing.confidence:.1%}" in html
    assert html.count('class="digits-input"') == len(drawings)  # the 28x28 input the model saw, per row
    assert "data:image/png;base64," in html
    assert "Pending review" in html
    assert "Accepted" in html
    assert "Rejected" in html
    assert drawings["pending"].model_version.name in html
    assert f"{timezone.localtime(drawings['pending'].created_at):%Y}" in html


FILTERS = [
    ("?corrected=any", {"pending", "accepted", "rejected"}),
    ("?corrected=none", {"unsure", "unsure_too", "sure", "excluded"}),
    ("?corrected=8", {"rejected"}),
    ("?correction_status__exact=pending", {"pending"}),
    ("?correction_status__exact=accepted", {"accepted"}),
    ("?correction_status__exact=rejected", {"rejected"}),
    ("?confidence=lt50", {"unsure", "excluded"}),
    ("?confidence=50-70", {"unsure_too", "rejected"}),
    ("?confidence=90-99", {"pending", "sure"}),
    ("?confidence=ge99", {"accepted"}),
    ("?excluded_from_training__exact=1", {"excluded"}),
    ("?review=needed", {"pending", "unsure", "unsure_too"}),
]


def test_drawing_filters(staff_client, drawings) -> None:
    for query, expected in FILTERS:
        assert keys(drawings, results(staff_client, query)) == expected, query


def test_filter_by_predicted_digit(staff_client, drawings) -> None:
    for digit in {d.predicted_digit for d in drawings.values()}:
        expected = {name for name, d in drawings.items() if d.predicted_digit == digit}
        assert keys(drawings, results(staff_client, f"?predicted_digit__exact={digit}")) == expected


def test_filter_by_model_version_and_date(staff_client, drawings, active_model) -> None:
    assert len(results(staff_client, f"?model_version__id__exact={active_model.pk}")) == len(drawings)
    old = drawings["sure"]
    Drawing.objects.filter(pk=old.pk).update(created_at=timezone.now() - timezone.timedelta(days=400))
    today = timezone.localdate()
    found = results(staff_client, f"?created_at__year={today.year}&created_at__month={today.month}")
    assert keys(drawings, found) == set(drawings) - {"sure"}
    date_filter = next(f for f in staff_client.get(LIST).context["cl"].filter_specs if f.title == "created at")
    past_week = next(
        c for c in date_filter.choices(staff_client.get(LIST).context["cl"]) if c["display"] == "Past 7 days"
    )
    assert keys(drawings, results(staff_client, past_week["query_string"])) == set(drawings) - {"sure"}


def test_filter_by_reviewer(staff_client, staff_user, drawings) -> None:
    staff_client.post(LIST, {"action": "reject_corrections", "_selected_action": [drawings["pending"].pk]})
    assert keys(drawings, results(staff_client, f"?reviewed_by__id__exact={staff_user.pk}")) == {"pending"}


def test_search_by_id(staff_client, drawings) -> None:
    """A number finds the drawing with that id and the drawings of the submission with that id: on PostgreSQL,
    whose sequences do not roll back between tests, the two ids of one drawing differ and may meet another's."""
    target = drawings["unsure"]
    same_submission_id = {name for name, d in drawings.items() if d.submission_id == target.pk}
    assert keys(drawings, results(staff_client, f"?q={target.pk}")) == {"unsure"} | same_submission_id
    by_submission = {name for name, d in drawings.items() if d.submission_id == target.submission_id}
    found = keys(drawings, results(staff_client, f"?q={target.submission_id}"))
    assert by_submission <= found


def test_review_queue_puts_pending_corrections_first_then_the_least_confident(staff_client, drawings) -> None:
    order = [d.pk for d in results(staff_client, "?review=needed")]
    assert order == [drawings["pending"].pk, drawings["unsure"].pk, drawings["unsure_too"].pk]


def test_the_admin_index_links_the_dashboard_and_the_review_queue(staff_client, drawings) -> None:
    html = staff_client.get("/admin/").content.decode()
    assert 'href="/admin/dashboard/"' in html
    assert f'href="{LIST}?review=needed"' in html
    assert "Needs review (3)" in html


# Bulk actions: the state changes, and who did it and when is recorded on the drawing and in its history.


def act(client: Client, action: str, *targets: Drawing, **extra) -> str:
    data = {"action": action, "_selected_action": [d.pk for d in targets], **extra}
    response = client.post(LIST, data, follow=True)
    assert response.status_code == 200
    return " ".join(str(m) for m in response.context["messages"])


def assert_reviewed(drawing: Drawing, user, message: str) -> None:
    drawing.refresh_from_db()
    assert drawing.reviewed_by == user
    assert timezone.now() - drawing.reviewed_at < timezone.timedelta(minutes=1)
    entry = LogEntry.objects.get(object_id=str(drawing.pk), content_type__model="drawing")
    assert entry.user == user
    assert message in entry.get_change_message()


def test_accept_corrections(staff_client, staff_user, drawings) -> None:
    note = act(staff_client, "accept_corrections", drawings["pending"], drawings["sure"])
    assert "Accepted: 1 drawing." in note
    assert "1 skipped (no correction)" in note
    assert_reviewed(drawings["pending"], staff_user, "Accepted")
    assert drawings["pending"].correction_status == CorrectionStatus.ACCEPTED
    drawings["sure"].refresh_from_db()
    assert drawings["sure"].reviewed_by is None


def test_reject_corrections(staff_client, staff_user, drawings) -> None:
    act(staff_client, "reject_corrections", drawings["pending"])
    assert_reviewed(drawings["pending"], staff_user, "Rejected")
    assert drawings["pending"].correction_status == CorrectionStatus.REJECTED
    assert drawings["pending"].corrected_label == 4  # kept on record


def test_relabel(staff_client, staff_user, drawings) -> None:
    note = act(staff_client, "relabel", drawings["unsure"], drawings["rejected"], label="5")
    assert "Relabelled as 5: 2 drawings." in note
    for name in ("unsure", "rejected"):
        assert_reviewed(drawings[name], staff_user, "Relabelled as 5")
        assert drawings[name].corrected_label == 5
        assert drawings[name].correction_status == CorrectionStatus.ACCEPTED
        assert drawings[name].corrected_at == drawings[name].reviewed_at


def test_relabel_needs_a_digit(staff_client, drawings) -> None:
    note = act(staff_client, "relabel", drawings["unsure"], label="")
    assert "Choose the digit" in note
    drawings["unsure"].refresh_from_db()
    assert drawings["unsure"].corrected_label is None


def test_confirm_predictions_takes_them_out_of_the_queue(staff_client, staff_user, drawings) -> None:
    act(staff_client, "confirm_predictions", drawings["unsure"])
    assert_reviewed(drawings["unsure"], staff_user, "Confirmed")
    assert drawings["unsure"].corrected_label is None
    assert keys(drawings, results(staff_client, "?review=needed")) == {"pending", "unsure_too"}


def test_exclude_and_include_again(staff_client, staff_user, drawings) -> None:
    act(staff_client, "exclude_from_training", drawings["accepted"])
    assert_reviewed(drawings["accepted"], staff_user, "Excluded from training")
    assert drawings["accepted"].excluded_from_training
    assert drawings["accepted"].correction_status == CorrectionStatus.ACCEPTED
    note = act(staff_client, "include_in_training", drawings["accepted"], drawings["sure"])
    assert "Included in training: 1 drawing." in note
    drawings["accepted"].refresh_from_db()
    assert not drawings["accepted"].excluded_from_training


def test_export_action_downloads_the_selected_training_corrections(staff_client, drawings) -> None:
    selected = [drawings[name].pk for name in ("accepted", "pending", "rejected", "sure")]
    response = staff_client.post(LIST, {"action": "export_data_set", "_selected_action": selected})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="digits-corrections-')
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    read = check_data_set(files, [drawings["accepted"]])  # pending waits for review, rejected never trains
    assert read["manifest"]["selection"]["subset_of_selection"] is True


def test_export_action_with_nothing_exportable_says_so(staff_client, drawings) -> None:
    note = act(staff_client, "export_data_set", drawings["sure"])
    assert "None of the selected drawings" in note


# Editing one drawing.


def change_data(drawing: Drawing, **fields) -> dict:
    data = {
        "corrected_label": "" if drawing.corrected_label is None else drawing.corrected_label,
        "correction_status": drawing.correction_status,
    }
    if drawing.excluded_from_training:
        data["excluded_from_training"] = "on"
    return {**data, **fields}


def test_drawing_page_shows_the_image_the_input_and_the_probabilities(staff_client, drawings) -> None:
    html = staff_client.get(f"{LIST}{drawings['pending'].pk}/change/").content.decode()
    assert drawings["pending"].image.url in html
    assert 'width="224"' in html
    assert html.count('class="digits-prob"') == 10


def test_editing_the_review_fields_records_the_reviewer(staff_client, staff_user, drawings) -> None:
    drawing = drawings["unsure"]
    url = f"{LIST}{drawing.pk}/change/"
    response = staff_client.post(url, change_data(drawing, corrected_label="6", correction_status="accepted"))
    assert response.status_code == 302
    drawing.refresh_from_db()
    assert (drawing.corrected_label, drawing.correction_status) == (6, CorrectionStatus.ACCEPTED)
    assert drawing.reviewed_by == staff_user
    assert drawing.corrected_at == drawing.reviewed_at


def test_a_status_without_a_digit_is_refused(staff_client, drawings) -> None:
    drawing = drawings["unsure"]
    response = staff_client.post(f"{LIST}{drawing.pk}/change/", change_data(drawing, correction_status="accepted"))
    assert response.status_code == 200
    assert "A correction status needs a corrected digit." in response.content.decode()
    drawing.refresh_from_db()
    assert drawing.correction_status == CorrectionStatus.NONE


def test_submission_page_lists_its_drawings(staff_client, drawings) -> None:
    submission = drawings["pending"].submission
    html = staff_client.get(f"/admin/recognizer/submission/{submission.pk}/change/").content.decode()
    assert 'class="digits-input"' in html
    assert staff_client.get("/admin/recognizer/submission/").status_code == 200


def test_a_flood_from_one_network_is_found_and_excluded_in_one_action(staff_client, staff_user, active_model) -> None:
    """A client that clears its cookie before each correction is many clients, but one network: the network filter
    shows it at the top, and one action on one of its drawings excludes them all."""
    from recognizer.network import network_key

    school = network_key("198.51.100.7")
    assert school == network_key("198.51.100.200")  # the same /24
    elsewhere = network_key("203.0.113.5")
    now = timezone.now()
    pending = {"correction_status": CorrectionStatus.PENDING, "corrected_at": now}
    flood = [
        submit(7, variant=i % 5, client=f"{i:032d}", network=school, corrected_label=1, **pending) for i in range(6)
    ]
    honest = submit(3, client="h" * 32, network=elsewhere, corrected_label=8, **pending)
    response = staff_client.get(LIST)
    offered = [
        choice["display"]
        for spec in response.context["cl"].filter_specs
        for choice in spec.choices(response.context["cl"])
        if spec.title == "network (most corrections)"
    ]
    assert offered[1] == f"{school[:8]} (6 corrections)"  # after "All", the flood first
    assert staff_client.get(LIST, {"network": school}).context["cl"].result_count == 6
    note = act(staff_client, "exclude_networks", flood[0])
    assert "Excluded from training every correction from 1 network(s): 6 drawings." in note
    assert set(Drawing.objects.filter(excluded_from_training=True).values_list("pk", flat=True)) == {
        d.pk for d in flood
    }
    honest.refresh_from_db()
    assert not honest.excluded_from_training
    assert_reviewed(flood[-1], staff_user, "every correction from 1 network(s)")


def test_a_drawing_sent_as_strokes_is_replayed_by_a_self_drawing_svg(staff_client, active_model) -> None:
    """No script (the admin's Content-Security-Policy): each stroke is a path animated by admin.css."""
    from bench.drawing import digit_strokes
    from recognizer.core import strokes as core_strokes
    from recognizer.predictions import create_submission

    sent = core_strokes.parse(digit_strokes("4071", spacing=0.5, pointer="pen"))
    submission = create_submission(None, "k" * 32, as_number=True, strokes=sent)
    page = staff_client.get(f"/admin/recognizer/drawing/{submission.ordered_drawings[0].pk}/change/").content.decode()
    assert page.count('class="digits-replay__stroke"') == 2  # the 4's two strokes
    assert 'pathLength="1"' in page
    assert "animation-delay:" in page
    assert "<script" not in page.split('class="digits-replay"', 1)[1].split("</svg>", 1)[0]
    whole = staff_client.get(f"/admin/recognizer/submission/{submission.pk}/change/").content.decode()
    assert whole.count('class="digits-replay__stroke"') == 5
