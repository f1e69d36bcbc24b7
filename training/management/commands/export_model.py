"""``manage.py export_model FILE.keras``: write a saved model's ``.tflite`` again with today's export, beside it.

For a model trained before the export changed (the shipped default, when the ``.tflite`` gained the distance to the
digits it learnt: :mod:`training.ml.export`). The weights, and so the probabilities, stay the same. When the folder
holds a ``metadata.json`` for this model (the shipped default's), its ``tflite_sha256`` is updated.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from recognizer.registry import sha256_of


class Command(BaseCommand):
    help = "Export a saved .keras model's .tflite again (with the distance to the digits), beside it."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "keras_file", type=Path, help="the saved model, e.g. recognizer/default_model/digits-v2.keras"
        )
        parser.add_argument("--mnist-dir", default=None, help="MNIST's folder (default: DIGITS_MNIST_DIR)")

    def handle(self, *args, keras_file: Path, mnist_dir: str | None, **options) -> None:
        import keras

        from training.ml.export import export_artifacts
        from training.ml.fit import prepare_images
        from training.ml.mnist import load_mnist

        if keras_file.suffix != ".keras" or not keras_file.is_file():
            raise CommandError(f"{keras_file} is not a saved .keras model.")
        # Only the weights are exported: not compiled, so a model saved with the project's own metric loads in a
        # process that never imported it.
        model = keras.models.load_model(keras_file, compile=False)
        mnist = load_mnist(Path(mnist_dir or settings.DIGITS_MNIST_DIR))
        digits = prepare_images(mnist.x_train), mnist.y_train
        target = keras_file.with_suffix(".tflite")
        with tempfile.TemporaryDirectory() as tmp:
            _, tflite = export_artifacts(model, Path(tmp), keras_file.stem, digits)
            shutil.copyfile(tflite, target)
        metadata_path = keras_file.parent / "metadata.json"
        if metadata_path.is_file():
            metadata = json.loads(metadata_path.read_text())
            if metadata.get("keras_file") == keras_file.name:
                with target.open("rb") as fh:
                    metadata["tflite_sha256"] = sha256_of(fh)
                metadata["tflite_file"] = target.name
                metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
        self.stdout.write(self.style.SUCCESS(f"Wrote {target}."))
