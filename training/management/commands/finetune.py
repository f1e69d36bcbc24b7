"""``manage.py finetune``: the Celery fine-tune pipeline, run here and now with a progress bar (or queued)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Fine-tune the active model on an MNIST replay sample plus the usable corrections, evaluate it against the "
        "active model and activate it if it passes the gate; the same pipeline as the scheduled Celery task."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="Run even if fewer than the minimum of new corrections arrived."
        )
        parser.add_argument("--epochs", type=int, help="Epochs (default: DIGITS_FINETUNE_EPOCHS).")
        parser.add_argument("--replay", type=int, help="MNIST images replayed (default: DIGITS_FINETUNE_REPLAY).")
        parser.add_argument(
            "--members", type=int, help="Fine-tunes averaged into the candidate (default: DIGITS_FINETUNE_MEMBERS)."
        )
        parser.add_argument("--seed", type=int, help="Seed of the replay sample and outliers, for repeatable runs.")
        parser.add_argument(
            "--outliers",
            type=int,
            help="Also train on this many generated non-digits (letters, shapes, scribbles) with uniform targets.",
        )
        parser.add_argument("--name", help="Name of the candidate version (default: ft<run>-<timestamp>).")
        parser.add_argument(
            "--save-default", action="store_true", help="Also write the candidate as the shipped default model."
        )
        parser.add_argument("--no-activate", action="store_true", help="Register the candidate but never activate it.")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Send the fine-tune to the training queue (DIGITS_TRAINING_QUEUE) instead of running it here.",
        )

    def handle(self, *args, **options) -> None:
        if options["queue"]:
            from training.tasks import queue_fine_tune

            run = queue_fine_tune(force=options["force"])
            run.refresh_from_db()
            if run.sent_at:
                queue = settings.DIGITS_TRAINING_QUEUE
                self.stdout.write(
                    self.style.SUCCESS(f"Fine-tune queued as training run #{run.pk}. Sent to the '{queue}' queue.")
                )
            else:
                self.stdout.write(
                    self.style.WARNING(f"Fine-tune queued as training run #{run.pk}. Not sent: {run.message}")
                )
            return
        # Imported here: TensorFlow is loaded only by commands that train, never by web processes.
        from tqdm import tqdm

        from recognizer.models import TrainingRun
        from training.finetune import FinetuneOptions, fine_tune

        valued = ("epochs", "replay", "members", "seed", "outliers", "name")
        given = [f"--{name}={options[name]}" for name in valued if options[name] is not None]
        given += [f"--{flag}" for flag in ("force", "no_activate", "save_default") if options[flag]]
        fine_tune_options = FinetuneOptions.from_settings(
            force=options["force"],
            epochs=options["epochs"],
            replay=options["replay"],
            members=options["members"],
            seed=options["seed"],
            outliers=options["outliers"],
            name=options["name"],
            activate=not options["no_activate"],
            command="python manage.py finetune " + " ".join(flag.replace("_", "-") for flag in given),
        )
        show = options["verbosity"] >= 1
        bar_format = "{l_bar}{bar}| {n:.0f}% [{elapsed}] {postfix}"
        with tqdm(total=100, desc="fine-tune", bar_format=bar_format, disable=not show) as bar:  # on stderr

            def progress(percent: float, text: str) -> None:
                bar.n = percent
                bar.set_postfix_str(text[:60], refresh=False)
                bar.refresh()

            run = fine_tune(fine_tune_options, progress=progress)
        style = self.style.SUCCESS if run.status == TrainingRun.RunStatus.SUCCEEDED else self.style.WARNING
        self.stdout.write(style(f"Training run #{run.pk} {run.get_status_display().lower()}: {run.message}"))
        if run.result_version:
            self.stdout.write(f"Candidate {run.result_version.name} ({run.duration} in all).")
            if options["save_default"]:
                from training.pipeline import save_as_default

                self.stdout.write(f"Saved as the default model in {save_as_default(run.result_version)}")
