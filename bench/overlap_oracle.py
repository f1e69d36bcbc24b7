"""Why are numbers read wrong from the picture: are the right pieces not among the candidates, or not chosen?

    python -m bench.overlap_oracle [--seed 14] [--numbers 60] [--case overlapping]

For every number of ``bench.numbers`` (same seed, digits and places; MNIST test and other writers) that
``split_number`` reads wrong, each edge of the picture's skeleton (:mod:`recognizer.core.skeleton`) is given to the
digit whose own ink covers most of it: each digit drawn alone from the number's strokes (the synthetic writer leaves
350 ms between digits, 150 ms between a digit's strokes), on the same canvas. Then:

* is that assignment one left-to-right run of edges per digit? The cuts
  (:func:`recognizer.core.segmentation._best_runs`) only choose such runs: when it is not, the right pieces are not
  candidates at all;
* does every digit get an edge of its own (a 1 lying along its neighbour's stroke may have none)?
* when it is a run per digit: do its pieces read right by themselves, and how does its total (the cuts' objective:
  log-probabilities with the verifier, shape and distance penalties, junctions parted) compare with the total of the
  skeleton's chosen cuts? A right reading with a lower total is the objective's error, not the candidates'.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Machine, markdown_table, write_result
from bench.numbers import CASES, Model, read_number, sample_numbers
from recognizer.core import segmentation
from recognizer.core import strokes as S
from recognizer.core.preprocessing import ink_map
from recognizer.core.skeleton import Skeleton, skeleton_of
from training.ml.synthetic_numbers import HEIGHT

#: Strokes further apart in time than this begin a new digit (the synthetic writer: 150 ms within, 350 ms between).
DIGIT_PAUSE_MS = 250


def digits_of(drawing: S.Drawing) -> list[list[int]]:
    """The indices of each digit's strokes, in writing order."""
    groups: list[list[int]] = [[0]]
    for i in range(1, len(drawing.strokes)):
        if drawing.strokes[i][0, 2] - drawing.strokes[i - 1][-1, 2] > DIGIT_PAUSE_MS:
            groups.append([])
        groups[-1].append(i)
    return groups


def owners(work: segmentation._Work, drawing: S.Drawing, skeleton: Skeleton) -> tuple[list[int], int]:
    """Each edge's digit (the one whose ink, drawn alone in place, covers most of the edge's ink), and how many
    digits own no edge."""
    x0, y0, w0, h0 = work.box
    height, width = work.mask.shape
    masks = []
    for strokes in digits_of(drawing):
        alone = ink_map(S.render(drawing.subset(strokes), shorter=HEIGHT))[y0 : y0 + h0, x0 : x0 + w0]
        small = cv2.resize(alone.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
        masks.append(small >= segmentation.INK_THRESHOLD)
    edge_owner = [int(np.argmax([(ink & m).sum() for m in masks])) for ink in skeleton.inks]
    return edge_owner, len(masks) - len(set(edge_owner))


def oracle_total(
    work: segmentation._Work, scorer: segmentation.Scorer, skeleton: Skeleton, edge_owner: list[int]
) -> tuple[str, float]:
    """What the oracle's runs read as, and their total as :func:`recognizer.core.segmentation._by_skeleton` scores
    runs."""
    runs = []
    for digit in sorted(set(edge_owner)):
        edges = [e for e, owner in enumerate(edge_owner) if owner == digit]
        runs.append((edges[0], edges[-1] + 1))
    height = work.mask.shape[0]
    inputs, shapes = [], []
    for i, j in runs:
        x, shape = segmentation._candidate(
            np.logical_or.reduce([skeleton.inks[e] for e in range(i, j)]), work.small, height
        )
        inputs.append(x)
        shapes.append(shape)
    probabilities, distances = segmentation.read(scorer, np.stack(inputs))
    total = sum(segmentation._piece_score(probabilities, distances, k, shapes[k]) for k in range(len(runs)))
    total -= sum(segmentation.JUNCTION_COST * skeleton.crossings(i) for i, _ in runs[1:])
    return "".join(str(int(d)) for d in probabilities.argmax(axis=1)), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=14, help="bench.numbers seed")
    parser.add_argument("--numbers", type=int, default=60, help="numbers per source")
    parser.add_argument("--case", default="overlapping", choices=list(CASES))
    args = parser.parse_args()
    machine = Machine()
    model = Model()
    scorer = model.picture_reading()
    counts = dict.fromkeys(
        ["numbers", "wrong", "not a run per digit", "a digit without an edge", "run, reads right"], 0
    )
    behind, rows = [], []
    for source, case, built in sample_numbers(model, args.numbers, args.seed):
        if case != args.case:
            continue
        for index, (truth, drawing, picture) in enumerate(built):
            counts["numbers"] += 1
            got = read_number(segmentation.split_number(picture, scorer), model)
            if got == truth:
                continue
            counts["wrong"] += 1
            work = segmentation._prepare(picture, None, segmentation.MAX_DIGITS)
            skeleton = skeleton_of(work.mask)
            edge_owner, without = owners(work, drawing, skeleton)
            counts["a digit without an edge"] += without > 0
            if any(a > b for a, b in itertools.pairwise(edge_owner)):
                counts["not a run per digit"] += 1
                rows.append((source, index, truth, got, "not a run per digit", "", ""))
                continue
            reading, total = oracle_total(work, scorer, skeleton, edge_owner)
            chosen = segmentation._by_skeleton(work, scorer, segmentation.MAX_DIGITS, None)
            chosen_total = chosen.total if chosen else float("nan")
            if reading == truth:
                counts["run, reads right"] += 1
                behind.append(chosen_total - total)
            rows.append((source, index, truth, got, reading, f"{total:.2f}", f"{chosen_total:.2f}"))
            print(rows[-1], flush=True)
    print(counts)
    summary: list[tuple[str, object]] = list(counts.items())
    if behind:
        summary.append(("its total below the chosen cuts' (median, when it reads right)", f"{np.median(behind):.2f}"))
    sections = [
        f"Command: `python -m bench.overlap_oracle --seed {args.seed} --numbers {args.numbers} --case {args.case}`. "
        "Numbers of bench.numbers (MNIST test and other writers) that `split_number` reads wrong; each skeleton edge "
        "given to the digit whose own ink covers most of it.",
        markdown_table(["", "numbers"], summary),
        markdown_table(
            ["digits of", "number", "truth", "read", "the edges' owners read", "their total", "chosen total"], rows
        ),
    ]
    write_result(
        f"overlap_oracle_{args.case}_seed{args.seed}", "Wrong numbers: candidates or choice?", machine, sections
    )


if __name__ == "__main__":
    main()
