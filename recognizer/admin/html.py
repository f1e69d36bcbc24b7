"""Small HTML pieces the admin pages share: pixelated model inputs, badges, percentages, progress bars."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from recognizer.core import strokes as core_strokes
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


#: A replay lasts at most this long (s): long pauses are shortened, not the strokes' own pace.
REPLAY_PAUSE_S = 0.6


def replay(drawing: core_strokes.Drawing | None, height: int = 200) -> SafeString:
    """The strokes as an SVG that draws itself, stroke after stroke at the pace they were drawn (CSS animations on
    each path's dash offset, admin.css: no script, so the admin's Content-Security-Policy is kept); the view is
    cropped to the ink."""
    if drawing is None:
        return format_html("{}", EMPTY)
    width_px, height_px = drawing.canvas_size(280)
    brush = min(width_px, height_px) * core_strokes.BRUSH_FRACTION
    scale = (width_px, height_px)
    points = [s[:, :2] * scale for s in drawing.strokes]
    every = [p for stroke in points for p in stroke]
    left, top = min(p[0] for p in every) - brush, min(p[1] for p in every) - brush
    right, bottom = max(p[0] for p in every) + brush, max(p[1] for p in every) + brush
    shapes, clock, last_end = [], 0.0, None
    for stroke, xy in zip(drawing.strokes, points, strict=True):
        start, end = float(stroke[0, 2]) / 1000, float(stroke[-1, 2]) / 1000
        if last_end is not None:
            clock += min(max(0.0, start - last_end), REPLAY_PAUSE_S)
        duration = max(end - start, 0.05)
        timing = f"animation-delay:{clock:.3f}s;animation-duration:{duration:.3f}s"
        if len(xy) == 1 or (xy == xy[0]).all():
            shapes.append(("circle", f'cx="{xy[0][0]:.1f}" cy="{xy[0][1]:.1f}" r="{brush / 2:.1f}"', timing))
        else:
            path = "M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in xy)
            shapes.append(("path", f'd="{path}" pathLength="1"', timing))
        clock += duration
        last_end = end
    body = format_html_join(
        "",
        '<{} class="digits-replay__{}" {} style="{}"/>',
        ((tag, "stroke" if tag == "path" else "dot", SafeString(attrs), timing) for tag, attrs, timing in shapes),
    )
    return format_html(
        '<svg class="digits-replay" viewBox="{} {} {} {}" height="{}" stroke-width="{}" role="img" '
        'aria-label="the drawing replayed stroke by stroke ({} strokes, {})">{}</svg>',
        f"{left:.1f}",
        f"{top:.1f}",
        f"{right - left:.1f}",
        f"{bottom - top:.1f}",
        height,
        f"{brush:.1f}",
        len(drawing.strokes),
        drawing.pointer,
        body,
    )


def badge(text: str, tone: str) -> SafeString:
    """A coloured label; ``tone`` is one of the ``digits-badge--*`` classes in admin.css (ok, warn, bad, info, off)."""
    return format_html('<span class="digits-badge digits-badge--{}">{}</span>', tone, text)


def percent(value: float | None, digits: int = 1) -> str:
    return EMPTY if value is None else f"{value:.{digits}%}"


def signed_points(difference: float | None, lower_is_better: bool = False) -> SafeString:
    """A difference of two rates in percentage points, green when better, red when worse (a rise is worse for a rate
    that is ``lower_is_better``)."""
    if difference is None:
        return format_html("{}", EMPTY)
    gain = -difference if lower_is_better else difference
    tone = "ok" if gain > 0 else "bad" if gain < 0 else "off"
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
