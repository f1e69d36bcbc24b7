"""The pen's paths in a picture: its ink thinned to a skeleton, and the skeleton broken into edges at its crossings.

Overlapping digits share columns, so no top-to-bottom cut parts them (:mod:`recognizer.core.segmentation`). Their
strokes do cross, though, and a crossing is a junction of the skeleton: breaking the skeleton there gives edges that
each belong to one digit, and every ink pixel goes with the edge nearest to it. The cuts then choose which edges make
each digit, and a digit keeps all its ink, also where it reaches under its neighbour.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: A pixel's eight neighbours (dy, dx), clockwise from north: P2..P9 of Zhang and Suen's paper.
NEIGHBOURS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]
_AROUND = np.ones((3, 3), np.uint8)


def thin(mask: np.ndarray) -> np.ndarray:
    """Zhang-Suen thinning of a boolean mask (vectorised), a one-pixel-wide skeleton."""
    img = np.pad(mask.astype(np.uint8), 1)
    while True:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(img, -dy, 0), -dx, 1) for dy, dx in NEIGHBOURS]
            neighbours = sum(p)
            transitions = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)).astype(np.uint8) for i in range(8))
            p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
            cond = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0) if step == 0 else (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (img == 1) & (neighbours >= 2) & (neighbours <= 6) & (transitions == 1) & cond
            if remove.any():
                img[remove] = 0
                changed = True
        if not changed:
            return img[1:-1, 1:-1].astype(bool)


def _dilate(mask: np.ndarray) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), _AROUND).astype(bool)


@dataclass(frozen=True)
class Skeleton:
    """A picture's skeleton broken at its junctions. Edges are numbered 1..``edges``, left to right by the middle of
    their ink. A digit made of some edges has the union of their ``inks``: a junction's ink goes with every edge that
    meets there (shared by both digits when a cut parts them)."""

    meets: list[frozenset[int]]  # per junction: the edges that meet there
    inks: list[np.ndarray]  # per edge (index + 1): the ink nearest its skeleton and that of the junctions it meets

    @property
    def edges(self) -> int:
        return len(self.inks)

    def between_junctions(self, edge: int) -> bool:
        """Whether edge ``edge`` (1..) runs from one junction to another: where two digits overlapping by a brush
        width lie on one another's stroke, such an edge is both digits' ink."""
        return sum(1 for edges in self.meets if edge in edges) >= 2

    def crossings(self, position: int) -> int:
        """How many junctions have edges both left of edge ``position`` + 1 and from it on: what a cut there parts."""
        return sum(1 for edges in self.meets if edges and min(edges) <= position < max(edges))


def _join_passings(edge_labels: np.ndarray, junction_labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join the edges of every junction that fewer than three paths leave: no crossing, only a step or a corner of the
    thinned stroke, or a spur too short to outlast the junction's widening, which would part one stroke in two. (A
    loop leaving and entering a junction is two paths.) Returns both labellings, each renumbered 1..n."""
    for label in range(1, int(junction_labels.max()) + 1):
        here = junction_labels == label
        around = _dilate(here) & (edge_labels > 0)
        if cv2.connectedComponents(around.astype(np.uint8), connectivity=8)[0] - 1 > 2:
            continue
        touching = [int(e) for e in np.unique(edge_labels[around])]
        if touching:
            edge_labels[np.isin(edge_labels, touching) | here] = touching[0]
            junction_labels[here] = 0
    return _compact(edge_labels), _compact(junction_labels)


def _compact(labels: np.ndarray) -> np.ndarray:
    """The labels renumbered 1..n in their order, 0 kept: what is left after joins removed some."""
    kept = np.unique(labels[labels > 0])
    remap = np.zeros(int(labels.max()) + 1, np.int32)
    remap[kept] = np.arange(1, len(kept) + 1)
    return remap[labels]


def skeleton_of(mask: np.ndarray) -> Skeleton:
    """The skeleton of a boolean ink mask, broken where three or more of its paths meet."""
    skeleton = thin(mask)
    neighbours = cv2.filter2D(skeleton.astype(np.uint8), -1, _AROUND, borderType=cv2.BORDER_CONSTANT) - skeleton
    junctions = _dilate(skeleton & (neighbours >= 3)) & skeleton  # a crossing's few pixels count as one junction
    _, edge_labels = cv2.connectedComponents((skeleton & ~junctions).astype(np.uint8), connectivity=8)
    _, junction_labels = cv2.connectedComponents(junctions.astype(np.uint8), connectivity=8)
    edge_labels, junction_labels = _join_passings(edge_labels, junction_labels)
    count, junction_count = int(edge_labels.max()) + 1, int(junction_labels.max()) + 1  # as OpenCV counts: 0 too
    # Every ink pixel takes the labels of its nearest skeleton pixel (OpenCV labels skeleton pixels in raster order).
    _, nearest = cv2.distanceTransformWithLabels(
        np.where(skeleton, 0, 255).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    ys, xs = np.nonzero(skeleton)
    by_label = np.zeros((2, int(nearest.max()) + 1), np.int64)
    by_label[:, nearest[ys, xs]] = edge_labels[ys, xs], junction_labels[ys, xs]
    edge_of = np.where(mask, by_label[0][nearest], 0)
    junction_of = np.where(mask, by_label[1][nearest], 0)
    # Number the edges left to right by the middle of their ink (each has some: its own skeleton pixels).
    middles = []
    for label in range(1, count):
        cols = np.flatnonzero((edge_of == label).any(axis=0))
        middles.append(float(cols.mean()))
    order = np.argsort(middles, kind="stable")
    renumber = np.zeros(count, np.int64)
    renumber[order + 1] = np.arange(1, count)
    meets = []
    for label in range(1, junction_count):
        touching = edge_labels[_dilate(junction_labels == label)]
        meets.append(frozenset(int(renumber[e]) for e in np.unique(touching) if e))
    edge_of = renumber[edge_of]
    inks = []
    for edge in range(1, count):
        junctions = [k + 1 for k, edges in enumerate(meets) if edge in edges]
        inks.append((edge_of == edge) | np.isin(junction_of, junctions))
    return Skeleton(meets, inks)
