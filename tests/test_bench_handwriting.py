"""The accuracy benchmark's own drawings: thinning and re-stroking must keep the digit's shape."""

from __future__ import annotations

import cv2
import numpy as np

from bench.handwriting_sets import BRUSHES, bitmap_drawing, skeleton_segments, stroke, thin


def test_thinning_leaves_one_pixel_wide_centre_lines() -> None:
    bar = np.zeros((40, 40), dtype=bool)
    bar[10:30, 15:24] = True  # a 9 px wide vertical bar
    ring = np.zeros((40, 40), dtype=np.uint8)
    cv2.circle(ring, (20, 20), 12, 1, 5)
    skeletons = thin(np.stack([bar, ring.astype(bool)]))
    columns = np.nonzero(skeletons[0].any(axis=0))[0]
    assert len(columns) == 1
    assert 18 <= columns[0] <= 20
    assert skeletons[0].sum() >= 10
    # The ring stays one closed loop: its inside is still a hole, cut off from the outside.
    _, labels = cv2.connectedComponents((~skeletons[1]).astype(np.uint8), connectivity=4)
    assert labels[20, 20] != labels[0, 0]
    assert skeletons[1].sum() < ring.sum() / 3


def test_a_skeleton_is_stroked_at_the_asked_brush_width() -> None:
    skeleton = np.zeros((30, 30), dtype=bool)
    skeleton[5:25, 15] = True
    segments = skeleton_segments(skeleton)
    rng = np.random.default_rng(0)
    for brush in (BRUSHES["1 px"], BRUSHES["marker 23%"]):
        image, _ = stroke(segments, rng, brush, 280, "transparent", antialiased=False)
        ink = np.asarray(image)[..., 3] > 127
        rows = np.nonzero(ink.any(axis=1))[0]
        height = rows.max() - rows.min() + 1
        widest = int(ink.sum(axis=1).max())
        assert abs(widest - max(1, brush * height)) <= 0.25 * height * brush + 3


def test_bitmaps_get_a_paper_margin() -> None:
    full = np.ones((16, 16), dtype=np.uint8)  # ink touching every edge
    drawing = np.asarray(bitmap_drawing(full, 4))
    assert drawing.shape == (80, 80)
    assert drawing[0].min() == 255
    assert drawing[40, 40] == 0


def test_the_accuracy_benchmark_says_plainly_which_targets_are_not_met() -> None:
    """Issue 13's targets: each with its measured figure, the canvas target judged on the weakest brush, not the
    sweep's mean (which would hide a marker's 96% behind the hairlines' 99%)."""
    from bench.accuracy import target_rows

    sets = {"MNIST test": {"accuracy": 0.9975}, "optdigits windep": {"accuracy": 0.985}, "semeion": {"accuracy": 0.97}}
    brushes = [("1 px", {"accuracy": 0.995}), ("fat marker 30%", {"accuracy": 0.9653}), ("thin 3%", {"accuracy": 1.0})]
    rows = {row[0]: row[2:] for row in target_rows(sets, brushes)}
    assert rows["MNIST test, the shipped single model"] == ["99.75%", "met"]
    assert rows["canvas drawings, whatever the brush width"] == ["96.53% (weakest: fat marker 30%)", "**not met**"]
    assert rows["optdigits other writers"] == ["98.50%", "**not met**"]
    assert rows["semeion"] == ["97.00%", "met"]  # at the target is meeting it
