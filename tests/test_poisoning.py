"""Poisoning: one client floods wrong corrections (MNIST 7s, drawn and sent through the API, each "corrected" to 1).

Even where those corrections may train unreviewed (``DIGITS_TRAIN_ON_PENDING``, the worst case), the gate refuses the
poisoned candidate on its MNIST test accuracy and the active model stays. Staff see the flooding client in the
drawing admin and exclude every correction it made in one action; from then on no fine-tune counts or uses them.

The public rate limits are off here: they slow one client down (60 corrections a minute, 3,600 an hour), they do not
stop a flood, which is what the gate and the admin are for.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.messages import get_messages
from rest_framework.test import APIClient

from bench.drawing import data_url, mnist_as_drawing
from recognizer.corrections import select_corrections, training_corrections
from recognizer.models import Drawing, ModelVersion, TrainingRun
from training.finetune import FinetuneOptions, fine_tune

CHANGELIST = "/admin/recognizer/drawing/"
#: The flood's images come from past the first 2,000 MNIST test images, the ones the gate judges on (the fine-tune's
#: ``eval_limit`` here): the poison is new 7s, not the gate's own.
UNJUDGED = 5000


@pytest.fixture(autouse=True)
def _no_rate_limits(settings) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"predict": None, "correct": None}}


def send(client: APIClient, image28: np.ndarray, label: int | None) -> int:
    """Predict an MNIST digit drawn on a canvas and correct it to ``label`` (None: "not a digit"), as any client can;
    the drawing's id."""
    answer = client.post("/api/predictions/", {"image": data_url(mnist_as_drawing(image28))}, format="json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    claim = {"not_a_digit": True} if label is None else {"label": label}
    corrected = client.post(body["correction_url"], {**claim, "token": body["correction_token"]}, format="json")
    assert corrected.status_code == 200, corrected.content
    return body["id"]


def flood(mnist, count: int, label: int | None = 1) -> list[int]:
    """One client (one cookie, so one ``client_key``) sends ``count`` MNIST 7s and corrects every one to ``label``
    (None: says each is not a digit)."""
    client = APIClient()
    sevens = UNJUDGED + np.flatnonzero(mnist.y_test[UNJUDGED:] == 7)[:count]
    return [send(client, mnist.x_test[i], label) for i in sevens]


def honest(mnist, clients: int, each: int) -> list[int]:
    """Other clients correcting a few digits (0-9 in turn) to what they are."""
    ids = []
    for c in range(clients):
        client = APIClient()
        for digit in range(each):
            index = UNJUDGED + 1000 * (c + 1) + np.flatnonzero(mnist.y_test[UNJUDGED + 1000 * (c + 1) :] == digit)[0]
            ids.append(send(client, mnist.x_test[index], digit))
    return ids


@pytest.mark.same_on_any_database
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_flood_of_wrong_corrections_is_refused_by_the_mnist_gate(active_model, mnist, settings) -> None:
    """On the shipped model (99.6% on MNIST), which a fine-tune cannot improve much: whatever it loses on MNIST is
    the flood's doing. Five epochs give this small fine-tune (2,000 replayed images) about half the training steps
    of one epoch in production (20,000), enough for the flood to be learnt; one member instead of production's soup
    of three (averaging members is tests/test_finetune.py's), which learns the flood no less and costs a third."""
    settings.DIGITS_TRAIN_ON_PENDING = True  # the worst case: nobody reviews before they train
    flooded = flood(mnist, 120)
    assert Drawing.objects.filter(pk__in=flooded).values("client_key").distinct().count() == 1
    assert training_corrections().count() == 120

    options = FinetuneOptions.from_settings(
        replay=2000, epochs=5, eval_limit=2000, min_corrections=30, seed=1, members=1
    )
    run = fine_tune(options)

    assert run.status == TrainingRun.RunStatus.REJECTED, run.message
    assert run.correction_samples + run.heldout_samples == 120
    # The held-out check is judged on the flood's own (wrong) labels, so it cannot see the harm and does not object;
    # the MNIST test accuracy, on 2,000 images with their true labels, refuses the candidate: it lost accuracy, which
    # the gate does not allow ...
    before, after = run.metrics_before, run.metrics_after
    assert "held-out corrections accuracy changed" not in run.message
    assert run.message.startswith("Rejected by the gate: MNIST test accuracy changed -")
    assert "the gate allows no loss" in run.message
    assert after["mnist_test_accuracy"] < before["mnist_test_accuracy"] - options.max_mnist_drop
    # ... and most of what it lost is 7s, the digit the flood taught it to misread.
    sevens = int(np.sum(mnist.y_test[:2000] == 7))
    lost = round((before["mnist_test_accuracy"] - after["mnist_test_accuracy"]) * 2000)
    lost_sevens = round((before["per_digit_accuracy"]["7"] - after["per_digit_accuracy"]["7"]) * sevens)
    assert lost_sevens > lost / 2, (lost_sevens, lost)
    # The candidate is kept, inactive, with the reason; the shipped model is still the one served.
    candidate = run.result_version
    assert not candidate.is_active
    assert candidate.notes == run.message
    assert ModelVersion.objects.active() == active_model


@pytest.mark.same_on_any_database("embedded")  # the services pass has more of them (tests/conftest.py: passes)
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_flood_saying_real_digits_are_not_digits_is_refused_by_the_gate(active_model, mnist, settings) -> None:
    """Another way to steer the loop: say real 7s are "not a digit", so that the site tells people their 7s are none.
    The held-out not-a-digit check, judged on the flood's own labels, cannot object; the gate counts the real MNIST
    test digits the candidate would answer "not a digit" and refuses the rise (measured: 0.15% -> 0.40% of the 2,000
    here, while the accuracy check refused it too, 99.35% -> 98.95%: two checks, each enough)."""
    settings.DIGITS_TRAIN_ON_PENDING = True
    flood(mnist, 120, label=None)
    assert training_corrections().count() == 120

    options = FinetuneOptions.from_settings(
        replay=2000, epochs=5, eval_limit=2000, min_corrections=30, seed=1, members=1
    )
    run = fine_tune(options)

    assert run.status == TrainingRun.RunStatus.REJECTED, run.message
    before, after = run.metrics_before, run.metrics_after
    assert after["mnist_test_flagged"] > before["mnist_test_flagged"] + options.max_flagged_rise
    assert "MNIST test digits answered not a digit rose +" in run.message
    assert not run.result_version.is_active
    assert ModelVersion.objects.active() == active_model


@pytest.mark.django_db
def test_staff_spot_the_flooding_client_and_exclude_all_its_corrections_in_one_action(
    active_model, mnist, staff_client, staff_user, settings
) -> None:
    settings.DIGITS_TRAIN_ON_PENDING = True
    settings.DIGITS_FINETUNE_MIN_CORRECTIONS = 1000  # only the count matters here: each fine-tune skips, saying it
    flooded = flood(mnist, 40)
    kept = honest(mnist, clients=2, each=5)
    flooder = Drawing.objects.get(pk=flooded[0]).client_key
    assert fine_tune(FinetuneOptions.from_settings()).message.startswith(
        "Skipped: 50 new distinct image(s) with a usable correction"
    )

    # The filter offers the clients with the most corrections: the flooder comes first, with its count; its drawings
    # are one click away, and each row shows its client's corrections.
    changelist = staff_client.get(CHANGELIST)
    html = changelist.content.decode()
    assert html.index(f"{flooder[:8]}… (40 corrections)") < html.index("(5 corrections)")
    assert f'href="?client={flooder}"' in html
    assert html.count(f"{flooder[:8]}…</a>: 40") == 40  # its every row (all 50 drawings fit on the page)
    assert staff_client.get(CHANGELIST, {"client": flooder}).context["cl"].result_count == 40

    # One action, on one of its drawings, excludes every correction it made.
    response = staff_client.post(CHANGELIST, {"action": "exclude_clients", "_selected_action": [flooded[0]]})
    assert response.status_code == 302
    note = str(list(get_messages(response.wsgi_request))[-1])
    assert note == "Excluded from training every correction by 1 client(s): 40 drawings."
    excluded = Drawing.objects.filter(excluded_from_training=True)
    assert sorted(excluded.values_list("pk", flat=True)) == sorted(flooded)
    assert set(excluded.values_list("reviewed_by", flat=True)) == {staff_user.pk}
    assert not excluded.filter(reviewed_at__isnull=True).exists()
    history = LogEntry.objects.filter(object_id__in=[str(pk) for pk in flooded])
    assert history.count() == 40
    assert {entry.change_message for entry in history} == {"Excluded from training every correction by 1 client(s)"}

    # Training no longer sees them: not in the selection, not in the count of the next fine-tune.
    assert sorted(training_corrections().values_list("pk", flat=True)) == sorted(kept)
    assert select_corrections().total == 10
    assert fine_tune(FinetuneOptions.from_settings()).message.startswith(
        "Skipped: 10 new distinct image(s) with a usable correction"
    )
