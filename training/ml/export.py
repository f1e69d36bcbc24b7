"""Export a trained Keras model as the two artifacts a version keeps: ``.keras`` (to fine-tune) and ``.tflite``."""

from __future__ import annotations

import tempfile
from pathlib import Path

import keras


def export_artifacts(model: keras.Model, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Write ``<stem>.keras`` and ``<stem>.tflite`` into ``out_dir``; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    keras_path = out_dir / f"{stem}.keras"
    tflite_path = out_dir / f"{stem}.tflite"
    model.save(keras_path)
    with tempfile.TemporaryDirectory() as tmp:
        exported = Path(tmp) / "model.tflite"
        model.export(str(exported), format="litert", verbose=False)
        tflite_path.write_bytes(exported.read_bytes())
    return keras_path, tflite_path
