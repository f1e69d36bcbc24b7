"""``manage.py train_not_a_digit``: train the not-a-digit detector that sits beside the digit model, and export it."""

from __future__ import annotations

import json
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

#: Generated drawings the record's figures are measured on: a seed the training never uses.
CHECK_SEED = 20_261_205


class Command(BaseCommand):
    help = (
        "Train the not-a-digit detector (is this drawing a digit at all?) on MNIST training digits against generated "
        "letters, symbols, doodles and scribbles, and export it as the .tflite the site reads."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--negatives", type=int, default=60_000, help="Generated non-digits to learn from.")
        parser.add_argument(
            "--redrawn", type=int, default=20_000, help="MNIST digits also learnt as drawn again with the page's brush."
        )
        parser.add_argument(
            "--bitmaps", type=int, default=10_000, help="MNIST digits also learnt as small black-and-white pictures."
        )
        parser.add_argument(
            "--styled", type=int, default=6_000, help="1s, 7s and 4s of styles MNIST lacks (a flag and base, a bar)."
        )
        parser.add_argument("--nines", type=int, default=0, help="9s whose tail curls left, as many European 9s do.")
        parser.add_argument(
            "--digits", type=int, help="Learn from the first N MNIST training digits only (quick runs; default all)."
        )
        parser.add_argument("--epochs", type=int, default=8)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--mnist-dir", type=Path, help="Directory of the MNIST IDX files (default: setting).")
        parser.add_argument(
            "--output", type=Path, help="Where to write the .tflite (default: the DIGITS_NOT_A_DIGIT_FILE setting)."
        )

    def handle(self, *args, **options) -> None:
        # Imported here: TensorFlow is loaded only by commands that train, never by web processes.
        from training.ml import not_a_digit, outliers
        from training.ml.export import save_litert
        from training.ml.mnist import load_mnist

        start = time.perf_counter()
        missing = outliers.missing_fonts()
        if missing:
            self.stderr.write(
                self.style.WARNING(
                    f"{len(missing)} of the {len(outliers.FONTS)} Liberation fonts are missing from "
                    f"{outliers.FONT_DIR} (Debian: apt install fonts-liberation): letters are drawn in Pillow's "
                    "default font alone, and the detector learns fewer kinds of letters."
                )
            )
        output: Path = options["output"] or settings.DIGITS_NOT_A_DIGIT_FILE
        data = load_mnist(options["mnist_dir"] or settings.DIGITS_MNIST_DIR)
        show = options["verbosity"] >= 1
        verbose = (1 if sys.stdout.isatty() else 2) if show else 0
        if show:
            self.stdout.write(f"Drawing {options['negatives']:,} non-digits and learning them against MNIST...")
        recipe = not_a_digit.Recipe(
            options["negatives"],
            redrawn=options["redrawn"],
            bitmaps=options["bitmaps"],
            styled=options["styled"],
            nines=options["nines"],
        )
        digits = data.x_train[: options["digits"]] if options["digits"] else data.x_train
        model = not_a_digit.fit(digits, recipe, options["epochs"], options["seed"], verbose=verbose)
        save_litert(model, output)
        # What it says of digits and non-digits it never saw, at logit 0 (the site's own threshold is the combined
        # rule's, recognizer.core.open_set).
        unseen = outliers.generate(2000, seed=CHECK_SEED, kinds=not_a_digit.KINDS)
        is_not = unseen.labels == outliers.NOT_A_DIGIT_LABEL
        logits = model.predict(unseen.images[..., None].astype("float32"), batch_size=1000, verbose=0)[:, 0]
        test = model.predict(data.x_test[..., None].astype("float32"), batch_size=1000, verbose=0)[:, 0]
        words = ["python", "manage.py", "train_not_a_digit", "--negatives", str(options["negatives"])]
        words += ["--redrawn", str(options["redrawn"]), "--bitmaps", str(options["bitmaps"])]
        words += ["--styled", str(options["styled"]), "--nines", str(options["nines"])]
        words += ["--digits", str(options["digits"])] if options["digits"] else []
        words += ["--epochs", str(options["epochs"]), "--seed", str(options["seed"])]
        record = {
            "command": shlex.join(words),
            "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "kinds": list(not_a_digit.KINDS),
            "fonts_missing": missing,
            "parameters": model.count_params(),
            "mnist_test_flagged_at_0": round(float((test > 0).mean()), 5),
            "unseen_non_digits_flagged_at_0": round(float((logits[is_not] > 0).mean()), 4),
            "unseen_font_digits_flagged_at_0": round(float((logits[~is_not] > 0).mean()), 4),
            "seconds": round(time.perf_counter() - start, 1),
        }
        output.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
        self.stdout.write(
            self.style.SUCCESS(
                f"Not-a-digit detector: {record['unseen_non_digits_flagged_at_0']:.1%} of unseen non-digits and "
                f"{record['mnist_test_flagged_at_0']:.2%} of MNIST test flagged at 0, written to {output} "
                f"in {record['seconds']:.0f} s"
            )
        )
        # The record was written afresh, without a calibration: the site serves this detector as trained.
        self.stdout.write(
            "Served as trained until calibrated: python -m bench.not_a_digit_detector "
            f"--detector {shlex.quote(str(output))} --save-calibration (reads ../shared/handwriting)"
        )
