"""Figures about live traffic and model versions, computed in the database, for the dashboard and the admin.

"Live accuracy" is measured from corrections: a prediction counts as wrong when it carries a standing correction to
another digit, and as right otherwise. A correction stands once staff accepted it and while it is not excluded:
pending ones are anyone's claim (a flood of them must not move the figure) and excluded ones were judged
untrustworthy. It is an upper bound, since people do
not correct every mistake, but it is comparable across versions and over time, which is what staff need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from recognizer.core import drift
from recognizer.models import Drawing, ModelVersion, Submission

CorrectionStatus = Drawing.CorrectionStatus


def shown_wrong(prefix: str = "") -> Q:
    """Drawings (reached through ``prefix``, e.g. ``"drawings__"``) whose standing correction (accepted, not
    excluded) names another digit, or says it is not a digit at all."""
    return (
        Q(**{f"{prefix}corrected_label__isnull": False})
        & Q(**{f"{prefix}correction_status__in": [CorrectionStatus.ACCEPTED, CorrectionStatus.AUTO_ACCEPTED]})
        & Q(**{f"{prefix}excluded_from_training": False})
        & ~Q(**{f"{prefix}corrected_label": F(f"{prefix}predicted_digit")})
    )


def _days(since: date, until: date) -> list[date]:
    return [since + timedelta(days=i) for i in range((until - since).days + 1)]


def window_start(days: int) -> date:
    """The first day of a window of ``days`` days that ends today."""
    return timezone.localdate() - timedelta(days=days - 1)


def in_window(days: int) -> QuerySet[Drawing]:
    return Drawing.objects.filter(created_at__date__gte=window_start(days))


def totals(drawings: QuerySet[Drawing]) -> dict[str, int]:
    """How many ``drawings``, how many of them were corrected, and how many are shown wrong."""
    return drawings.aggregate(
        drawings=Count("id"),
        corrected=Count("id", filter=Q(corrected_label__isnull=False)),
        wrong=Count("id", filter=shown_wrong()),
    )


def submissions_per_day(days: int = 30) -> tuple[list[date], list[int]]:
    """Every day of the last ``days`` (today included) with its number of submissions, zero days included."""
    since = window_start(days)
    counts = dict(
        Submission.objects.filter(created_at__date__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    every_day = _days(since, timezone.localdate())
    return every_day, [counts.get(day, 0) for day in every_day]


@dataclass(frozen=True)
class DailyRates:
    """Per model version, for each day it served drawings: the share corrected, and the live accuracy."""

    correction_rate: dict[str, list[tuple[date, float]]]
    live_accuracy: dict[str, list[tuple[date, float]]]


def daily_rates(days: int = 30) -> DailyRates:
    rows = (
        in_window(days)
        .annotate(day=TruncDate("created_at"))
        .values("model_version__name", "day")
        .annotate(
            total=Count("id"),
            corrected=Count("id", filter=Q(corrected_label__isnull=False)),
            wrong=Count("id", filter=shown_wrong()),
        )
        .order_by("day", "model_version__name")
    )
    correction_rate: dict[str, list[tuple[date, float]]] = {}
    live_accuracy: dict[str, list[tuple[date, float]]] = {}
    for row in rows:
        name = row["model_version__name"]
        correction_rate.setdefault(name, []).append((row["day"], row["corrected"] / row["total"]))
        live_accuracy.setdefault(name, []).append((row["day"], 1 - row["wrong"] / row["total"]))
    return DailyRates(correction_rate, live_accuracy)


def live_confusion(drawings: QuerySet[Drawing] | None = None) -> list[list[int]]:
    """The 10x10 confusion matrix of live traffic: the standing correction (else the prediction) against the
    prediction. Drawings whose standing correction says "not a digit" have no row: they count in ``shown_wrong``."""
    drawings = Drawing.objects.all() if drawings is None else drawings
    matrix = [[0] * 10 for _ in range(10)]
    grouped = drawings.values(
        "predicted_digit", "corrected_label", "correction_status", "excluded_from_training"
    ).annotate(n=Count("id"))
    for row in grouped.order_by():
        predicted, corrected = row["predicted_digit"], row["corrected_label"]
        stands = (
            corrected is not None
            and row["correction_status"] in (CorrectionStatus.ACCEPTED, CorrectionStatus.AUTO_ACCEPTED)
            and not row["excluded_from_training"]
        )
        if stands and corrected == Drawing.NOT_A_DIGIT:
            continue
        matrix[corrected if stands else predicted][predicted] += row["n"]
    return matrix


def with_live_counts(versions: QuerySet[ModelVersion]) -> QuerySet[ModelVersion]:
    """Annotate each version with ``served`` (drawings it predicted) and ``wrong`` (of those, shown wrong)."""
    return versions.annotate(served=Count("drawings"), wrong=Count("drawings", filter=shown_wrong("drawings__")))


def live_accuracy(served: int, wrong: int) -> float | None:
    return None if not served else 1 - wrong / served


#: Model-version metrics worth comparing, by their key in ``ModelVersion.metrics`` (live accuracy is computed).
VERSION_METRICS = [
    ("mnist_test_accuracy", "MNIST test accuracy"),
    ("heldout_corrections_accuracy", "Held-out corrections accuracy"),
    ("heldout_not_a_digit_flagged", "Held-out not-a-digit corrections flagged"),
    ("mnist_test_flagged", "MNIST test digits answered not a digit"),
    ("live_accuracy", "Live accuracy (from corrections)"),
]
#: Of those, the ones where less is better (a rise is shown as a loss).
LOWER_IS_BETTER = {"mnist_test_flagged"}


@dataclass(frozen=True)
class MetricRow:
    """One metric of a candidate version next to the active version's."""

    label: str
    active: float | None
    candidate: float | None
    lower_is_better: bool = False

    @property
    def difference(self) -> float | None:
        if self.active is None or self.candidate is None:
            return None
        return self.candidate - self.active


def version_metrics(version: ModelVersion) -> dict[str, float | None]:
    """The comparable figures of one version: its stored metrics, per-digit accuracy and live accuracy."""
    counted = with_live_counts(ModelVersion.objects.filter(pk=version.pk)).get()
    figures = {key: version.metrics.get(key) for key, _ in VERSION_METRICS}
    figures["live_accuracy"] = live_accuracy(counted.served, counted.wrong)
    per_digit = version.metrics.get("per_digit_accuracy") or {}
    figures.update({f"digit_{d}": per_digit.get(str(d)) for d in range(10)})
    return figures


def compare_versions(candidate: ModelVersion, active: ModelVersion | None) -> list[MetricRow]:
    """Every comparable figure of ``candidate`` against ``active`` (whose column is empty when none is active)."""
    mine = version_metrics(candidate)
    theirs = version_metrics(active) if active else {}
    labels = VERSION_METRICS + [(f"digit_{d}", f"MNIST accuracy on {d}s") for d in range(10)]
    return [MetricRow(label, theirs.get(key), mine[key], key in LOWER_IS_BETTER) for key, label in labels]


#: Drift: this week (today and the 6 days before) against the 4 weeks before it, for the same version.
DRIFT_DAYS = 7
DRIFT_REFERENCE_DAYS = 28
#: Fewer earlier drawings than this, and the version's stored MNIST confidences are the better reference.
MIN_REFERENCE = 100
#: The newest drawings read per period: enough for the test, bounded memory.
DRIFT_SAMPLE = 20_000


def stored_confidences(version: ModelVersion) -> tuple[list[float], int] | None:
    """The version's confidence quantiles on the MNIST test set (``metrics["confidence_quantiles"]``, from
    ``training.ml.evaluate``) and how many images they summarise, when stored at the temperature it serves with."""
    stored = (version.metrics or {}).get("confidence_quantiles")
    if not isinstance(stored, dict) or not stored.get("values"):
        return None
    if abs(float(stored.get("temperature", 1.0)) - float(version.metrics.get("temperature", 1.0))) > 1e-6:
        return None  # recalibrated since: the stored confidences are not what it serves
    return stored["values"], int(stored.get("count") or len(stored["values"]))


def confidence_drift(version: ModelVersion | None = None) -> tuple[drift.Drift, list[float], list[float]] | None:
    """How far this week's confidences of the served ``version`` (default: the active one) are from its earlier
    ones: the previous 4 weeks it served, or when those are too few its stored MNIST confidences. Returns the
    comparison and both samples (None when no version is served)."""
    version = version or ModelVersion.objects.active()
    if version is None:
        return None
    served = Drawing.objects.filter(model_version=version).order_by("-created_at")
    since = window_start(DRIFT_DAYS)
    current = list(served.filter(created_at__date__gte=since).values_list("confidence", flat=True)[:DRIFT_SAMPLE])
    earlier = served.filter(
        created_at__date__gte=since - timedelta(days=DRIFT_REFERENCE_DAYS), created_at__date__lt=since
    )
    before = list(earlier.values_list("confidence", flat=True)[:DRIFT_SAMPLE])
    stored = stored_confidences(version)
    weeks = f"the previous {DRIFT_REFERENCE_DAYS // 7} weeks"
    if len(before) >= MIN_REFERENCE or (stored is None and len(before) >= drift.MIN_DRAWINGS):
        return drift.compare(current, before, reference_source=weeks), current, before
    if stored is not None:
        values, count = stored
        found = drift.compare(
            current,
            values,
            reference_size=count,
            reference_source="MNIST test",
            reference_phrase="on the MNIST test set",
        )
        return found, current, values
    return drift.compare(current, [], reference_source=weeks), current, []
