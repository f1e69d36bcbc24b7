"""Export the reviewed corrections as a data set: NPZ, MNIST-style IDX files, the strokes as NDJSON, and a manifest.

The samples are exactly the ones training would use (:func:`recognizer.corrections.training_corrections`): the
28x28 inputs the model saw, labelled with their corrections. Anyone can load them with ``numpy.load`` or any MNIST
reader; the manifest says how the set was selected, what each sample is, and the checksum of every file. The samples
that were drawn as strokes have them in the NDJSON file, one drawing a line in the Quick, Draw! raw format (``word``,
``drawing``: per stroke ``[[x...], [y...], [t...]]``), with ``index`` linking the line to the arrays.

Drawings people said are not a digit are kept apart, so that every existing array keeps its meaning (``labels`` and
the IDX labels are digits 0-9, as any MNIST reader expects): the NPZ's ``not_a_digit_*`` arrays hold them, the IDX
files leave them out, and their NDJSON lines say ``"not_a_digit": true`` with ``index`` into those arrays.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from recognizer.core import strokes as core_strokes
from recognizer.core.idx import idx_bytes
from recognizer.core.preprocessing import stack_inputs
from recognizer.corrections import training_corrections, usable_statuses
from recognizer.models import Drawing

FORMAT = "digits-corrections/2"  # 2: the not_a_digit arrays and samples
NPZ = "corrections.npz"
IDX_IMAGES = "corrections-images-idx3-ubyte"
IDX_LABELS = "corrections-labels-idx1-ubyte"
STROKES = "corrections-strokes.ndjson"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class DataSet:
    """An exported data set held in memory: its files by name (the manifest among them)."""

    files: dict[str, bytes]

    @property
    def manifest(self) -> dict:
        return json.loads(self.files[MANIFEST])

    def write(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, content in self.files.items():
            (directory / name).write_bytes(content)
            paths.append(directory / name)
        return paths

    def zip_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, content in self.files.items():
                archive.writestr(name, content)
        return buffer.getvalue()


def _sample(index: int, drawing: Drawing) -> dict:
    return {
        "index": index,
        "drawing_id": drawing.pk,
        "label": None if drawing.corrected_not_a_digit else drawing.corrected_label,
        "not_a_digit": drawing.corrected_not_a_digit,
        "predicted_digit": drawing.predicted_digit,
        "confidence": round(drawing.confidence, 6),
        "correction_status": drawing.correction_status,
        "model_version": drawing.model_version.name,
        "created_at": drawing.created_at.isoformat(),
        "reviewed_by": drawing.reviewed_by.get_username() if drawing.reviewed_by else None,
        "reviewed_at": drawing.reviewed_at.isoformat() if drawing.reviewed_at else None,
        "image_sha256": drawing.image_sha256,
    }


def _strokes_line(index: int, drawing: Drawing) -> str:
    """One drawing as a Quick, Draw! raw NDJSON line (canvas pixels with the shorter side 255, time in ms)."""
    strokes = drawing.stroke_drawing
    width, height = strokes.canvas_size(255)
    line = {
        "key_id": str(drawing.pk),
        "index": index,
        "not_a_digit": drawing.corrected_not_a_digit,
        "word": drawing.get_corrected_label_display(),
        "recognized": drawing.predicted_digit == drawing.corrected_label,
        "timestamp": drawing.created_at.isoformat(),
        "countrycode": "",
        "pointer": strokes.pointer,
        "canvas": [width, height],
        "drawing": core_strokes.to_quickdraw(strokes),
    }
    return json.dumps(line, separators=(",", ":"))


def _inputs(drawings: list[Drawing]) -> np.ndarray:
    return stack_inputs([d.input_array for d in drawings])


def build_data_set(include_pending: bool | None = None, within: QuerySet[Drawing] | None = None) -> DataSet:
    """The training corrections (optionally only those also in ``within``, e.g. an admin selection) as a data set."""
    if include_pending is None:
        include_pending = settings.DIGITS_TRAIN_ON_PENDING
    selected = training_corrections(include_pending)
    if within is not None:
        selected = selected.filter(pk__in=within.values("pk"))
    selected = list(selected.select_related("model_version", "reviewed_by"))
    drawings = [d for d in selected if not d.corrected_not_a_digit]
    others = [d for d in selected if d.corrected_not_a_digit]
    images = _inputs(drawings)
    labels = np.array([d.corrected_label for d in drawings], dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        images=images,
        labels=labels,
        drawing_ids=np.array([d.pk for d in drawings], dtype=np.int64),
        predicted=np.array([d.predicted_digit for d in drawings], dtype=np.uint8),
        not_a_digit_images=_inputs(others),
        not_a_digit_ids=np.array([d.pk for d in others], dtype=np.int64),
        not_a_digit_predicted=np.array([d.predicted_digit for d in others], dtype=np.uint8),
    )
    lines = [_strokes_line(i, d) for group in (drawings, others) for i, d in enumerate(group) if d.strokes is not None]
    files = {
        NPZ: buffer.getvalue(),
        IDX_IMAGES: idx_bytes(images),
        IDX_LABELS: idx_bytes(labels),
        STROKES: "".join(line + "\n" for line in lines).encode(),
    }
    manifest = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "count": len(drawings),
        "not_a_digit_count": len(others),
        "with_strokes": len(lines),
        "selection": {
            "statuses": usable_statuses(include_pending),
            "include_pending": include_pending,
            "excluded_from_training": "never, nor any copy of an excluded image",
            "duplicates": "one sample per distinct image (image_sha256); accepted first, then the latest correction",
            "subset_of_selection": within is not None,
        },
        "label_counts": {str(d): n for d, n in sorted(Counter(int(x) for x in labels).items())},
        "files": {
            name: {"sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}
            for name, content in files.items()
        },
        "arrays": {
            NPZ: "images (N, 28, 28) uint8, labels (N,) uint8 0-9, drawing_ids (N,) int64, predicted (N,) uint8; "
            "the drawings people said are not a digit apart: not_a_digit_images (M, 28, 28) uint8, not_a_digit_ids "
            "(M,) int64, not_a_digit_predicted (M,) uint8",
            IDX_IMAGES: "MNIST IDX, unsigned bytes, (N, 28, 28); light ink on black like MNIST; digits only",
            IDX_LABELS: "MNIST IDX, unsigned bytes, (N,), 0-9; not-a-digit samples are left out (see the NPZ)",
            STROKES: "one JSON object a line for each sample drawn as strokes (Quick, Draw! raw format): key_id "
            "(drawing id), index (into the arrays: the not_a_digit_* ones when not_a_digit is true), not_a_digit, "
            "word (the label, or 'not a digit'), recognized, timestamp, pointer, canvas [width, height] px, "
            "drawing: per stroke [[x...], [y...], [t ms...]]",
        },
        "samples": [_sample(i, d) for i, d in enumerate(drawings)],
        "not_a_digit_samples": [_sample(i, d) for i, d in enumerate(others)],
    }
    files[MANIFEST] = (json.dumps(manifest, indent=2) + "\n").encode()
    return DataSet(files)
