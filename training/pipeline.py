"""Training from scratch, recorded as a :class:`~recognizer.models.TrainingRun` and registered as a model version.

Shared by ``manage.py train`` and anything else that trains a fresh model; each stage moves the run's progress so
staff (and the command's progress bar) can follow a run that takes minutes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from recognizer import registry
from recognizer.models import ModelVersion, TrainingRun
from training.data import load_mnist
from training.evaluate import evaluate_tflite
from training.export import export_artifacts
from training.model import build_model
from training.train import fit, prepare_images


@dataclass
class TrainOptions:
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 2e-3
    subset: int | None = None
    name: str | None = None
    activate: bool = True
    mnist_dir: Path | None = None
    command: str = ""
    verbose: int = 1


class RunRecorder:
    """Writes a run's progress to the database, at most every ``interval`` seconds (a write per batch is too many)."""

    def __init__(self, run: TrainingRun, interval: float = 2.0, echo: Callable[[str], None] | None = None) -> None:
        self.run, self.interval, self.echo, self._last = run, interval, echo, 0.0

    def stage(self, percent: float, text: str) -> None:
        self.run.progress, self.run.stage = round(percent, 1), text[:120]
        self.run.save(update_fields=["progress", "stage"])
        self._last = time.monotonic()
        if self.echo:
            self.echo(f"[{percent:5.1f}%] {text}")

    def within(self, start: float, end: float) -> Callable[[float, str], None]:
        """A progress function mapping 0-1 of one stage onto ``start``-``end`` percent of the run."""

        def report(fraction: float, text: str) -> None:
            if time.monotonic() - self._last >= self.interval or fraction >= 1.0:
                self.run.progress, self.run.stage = round(start + (end - start) * fraction, 1), text[:120]
                self.run.save(update_fields=["progress", "stage"])
                self._last = time.monotonic()

        return report


def train_from_scratch(options: TrainOptions, echo: Callable[[str], None] | None = None) -> TrainingRun:
    """Train, evaluate on the 10,000 MNIST test images, export, register and (optionally) activate a new model."""
    run = TrainingRun.objects.create(
        kind=TrainingRun.Kind.TRAIN,
        status=TrainingRun.Status.RUNNING,
        started_at=timezone.now(),
        parameters={
            "epochs": options.epochs,
            "batch_size": options.batch_size,
            "learning_rate": options.learning_rate,
            "subset": options.subset,
        },
    )
    recorder = RunRecorder(run, echo=echo)
    try:
        recorder.stage(1, "loading MNIST")
        mnist = load_mnist(Path(options.mnist_dir or settings.DIGITS_MNIST_DIR))
        x_train, y_train = mnist.x_train, mnist.y_train
        if options.subset:
            x_train, y_train = x_train[: options.subset], y_train[: options.subset]
        x_train, x_test = prepare_images(x_train), prepare_images(mnist.x_test)
        run.mnist_samples = len(x_train)
        run.save(update_fields=["mnist_samples"])
        recorder.stage(3, f"training on {len(x_train)} MNIST images for {options.epochs} epochs")
        model = build_model(options.learning_rate)
        history = fit(
            model,
            x_train,
            y_train,
            epochs=options.epochs,
            batch_size=options.batch_size,
            validation=(x_test, mnist.y_test),
            progress=recorder.within(3, 90),
            verbose=options.verbose,
        )
        recorder.stage(90, "exporting and evaluating")
        name = options.name or timezone.now().strftime("mnist-%Y%m%d-%H%M%S")
        with tempfile.TemporaryDirectory() as tmp:
            keras_path, tflite_path = export_artifacts(model, Path(tmp), name)
            metrics, matrix = evaluate_tflite(tflite_path.read_bytes(), x_test, mnist.y_test)
            metrics = {
                "mnist_test_accuracy": metrics["accuracy"],
                "mnist_test_count": metrics["count"],
                "per_digit_accuracy": metrics["per_digit_accuracy"],
                "train_samples": len(x_train),
                "epochs": options.epochs,
            }
            version = registry.register_version(
                name,
                keras_path,
                tflite_path,
                metrics=metrics,
                confusion_matrix=matrix,
                parent=ModelVersion.objects.active() if options.activate else None,
                training_command=options.command,
            )
        if options.activate:
            registry.activate(version)
        run.result_version = version
        run.history = history.as_dict()
        run.metrics_after = metrics
        run.status = TrainingRun.Status.SUCCEEDED
        run.progress = 100.0
        run.stage = "done"
    except BaseException as exc:
        run.status = TrainingRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finished_at = timezone.now()
        run.save()
    return run


def save_as_default(version: ModelVersion) -> Path:
    """Copy a version's artifacts and metadata into the shipped default-model folder (committed to the repository)."""
    target = registry.DEFAULT_MODEL_DIR
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    names = {}
    for field in ("keras_file", "tflite_file"):
        fieldfile = getattr(version, field)
        names[field] = Path(fieldfile.name).name
        with fieldfile.open("rb") as src, open(target / names[field], "wb") as dst:
            shutil.copyfileobj(src, dst)
    metadata = {
        "name": version.name,
        **names,
        "keras_sha256": version.keras_sha256,
        "tflite_sha256": version.tflite_sha256,
        "metrics": version.metrics,
        "confusion_matrix": version.confusion_matrix,
        "training_command": version.training_command,
        "trained_at": version.trained_at.isoformat(),
    }
    (target / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
    return target
