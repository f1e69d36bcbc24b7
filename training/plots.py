"""Figures kept with a training run for staff to read in the admin: training curves and confusion matrices (PNG).

Drawn on bare matplotlib ``Figure`` objects (rendered by Agg), not pyplot: no display, no global figure state, safe
in a Celery worker.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def curves_png(history: dict[str, list[float]], validation_label: str = "validation") -> bytes:
    """Loss and accuracy: the running training figures within epochs, and per-epoch validation points."""
    figure = Figure(figsize=(10, 3.6))
    axes = figure.subplots(1, 2)
    epochs = np.arange(1, len(history.get("val_loss", [])) + 1)
    for axis, key, title in ((axes[0], "loss", "Loss"), (axes[1], "accuracy", "Accuracy")):
        if history.get(f"step_{key}"):
            axis.plot(history["step_epoch"], history[f"step_{key}"], label="training (running mean per epoch)")
        elif history.get(key):
            axis.plot(np.arange(1, len(history[key]) + 1), history[key], marker="o", label="training")
        if history.get(f"val_{key}"):
            axis.plot(epochs, history[f"val_{key}"], marker="o", linestyle="--", label=validation_label)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return _png(figure)


def confusion_png(panels: list[tuple[str, list[list[int]]]]) -> bytes:
    """One heat map per ``(title, 10x10 counts)``: rows are true digits, columns predicted, counts written in."""
    figure = Figure(figsize=(5 * len(panels), 4.6))
    axes = figure.subplots(1, len(panels), squeeze=False)
    for axis, (title, matrix) in zip(axes[0], panels, strict=True):
        counts = np.asarray(matrix)
        totals = counts.sum(axis=1, keepdims=True)
        shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
        axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (row, col), value in np.ndenumerate(counts):
            if value:
                colour = "white" if shares[row, col] > 0.6 else "black"
                axis.text(col, row, str(value), ha="center", va="center", fontsize=7, color=colour)
        axis.set_xticks(range(10))
        axis.set_yticks(range(10))
        axis.set_xlabel("predicted")
        axis.set_ylabel("true")
        accuracy = np.trace(counts) / counts.sum() if counts.sum() else float("nan")
        axis.set_title(f"{title}\n{counts.sum()} images, accuracy {accuracy:.2%}", fontsize=10)
    return _png(figure)
