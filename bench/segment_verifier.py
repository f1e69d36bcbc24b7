"""How much should the whole-digit verifier weigh in the picture's cuts? Numbers read right at several weights.

:mod:`recognizer.core.segmentation` cuts a number's picture where the digit model reads the pieces best. Its commonest
error on touching digits is the count: two touching digits read surely as one (a "15" read as a wide 5), which no
penalty on width or distance catches. Given the right count (``resplit``), about half of those numbers are read right
(bench.numbers' seed 14: 10 of 17 and 9 of 17 wrong touching numbers), so the candidates are there and only the choice
is wrong. On overlapping digits the right count rescues a quarter (17 of 53, 14 of 65): there the cuts themselves
cannot part ink that both digits share.

The verifier (:mod:`recognizer.core.whole_digit`, trained by ``manage.py train_whole_digit`` on the cuts' own
candidates of numbers of MNIST *training* digits) says whether a piece is one whole digit; each piece's probabilities
are scaled by ``v ** λ``, so separate pieces are kept only when the verifier agrees too, and the cuts score a piece by
``log p_top + λ log v``. This benchmark reads exactly ``bench.numbers``' numbers (same seeds, same digits of MNIST
test and other writers, same places) at each λ, so its rows sit beside that table; λ = 0 is the cuts without it.

    python -m bench.segment_verifier [--lams 0,0.25,0.5,1] [--seeds 14,7] [--numbers 100] [--verifier PATH.tflite]
        [--model PATH.tflite] [--also PATH.tflite] [--name segment_verifier]

``--model`` reads with another digit model than the shipped one; ``--also`` builds the numbers only of digits that
model reads right alone too, so that two models' runs (each the other's ``--also``) read the same numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Machine, markdown_table, write_result
from bench.numbers import CASES, MODEL, WHOLE_DIGIT, Model, read_number, sample_numbers
from recognizer.core import segmentation, whole_digit


def evaluate(
    model: Model, verifier: whole_digit.WholeDigit, lams: list[float], numbers: int, seed: int, also: list[Model]
) -> dict:
    """Numbers read right by ``split_number`` at each ``lam`` (0: the digit model alone), built as bench.numbers
    builds them for ``seed``; and the median time of a number's cuts at each."""
    results = {}
    scorers = {lam: whole_digit.weighed(model.reading, verifier, lam) if lam else model.reading for lam in lams}
    for source, case, built in sample_numbers(model, numbers, seed, also):
        right, times = dict.fromkeys(lams, 0), {lam: [] for lam in lams}
        for truth, _, picture in built:
            for lam, scorer in scorers.items():
                start = time.perf_counter()
                try:
                    got = read_number(segmentation.split_number(picture, scorer), model)
                except segmentation.TooManyDigits:
                    got = ""
                times[lam].append(time.perf_counter() - start)
                right[lam] += got == truth
        medians = {lam: float(np.median(times[lam])) * 1000 for lam in lams}
        results[(seed, source, case)] = {lam: (right[lam] / numbers, medians[lam]) for lam in lams}
        print(f"  seed {seed} {source} {case}: {results[(seed, source, case)]}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lams", default="0,0.25,0.5,1", help="weights of the verifier's log score (0: without it)")
    parser.add_argument("--seeds", default="14,7", help="bench.numbers seeds to read")
    parser.add_argument("--numbers", type=int, default=100, help="numbers per source, case and seed")
    parser.add_argument("--verifier", type=Path, default=WHOLE_DIGIT, help="the verifier's .tflite (default: shipped)")
    parser.add_argument("--model", type=Path, default=MODEL, help="the digit model's .tflite (default: shipped)")
    parser.add_argument("--also", type=Path, help="numbers only of digits this .tflite also reads right alone")
    parser.add_argument("--name", default="segment_verifier", help="results file name (default segment_verifier)")
    args = parser.parse_args()
    machine = Machine()
    model = Model(args.model)
    also = [Model(args.also)] if args.also else []
    verifier = whole_digit.WholeDigit(args.verifier.read_bytes())
    record = args.verifier.with_suffix(".json")
    made = json.loads(record.read_text()) if record.exists() else {}
    lams = [float(v) for v in args.lams.split(",")]
    results = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        results.update(evaluate(model, verifier, lams, args.numbers, seed, also))
    rows = [(seed, source, case, *(f"{r[lam][0]:.0%}" for lam in lams)) for (seed, source, case), r in results.items()]
    for case in CASES:
        mean = [np.mean([r[lam][0] for (_, _, c), r in results.items() if c == case]) for lam in lams]
        rows.append(("", "mean", case, *(f"**{m:.1%}**" for m in mean)))
    timing = [
        (case, *(f"{np.median([r[lam][1] for (_, _, c), r in results.items() if c == case]):.0f}" for lam in lams))
        for case in CASES
    ]
    command = f"python -m bench.segment_verifier --lams {args.lams} --seeds {args.seeds} --numbers {args.numbers}"
    command += f" --verifier {args.verifier}" if args.verifier != WHOLE_DIGIT else ""
    command += f" --model {args.model}" if args.model != MODEL else ""
    command += f" --also {args.also}" if args.also else ""
    made_by = (
        f"`{made['command']}` ({made['labelled']:,} labelled pieces, held-out accuracy "
        f"{made['held_out_accuracy']:.1%}, {made['parameters']:,} parameters, {made['seconds']:.0f} s)"
        if made
        else str(args.verifier)
    )
    sections = [
        f"Command: `{command}`. Verifier: {made_by}. Numbers read right by `split_number` ({args.numbers} per "
        "source, case and seed: bench.numbers' numbers of each seed); λ = 0 is the digit model alone.",
        markdown_table(["seed", "digits of", "placed", *(f"λ = {lam:g}" for lam in lams)], rows),
        "Median milliseconds of a number's cuts (reading included), by case:",
        markdown_table(["placed", *(f"λ = {lam:g}" for lam in lams)], timing),
    ]
    write_result(args.name, "The whole-digit verifier's weight in the picture's cuts", machine, sections)


if __name__ == "__main__":
    main()
