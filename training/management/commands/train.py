"""``manage.py train``: train the CNN on MNIST, evaluate it, export it, register it and activate it."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Train the CNN on MNIST with augmentation, evaluate on the 10,000 test images, register and activate it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--epochs", type=int, default=15)
        parser.add_argument("--batch-size", type=int, default=128)
        parser.add_argument("--learning-rate", type=float, default=2e-3)
        parser.add_argument(
            "--label-smoothing", type=float, help="Spread this share of each target over the ten digits (e.g. 0.1)."
        )
        parser.add_argument(
            "--ema",
            action="store_true",
            help="Train with a moving average of the weights and end with it (full runs only).",
        )
        parser.add_argument(
            "--seed", type=int, help="Seed the initial weights, shuffling and augmentation (to compare over seeds)."
        )
        parser.add_argument(
            "--styled",
            type=int,
            help="Add N drawn 1s, 7s and 4s of styles MNIST lacks (a flagged 1, a crossed 7, an open 4).",
        )
        parser.add_argument(
            "--finish-ones",
            type=int,
            help="End with two of the epochs as a fine-tune on the images plus N drawn 1s with a long flag.",
        )
        parser.add_argument(
            "--finish-rate",
            type=float,
            help="Where the closing fine-tune's cosine starts (default 5e-5, about where the run's own ends).",
        )
        parser.add_argument("--name", help="Version name (default: mnist-<timestamp>).")
        parser.add_argument("--subset", type=int, help="Train on only the first N training images (quick runs).")
        parser.add_argument("--mnist-dir", type=Path, help="Directory of the MNIST IDX files (default: setting).")
        parser.add_argument("--no-activate", action="store_true", help="Register the version without activating it.")
        parser.add_argument(
            "--save-default", action="store_true", help="Also write the artifacts as the shipped default model."
        )

    @staticmethod
    def command_line(options: dict) -> str:
        """The command that reproduces this run, from the options it actually used (also under call_command)."""
        words = ["python", "manage.py", "train"]
        recorded = (
            "epochs",
            "batch_size",
            "learning_rate",
            "label_smoothing",
            "seed",
            "styled",
            "finish_ones",
            "finish_rate",
            "name",
            "subset",
            "mnist_dir",
        )
        for option in recorded:
            if options.get(option) is not None:
                words += [f"--{option.replace('_', '-')}", str(options[option])]
        words += [f"--{flag.replace('_', '-')}" for flag in ("ema", "no_activate", "save_default") if options.get(flag)]
        return shlex.join(words)

    def handle(self, *args, **options) -> None:
        # Imported here: TensorFlow is loaded only by commands that train, never by web processes.
        from training.pipeline import FINISH_EPOCHS, FINISH_RATE, TrainOptions, save_as_default, train_from_scratch

        if options["finish_ones"] and options["epochs"] <= FINISH_EPOCHS:
            raise CommandError(f"--finish-ones needs over {FINISH_EPOCHS} epochs: the closing ones are among them.")
        if options["finish_rate"] is not None and (not options["finish_ones"] or options["finish_rate"] <= 0):
            raise CommandError("--finish-rate is the closing phase's first rate: above 0, with --finish-ones.")

        run = train_from_scratch(
            TrainOptions(
                epochs=options["epochs"],
                batch_size=options["batch_size"],
                learning_rate=options["learning_rate"],
                label_smoothing=options["label_smoothing"] or 0.0,
                ema=options["ema"],
                seed=options["seed"],
                subset=options["subset"],
                styled=options["styled"] or 0,
                finish_ones=options["finish_ones"] or 0,
                finish_rate=options["finish_rate"] or FINISH_RATE,
                name=options["name"],
                activate=not options["no_activate"],
                mnist_dir=options["mnist_dir"],
                command=self.command_line(options),
                verbose=1 if sys.stdout.isatty() and options["verbosity"] >= 1 else 2,
            ),
            echo=self.stdout.write if options["verbosity"] >= 1 else None,
        )
        version = run.result_version
        accuracy = version.metrics["mnist_test_accuracy"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Model {version.name}: MNIST test accuracy {accuracy:.4%} "
                f"({'active' if version.is_active else 'not activated'}) in {run.duration}"
            )
        )
        if options["save_default"]:
            self.stdout.write(f"Saved as the default model in {save_as_default(version)}")
