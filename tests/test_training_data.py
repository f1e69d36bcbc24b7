"""Which corrections may train, and the exported data set read back with independent readers."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from bench.drawing import digit_strokes
from recognizer.core import strokes as core_strokes
from recognizer.core.idx import read_idx
from recognizer.corrections import training_corrections
from recognizer.export import IDX_IMAGES, IDX_LABELS, MANIFEST, NPZ, STROKES, build_data_set
from recognizer.models import Drawing
from recognizer.predictions import create_submission
from tests.support.factories import DrawingFactory, copy_of
from tests.support.review_data import check_data_set

pytestmark = pytest.mark.django_db
CorrectionStatus = Drawing.CorrectionStatus


def ids(queryset) -> set[int]:
    return set(queryset.values_list("pk", flat=True))


@pytest.fixture
def states(active_model) -> dict[str, Drawing]:
    """One drawing in each review state that matters for training."""
    return {
        "accepted": DrawingFactory(digit=1, corrected_label=7, correction_status=CorrectionStatus.ACCEPTED),
        "pending": DrawingFactory(digit=2, corrected_label=3),
        "rejected": DrawingFactory(digit=3, corrected_label=8, correction_status=CorrectionStatus.REJECTED),
        "excluded": DrawingFactory(
            digit=4, corrected_label=4, correction_status=CorrectionStatus.ACCEPTED, excluded_from_training=True
        ),
        "uncorrected": DrawingFactory(digit=5),
    }


def test_only_accepted_corrections_train_by_default(states, settings) -> None:
    settings.DIGITS_TRAIN_ON_PENDING = False
    assert ids(training_corrections()) == {states["accepted"].pk}


def test_the_setting_lets_pending_corrections_train_too(states, settings) -> None:
    settings.DIGITS_TRAIN_ON_PENDING = True
    assert ids(training_corrections()) == {states["accepted"].pk, states["pending"].pk}
    assert ids(training_corrections(include_pending=False)) == {states["accepted"].pk}


def test_rejected_and_excluded_never_train(states) -> None:
    chosen = ids(training_corrections(include_pending=True))
    assert states["rejected"].pk not in chosen
    assert states["excluded"].pk not in chosen
    assert states["uncorrected"].pk not in chosen


def test_the_same_image_submitted_many_times_counts_once(active_model) -> None:
    first = DrawingFactory(digit=6, corrected_label=6)
    later = copy_of(first, corrected_label=5)
    copy_of(first)  # a third copy with no correction
    assert ids(training_corrections(include_pending=True)) == {later.pk}  # the latest correction wins


def test_an_accepted_copy_beats_a_later_pending_one(active_model) -> None:
    accepted = DrawingFactory(digit=6, corrected_label=6, correction_status=CorrectionStatus.ACCEPTED)
    copy_of(accepted, corrected_label=0)  # pending, and later
    assert ids(training_corrections(include_pending=True)) == {accepted.pk}


def test_excluding_one_copy_keeps_every_copy_of_that_image_out(active_model) -> None:
    accepted = DrawingFactory(digit=9, corrected_label=9, correction_status=CorrectionStatus.ACCEPTED)
    copy_of(accepted, excluded_from_training=True)
    assert not training_corrections(include_pending=True).exists()


def test_a_rejected_copy_does_not_stop_an_accepted_one(active_model) -> None:
    rejected = DrawingFactory(digit=2, corrected_label=7, correction_status=CorrectionStatus.REJECTED)
    accepted = copy_of(rejected, corrected_label=2, correction_status=CorrectionStatus.ACCEPTED)
    assert ids(training_corrections()) == {accepted.pk}


def test_export_command_writes_npz_idx_and_manifest(states, tmp_path, settings) -> None:
    settings.DIGITS_TRAIN_ON_PENDING = False
    out = io.StringIO()
    call_command("export_corrections", str(tmp_path / "set"), "--include-pending", stdout=out)
    files = {p.name: p.read_bytes() for p in (tmp_path / "set").iterdir()}
    assert set(files) == {NPZ, IDX_IMAGES, IDX_LABELS, STROKES, MANIFEST}
    expected = [Drawing.objects.get(pk=states[k].pk) for k in ("accepted", "pending")]
    read = check_data_set(files, expected)
    # The IDX files, read by the training code's own MNIST reader, hold the same images and labels.
    assert np.array_equal(read_idx(tmp_path / "set" / IDX_IMAGES), read["images"])
    assert np.array_equal(read_idx(tmp_path / "set" / IDX_LABELS), read["labels"])
    assert read["manifest"]["selection"]["include_pending"] is True
    assert read["manifest"]["label_counts"] == {"3": 1, "7": 1}
    assert "Exported 2 corrections" in out.getvalue()


def test_export_command_follows_the_setting_and_can_zip(states, tmp_path, settings) -> None:
    settings.DIGITS_TRAIN_ON_PENDING = False
    call_command("export_corrections", str(tmp_path), "--zip", stdout=io.StringIO())
    with zipfile.ZipFile(tmp_path / "corrections.zip") as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    read = check_data_set(files, [states["accepted"]])
    assert read["manifest"]["selection"]["statuses"] == ["accepted", "auto"]  # staff's and the trust policy's


def test_an_empty_export_is_still_a_valid_data_set(active_model, tmp_path) -> None:
    data_set = build_data_set()
    paths = data_set.write(tmp_path)
    assert len(paths) == 5
    assert read_idx(tmp_path / IDX_IMAGES).shape == (0, 28, 28)
    assert read_idx(tmp_path / IDX_LABELS).shape == (0,)
    assert data_set.manifest["count"] == 0


def test_corrections_drawn_as_strokes_are_exported_as_ndjson(states, settings) -> None:
    """One Quick, Draw! line per sample that has strokes, linked to the arrays by its index."""
    settings.DIGITS_TRAIN_ON_PENDING = False
    sent = core_strokes.parse(digit_strokes("4", pointer="touch"))
    drawn = create_submission(None, "k" * 32, strokes=sent).ordered_drawings[0]
    Drawing.objects.filter(pk=drawn.pk).update(
        corrected_label=9, correction_status=CorrectionStatus.ACCEPTED, corrected_at=timezone.now()
    )
    data_set = build_data_set()
    lines = [json.loads(line) for line in data_set.files[STROKES].decode().splitlines()]
    assert len(lines) == 1 == data_set.manifest["with_strokes"]
    line = lines[0]
    assert (line["key_id"], line["word"], line["recognized"], line["pointer"]) == (str(drawn.pk), "9", False, "touch")
    assert data_set.manifest["samples"][line["index"]]["drawing_id"] == drawn.pk
    assert len(line["drawing"]) == len(sent.strokes) == 2
    xs, ys, ts = line["drawing"][0]
    assert len(xs) == len(ys) == len(ts) == len(sent.strokes[0])
    assert max(xs) <= line["canvas"][0]
    assert ts == sorted(ts)
    assert data_set.manifest["files"][STROKES]["bytes"] == len(data_set.files[STROKES])
