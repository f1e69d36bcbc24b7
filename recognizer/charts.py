"""Charts for the admin, drawn server-side with matplotlib (no JavaScript chart library, no CDN).

Each chart is an SVG returned as a ``data:`` URI to put in an ``<img>``: crisp at any zoom, no extra request, and no
clash between the ids of several SVGs on one page. Figures are built with :class:`matplotlib.figure.Figure` directly
(not pyplot), which keeps no global state and is safe in a threaded web server. Rendered charts are cached by their
content, so an unchanged chart costs one cache read.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

import matplotlib as mpl
from django.core.cache import cache
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

CACHE_SECONDS = 24 * 3600
#: Part of every cache key, so a change to how charts are drawn is seen at once, not after the cache expires.
DRAWING_CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
INK = "#1b1f24"
PALETTE = ["#2563eb", "#d97706", "#15803d", "#b91c1c", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f"]

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


def _cached(kind: str, data: object, render: Callable[[], Figure]) -> str:
    content = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    key = f"chart:{DRAWING_CODE}:{kind}:{content}"
    uri = cache.get(key)
    if uri is None:
        buffer = io.BytesIO()
        figure = render()
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
        uri = "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
        cache.set(key, uri, CACHE_SECONDS)
    return uri


def confusion_matrix(matrix: Sequence[Sequence[int]], title: str = "") -> str:
    """A 10x10 heat map of counts, true digit down, predicted digit across, each cell labelled with its count."""

    def render() -> Figure:
        figure = Figure(figsize=(4.2, 3.8))
        axes = figure.subplots()
        peak = max((max(row) for row in matrix), default=0) or 1
        image = axes.imshow(matrix, cmap="Blues", vmin=0, vmax=peak)
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                if count:
                    axes.text(
                        j,
                        i,
                        str(count),
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if count > peak / 2 else INK,
                    )
        axes.set_xticks(range(10))
        axes.set_yticks(range(10))
        axes.set_xlabel("predicted digit")
        axes.set_ylabel("true digit")
        axes.tick_params(length=0)
        for spine in axes.spines.values():
            spine.set_visible(False)
        figure.colorbar(image, ax=axes, fraction=0.046, pad=0.03)
        if title:
            axes.set_title(title)
        return figure

    return _cached("confusion", [matrix, title], render)


def _date_axis(axes, first: date, last: date) -> None:
    """Days from ``first`` to ``last`` across, whatever days have data, so charts of one window line up."""
    axes.set_xlim(first - timedelta(days=1), last + timedelta(days=1))
    axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=8))
    axes.xaxis.set_major_formatter(DateFormatter("%b %d"))


def daily_bars(days: Sequence[date], counts: Sequence[int], title: str, ylabel: str) -> str:
    """A bar per day, e.g. submissions per day."""

    def render() -> Figure:
        figure = Figure(figsize=(6.4, 3.3))
        axes = figure.subplots()
        axes.bar(days, counts, color=PALETTE[0], width=0.8)
        axes.set_title(title, loc="left")
        axes.set_ylabel(ylabel)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(axis="y", color="#e5e7eb")
        axes.set_axisbelow(True)
        _date_axis(axes, days[0], days[-1])
        return figure

    return _cached("bars", [list(days), list(counts), title, ylabel], render)


def daily_lines(series: dict[str, Sequence[tuple[date, float]]], days: Sequence[date], title: str, ylabel: str) -> str:
    """One line per series (e.g. per model version) of a 0-1 rate over ``days``, drawn as percentages."""

    def render() -> Figure:
        figure = Figure(figsize=(6.4, 3.3))
        axes = figure.subplots()
        for color, (name, points) in zip(PALETTE * 4, series.items(), strict=False):
            axes.plot([d for d, _ in points], [v for _, v in points], marker="o", markersize=3, color=color, label=name)
        axes.set_title(title, loc="left")
        axes.set_ylabel(ylabel)
        axes.set_ylim(0, 1.02)
        axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        axes.grid(axis="y", color="#e5e7eb")
        if series:
            axes.legend(fontsize=7, frameon=False, loc="best")
        _date_axis(axes, days[0], days[-1])
        return figure

    return _cached("lines", [{k: list(v) for k, v in series.items()}, days[0], days[-1], title, ylabel], render)


def training_curves(history: dict[str, Sequence[float]]) -> str:
    """Loss and accuracy per epoch, training and validation, side by side."""

    def render() -> Figure:
        figure = Figure(figsize=(7.0, 2.6))
        loss_axes, accuracy_axes = figure.subplots(1, 2)
        for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
            for color, key, label in ((PALETTE[0], metric, "training"), (PALETTE[1], f"val_{metric}", "validation")):
                values = history.get(key) or []
                if values:
                    axes.plot(range(1, len(values) + 1), values, marker="o", markersize=3, color=color, label=label)
            axes.set_title(metric, loc="left")
            axes.set_xlabel("epoch")
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.grid(color="#e5e7eb")
            axes.legend(fontsize=7, frameon=False)
        accuracy_axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        figure.tight_layout()
        return figure

    return _cached("curves", history, render)
