"""Training: seconds per epoch of ``manage.py train``, and the time to reach 99.5% MNIST test accuracy.

Runs the real command (``--no-activate``, its own SQLite database) on MNIST subsets and times each epoch from the
moment Keras announces it to the moment it prints the epoch's result, validation included. A run validates on as many
MNIST test images as it trains on, up to all 10,000 (training/pipeline.py), so the subsets are of 10,000 images or
more: each then validates on the 10,000 as a full run does, epoch time grows linearly with the number of training
images, and the fitted line gives the seconds per epoch on all 60,000; the time to 99.5% is that times the epochs of
the shipped model's recorded run (``recognizer/default_model/metadata.json``), unless the metadata records the run's
duration itself.

    python -m bench.training [--subsets 10000 20000] [--epochs 3] [--recorded var/db.sqlite3 ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np

from bench.common import PYTHON, ROOT, Machine, bench_var_dir, fit_line, markdown_table, pyplot, write_result

NAME = "training"
FULL = 60_000
#: The MNIST test images a full run validates on each epoch, and so the smallest subset timed.
VALIDATION = 10_000
EPOCH_START = re.compile(r"^Epoch (\d+)/(\d+)")
EPOCH_END = re.compile(r"^\s*\d+/\d+ .*val_accuracy: ([\d.]+)")


def mnist_dir() -> Path:
    found = os.environ.get("DIGITS_MNIST_DIR") or (ROOT.parent / "shared" / "mnist")
    if not Path(found).is_dir():
        raise SystemExit("Set DIGITS_MNIST_DIR to the folder with the four MNIST IDX files.")
    return Path(found)


def time_epochs(subset: int, epochs: int, var_dir: Path) -> dict:
    """Run ``manage.py train`` on ``subset`` images; seconds and validation accuracy of each epoch, and the total."""
    env = {**os.environ, "DIGITS_VAR_DIR": str(var_dir), "DIGITS_MNIST_DIR": str(mnist_dir()), "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    command = ["manage.py", "train", "--subset", str(subset), "--epochs", str(epochs), "--no-activate"]
    command += ["--name", f"bench-{subset}-{int(time.time())}"]
    started = time.monotonic()
    process = subprocess.Popen(
        [PYTHON, *command], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seconds, accuracy, epoch_start = [], [], None
    for line in process.stdout:
        now = time.monotonic()
        if EPOCH_START.match(line):
            epoch_start = now
        elif (end := EPOCH_END.match(line)) and epoch_start is not None:
            seconds.append(now - epoch_start)
            accuracy.append(float(end.group(1)))
    if process.wait():
        raise RuntimeError(f"`{' '.join(command)}` failed with {process.returncode}")
    return {"subset": subset, "seconds": seconds, "val_accuracy": accuracy, "total": time.monotonic() - started}


def recorded_runs(database: Path) -> list[list[object]]:
    """Full training runs recorded by ``manage.py train`` in a SQLite database: their duration and the epoch at
    which validation on the MNIST test set first reached 99.5% (history is kept per epoch on the run)."""
    import sqlite3
    from datetime import datetime

    rows = []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        query = (
            "SELECT id, started_at, finished_at, parameters, history FROM recognizer_trainingrun "
            "WHERE kind = 'train' AND status = 'succeeded' ORDER BY id"
        )
        for run_id, started, finished, parameters, history in conn.execute(query):
            accuracy = json.loads(history or "{}").get("val_accuracy", [])
            if json.loads(parameters or "{}").get("subset") or not accuracy:
                continue
            minutes = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds() / 60
            reached = next((i + 1 for i, value in enumerate(accuracy) if value >= 0.995), None)
            rows.append(
                [
                    run_id,
                    len(accuracy),
                    f"{minutes:.1f}",
                    f"{minutes / len(accuracy):.2f}",
                    f"{max(accuracy):.2%}",
                    reached or "never",
                    f"{minutes * reached / len(accuracy):.0f}" if reached else "",
                ]
            )
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subsets", type=int, nargs="+", default=[VALIDATION, 2 * VALIDATION])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--recorded", type=Path, nargs="*", default=[], help="SQLite databases of full `manage.py train` runs to report"
    )
    args = parser.parse_args(argv)
    if min(args.subsets) < VALIDATION:
        parser.error(f"subsets of fewer than {VALIDATION:,} images validate on fewer test images than a full run")

    machine = Machine()
    var_dir = bench_var_dir()
    env = {**os.environ, "DIGITS_VAR_DIR": str(var_dir)}
    env.pop("DATABASE_URL", None)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    runs = [time_epochs(subset, args.epochs, var_dir) for subset in args.subsets]

    # The first epoch also builds the graph; the median of the later ones is what a long run is made of.
    steady = [float(np.median(run["seconds"][1:] or run["seconds"])) for run in runs]
    rows = [
        [r["subset"], *(f"{s:.1f}" for s in r["seconds"]), f"{r['val_accuracy'][-1]:.4f}", f"{r['total']:.0f}"]
        for r in runs
    ]
    headers = ["training images", *(f"epoch {i + 1} s" for i in range(args.epochs)), "val. accuracy", "command s"]
    sections = [
        f"`manage.py train --subset N --epochs {args.epochs} --no-activate` (augmentation on, batch 128, validation on "
        "the 10,000 test images each epoch, as in a full run); an epoch is timed from Keras's `Epoch k/n` line to its "
        "result line.",
        markdown_table(headers, rows),
    ]
    result: dict = {"runs": runs}
    if len(runs) >= 2 and fit_line([r["subset"] for r in runs], steady)[1] <= 0:
        sections.append(
            "The epochs did not grow with the number of images: other work on the machine changed the timings "
            "between the runs, so no per-epoch figure is fitted. Run it again on a quieter machine."
        )
    elif len(runs) >= 2:
        a, b = fit_line([r["subset"] for r in runs], steady)
        full_epoch = a + b * FULL
        result["full_epoch_s"] = full_epoch
        sections.append(
            f"Fitted: **epoch seconds ≈ {a:.1f} + {b * 1000:.2f} x thousands of images**, so an epoch on all 60,000 "
            f"training images takes about **{full_epoch:.0f} s** on this machine."
        )
        metadata = json.loads((ROOT / "recognizer" / "default_model" / "metadata.json").read_text())
        metrics = metadata.get("metrics", {})
        accuracy, epochs = metrics.get("mnist_test_accuracy", 0.0), metrics.get("epochs") or 18
        sections.append(
            f"The shipped model `{metadata['name']}` ({accuracy:.2%} MNIST test accuracy, "
            f"`{metadata.get('training_command', 'manage.py train')}`): its whole run of {epochs} epochs takes about "
            f"**{epochs * full_epoch / 60:.0f} min** at this epoch time."
        )

    recorded = [[str(db), *row] for db in args.recorded for row in recorded_runs(db)]
    if recorded:
        sections.append(
            "Full runs recorded by `manage.py train` (their training runs' start, end and per-epoch validation "
            "accuracy on the 10,000 MNIST test images):\n\n"
            + markdown_table(
                [
                    "database",
                    "run",
                    "epochs",
                    "minutes",
                    "min/epoch",
                    "best val. accuracy",
                    "first ≥ 99.5% at epoch",
                    "≈ minutes to 99.5%",
                ],
                recorded,
            )
        )
        reached = [row[6] for row in recorded if isinstance(row[6], int)]
        if reached and "full_epoch_s" in result:
            first = min(reached)
            sections.append(
                f"Time to 99.5%: **{first} epochs**, about **{first * result['full_epoch_s'] / 60:.0f} min** at this "
                "machine's fitted epoch time (the recorded runs' own minutes are on the machine as it was then)."
            )

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    xs = [r["subset"] for r in runs]
    ax.plot(xs, steady, "o", color="#2563eb", label="measured (median of epochs 2+)")
    if "full_epoch_s" in result:
        ax.plot([0, FULL], [a, result["full_epoch_s"]], ":", color="#2563eb", label="fitted")
    ax.set_xlabel("training images")
    ax.set_ylabel("seconds per epoch")
    ax.set_title("Training time per epoch")
    ax.legend()
    write_result(NAME, "Training: seconds per epoch", machine, sections, fig)
    return result


if __name__ == "__main__":
    main()
