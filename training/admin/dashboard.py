"""The staff dashboard (``/admin/dashboard/``, linked from the admin index): traffic, corrections, live accuracy per
model version, the live confusion matrix, a drift signal (this week's confidence against before), the active version
and the last training runs, on one page.

Charts are drawn server-side by :mod:`recognizer.core.figures`; figures come from :mod:`recognizer.stats`.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from recognizer import stats
from recognizer.admin.html import percent, run_progress
from recognizer.core import drift, figures
from recognizer.models import Drawing, ModelVersion, TrainingRun
from recognizer.review import needs_review
from training.admin.runs import elapsed, may_queue_fine_tune, schedule_links

PERIODS = (7, 30, 90)
LAST_RUNS = 8


def _period(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", "30"))
    except ValueError:
        return 30
    return days if days in PERIODS else 30


def _active_summary() -> dict | None:
    active = ModelVersion.objects.active()
    if active is None:
        return None
    counted = stats.with_live_counts(ModelVersion.objects.filter(pk=active.pk)).get()
    return {
        "version": active,
        "url": reverse("admin:recognizer_modelversion_change", args=[active.pk]),
        "mnist": percent(active.mnist_accuracy, 2),
        "heldout": percent(active.metrics.get("heldout_corrections_accuracy"), 2),
        "live": percent(stats.live_accuracy(counted.served, counted.wrong), 1),
        "served": counted.served,
    }


def _drift_summary() -> dict | None:
    """This week's confidences of the active version against its earlier ones: the reading, the test and the
    chart (none when nothing is compared)."""
    found = stats.confidence_drift()
    if found is None:
        return None
    result, current, reference = found
    summary = {"result": result, "reading": result.reading(), "chart": None, "ks": result.ks}
    if result.ks is not None:
        panels = {
            f"this week ({result.current})": drift.histogram(current),
            f"{result.reference_source} ({result.reference})": drift.histogram(reference),
        }
        summary["chart"] = figures.histograms(
            drift.bin_labels(), panels, "Confidence of the active model", "confidence"
        )
    return summary


def dashboard(request: HttpRequest) -> HttpResponse:
    days = _period(request)
    window = stats.in_window(days)
    totals = stats.totals(window)
    day_list, submissions = stats.submissions_per_day(days)
    rates = stats.daily_rates(days)
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "days": days,
        "periods": PERIODS,
        "totals": totals,
        "correction_rate": percent(totals["corrected"] / totals["drawings"] if totals["drawings"] else None),
        "live_accuracy": percent(stats.live_accuracy(totals["drawings"], totals["wrong"])),
        "to_review": needs_review(Drawing.objects.all()).count(),
        "review_url": reverse("admin:recognizer_drawing_changelist") + "?review=needed",
        "charts": {
            "submissions": figures.daily_bars(
                day_list, submissions, f"Submissions per day, last {days} days", "submissions"
            ),
            "correction_rate": figures.daily_lines(
                rates.correction_rate, day_list, "Correction rate per model version", "corrected"
            ),
            "live_accuracy": figures.daily_lines(
                rates.live_accuracy, day_list, "Live accuracy per model version (from corrections)", "accuracy"
            ),
            "confusion": figures.confusion_matrix(stats.live_confusion(window), f"Live traffic, last {days} days"),
        },
        "active": _active_summary(),
        "drift": _drift_summary(),
        "runs": [
            {
                "run": run,
                "status": run_progress(run),
                "duration": elapsed(run),
                "url": reverse("admin:recognizer_trainingrun_change", args=[run.pk]),
            }
            for run in TrainingRun.objects.select_related("base_version", "result_version")[:LAST_RUNS]
        ],
        "runs_url": reverse("admin:recognizer_trainingrun_changelist"),
        "may_fine_tune": may_queue_fine_tune(request.user),
        **schedule_links(),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
