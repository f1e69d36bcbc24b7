"""Every chart Digits draws, with matplotlib: the admin's charts (SVG data URIs) and a run's kept figures (PNG).

Figures are built on bare :class:`matplotlib.figure.Figure` objects (not pyplot): no display, no global state, safe in
threaded web servers and Celery workers. SVG charts are memoised per process by their content, so an unchanged chart
is drawn once.
"""

from __future__ import annotations

import base64
import functools
import io
import json
from collections.abc import Callable, Sequence
from datetime import date, timedelta

import matplotlib as mpl
import numpy as np
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

INK = "#1b1f24"
PALETTE = ["#2563eb", "#d97706", "#15803d", "#b91c1c", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f"]
GRID = "#e5e7eb"

mpl.rcParams.update(
    {
        "svg.fonttype": "none",  # text stays text: smaller files, and the browser's own font
        "font.size": 9,
        "axes.edgecolor": "#9aa4b2",
        "axes.labelcolor": INK,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "xtick.color": INK,
        "ytick.color": INK,
    }
)


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


@functools.lru_cache(maxsize=256)
def _svg_uri(kind: str, key: str) -> str:
    buffer = io.BytesIO()
    _RENDERERS[kind](*json.loads(key)).savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def _svg(kind: str, *args: object) -> str:
    """The chart ``kind`` drawn from ``args`` (JSON-able) as an SVG data URI, drawn once per process per content."""
    return _svg_uri(kind, json.dumps(args, default=str))


def confusion_figure(panels: Sequence[tuple[str, Sequence[Sequence[int]]]]) -> Figure:
    """One heat map per ``(title, 10x10 counts)``: true digit down, predicted across, shaded by the share of each
    true digit, counts written in, the panel's accuracy in its title."""
    figure = Figure(figsize=(4.6 * len(panels), 4.2))
    axes = figure.subplots(1, len(panels), squeeze=False)
    for axis, (title, matrix) in zip(axes[0], panels, strict=True):
        counts = np.asarray(matrix, dtype=np.int64).reshape(10, 10)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
        axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (row, col), value in np.ndenumerate(counts):
            if value:
                colour = "white" if shares[row, col] > 0.6 else INK
                axis.text(col, row, str(value), ha="center", va="center", fontsize=6.5, color=colour)
        axis.set_xticks(range(10))
        axis.set_yticks(range(10))
        axis.set_xlabel("predicted digit")
        axis.set_ylabel("true digit")
        axis.tick_params(length=0)
        for spine in axis.spines.values():
            spine.set_visible(False)
        total = int(counts.sum())
        accuracy = f", accuracy {np.trace(counts) / total:.2%}" if total else ""
        axis.set_title(f"{title}\n{total} images{accuracy}" if title else f"{total} images{accuracy}", fontsize=9)
    return figure


def curves_figure(history: dict[str, Sequence[float]], validation_label: str = "validation") -> Figure:
    """Loss and accuracy side by side: training (the running figures within epochs when recorded, else one point
    per epoch) and per-epoch validation."""
    figure = Figure(figsize=(7.4, 2.8))
    for axis, metric in zip(figure.subplots(1, 2), ("loss", "accuracy"), strict=True):
        if history.get(f"step_{metric}"):
            axis.plot(history["step_epoch"], history[f"step_{metric}"], color=PALETTE[0], label="training")
        elif history.get(metric):
            values = history[metric]
            axis.plot(range(1, len(values) + 1), values, marker="o", markersize=3, color=PALETTE[0], label="training")
        if values := history.get(f"val_{metric}"):
            axis.plot(
                range(1, len(values) + 1), values, marker="o", markersize=3, color=PALETTE[1], label=validation_label
            )
        axis.set_title(metric, loc="left")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.grid(color=GRID)
        axis.legend(fontsize=7, frameon=False)
        if metric == "accuracy":
            axis.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    figure.tight_layout()
    return figure


def _date_axis(axes, first: date, last: date) -> None:
    """Days from ``first`` to ``last`` across, whatever days have data, so charts of one window line up."""
    axes.set_xlim(first - timedelta(days=1), last + timedelta(days=1))
    axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8))
    axes.xaxis.set_major_formatter(DateFormatter("%b %d"))


def _days(values: Sequence[str]) -> list[date]:
    return [date.fromisoformat(str(v)) for v in values]


def bars_figure(days: Sequence[str], counts: Sequence[int], title: str, ylabel: str) -> Figure:
    figure = Figure(figsize=(6.4, 3.3))
    axes = figure.subplots()
    day_list = _days(days)
    axes.bar(day_list, counts, color=PALETTE[0], width=0.8)
    axes.set_title(title, loc="left")
    axes.set_ylabel(ylabel)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", color=GRID)
    axes.set_axisbelow(True)
    _date_axis(axes, day_list[0], day_list[-1])
    return figure


def lines_figure(
    series: dict[str, Sequence[tuple[str, float]]], first: str, last: str, title: str, ylabel: str
) -> Figure:
    figure = Figure(figsize=(6.4, 3.3))
    axes = figure.subplots()
    for color, (name, points) in zip(PALETTE * 4, series.items(), strict=False):
        axes.plot(
            _days([d for d, _ in points]), [v for _, v in points], marker="o", markersize=3, color=color, label=name
        )
    axes.set_title(title, loc="left")
    axes.set_ylabel(ylabel)
    axes.set_ylim(0, 1.02)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.grid(axis="y", color=GRID)
    if series:
        axes.legend(fontsize=7, frameon=False, loc="best")
    _date_axis(axes, date.fromisoformat(first), date.fromisoformat(last))
    return figure


def histograms_figure(
    labels: Sequence[str], panels: Sequence[tuple[str, Sequence[float]]], title: str, xlabel: str
) -> Figure:
    """Side-by-side bars of shares per bin, one colour per ``(name, shares)`` (e.g. this week and before)."""
    figure = Figure(figsize=(6.4, 2.8))
    axes = figure.subplots()
    width = 0.8 / max(len(panels), 1)
    positions = np.arange(len(labels))
    for i, (color, (name, shares)) in enumerate(zip(PALETTE, panels, strict=False)):
        axes.bar(positions + (i - (len(panels) - 1) / 2) * width, shares, width=width, color=color, label=name)
    axes.set_xticks(positions, labels, fontsize=7)
    axes.set_title(title, loc="left")
    axes.set_xlabel(xlabel)
    axes.set_ylim(0, 1.02)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axes.grid(axis="y", color=GRID)
    axes.set_axisbelow(True)
    axes.legend(fontsize=7, frameon=False, loc="upper left")
    return figure


_RENDERERS: dict[str, Callable[..., Figure]] = {
    "confusion": confusion_figure,
    "curves": curves_figure,
    "bars": bars_figure,
    "lines": lines_figure,
    "histograms": histograms_figure,
}


def confusion_matrix(matrix: Sequence[Sequence[int]], title: str = "") -> str:
    """A 10x10 heat map of counts (SVG data URI)."""
    return _svg("confusion", [[title, matrix]])


def training_curves(history: dict[str, Sequence[float]]) -> str:
    """Loss and accuracy per epoch (SVG data URI)."""
    return _svg("curves", history)


def daily_bars(days: Sequence[date], counts: Sequence[int], title: str, ylabel: str) -> str:
    """A bar per day, e.g. submissions per day (SVG data URI)."""
    return _svg("bars", [d.isoformat() for d in days], list(counts), title, ylabel)


def daily_lines(series: dict[str, Sequence[tuple[date, float]]], days: Sequence[date], title: str, ylabel: str) -> str:
    """One line per series (e.g. per model version) of a 0-1 rate over ``days``, as percentages (SVG data URI)."""
    points = {name: [(d.isoformat(), v) for d, v in values] for name, values in series.items()}
    return _svg("lines", points, days[0].isoformat(), days[-1].isoformat(), title, ylabel)


def histograms(labels: Sequence[str], panels: dict[str, Sequence[float]], title: str, xlabel: str) -> str:
    """Shares per bin, one set of bars per entry of ``panels`` (e.g. confidence this week and before; SVG data
    URI)."""
    return _svg("histograms", list(labels), [[name, list(shares)] for name, shares in panels.items()], title, xlabel)
