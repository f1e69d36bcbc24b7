"""The drift signal: the two-sample Kolmogorov-Smirnov test (numpy only) on known samples, the reference confidences
a version stores, and the plain-language reading on the staff dashboard."""

from __future__ import annotations

import numpy as np
import pytest
from django.utils import timezone

from bench.drawing import draw_digit, png_bytes
from recognizer import stats
from recognizer.core import drift
from recognizer.core.drift import Verdict
from recognizer.models import ModelVersion
from tests.support.factories import DrawingFactory

DASHBOARD = "/admin/dashboard/"
SAME = "This week's drawings look like what the model was trained on."


# The test itself.


@pytest.mark.parametrize(
    ("a", "b", "statistic"),
    [
        ([1, 2, 3], [4, 5, 6], 1.0),  # apart
        ([1, 2, 3, 4], [3, 4, 5, 6], 0.5),
        ([1, 1, 2], [1, 2, 2], 1 / 3),  # ties: both distribution functions step at once
        ([0.5, 0.7, 0.9], [0.9, 0.7, 0.5], 0.0),
    ],
)
def test_ks_statistic_on_known_samples(a, b, statistic) -> None:
    assert drift.ks_statistic(a, b) == pytest.approx(statistic)
    assert drift.ks_statistic(b, a) == pytest.approx(statistic)


@pytest.mark.parametrize(
    ("x", "p"),
    [(0.0, 1.0), (0.5, 0.963945), (1.0, 0.269999), (1.3581, 0.05), (1.6276, 0.01), (2.5, 7.4533e-6)],
)
def test_kolmogorov_tail_matches_the_tables(x, p) -> None:
    assert drift.kolmogorov_sf(x) == pytest.approx(p, rel=1e-3, abs=1e-6)


def test_identical_samples_show_no_drift() -> None:
    sample = np.random.default_rng(0).beta(20, 1, size=500)
    result = drift.ks_test(sample, sample.copy())
    assert result.statistic == 0.0
    assert result.pvalue == 1.0
    assert drift.compare(sample, sample).verdict is Verdict.SAME


def test_two_samples_of_one_distribution_show_no_drift() -> None:
    rng = np.random.default_rng(1)
    result = drift.ks_test(rng.normal(size=800), rng.normal(size=600))
    assert result.pvalue > 0.05
    assert result.statistic < 0.08


def test_a_shifted_sample_is_drift() -> None:
    rng = np.random.default_rng(2)
    result = drift.ks_test(rng.normal(0.5, 1, size=400), rng.normal(0, 1, size=600))
    assert result.pvalue < 0.01
    assert result.statistic > 0.15
    week = np.clip(rng.beta(4, 1, size=200), 0, 1)  # less sure
    before = np.clip(rng.beta(30, 1, size=1000), 0, 1)
    found = drift.compare(week, before)
    assert found.verdict is Verdict.LESS_CONFIDENT
    assert found.drifted
    assert found.ks.pvalue < 0.01
    assert drift.compare(before[:200], week * 0.5 + 0.2).verdict is Verdict.MORE_CONFIDENT


def test_a_significant_but_tiny_gap_is_not_drift() -> None:
    rng = np.random.default_rng(3)
    found = drift.compare(rng.normal(0.05, 1, size=20_000), rng.normal(0, 1, size=20_000))
    assert found.ks.pvalue < 0.01
    assert found.ks.statistic < drift.MIN_EFFECT
    assert found.verdict is Verdict.SAME


def test_quantiles_stand_for_their_sample() -> None:
    rng = np.random.default_rng(4)
    sample = rng.beta(20, 1, size=10_000)
    quantiles = drift.confidence_quantiles(sample)
    assert len(quantiles) == drift.QUANTILE_LEVELS
    assert quantiles == sorted(quantiles)
    assert drift.ks_statistic(sample, quantiles) <= 0.011
    week = rng.beta(20, 1, size=300)
    assert drift.compare(week, quantiles, reference_size=10_000).verdict is Verdict.SAME
    against_quantiles = drift.ks_test(rng.beta(5, 1, size=300), quantiles, 10_000)
    assert against_quantiles.m == 10_000
    assert against_quantiles.pvalue < 0.01


def test_readings() -> None:
    assert drift.compare([0.99] * 5, [0.99] * 500).reading() == "Too few drawings this week to tell (5)."
    assert drift.compare([0.99] * 40, []).verdict is Verdict.NO_REFERENCE
    week = [0.5] * 20 + [0.99] * 20
    before = [0.8] * 5 + [0.99] * 95
    assert drift.compare(week, before).reading() == (
        "This week's drawings are read with less confidence than usual: 50% below 0.9 against 5.0% before — more "
        "unusual handwriting, or a new group of writers; consider reviewing corrections and fine-tuning."
    )
    on_mnist = drift.compare(week, before, reference_phrase="on the MNIST test set").reading()
    assert on_mnist.startswith(
        "This week's drawings are read with less confidence than usual: 50% below 0.9 against 5.0% on the MNIST test "
        "set"
    )
    assert drift.histogram([0.0, 0.55, 0.95, 1.0]) == [0.25, 0.25, 0, 0, 0, 0, 0.25, 0.25]
    assert len(drift.bin_labels()) == len(drift.BINS) - 1


def test_mnist_metrics_store_the_confidence_quantiles_at_the_serving_temperature(mnist) -> None:
    from recognizer.core import shipped
    from training.ml.evaluate import mnist_test_metrics
    from training.ml.fit import prepare_images

    content = shipped.model_file().read_bytes()
    x, y = prepare_images(mnist.x_test[:300]), mnist.y_test[:300]
    plain, _ = mnist_test_metrics(content, x, y)
    softened, _ = mnist_test_metrics(content, x, y, temperature=2.0)
    assert plain["confidence_quantiles"]["count"] == 300
    assert plain["confidence_quantiles"]["temperature"] == 1.0
    assert softened["confidence_quantiles"]["temperature"] == 2.0
    served, _ = mnist_test_metrics(content, x, y, temperature=shipped.metadata()["metrics"]["temperature"])
    assert np.median(served["confidence_quantiles"]["values"]) > 0.99  # sure of MNIST, as served
    assert np.median(softened["confidence_quantiles"]["values"]) < np.median(plain["confidence_quantiles"]["values"])
    assert plain["mnist_test_accuracy"] == softened["mnist_test_accuracy"]


# On the dashboard.

PNG = png_bytes(draw_digit(0))


def drawings(confidences, days_ago: int) -> None:
    """Drawings served by the active version ``days_ago`` days ago with these confidences (one shared image)."""
    when = timezone.now() - timezone.timedelta(days=days_ago)
    for confidence in confidences:
        DrawingFactory(confidence=float(confidence), created_at=when, png=PNG, model_input=bytes(784))


def reading(staff_client) -> tuple[str, str]:
    response = staff_client.get(DASHBOARD)
    assert response.status_code == 200
    return response.context["drift"]["reading"], response.content.decode()


@pytest.mark.django_db
def test_the_dashboard_reads_a_drop_in_confidence_as_drift(staff_client, active_model) -> None:
    drawings(np.linspace(0.95, 1.0, 60), days_ago=10)
    drawings(np.linspace(0.96, 1.0, 60), days_ago=25)
    drawings(np.linspace(0.4, 1.0, 40), days_ago=1)  # a new class: most of them below 0.9
    drawings([0.2] * 5, days_ago=40)  # too old to count
    text, html = reading(staff_client)
    below = drift._percent(np.mean(np.linspace(0.4, 1.0, 40) < 0.9))
    assert text == (
        f"This week's drawings are read with less confidence than usual: {below} below 0.9 against 0% before — more "
        "unusual handwriting, or a new group of writers; consider reviewing corrections and fine-tuning."
    )
    assert text in html.replace("&#x27;", "'")
    assert "digits-drift--warn" in html
    assert 'alt="Confidence of the active model, this week and before"' in html
    assert "40 drawings of the last 7 days against 120 from the previous 4 weeks" in html
    assert html.count('src="data:image/svg+xml;base64,') == 5


@pytest.mark.django_db
def test_the_dashboard_reads_a_usual_week_as_usual(staff_client, active_model) -> None:
    rng = np.random.default_rng(5)
    drawings(rng.uniform(0.85, 1.0, 120), days_ago=12)
    drawings(rng.uniform(0.85, 1.0, 40), days_ago=2)
    text, html = reading(staff_client)
    assert text == SAME
    assert "digits-drift--warn" not in html
    assert 'alt="Confidence of the active model, this week and before"' in html


@pytest.mark.django_db
def test_the_dashboard_says_when_a_week_is_too_short_to_tell(staff_client, active_model) -> None:
    drawings(np.linspace(0.95, 1.0, 120), days_ago=9)
    drawings([0.3] * 7, days_ago=0)
    text, html = reading(staff_client)
    assert text == "Too few drawings this week to tell (7)."
    assert 'alt="Confidence of the active model, this week and before"' not in html


@pytest.mark.django_db
def test_without_earlier_weeks_the_version_s_stored_confidences_are_the_reference(staff_client, active_model) -> None:
    drawings(np.linspace(0.5, 1.0, 40), days_ago=0)
    metrics = dict(active_model.metrics)
    metrics.pop("confidence_quantiles", None)
    ModelVersion.objects.filter(pk=active_model.pk).update(metrics=metrics)
    text, _ = reading(staff_client)
    assert text.startswith("Nothing to compare this week's 40 drawings with yet")
    quantiles = drift.confidence_quantiles(np.random.default_rng(6).beta(40, 1, size=10_000))
    stale = {"values": quantiles, "count": 10_000, "temperature": metrics.get("temperature", 1.0) + 0.5}
    ModelVersion.objects.filter(pk=active_model.pk).update(metrics={**metrics, "confidence_quantiles": stale})
    assert reading(staff_client)[0].startswith("Nothing to compare")  # stored at another temperature: not used
    stored = {**stale, "temperature": metrics.get("temperature", 1.0)}
    ModelVersion.objects.filter(pk=active_model.pk).update(metrics={**metrics, "confidence_quantiles": stored})
    text, html = reading(staff_client)
    assert text.startswith("This week's drawings are read with less confidence than usual: ")
    assert " on the MNIST test set — " in text
    assert "against 10000 from MNIST test" in html
    found, current, reference = stats.confidence_drift()
    assert found.reference == 10_000
    assert len(current) == 40
    assert reference == quantiles
