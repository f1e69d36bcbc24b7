"""The not-a-digit detector's ``.tflite``, read beside the digit model (trained by ``manage.py train_not_a_digit``:
:mod:`training.ml.not_a_digit`).

The digit model's own evidence misses drawings that look enough like some digit (a heart, a smiley, many letters);
this small binary network learnt digits against generated non-digits. Its logit (higher: less like a digit) is stored
with each drawing (``Drawing.detector``) and weighed with the digit model's evidence by
:func:`recognizer.core.open_set.assess`.

The served rule's threshold (``open_set.MAX_EVIDENCE``) is one constant, but each detector (another recipe or seed,
the same one trained on another kind of CPU, or where its fonts were missing) needs its own to flag the budgeted
share of real digits. So a detector carries a calibration in the record beside it (``not_a_digit.json``): a constant
added to its logit that moves its own fitted threshold onto the served one
(``python -m bench.not_a_digit_detector --save-calibration`` fits it, on digits never reported as a test). The stored
logit is the calibrated one, so an answer stays judged as it was given. The calibration names its file by SHA-256: a
record of another file (a detector retrained or copied over) is ignored, and that detector is served as trained until
it is calibrated.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Self

import numpy as np

from recognizer.core.classifier import ModelUnavailable, OneScore

log = logging.getLogger(__name__)

#: The key of the calibration in the detector's record.
CALIBRATION = "calibration"


def record_path(detector: Path) -> Path:
    """The record written beside a detector's ``.tflite`` (how it was made, and its calibration)."""
    return detector.with_suffix(".json")


def calibration_offset(detector: Path, content: bytes) -> float:
    """The logit offset recorded beside ``detector`` for exactly this ``content``: 0 without a record, without a
    calibration in it, or when the calibration was fitted for another file (logged). Raises
    :class:`ModelUnavailable` when the record cannot be read as one: a detector of unknown calibration is not served."""
    record = record_path(detector)
    if not record.is_file():
        return 0.0
    try:
        calibration = json.loads(record.read_text()).get(CALIBRATION)
        if calibration is None:
            return 0.0
        offset, digest = float(calibration["logit_offset"]), str(calibration["detector_sha256"])
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        raise ModelUnavailable(f"{record} is not a detector's record ({exc!r})") from exc
    if digest != hashlib.sha256(content).hexdigest():
        log.warning("%s: its calibration was fitted for another detector file; this one is served uncalibrated", record)
        return 0.0
    return offset


def save_calibration(detector: Path, offset: float, facts: dict) -> Path:
    """Record ``offset`` as ``detector``'s calibration, with its SHA-256 and the ``facts`` of the fit (what it was
    fitted on, with which classifier), keeping the rest of the record; returns the record's path."""
    record = record_path(detector)
    data = json.loads(record.read_text()) if record.is_file() else {}
    data[CALIBRATION] = {
        "logit_offset": round(offset, 4),
        "detector_sha256": hashlib.sha256(detector.read_bytes()).hexdigest(),
        **facts,
    }
    record.write_text(json.dumps(data, indent=2) + "\n")
    return record


class NotADigitDetector(OneScore):
    """Its score is a logit plus its calibration ``offset``: above 0 it finds the input more like its non-digits than
    like its digits."""

    def __init__(self, model_content: bytes, num_threads: int = 1, offset: float = 0.0) -> None:
        super().__init__(model_content, num_threads)
        self.offset = offset

    @classmethod
    def from_file(cls, path: Path) -> Self:
        """The detector in ``path`` with the calibration recorded beside it (:func:`calibration_offset`)."""
        content = path.read_bytes()
        return cls(content, offset=calibration_offset(path, content))

    def score(self, images: np.ndarray) -> np.ndarray:
        return super().score(images) + self.offset
