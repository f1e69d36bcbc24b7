"""``manage.py train_whole_digit``: train the whole-digit verifier that helps the picture's cuts, and export it."""

from __future__ import annotations

import json
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Train the whole-digit verifier (is this piece of a number's picture one whole digit?) on the cuts of "
        "numbers written from MNIST training digits, and export it as the .tflite the site reads."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--numbers", type=int, default=4800, help="Numbers to cut and learn from.")
        parser.add_argument("--epochs", type=int, default=6)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--mnist-dir", type=Path, help="Directory of the MNIST IDX files (default: setting).")
        parser.add_argument(
            "--output", type=Path, help="Where to write the .tflite (default: the DIGITS_WHOLE_DIGIT_FILE setting)."
        )

    def handle(self, *args, **options) -> None:
        # Imported here: TensorFlow is loaded only by commands that train, never by web processes.
        import numpy as np
        from tqdm import tqdm

        from training.ml import whole_digit
        from training.ml.export import save_litert
        from training.ml.mnist import load_mnist

        start = time.perf_counter()
        output: Path = options["output"] or settings.DIGITS_WHOLE_DIGIT_FILE
        mnist_dir = options["mnist_dir"] or settings.DIGITS_MNIST_DIR
        data = load_mnist(mnist_dir)
        rng = np.random.default_rng(options["seed"])
        show = options["verbosity"] >= 1
        with tqdm(total=options["numbers"], desc="cutting numbers", unit="number", disable=not show) as bar:
            pieces = whole_digit.candidate_pieces(
                data.x_train, options["numbers"], rng, progress=lambda done: bar.update(done - bar.n)
            )
        _, labels = pieces.labelled()
        self.stdout.write(f"{len(pieces.iou):,} pieces, {len(labels):,} clearly labelled, {labels.mean():.1%} whole")
        verbose = (1 if sys.stdout.isatty() else 2) if show else 0
        model, accuracy = whole_digit.fit(pieces, options["epochs"], options["seed"], verbose=verbose)
        save_litert(model, output)
        words = ["python", "manage.py", "train_whole_digit", "--numbers", str(options["numbers"])]
        words += ["--epochs", str(options["epochs"]), "--seed", str(options["seed"])]
        record = {
            "command": shlex.join(words),
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "pieces": len(pieces.iou),
            "labelled": len(labels),
            "whole_share": round(float(labels.mean()), 4),
            "held_out_accuracy": round(accuracy, 4),
            "parameters": model.count_params(),
            "seconds": round(time.perf_counter() - start, 1),
        }
        output.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
        self.stdout.write(
            self.style.SUCCESS(
                f"Whole-digit verifier: held-out accuracy {accuracy:.2%}, written to {output} "
                f"in {record['seconds']:.0f} s"
            )
        )
