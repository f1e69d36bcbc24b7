"""Numbers from pictures alone: split touching and overlapping digits where the model reads the pieces best.

Connected pieces of ink (what :func:`split_digits` groups) cannot separate digits that touch or overlap. Here the
picture is over-segmented in two ways, and the model chooses:

1. candidate cuts along seams: the middle of every blank gap between columns of ink (free), and within each run of
   ink the columns every ``STRIDE`` line heights, each turned into a seam, the top-to-bottom path crossing the least
   ink within a band around it (so a cut can weave between slanted digits, like a drop-fall cut); every run of up to
   ``MAX_ATOMS`` consecutive pieces (at most 1.6 line heights wide) between two cuts is a candidate digit;
2. candidate groups of skeleton edges (:mod:`recognizer.core.skeleton`): the ink thinned to the pen's paths, broken
   where they cross, the edges taken left to right; every run of up to ``EDGES_PER_DIGIT`` consecutive edges, with
   the ink nearest them, is a candidate digit. Digits that overlap by a brush width share columns, so every seam
   between them cuts through both; their strokes cross instead, and the edges part there. Where they lie on one
   stroke (the right side of a 0 on the left side of the next), that edge may be both digits' (``SHARE_COST``);
3. every candidate is preprocessed like any drawing and read by the model in one batch (the scorer is passed in: core
   knows no model); dynamic programming picks, for each way, the candidates that maximise the sum, over the digits,
   of the log of the model's top probability, minus what the cuts part (ink a seam goes through, in brush widths;
   junctions whose edges go to two digits) and a penalty for pieces too wide or too short to be one digit, or, when
   the scorer gives it, too far from the digits the model learnt (two merged digits the model reads surely as one);
4. the way with the higher sum wins: on bench/numbers.py's numbers (seeds 14 and 7, 100 per source and case, the
   shipped verifier; bench/segment_verifier.py), overlapping numbers read right 49.2% -> 71.5% against the seams
   alone, touching 90.8% -> 92.5%, apart and close 98.0% and 98.2% -> 97.5% (README, "The whole-digit verifier").

:func:`split_number` keeps the separate pieces of ink instead when each is a digit the model is sure of: the cuts'
sum favours fewer digits, and blank space between digits is better evidence than that sum.

Cost is bounded: the picture is worked on at ``WORK_HEIGHT`` px high, there are at most ``MAX_CUTS`` seams and
``MAX_EDGES`` edges (more is a scribble: the seams alone), so at most ``MAX_CANDIDATES`` small images reach the model
whatever the ink.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from recognizer.core.preprocessing import (
    MARKS_PER_DIGIT,
    EmptyDrawing,
    TooManyDigits,
    center_in_frame,
    ink_map,
    preprocess,
    split_digits,
)
from recognizer.core.skeleton import skeleton_of

#: Scores a batch of 28x28 uint8 inputs (N, 28, 28): returns their probabilities (N, 10), or those and each input's
#: distance to the digits the model learnt (N,; :meth:`recognizer.core.classifier.Classifier.read`, None when the
#: model has none). The distance lets the cuts tell a digit from two merged ones the model reads too surely.
Scorer = Callable[[np.ndarray], np.ndarray | tuple[np.ndarray, np.ndarray | None]]

#: A number may have at most this many digits; more is refused (:class:`TooManyDigits`).
MAX_DIGITS = 12
#: The picture is cut at this height (px): enough to read a digit, small enough to keep the cost low.
WORK_HEIGHT = 72
#: At most this many candidate cuts, and this many pieces between cuts in one digit.
MAX_CUTS = 60
MAX_ATOMS = 8
#: Candidate cuts are tried every STRIDE line heights, each free to weave BAND line heights left or right. BAND was
#: 0.35 until 2026-12-03: a seam free to wander that far often found its path of least ink through a digit (through
#: the hole of a 0, slicing a 1 off a 9) rather than between digits. With 0.1, on bench/numbers.py's numbers (60 per
#: source and case), right 77.3% -> 80.6% of 480 (seed 14), 82.1% -> 86.5% (seed 7), 76.5% -> 79.8% (seed 21),
#: touching +8 to +13 points, overlapping +2 to +12; chosen among 0 to 0.5 on seed 14's touching and overlapping.
STRIDE = 0.12
BAND = 0.1
#: Ink fainter than this (0-1) is not ink.
INK_THRESHOLD = 0.15
#: The four weights below were tuned on bench/numbers.py's sets; on 40 numbers per source and case (seed 14) they
#: read 219 of 320 numbers right against 214 for the first guesses (0.35, 1.05, 0.55, 3.0). MAX_WIDTH was then lowered
#: from 1.0 to 0.85 (two touching digits read as one wide one were the commonest error): on 60 numbers per source and
#: case, 70.4% -> 74.0% of 480 (seed 14) and, checked on other numbers (seed 7), 75.0% -> 79.8%, touching 70% -> 83%
#: (MNIST) and 67% -> 78% (other writers), apart and close unchanged.
#: Cost of a cut per brush width of ink it goes through (in log-probability units).
CUT_COST = 0.5
#: A digit wider than this many times the line's height is penalised, per line height beyond.
MAX_WIDTH = 0.85
WIDTH_PENALTY = 4.0
#: A digit shorter than this share of the line's height is penalised (a fragment, not a digit).
MIN_HEIGHT = 0.65
HEIGHT_PENALTY = 6.0
#: The least top probability counted (log of it), so one unreadable piece does not dominate the sum.
FLOOR = 1e-4
#: A piece further than ``NEAR`` from the digits the model learnt (its distance, 1 at the not-a-digit threshold) is
#: penalised ``FAR_PENALTY`` per unit beyond: two touching digits read as one, or half a digit, are often read surely
#: but lie far from any digit. On bench/numbers.py's numbers (60 per source and case, apart to overlapping), right
#: 74.6% -> 77.3% of 480 (seed 14, where 2 and 0.5 were chosen among 2-10 and 0.2-1.0), checked on seed 7 80.6% ->
#: 82.1% and seed 21 73.5% -> 76.5%; the gain is in touching (MNIST 62% -> 72% on seed 14) and no case lost.
NEAR = 0.5
FAR_PENALTY = 2.0
#: The separate pieces of ink are kept as the digits when the model reads each with at least this probability, none
#: is wider than ``SURE_WIDTH`` or shorter than ``MIN_HEIGHT`` line heights (the tallest piece's height). Chosen on
#: bench/numbers.py's numbers (100 per source and case, seed 14: the cuts alone read 588 of 800 right, this 604, 593
#: with 0.9 and 0.85) and checked on others (60 per source and case: seed 7, 379 -> 378 of 480; seed 21, 354 -> 354):
#: the gain is the other writers' digits apart and close, where a wide 0 or a narrow 1 read surely stays whole.
SURE = 0.8
SURE_WIDTH = 1.0
#: Cuts along the skeleton (:func:`_by_skeleton`): at most ``MAX_EDGES`` edges (more is a scribble, left to the seams)
#: and ``EDGES_PER_DIGIT`` edges a digit; parting edges that meet at a junction costs ``JUNCTION_COST`` for each such
#: junction. Chosen on bench/numbers.py's touching and overlapping numbers of seed 14: JUNCTION_COST among 0-1 (40 per
#: source and case, the skeleton alone), overlapping read right 62.5-75% (MNIST test, other writers) at 0, 77.5/67.5%
#: at 0.1-0.25, 65/47.5% at 1; then with both ways (60 per source and case): EDGES_PER_DIGIT 180 of 240 right with 8,
#: 187 with 10 and with 14 (which reads a third more candidates); JUNCTION_COST 185 at 0.1, 187 at 0.2, 182 at 0.35,
#: 179 at 0.5. Ordering the edges by their leftmost or rightmost column instead of their middle: 185 and 185.
MAX_EDGES = 60
EDGES_PER_DIGIT = 10
JUNCTION_COST = 0.2
#: Two digits overlapping by a brush width often lie on one stroke: the right side of a 0 is the left side of the
#: next. An edge from one junction to another may then be both digits' (the last of one, the first of the next), at
#: this cost. On seed 14's touching and overlapping numbers (60 per source and case), 108 and 79 of 120 right
#: without sharing, 110 and 88 with it (0 to 0.5 within two numbers; two shared edges no better); checked on seed 7
#: (111 and 81 -> 106 and 90) and by bench/segment_verifier.py on seeds 14, 7 and 21 (README).
SHARE_COST = 0.15
#: The most candidate digits one picture's cuts read, whatever its ink: the seams' and the skeleton's.
MAX_CANDIDATES = MAX_CUTS * MAX_ATOMS + MAX_EDGES * EDGES_PER_DIGIT


class CannotSplit(ValueError):
    """The drawing cannot be cut into the number of digits asked for (more digits than its ink can make)."""


@dataclass(frozen=True)
class Piece:
    """One digit of the chosen segmentation: its ink (0-1, canvas resolution) and where it was cut."""

    ink: np.ndarray
    left: int
    right: int
    probabilities: np.ndarray

    @property
    def image(self) -> Image.Image:
        """Dark ink on white, as :func:`split_digits` returns each digit (stored as the digit's own drawing)."""
        return Image.fromarray(np.rint(255.0 * (1.0 - self.ink)).astype(np.uint8), "L")


@dataclass(frozen=True)
class Segmentation:
    pieces: list[Piece]
    candidates: int  # how many candidate digits the model read

    @property
    def images(self) -> list[Image.Image]:
        return [p.image for p in self.pieces]


def read(scorer: Scorer, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The scorer's probabilities and distances (None when it gives none), as float64 arrays."""
    out = scorer(inputs)
    probabilities, distances = out if isinstance(out, tuple) else (out, None)
    return (
        np.asarray(probabilities, dtype=np.float64),
        None if distances is None else np.asarray(distances, dtype=np.float64).reshape(-1),
    )


def far_penalty(distances: np.ndarray | None, k: int) -> float:
    """What candidate ``k``'s distance to the digits the model learnt costs (none without distances): ``FAR_PENALTY``
    per unit beyond ``NEAR``. Shared by these cuts and the stroke grouping (:mod:`recognizer.core.grouping`)."""
    return 0.0 if distances is None else FAR_PENALTY * max(0.0, float(distances[k]) - NEAR)


def _brush(mask: np.ndarray) -> float:
    """The stroke width of binary ink: twice its area over its outline's length."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(len(c) for c in contours)
    return max(1.5, 2.0 * float(mask.sum()) / max(perimeter, 1))


def _seam(ink: np.ndarray, x: int, band: int) -> np.ndarray:
    """The top-to-bottom path (one column per row, moving at most one column a row) within ``x`` ± ``band`` that
    crosses the least ink."""
    height, width = ink.shape
    lo, hi = max(0, x - band), min(width - 1, x + band)
    cost = ink[:, lo : hi + 1].astype(np.float64)
    # A small pull towards the candidate's column keeps the seam from wandering through blank space at random.
    cost = cost + 0.002 * np.abs(np.arange(lo, hi + 1) - x)[None, :]
    total = cost[0].copy()
    moves = np.zeros(cost.shape, dtype=np.int8)
    for row in range(1, height):
        left = np.concatenate([[np.inf], total[:-1]])
        right = np.concatenate([total[1:], [np.inf]])
        stacked = np.vstack([left, total, right])
        choice = stacked.argmin(axis=0)
        moves[row] = choice - 1
        total = stacked[choice, np.arange(len(total))] + cost[row]
    path = np.empty(height, dtype=np.int64)
    path[-1] = int(total.argmin())
    for row in range(height - 1, 0, -1):
        path[row - 1] = path[row] + moves[row, path[row]]
    return path + lo


def _candidate_cuts(
    mask: np.ndarray, ink: np.ndarray, line_height: int, brush: float, least_stride: int = 2
) -> list[np.ndarray]:
    """Seams (column per row) between pieces, left to right: blank gaps first, then minima of the column profile;
    within ink, at least ``least_stride`` columns apart."""
    height, width = mask.shape
    profile = mask.sum(axis=0).astype(np.float64)
    cuts: list[tuple[float, np.ndarray]] = []
    inked = profile > 0
    # Blank gaps: one straight cut in the middle of each.
    edges = np.flatnonzero(np.diff(inked.astype(np.int8)))
    runs = []  # [start, end) of each run of inked columns
    start = 0 if inked[0] else None
    for e in edges:
        if inked[e + 1]:
            start = e + 1
        else:
            runs.append((start, e + 1))
    if start is not None and (not runs or runs[-1][0] != start) and inked[-1]:
        runs.append((start, width))
    for (_, end), (next_start, _) in itertools.pairwise(runs):
        middle = (end + next_start - 1) // 2
        cuts.append((float(middle), np.full(height, middle, dtype=np.int64)))
    # Within each run: a seam around every STRIDE line heights (fewer when the ink is wide: MAX_CUTS in all), each
    # weaving through the least ink within a band around its column; seams that end up alike count once.
    inked_width = sum(end - begin for begin, end in runs)
    stride = max(least_stride, round(STRIDE * line_height), math.ceil(inked_width / max(1, MAX_CUTS - len(cuts))))
    band = max(2, round(BAND * line_height))
    for run_start, run_end in runs:
        for x in range(run_start + stride // 2, run_end - stride // 2, stride):
            seam = _seam(ink, x, band)
            if all(np.abs(seam - other).mean() > 1.0 for _, other in cuts):
                cuts.append((float(x), seam))
    cuts.sort(key=lambda c: float(c[1].mean()))
    return [c[1] for c in cuts]


def _piece_mask(mask: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    cols = np.arange(mask.shape[1])[None, :]
    return mask & (cols > left[:, None]) & (cols <= right[:, None])


def _clean(piece: np.ndarray, line_height: int) -> np.ndarray:
    """Drop slivers a seam cut off a neighbour: small pieces that are much smaller than the piece's main ink."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(piece.astype(np.uint8), connectivity=8)
    if count <= 2:
        return piece
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero((areas >= 0.12 * areas.max()) | (stats[1:, cv2.CC_STAT_HEIGHT] >= 0.3 * line_height)) + 1
    return np.isin(labels, keep)


@dataclass(frozen=True)
class _Work:
    """A picture made ready to cut: its ink at full resolution and, cropped and scaled to ``WORK_HEIGHT``, the
    small copy the candidates are cut from."""

    full: np.ndarray  # the ink (0-1) at the canvas's resolution
    box: tuple[int, int, int, int]  # the ink's bounding box there (x, y, width, height)
    crop_mask: np.ndarray  # full >= INK_THRESHOLD within the box
    scale: float  # small = box scaled by this
    small: np.ndarray
    mask: np.ndarray  # small >= INK_THRESHOLD
    brush: float  # the stroke width in the small copy (px)


def _prepare(image: Image.Image | np.ndarray, ink: np.ndarray | None, max_digits: int) -> _Work:
    """Crop and scale the picture's ink; refuse an empty canvas and what cannot be a number of ``max_digits``."""
    full = ink if ink is not None else ink_map(image) if isinstance(image, Image.Image) else image
    full_mask = full >= INK_THRESHOLD
    if int(full_mask.sum()) < 4:
        raise EmptyDrawing("The canvas is empty: draw a digit first.")
    x0, y0, w0, h0 = cv2.boundingRect(full_mask.astype(np.uint8))
    crop = full[y0 : y0 + h0, x0 : x0 + w0]
    scale = min(1.0, WORK_HEIGHT / h0)
    if w0 * scale > WORK_HEIGHT * 1.5 * max_digits:  # a flat line of ink: bound the width too
        scale = WORK_HEIGHT * 1.5 * max_digits / w0
    work_size = (max(1, round(w0 * scale)), max(1, round(h0 * scale)))
    small = cv2.resize(crop.astype(np.float32), work_size, interpolation=cv2.INTER_AREA) if scale < 1 else crop
    mask = small >= INK_THRESHOLD
    if int(mask.sum()) < 4:  # a speck on a large canvas: nothing left to read at the working size
        raise EmptyDrawing("The canvas is empty: draw a digit first.")
    # Blank gaps wider than a brush width split the picture for sure: too many such groups is not a number.
    profile = mask.any(axis=0)
    groups = 1 + int(np.sum(np.diff(profile.astype(np.int8)) == 1)) - (0 if profile[0] else 1)
    if groups > max_digits:
        raise TooManyDigits(f"A number may have at most {max_digits} digits; this drawing has {groups} or more.")
    marks = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)[0] - 1
    if marks > MARKS_PER_DIGIT * max_digits:
        raise TooManyDigits(f"Too many separate marks: a number has at most {max_digits} digits.")
    crop_mask = full_mask[y0 : y0 + h0, x0 : x0 + w0]
    return _Work(full, (x0, y0, w0, h0), crop_mask, scale, small, mask, _brush(mask))


@dataclass(frozen=True)
class _Cutting:
    """The best way one family of cuts found: its total (the objective both families share) and its digits."""

    total: float
    pieces: list[Piece]
    candidates: int


def _candidate(piece: np.ndarray, small: np.ndarray, line_height: int) -> tuple[np.ndarray, tuple[float, float]]:
    """One candidate piece as the model reads it (its ink, centred in a 28x28 frame) and its width and height in line
    heights, as :func:`_piece_score` weighs them."""
    rows, cols = np.flatnonzero(piece.any(axis=1)), np.flatnonzero(piece.any(axis=0))
    shape = ((cols[-1] - cols[0] + 1) / line_height, (rows[-1] - rows[0] + 1) / line_height)
    return center_in_frame(np.where(piece, small, 0.0)), shape


def _piece_score(probabilities: np.ndarray, distances: np.ndarray | None, k: int, shape: tuple[float, float]) -> float:
    """What candidate ``k`` adds to a segmentation's total: the log of its top probability, less the penalties for
    a piece too wide or too short for one digit (``shape``: its width and height in line heights) or too far from the
    digits the model learnt."""
    width, height = shape
    score = math.log(max(float(probabilities[k].max()), FLOOR))
    score -= WIDTH_PENALTY * max(0.0, width - MAX_WIDTH) + HEIGHT_PENALTY * max(0.0, MIN_HEIGHT - height) / MIN_HEIGHT
    return score - far_penalty(distances, k)


def _best_runs(
    atoms: int,
    gains: dict[tuple[int, int], tuple[float, int]],
    cut_costs: list[float],
    max_digits: int,
    count: int | None,
    shareable: list[bool] | None = None,
) -> tuple[float, list[tuple[int, int]]] | None:
    """Dynamic programming over atoms in a row (pieces between seams, or skeleton edges): the runs ``(i, j)`` (atoms
    i to j-1) that cover them all with the highest total. ``gains[(i, j)]`` is a run's score and how many digits it is
    (0 for blank space), ``cut_costs[i]`` what parting the row before atom ``i`` costs. A digit may also begin on the
    last atom of the digit before when ``shareable[i]`` says that atom may be both's, at ``SHARE_COST``. The best
    total of any count, or of ``count`` digits; None when no runs make it."""
    best = np.full((atoms + 1, max_digits + 1), -np.inf)
    back = np.full((atoms + 1, max_digits + 1, 2), -1, dtype=np.int64)  # where a run begins, where the one before ended
    best[0, 0] = 0.0
    for (i, j), (gain, digits) in sorted(gains.items(), key=lambda item: item[0][1]):
        before = [(i, cut_costs[i] if i > 0 else 0.0)]
        if shareable and digits and 0 < i < j - 1 and shareable[i]:
            before.append((i + 1, SHARE_COST))  # the digit before ends with atom i too
        for end, cost in before:
            for n in range(max_digits + 1 - digits):
                total = best[end, n] + gain - cost
                if total > best[j, n + digits]:
                    best[j, n + digits], back[j, n + digits] = total, (i, end)
    n = int(np.argmax(best[atoms])) if count is None else count
    if not np.isfinite(best[atoms, n]):
        return None
    total, runs, j = float(best[atoms, n]), [], atoms
    while j > 0:
        i, end = (int(v) for v in back[j, n])
        if gains[(i, j)][1]:
            runs.append((i, j))
            n -= 1
        j = end
    return total, runs[::-1]


def _by_seams(work: _Work, scorer: Scorer, max_digits: int, count: int | None) -> _Cutting | None:
    """The best cuts along seams (the module's text): right for digits that touch, where a path between them crosses
    little ink."""
    mask, small = work.mask, work.small
    height, width = mask.shape
    cuts = [np.full(height, -1, dtype=np.int64)]
    # How wide one digit may be: 1.6 line heights. When told how many digits there are, also half again their
    # average width (a person may write wide), with the cuts within ink spaced so that MAX_ATOMS pieces span that.
    reach, least_stride = 1.6 * height, 2
    if count is not None:
        reach = max(reach, 1.5 * width / count)
        least_stride = max(least_stride, math.ceil(1.5 * width / count / (MAX_ATOMS - 1)))
    inner = _candidate_cuts(mask, small * mask, height, work.brush, least_stride)
    # Seams must not cross: each at least as far right as the one before, row by row.
    for seam in inner:
        cuts.append(np.maximum(seam, cuts[-1]))
    cuts.append(np.full(height, width - 1, dtype=np.int64))
    crossed = [0.0] + [float(small[np.arange(height), np.clip(s, 0, width - 1)].sum()) / work.brush for s in inner]

    spans, inputs, shapes = [], [], []
    gains: dict[tuple[int, int], tuple[float, int]] = {}
    for i in range(len(cuts) - 1):
        for j in range(i + 1, min(len(cuts), i + 1 + MAX_ATOMS)):
            piece = _piece_mask(mask, cuts[i], cuts[j])
            if int(piece.sum()) < 4:
                gains[(i, j)] = (0.0, 0)  # no ink: between two cuts through the same gap
                continue
            cols = np.flatnonzero(piece.any(axis=0))
            if j - i > 1 and cols[-1] - cols[0] > reach:
                continue
            x, shape = _candidate(_clean(piece, height), small, height)
            spans.append((i, j))
            inputs.append(x)
            shapes.append(shape)
    if not spans:
        return None
    probabilities, distances = read(scorer, np.stack(inputs))
    index = {span: k for k, span in enumerate(spans)}
    gains.update({span: (_piece_score(probabilities, distances, k, shapes[k]), 1) for span, k in index.items()})
    best = _best_runs(len(cuts) - 1, gains, [CUT_COST * c for c in crossed], max_digits, count)
    if best is None:
        return None
    total, runs = best
    pieces = []
    for i, j in runs:
        own = _clean(_piece_mask(work.crop_mask, _to_full(work, cuts[i]), _to_full(work, cuts[j])), work.box[3])
        pieces.append(_full_piece(work, own, probabilities[index[(i, j)]]))
    return _Cutting(total, pieces, len(spans))


def _by_skeleton(work: _Work, scorer: Scorer, max_digits: int, count: int | None) -> _Cutting | None:
    """The best grouping of the skeleton's edges (:mod:`recognizer.core.skeleton`), left to right, into digits:
    right for digits that overlap, where every seam between them goes through ink. None when the skeleton has more
    than ``MAX_EDGES`` edges (a scribble: the seams bound its cost)."""
    skeleton = skeleton_of(work.mask)
    edges = skeleton.edges
    if not 0 < edges <= MAX_EDGES:
        return None
    height = work.mask.shape[0]
    reach = max(1.6 * height, 1.5 * work.mask.shape[1] / count if count else 0.0)
    spans, inputs, shapes, masks = [], [], [], []
    for i in range(edges):
        piece = np.zeros_like(work.mask)
        for j in range(i + 1, min(edges, i + EDGES_PER_DIGIT) + 1):
            piece = piece | skeleton.inks[j - 1]  # edges i+1..j
            if int(piece.sum()) < 4:
                continue
            cols = np.flatnonzero(piece.any(axis=0))
            if j - i > 1 and cols[-1] - cols[0] > reach:
                break  # wider still with more edges
            x, shape = _candidate(piece, work.small, height)
            spans.append((i, j))
            masks.append(piece)
            inputs.append(x)
            shapes.append(shape)
    if not spans:
        return None
    probabilities, distances = read(scorer, np.stack(inputs))
    gains = {span: (_piece_score(probabilities, distances, k, shapes[k]), 1) for k, span in enumerate(spans)}
    costs = [JUNCTION_COST * skeleton.crossings(i) for i in range(edges)]
    shareable = [skeleton.between_junctions(edge) for edge in range(1, edges + 1)]
    best = _best_runs(edges, gains, costs, max_digits, count, shareable)
    if best is None:
        return None
    total, runs = best
    _, _, w0, h0 = work.box
    index = {span: k for k, span in enumerate(spans)}
    pieces = []
    for span in runs:
        k = index[span]
        scaled = cv2.resize(masks[k].astype(np.uint8), (w0, h0), interpolation=cv2.INTER_NEAREST).astype(bool)
        pieces.append(_full_piece(work, scaled & work.crop_mask, probabilities[k]))
    return _Cutting(total, pieces, len(spans))


def segment(
    image: Image.Image | np.ndarray,
    scorer: Scorer,
    max_digits: int = MAX_DIGITS,
    ink: np.ndarray | None = None,
    count: int | None = None,
) -> Segmentation:
    """The digits of a number written side by side, as the model reads them best (see the module's text); with
    ``count``, the best segmentation into exactly that many digits (a person said how many there were).

    Raises :class:`EmptyDrawing` for no ink, :class:`TooManyDigits` when the blank gaps alone separate more than
    ``max_digits`` pieces of a digit's size, and :class:`CannotSplit` when no candidate cuts make ``count`` digits.
    """
    if count is not None and not 1 <= count <= max_digits:
        raise CannotSplit(f"A number has 1 to {max_digits} digits, not {count}.")
    work = _prepare(image, ink, max_digits)
    found = [
        c for c in (_by_seams(work, scorer, max_digits, count), _by_skeleton(work, scorer, max_digits, count)) if c
    ]
    if not found:
        if count is not None:
            raise CannotSplit(f"This drawing cannot be cut into {count} digits.")
        raise TooManyDigits(f"A number may have at most {max_digits} digits.")
    best = max(found, key=lambda c: c.total)
    return Segmentation(best.pieces, sum(c.candidates for c in found))


def _to_full(work: _Work, seam: np.ndarray) -> np.ndarray:
    """A seam of the small copy (a column per row) at the canvas's resolution, within the ink's box."""
    h0 = work.box[3]
    rows = np.minimum((np.arange(h0) * work.scale).astype(np.int64), len(seam) - 1)
    return np.where(seam[rows] < 0, -1, np.floor((seam[rows] + 1) / work.scale).astype(np.int64) - 1)


def _full_piece(work: _Work, own: np.ndarray, probabilities: np.ndarray) -> Piece:
    """The chosen digit at the canvas's resolution from its own ink (a mask of the ink's box), cropped."""
    x0, y0, w0, h0 = work.box
    crop_mask = work.crop_mask
    # Keep the faint rim of the digit's strokes (anti-aliasing) but none of another digit's ink.
    rim = cv2.dilate(own.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & ~(crop_mask & ~own)
    if not rim.any():
        rim = own
    ys, xs = np.nonzero(rim)
    ink = np.where(rim, work.full[y0 : y0 + h0, x0 : x0 + w0], 0.0)[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    return Piece(ink.astype(np.float32), int(x0 + xs.min()), int(x0 + xs.max()), probabilities)


def split_number(image: Image.Image, scorer: Scorer, max_digits: int = MAX_DIGITS) -> list[Image.Image]:
    """Each digit's own image (dark ink on white), left to right: the separate pieces of ink
    (:func:`recognizer.core.preprocessing.split_digits`) when every one of them is a digit the model is sure of, else
    the cuts of :func:`segment`, which also part digits that touch.

    Why not always the cuts: the sum they maximise favours fewer digits (one log-probability fewer), so a narrow 1
    beside a 7 is absorbed into a confident "7", and a wide 0 may be read as a "67". Where blank space already parts
    the digits and each reads surely, the pieces are right more often (see ``SURE``'s figures).
    """
    ink = ink_map(image)
    pieces = split_digits(image, max_digits, ink=ink)
    probabilities, _ = read(scorer, np.stack([preprocess(piece) for piece in pieces]))
    line = max(piece.height for piece in pieces)
    sure = all(
        p.max() >= SURE and piece.width <= SURE_WIDTH * line and piece.height >= MIN_HEIGHT * line
        for p, piece in zip(probabilities, pieces, strict=True)
    )
    return pieces if sure else segment(image, scorer, max_digits, ink=ink).images


def resplit(image: Image.Image, scorer: Scorer, digits: int, max_digits: int = MAX_DIGITS) -> list[Image.Image]:
    """Exactly ``digits`` digits' images, left to right, for a person who said how many there were (the split the
    model chose was wrong: "10" read as one digit, a "0" cut in two). The same candidate cuts and scores as
    :func:`split_number`, so the same bounded cost; only the count is no longer the model's choice.

    Raises :class:`CannotSplit` when the candidate cuts cannot make that many digits (or it is not 1 to
    ``max_digits``).
    """
    return segment(image, scorer, max_digits, count=digits).images
