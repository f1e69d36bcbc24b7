"""Small HTML pieces the admin pages share: pixelated model inputs, badges, percentages, progress bars."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from recognizer.images import array_to_png, png_data_url
from recognizer.models import Drawing, TrainingRun

EMPTY = "—"


def model_input(drawing: Drawing, size: int) -> SafeString:
    """The 28x28 input the model saw, enlarged without smoothing so each pixel stays a visible square."""
    url = png_data_url(array_to_png(drawing.input_array))
    return format_html(
        '<img class="digits-input" src="{}" width="{}" height="{}" alt="28x28 input of drawing {}">',
        url,
        size,
        size,
        drawing.pk,
    )


def badge(text: str, tone: str) -> SafeString:
    """A coloured label; ``tone`` is one of the ``digits-badge--*`` classes in admin.css (ok, warn, bad, info, off)."""
    return format_html('<span class="digits-badge digits-badge--{}">{}</span>', tone, text)


def percent(value: float | None, digits: int = 1) -> str:
    return EMPTY if value is None else f"{value:.{digits}%}"


def signed_points(difference: float | None) -> SafeString:
    """A difference of two rates in percentage points, green when better, red when worse."""
    if difference is None:
        return format_html("{}", EMPTY)
    tone = "ok" if difference > 0 else "bad" if difference < 0 else "off"
    return format_html('<span class="digits-diff digits-diff--{}">{} pp</span>', tone, f"{difference * 100:+.2f}")


RUN_TONES = {
    TrainingRun.RunStatus.QUEUED: "info",
    TrainingRun.RunStatus.RUNNING: "info",
    TrainingRun.RunStatus.SUCCEEDED: "ok",
    TrainingRun.RunStatus.SKIPPED: "off",
    TrainingRun.RunStatus.REJECTED: "warn",
    TrainingRun.RunStatus.FAILED: "bad",
}


def run_progress(run: TrainingRun) -> SafeString:
    """The run's status and progress bar; ``progress.js`` keeps them live while the run is queued or running."""
    return format_html(
        '<span class="digits-run" data-run="{}" data-status="{}" data-url="{}">{} '
        '<progress max="100" value="{}"></progress> <span class="digits-run__pct">{}%</span> '
        '<span class="digits-run__stage">{}</span></span>',
        run.pk,
        run.status,
        reverse("admin:recognizer_trainingrun_progress"),
        badge(run.get_status_display(), RUN_TONES[run.status]),
        f"{run.progress:.1f}",
        f"{run.progress:.0f}",
        run.stage,
    )
