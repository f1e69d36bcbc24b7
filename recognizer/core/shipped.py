"""The shipped default model: its folder, its metadata and its files.

Everything that reads the shipped model (serving's first start, benchmarks, tests) names its files through the
folder's ``metadata.json``, so shipping a new model changes that folder only. No Django here: benchmarks use it too.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "default_model"


def metadata(folder: Path = DEFAULT_MODEL_DIR) -> dict:
    """The shipped model's ``metadata.json``: name, file names, digests, metrics (temperature), training command."""
    return json.loads((folder / "metadata.json").read_text())


def model_file(field: str = "tflite_file", folder: Path = DEFAULT_MODEL_DIR) -> Path:
    """One of the shipped model's files: ``tflite_file`` (served) or ``keras_file`` (fine-tuned)."""
    return folder / metadata(folder)[field]
