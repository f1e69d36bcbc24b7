"""The fine-tune pipeline in this process: which corrections train, the lock, the gate, skipping, and a real
(small) fine-tune through ``manage.py finetune``. The Celery worker and hot-swap side is tests/test_feedback_worker.py.
"""

from __future__ import annotations

import io
import socket
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import keras
import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from bench.drawing import png_bytes
from bench.handwriting import render
from bench.non_digits import FONTS, letter
from recognizer import registry
from recognizer.core import shipped
from recognizer.core.classifier import Classifier
from recognizer.core.open_set import NOT_A_DIGIT_LABEL
from recognizer.corrections import CorrectionSet, is_heldout, new_corrections_since, select_corrections
from recognizer.models import Drawing, ModelVersion, TrainingRun
from recognizer.predictions import correct, create_submission
from training import finetune, runs
from training.finetune import FinetuneOptions, correction_repeats, fine_tune, gate
from training.ml import outliers
from training.ml.fit import fit, prepare_images

RunStatus = TrainingRun.RunStatus


def submit(digit: int, seed: int) -> Drawing:
    """One drawing in the simulated user's hand, predicted and stored like any other."""
    return create_submission(png_bytes(render(digit, np.random.default_rng(seed))), "user").ordered_drawings[0]


def corrected(digit: int, seed: int, reviewer=None) -> Drawing:
    return correct(submit(digit, seed), digit, reviewer=reviewer)


@pytest.mark.django_db
def test_the_same_image_or_model_input_trains_once_with_its_latest_label(active_model, staff_user) -> None:
    """The selection rules themselves are tested in test_training_data.py; here: what the fine-tune adds to them."""
    image = png_bytes(render(7, np.random.default_rng(7)))
    first = create_submission(image, "a").ordered_drawings[0]
    again = create_submission(image, "b").ordered_drawings[0]
    assert first.image_sha256 == again.image_sha256
    correct(first, 1, reviewer=staff_user)
    correct(again, 7, reviewer=staff_user)
    # The same 28x28 input from a different file (here: the PNG re-encoded with other settings) is the same image too.
    buffer = io.BytesIO()
    Image.open(io.BytesIO(image)).save(buffer, format="PNG", compress_level=1)
    third = create_submission(buffer.getvalue(), "c").ordered_drawings[0]
    assert third.image_sha256 != first.image_sha256
    assert bytes(third.model_input) == bytes(first.model_input)
    correct(third, 7, reviewer=staff_user)
    third.corrected_at = timezone.now() - timedelta(minutes=1)
    third.save()

    selection = select_corrections(heldout_share=0.0)
    assert selection.total == 1
    assert selection.duplicates == 1  # the other file with the same input; the same file was never selected twice
    assert selection.y_train.tolist() == [7]
    assert np.array_equal(selection.x_train[0], first.input_array)
    assert new_corrections_since(None) == 1  # three files, two labels, one image: one model input


def test_the_heldout_share_is_a_stable_function_of_the_input() -> None:
    rng = np.random.default_rng(0)
    inputs = [rng.integers(0, 256, 784, dtype=np.uint8).tobytes() for _ in range(4000)]
    held = [is_heldout(x, 0.2) for x in inputs]
    assert held == [is_heldout(x, 0.2) for x in inputs]
    assert 0.18 < np.mean(held) < 0.22
    assert not any(is_heldout(x, 0.0) for x in inputs)
    assert all(is_heldout(x, 1.0) for x in inputs)


@pytest.mark.parametrize(
    ("before", "after", "max_mnist_drop", "passed"),
    [
        ((0.9950, 0.50), (0.9951, 0.60), None, True),
        ((0.9950, 0.60), (0.9950, 0.60), None, True),  # as good: passes
        ((0.9950, 0.50), (0.9949, 0.90), None, False),  # one MNIST image in 10,000 lost: refused by default
        ((0.9950, 0.60), (0.9990, 0.55), None, False),  # held-out corrections worse: refused
        ((0.9950, 0.50), (0.9940, 0.50), 0.001, True),  # a configured allowance of 0.1 point
        ((0.9950, 0.50), (0.9939, 0.90), 0.001, False),  # 0.11 point lost: refused, however good on corrections
    ],
)
def test_the_gate(
    before: tuple[float, float], after: tuple[float, float], max_mnist_drop: float | None, passed: bool
) -> None:
    defaults = FinetuneOptions.from_settings()
    assert defaults.max_mnist_drop == defaults.max_heldout_drop == 0.0  # by default: at least as good on both
    options = FinetuneOptions.from_settings(max_mnist_drop=max_mnist_drop)

    def metrics(mnist: float, heldout: float) -> dict:
        return {
            "mnist_test_accuracy": mnist,
            "mnist_test_count": 10000,
            "heldout_corrections_accuracy": heldout,
            "heldout_corrections_count": 20,
        }

    verdict = gate(metrics(*before), metrics(*after), options)
    assert verdict.passed is passed
    assert verdict.reason.startswith("Passed" if passed else "Rejected by the gate")
    if not passed:
        allowed = "the gate allows no loss" if max_mnist_drop is None else "the gate allows down to -0.10"
        assert allowed in verdict.reason


@pytest.mark.parametrize(
    ("before", "after", "max_flagged_rise", "passed"),
    [
        (0.0019, 0.0019, None, True),
        (0.0019, 0.0005, None, True),  # fewer real digits told "not a digit": better
        (0.0019, 0.0029, None, True),  # 10 more of the 10,000: the default allows 0.1 point
        (0.0019, 0.0030, None, False),  # 11 more: refused, however good its accuracy
        (0.0019, 0.0020, 0.0, False),  # configured to allow no rise: one more digit is refused
        (0.0019, 0.0100, 0.01, True),  # a configured allowance of a point
    ],
)
def test_the_gate_refuses_a_candidate_that_tells_more_real_digits_they_are_none(
    before: float, after: float, max_flagged_rise: float | None, passed: bool
) -> None:
    """A fine-tune that reads the corrections better but answers "that doesn't look like a digit" to more real digits
    is refused: the honest answer is part of "at least as good"."""
    options = FinetuneOptions.from_settings(max_flagged_rise=max_flagged_rise)
    figures = {"mnist_test_accuracy": 0.99, "mnist_test_count": 10000, "heldout_corrections_count": 0}
    verdict = gate({**figures, "mnist_test_flagged": before}, {**figures, "mnist_test_flagged": after}, options)
    assert verdict.passed is passed
    assert f"MNIST test digits answered not a digit {before:.2%} → {after:.2%}" in verdict.reason
    if not passed:
        allowed = options.max_flagged_rise * 100
        rise = f"rose {(after - before) * 100:+.2f} points, the gate allows up to {allowed:+.2f}"
        assert f"MNIST test digits answered not a digit {rise}" in verdict.reason


def test_the_gate_judges_on_mnist_alone_without_heldout_corrections() -> None:
    before = {
        "mnist_test_accuracy": 0.99,
        "mnist_test_count": 10000,
        "heldout_corrections_accuracy": None,
        "heldout_corrections_count": 0,
    }
    verdict = gate(before, {**before, "mnist_test_accuracy": 0.985}, FinetuneOptions.from_settings())
    assert not verdict.passed
    assert "judged on MNIST alone" in verdict.reason


def test_the_distance_is_fitted_on_the_replay_and_the_corrections_to_a_digit(mnist) -> None:
    """The candidate's distance to the digits learns the site's own hands too (not its not-a-digit corrections, nor
    the repeated copies or the outliers after the replay)."""
    replay = prepare_images(mnist.x_train[:50])
    people = prepare_images(mnist.x_test[:6])
    labels = np.array([3, 3, NOT_A_DIGIT_LABEL, 7, NOT_A_DIGIT_LABEL, 1])
    corrections = CorrectionSet(people, labels, people[:0], labels[:0], duplicates=0)
    data = finetune.TrainingSet(
        x=np.concatenate([replay, np.tile(people, (3, 1, 1))]),
        y=np.concatenate([mnist.y_train[:50], np.tile(labels, 3)]),
        replay=50,
        repeats=3,
        outliers=0,
        x_test=replay[:1],
        y_test=mnist.y_train[:1],
    )
    x, y = finetune.distance_digits(data, corrections, seed=0)
    assert len(y) == 54
    assert NOT_A_DIGIT_LABEL not in y
    kept = {image.tobytes() for image in x}
    assert {image.tobytes() for image in people[[0, 1, 3, 5]]} <= kept
    assert not {image.tobytes() for image in people[[2, 4]]} & kept
    # Shuffled: the export holds the last fifth out to set the scale, which must not be people's digits alone.
    positions = [k for k, image in enumerate(x) if image.tobytes() in {p.tobytes() for p in people}]
    assert min(positions) < 50


def test_replayed_mnist_targets_mix_in_the_active_models_answers(small_model_files, mnist) -> None:
    """Distillation on the replay (``distill``), on the real small model: the candidate is asked to keep the active
    model's answers on MNIST, its doubts included."""
    model = keras.models.load_model(small_model_files[0], compile=False)
    images = prepare_images(mnist.x_test[:40])
    labels = mnist.y_test[:40]
    data = finetune.TrainingSet(
        x=images, y=labels, replay=30, repeats=1, outliers=0, x_test=images[:1], y_test=labels[:1]
    )
    one_hot = np.eye(10, dtype=np.float32)[labels]
    teacher = model.predict(images.astype(np.float32)[..., None], verbose=0)

    assert np.array_equal(finetune.distilled_targets(model, data, 0.0), one_hot)
    mixed = finetune.distilled_targets(model, data, 0.5)
    np.testing.assert_allclose(mixed[:30], 0.5 * one_hot[:30] + 0.5 * teacher[:30], atol=1e-5)
    assert np.array_equal(mixed[30:], one_hot[30:])  # the corrections keep their labels
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(mixed[:30] - one_hot[:30]).max() > 0.01  # the weak model's doubts are in the targets


@pytest.mark.same_on_any_database
@pytest.mark.django_db
def test_the_candidate_is_the_average_of_members_trained_on_their_own_replay_samples(
    small_model_files, mnist, monkeypatch
) -> None:
    """A soup of two real fine-tunes of the small model: each member starts from the active model's weights and
    trains on its own MNIST replay sample; the candidate is their average, interpolated towards the active model."""
    model = keras.models.load_model(small_model_files[0], compile=False)
    base = model.get_weights()
    members: list[tuple[np.ndarray, list[np.ndarray]]] = []

    def observed_fit(model, x, y, **kwargs):
        history = fit(model, x, y, **kwargs)
        members.append((x, model.get_weights()))
        return history

    monkeypatch.setattr(finetune, "fit", observed_fit)
    corrections = CorrectionSet(
        x_train=prepare_images(mnist.x_test[:20]),
        y_train=mnist.y_test[:20],
        x_heldout=prepare_images(mnist.x_test[20:30]),
        y_heldout=mnist.y_test[20:30],
        duplicates=0,
    )
    options = FinetuneOptions.from_settings(members=2, replay=300, eval_limit=10, interpolation=0.7, seed=3)
    sets = finetune.training_sets(corrections, options)
    recorder = runs.RunRecorder(TrainingRun.objects.create(status=RunStatus.RUNNING))

    history = finetune.train_soup(model, sets, corrections, options, recorder)

    assert len(sets) == len(members) == 2
    assert sets[0].x_test is sets[1].x_test  # one prepared MNIST test set
    for (x, _), data in zip(members, sets, strict=True):
        assert np.array_equal(x, data.x)
    replay = sets[0].replay
    assert not np.array_equal(members[0][0][:replay], members[1][0][:replay])  # two replay samples
    assert len(history.loss) == 1
    for got, old, first, second in zip(model.get_weights(), base, members[0][1], members[1][1], strict=True):
        np.testing.assert_allclose(got, 0.7 * (first + second) / 2 + 0.3 * old, rtol=1e-4, atol=1e-5)
    assert any(not np.allclose(first, second) for first, second in zip(members[0][1], members[1][1], strict=True))


def test_corrections_are_repeated_to_their_share_within_bounds() -> None:
    assert correction_repeats(10000, 1000, 0.25) == 3  # 3,000 of 13,000 examples
    assert correction_repeats(10000, 250, 0.25) == 13
    assert correction_repeats(10000, 5, 0.25) == 40  # capped
    assert correction_repeats(10000, 20000, 0.25) == 1
    assert correction_repeats(10000, 0, 0.25) == 0


@pytest.mark.django_db
def test_too_few_new_corrections_skip_the_run_with_the_reason(active_model, staff_user, settings) -> None:
    settings.DIGITS_FINETUNE_MIN_CORRECTIONS = 3
    corrected(1, 1, reviewer=staff_user)
    corrected(4, 2, reviewer=staff_user)
    corrected(7, 3)  # pending: does not count

    run = fine_tune(FinetuneOptions.from_settings())

    assert run.status == RunStatus.SKIPPED
    assert run.message == "Skipped: 2 new distinct image(s) with a usable correction so far; at least 3 are needed."
    assert run.base_version == active_model
    assert run.finished_at is not None
    assert ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_only_corrections_since_the_last_trained_run_count(active_model, staff_user, settings) -> None:
    settings.DIGITS_FINETUNE_MIN_CORRECTIONS = 2
    corrected(1, 1, reviewer=staff_user)
    corrected(4, 2, reviewer=staff_user)
    earlier = timezone.now() - timedelta(hours=1)
    TrainingRun.objects.create(status=RunStatus.SKIPPED, started_at=timezone.now())  # skipped runs do not count
    trained = TrainingRun.objects.create(status=RunStatus.REJECTED, started_at=timezone.now())
    Drawing.objects.update(corrected_at=earlier, reviewed_at=earlier)
    corrected(9, 3, reviewer=staff_user)

    run = fine_tune(FinetuneOptions.from_settings())

    assert run.status == RunStatus.SKIPPED
    assert f"1 new distinct image(s) with a usable correction since run #{trained.pk}" in run.message


def copies(png: bytes, count: int) -> list[bytes]:
    """``count`` different files of one picture (PNGs that differ in a text chunk): one image to the model."""
    files = []
    for i in range(count):
        info = PngInfo()
        info.add_text("copy", str(i))
        buffer = io.BytesIO()
        Image.open(io.BytesIO(png)).save(buffer, format="PNG", pnginfo=info)
        files.append(buffer.getvalue())
    return files


@pytest.mark.django_db
def test_sixty_copies_of_one_corrected_image_are_one_new_image(active_model, staff_user, settings) -> None:
    settings.DIGITS_FINETUNE_MIN_CORRECTIONS = 50
    files = copies(png_bytes(render(7, np.random.default_rng(7))), 60)
    for i, png in enumerate(files):
        correct(create_submission(png, f"client-{i}").ordered_drawings[0], 7, reviewer=staff_user)
    assert Drawing.objects.values("image_sha256").distinct().count() == 60
    assert Drawing.objects.values("input_sha256").distinct().count() == 1

    run = fine_tune(FinetuneOptions.from_settings())

    assert run.status == RunStatus.SKIPPED
    assert run.message == "Skipped: 1 new distinct image(s) with a usable correction so far; at least 50 are needed."


@pytest.mark.django_db
def test_copies_of_an_image_already_trained_on_count_only_with_a_new_label(active_model, staff_user) -> None:
    files = copies(png_bytes(render(7, np.random.default_rng(7))), 62)
    correct(create_submission(files[0], "first").ordered_drawings[0], 7, reviewer=staff_user)
    earlier = timezone.now() - timedelta(hours=1)
    Drawing.objects.update(corrected_at=earlier, reviewed_at=earlier)
    since = timezone.now() - timedelta(minutes=1)  # the last trained run started between the two
    for i, png in enumerate(files[1:61]):
        correct(create_submission(png, f"client-{i}").ordered_drawings[0], 7, reviewer=staff_user)
    assert new_corrections_since(since) == 0  # sixty copies, same image, same label: nothing new to learn

    correct(create_submission(files[61], "relabel").ordered_drawings[0], 1, reviewer=staff_user)
    assert new_corrections_since(since) == 1  # the same image with another label is news
    assert new_corrections_since(None) == 1  # ever: one image


@pytest.mark.django_db
def test_distinct_new_images_start_the_fine_tune(active_model, staff_user, settings, monkeypatch) -> None:
    """Past the count, the run selects its data: stopped there, as training itself is tested below."""
    settings.DIGITS_FINETUNE_MIN_CORRECTIONS = 3
    for seed in range(3):
        corrected(seed + 1, seed, reviewer=staff_user)

    class Selected(Exception):
        pass

    def stop(*args, **kwargs):
        raise Selected

    monkeypatch.setattr(finetune, "select_corrections", stop)
    with pytest.raises(Selected):
        fine_tune(FinetuneOptions.from_settings())
    assert TrainingRun.objects.get().status == RunStatus.FAILED


@pytest.mark.django_db
def test_a_live_run_holds_the_lock_and_a_dead_one_is_reaped(active_model, settings) -> None:
    settings.DIGITS_FINETUNE_MIN_CORRECTIONS = 1
    settings.DIGITS_RUN_STALE_SECONDS = 30
    live = TrainingRun.objects.create(
        status=RunStatus.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now(), worker="w1:1"
    )
    busy = fine_tune(FinetuneOptions.from_settings())
    assert busy.status == RunStatus.SKIPPED
    assert busy.message == f"Skipped: run #{live.pk} on w1:1 is already running."
    live.refresh_from_db()
    assert live.status == RunStatus.RUNNING

    TrainingRun.objects.filter(pk=live.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    run = fine_tune(FinetuneOptions.from_settings())
    live.refresh_from_db()
    assert live.status == RunStatus.FAILED
    assert live.error.startswith("The worker running it (w1:1) died: no heartbeat since")
    assert run.status == RunStatus.SKIPPED  # it got the lock, then found no corrections
    assert "0 new distinct image(s) with a usable correction" in run.message


@pytest.mark.django_db
def test_a_run_whose_process_is_gone_is_reaped_at_once(active_model) -> None:
    finished = subprocess.Popen(["true"])  # a process of this machine that no longer exists
    finished.wait()
    dead = TrainingRun.objects.create(
        status=RunStatus.RUNNING,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
        worker=f"{socket.gethostname()}:{finished.pid}",
    )
    assert runs.reap_stale_runs() == [dead.pk]
    dead.refresh_from_db()
    assert dead.status == RunStatus.FAILED
    assert dead.error == f"The worker running it ({dead.worker}) died: its process is gone."
    assert not runs.process_gone(runs.worker_name())  # this very process
    assert not runs.process_gone("another-host:1")  # another machine: only the heartbeat can tell


@pytest.mark.django_db
def test_the_database_allows_one_running_fine_tune() -> None:
    runs.claim(TrainingRun())
    with pytest.raises(runs.RunBusy):
        runs.claim(TrainingRun())
    runs.claim(TrainingRun(kind=TrainingRun.Kind.TRAIN))  # another kind has its own lock
    assert TrainingRun.objects.filter(status=RunStatus.RUNNING).count() == 2


@pytest.mark.same_on_any_database  # the worker tests fine-tune, judge and activate on PostgreSQL through the same code
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_finetune_command_trains_judges_registers_and_activates(small_model, staff_user, settings, capsys) -> None:
    settings.DIGITS_FINETUNE_EVAL_LIMIT = 2000  # tests only: the default is all 10,000
    settings.DIGITS_FINETUNE_MIN_CORRECTIONS = 30
    # The weak model's share of MNIST digits answered "not a digit" swings with each fine-tune and each CPU's kernels
    # (0.65% -> 0.15% here; 0.25% -> 0.85% with TF_ENABLE_ONEDNN_OPTS=0, refused at the default 0.1 point): that check
    # is tested on its own above; here the accuracy checks judge, as before it.
    settings.DIGITS_GATE_MAX_FLAGGED_RISE = 1.0
    # 120 corrections, so the held-out share (about 24) is large enough for the gate's comparison not to hinge on
    # one or two drawings: with 6 held out, a single drawing moved the held-out accuracy by 17 points.
    for i in range(120):
        corrected(i % 10, 100 + i, reviewer=staff_user)
    small_model.metrics["temperature"] = 1.3  # its calibration, which the fine-tuned version inherits
    small_model.metrics["label_smoothing"] = 0.1  # its recipe's, which the fine-tune keeps
    small_model.save(update_fields=["metrics"])

    # Enough replay that the candidate clearly beats the weak model: with 2,000 replayed images a candidate once came
    # out one image worse (94.45% -> 94.40%, before the small model and --seed's runs were repeatable) and was rightly
    # refused. With 6,000: +1.75 points from 92.65% and from 94.20% (a soup of three members); one member, 92.35% ->
    # 95.00%. One member, not production's three: averaging is test_the_candidate_is_the_average_of_members_..., and
    # three cost 164 s here against 42 s.
    call_command("finetune", replay=6000, epochs=1, seed=1, members=1)

    run = TrainingRun.objects.get(kind=TrainingRun.Kind.FINETUNE)
    assert run.status == RunStatus.SUCCEEDED, run.message
    version = run.result_version
    assert ModelVersion.objects.active() == version
    assert version.parent == small_model
    assert run.base_version == small_model
    assert "manage.py finetune" in version.training_command
    assert run.mnist_samples == 6000
    assert run.correction_samples + run.heldout_samples == 120
    assert run.heldout_samples > 0
    for metrics in (run.metrics_before, run.metrics_after):
        assert metrics["mnist_test_count"] == 2000
        assert metrics["heldout_corrections_count"] == run.heldout_samples
        assert 0.0 <= metrics["mnist_test_flagged"] <= 1.0  # real digits answered "not a digit", as served
    # What the gate decided, and why: its verdict on the stored figures is the run's message, word for word.
    verdict = gate(run.metrics_before, run.metrics_after, FinetuneOptions.from_settings())
    assert verdict.passed
    assert run.message == f"{verdict.reason} Activated {version.name}."
    assert version.metrics["mnist_test_accuracy"] == run.metrics_after["mnist_test_accuracy"]
    assert version.metrics["temperature"] == 1.3
    assert version.metrics["label_smoothing"] == 0.1
    with version.keras_file.open("rb") as fh, tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "candidate.keras"
        saved.write_bytes(fh.read())
        assert keras.saving.load_model(saved).loss.get_config()["label_smoothing"] == 0.1  # trained smoothed
    assert np.asarray(version.confusion_matrix).sum() == 2000
    assert run.message.startswith("Passed the gate")
    assert version.notes.startswith("Passed the gate")
    assert run.progress == 100.0
    assert set(run.timings) == {"data", "train", "export", "evaluate", "figures", "register"}
    assert len(run.history["loss"]) == 1
    assert run.history["step_loss"]
    for image in (run.curves_image, run.confusion_image):
        with image.open("rb") as fh:
            assert Image.open(fh).format == "PNG"
    out = capsys.readouterr()
    assert f"Training run #{run.pk} succeeded" in out.out
    assert "100%" in out.err  # the progress bar


# Flags and guards of a run that trains. The gate is opened wide here (any change passes): what is tested is what
# happens after it, not whether a tiny candidate is better.


@pytest.fixture
def open_gate(settings) -> None:
    settings.DIGITS_GATE_MAX_MNIST_DROP = 1.0
    settings.DIGITS_GATE_MAX_HELDOUT_DROP = 1.0
    settings.DIGITS_GATE_MAX_FLAGGED_RISE = 1.0
    settings.DIGITS_FINETUNE_EVAL_LIMIT = 200
    settings.DIGITS_FINETUNE_MIN_CORRECTIONS = 30


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_finetune_force_trains_on_too_few_corrections_and_no_activate_keeps_the_candidate_inactive(
    active_model, staff_user, open_gate, capsys
) -> None:
    for i in range(5):  # fewer than the 30 a run needs
        corrected(i, 200 + i, reviewer=staff_user)

    call_command("finetune", force=True, no_activate=True, replay=200, members=1, epochs=1, seed=1, verbosity=0)

    run = TrainingRun.objects.get(kind=TrainingRun.Kind.FINETUNE)
    assert run.status == RunStatus.SUCCEEDED, f"{run.message} {run.error}"
    assert run.correction_samples + run.heldout_samples == 5  # --force: trained all the same
    assert run.parameters["force"] is True
    assert run.parameters["members"] == 1
    assert run.message.startswith("Passed the gate")
    assert run.message.endswith("Not activated (asked not to).")
    candidate = run.result_version
    assert not candidate.is_active
    assert ModelVersion.objects.active() == active_model
    assert candidate.training_command == (
        "python manage.py finetune --epochs=1 --replay=200 --members=1 --seed=1 --force --no-activate"
    )
    assert f"Training run #{run.pk} succeeded" in capsys.readouterr().out


@pytest.mark.same_on_any_database
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_seeded_fine_tune_is_repeatable(small_model, staff_user, settings) -> None:
    """DIGITS_FINETUNE_SEED (or --seed) makes a run repeatable: the same replay samples, augmentation and dropout, so
    the same candidate. The dropout's generator took its seed when the model was loaded, before the run's seed was set,
    until 2026-12-05: two runs of one seed differed from their first batch (MNIST 92.6% and 92.7%)."""
    settings.DIGITS_FINETUNE_SEED = 4
    for i in range(20):
        corrected(i % 10, 700 + i, reviewer=staff_user)
    runs = [
        fine_tune(FinetuneOptions.from_settings(replay=300, members=2, eval_limit=500, force=True, activate=False))
        for _ in range(2)
    ]
    assert all(run.status in {RunStatus.SUCCEEDED, RunStatus.REJECTED} for run in runs), [run.message for run in runs]
    assert runs[0].parameters["seed"] == 4
    assert runs[0].history["step_loss"] == runs[1].history["step_loss"]
    assert runs[0].metrics_after == runs[1].metrics_after


@pytest.mark.django_db
def test_without_force_too_few_corrections_are_not_trained_on(active_model, staff_user, open_gate) -> None:
    for i in range(5):
        corrected(i, 200 + i, reviewer=staff_user)
    call_command("finetune", replay=200, epochs=1, seed=1, verbosity=0)
    run = TrainingRun.objects.get(kind=TrainingRun.Kind.FINETUNE)
    assert (run.status, run.result_version) == (RunStatus.SKIPPED, None)
    assert run.message == "Skipped: 5 new distinct image(s) with a usable correction so far; at least 30 are needed."


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_candidate_is_not_activated_when_the_active_model_changed_while_it_trained(
    active_model, second_version, staff_user, open_gate, monkeypatch
) -> None:
    """Staff activated another version (here: while the candidate is evaluated): the candidate, trained from the old
    one, must not replace their choice, even though it passed the gate."""
    for i in range(30):
        corrected(i % 10, 300 + i, reviewer=staff_user)
    evaluate = finetune.evaluate_version

    def staff_activate_meanwhile(*args, **kwargs):
        if ModelVersion.objects.active() == active_model:
            registry.activate(second_version)
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(finetune, "evaluate_version", staff_activate_meanwhile)

    run = fine_tune(FinetuneOptions.from_settings(replay=200, epochs=1, seed=1))

    assert run.status == RunStatus.REJECTED, f"{run.message} {run.error}"
    assert run.base_version == active_model
    assert run.message.startswith("Passed the gate")
    assert run.message.endswith("Not activated: the active model changed while it trained.")
    candidate = run.result_version
    assert candidate.notes == run.message
    assert not candidate.is_active
    assert ModelVersion.objects.active() == second_version


def top_probabilities(version: ModelVersion, inputs: np.ndarray) -> np.ndarray:
    """The version's top probability on each 28x28 input, through LiteRT as web processes serve it."""
    with version.tflite_file.open("rb") as fh:
        return Classifier(fh.read()).predict_many(inputs).max(axis=1)


@pytest.mark.same_on_any_database
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_not_a_digit_corrections_teach_the_model_to_be_unsure_on_them(small_model, staff_user, open_gate) -> None:
    """Outlier exposure: letters people said are not digits train towards the uniform distribution over the digits,
    so the candidate's top probability on them falls; the held-out ones are measured before and after."""
    rng = np.random.default_rng(0)
    for i, char in enumerate("AKMWXHNEFRYVTPJUCL"):
        drawing = create_submission(png_bytes(letter(char, FONTS[i % 2], "pen", rng)), "user").ordered_drawings[0]
        correct(drawing, Drawing.NOT_A_DIGIT, reviewer=staff_user)
    for i in range(20):
        corrected(i % 10, 500 + i, reviewer=staff_user)
    selection = select_corrections()
    letters = selection.x_train[selection.y_train == Drawing.NOT_A_DIGIT]
    heldout = len(selection.heldout_not_digits)
    assert len(letters) >= 10
    assert heldout >= 1  # which are held out is a function of the inputs alone: the same on every run

    run = fine_tune(FinetuneOptions.from_settings(replay=2000, epochs=1, seed=1, members=1, activate=False))

    assert run.status == RunStatus.SUCCEEDED, f"{run.message} {run.error}"
    assert run.parameters["not_a_digit_corrections"] == len(letters)
    before, after = top_probabilities(small_model, letters), top_probabilities(run.result_version, letters)
    # One member (the soup of three is test_the_candidate_is_the_average_of_members_...'s; it costs three times as
    # long): measured 0.68 before, 0.54 after, 16 of the 17 letters less sure (the soup of three: 0.74-0.80 before,
    # 0.60-0.61 after, 13 of 17). Most letters, not every one:
    assert after.mean() < before.mean() - 0.05
    assert (after < before).mean() >= 0.7
    for metrics in (run.metrics_before, run.metrics_after):
        assert metrics["heldout_not_a_digit_count"] == heldout
        assert 0.0 <= metrics["heldout_not_a_digit_flagged"] <= metrics["heldout_not_a_digit_uncertain"] <= 1.0
        assert metrics["heldout_corrections_count"] == len(selection.y_heldout) - heldout
    # Measured, not asserted: one or two held-out letters may go either way (0.79 → 0.67, 0.89 → 0.30, 0.54 → 0.57).
    top = "heldout_not_a_digit_top_probability"
    assert 0.0 < run.metrics_after[top] <= 1.0
    assert "held-out not-a-digit corrections flagged" in run.message


@pytest.mark.same_on_any_database
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_finetune_outliers_trains_without_corrections_and_saves_the_named_default(
    small_model, small_model_files, open_gate, tmp_path, monkeypatch
) -> None:
    """``--outliers N``: generated non-digits with uniform targets are enough to train on (the outlier-exposure
    recipe tried on digits-v2, docs/feedback_loop.md); the candidate takes ``--name`` and ``--save-default`` writes
    it as the shipped model, in place of the previous model's files and beside the detector's and verifier's."""
    saved = tmp_path / "default_model"
    monkeypatch.setattr(shipped, "DEFAULT_MODEL_DIR", saved)
    saved.mkdir()
    for name in ("old.keras", "old.tflite", "not_a_digit.tflite", "not_a_digit.json", "whole_digit.tflite"):
        (saved / name).write_bytes(b"kept" if name.startswith(("not", "whole")) else b"old")
    (saved / "metadata.json").write_text('{"keras_file": "old.keras", "tflite_file": "old.tflite"}')
    flags = {"force": True, "no_activate": True, "save_default": True}
    call_command("finetune", replay=300, epochs=1, seed=1, outliers=300, name="oe", verbosity=0, **flags)
    run = TrainingRun.objects.get(kind=TrainingRun.Kind.FINETUNE)
    assert run.status == RunStatus.SUCCEEDED, f"{run.message} {run.error}"
    assert run.correction_samples == 0
    assert run.parameters["generated_outliers"] == 300
    candidate = run.result_version
    assert candidate.name == "oe"
    assert candidate.metrics["generated_outliers"] == 300
    assert candidate.metrics["train_samples"] == 300 + 300 + 100  # replay, non-digits, font digits
    assert candidate.training_command == (
        "python manage.py finetune --epochs=1 --replay=300 --seed=1 --outliers=300 --name=oe "
        "--force --no-activate --save-default"
    )
    others = {"not_a_digit.tflite", "not_a_digit.json", "whole_digit.tflite"}
    assert {p.name for p in saved.iterdir()} == {"oe.keras", "oe.tflite", "metadata.json", *others}
    assert all((saved / name).read_bytes() == b"kept" for name in others)
    assert shipped.metadata(saved)["tflite_file"] == "oe.tflite"
    # What it learnt: on non-digits it has not seen, it is less sure than the model it started from.
    unseen = outliers.generate(200, seed=99).images
    before = Classifier(small_model_files[1].read_bytes()).predict(unseen).max(axis=1)
    after = Classifier((saved / "oe.tflite").read_bytes()).predict(unseen).max(axis=1)
    assert after.mean() < before.mean()
