"""Fine-tuning the active model on MNIST plus users' corrections, and the gate that decides whether it is served.

One call of :func:`fine_tune` is one :class:`~recognizer.models.TrainingRun`, whatever happens:

1. claim the fine-tune lock (:mod:`training.runs`); skip, with the reason, when fewer than
   ``DIGITS_FINETUNE_MIN_CORRECTIONS`` distinct images got a usable correction since the last fine-tune that trained
   (copies of one input count once, and an image already trained on with the same label not at all:
   :func:`recognizer.corrections.new_corrections_since`);
2. start from the active model's ``.keras`` and train (``DIGITS_FINETUNE_EPOCHS``) on a random replay sample of
   MNIST plus the training share of the corrections (their stored 28x28 inputs, selected by
   :mod:`recognizer.corrections`; a drawing people said is not a digit has the uniform distribution over the ten
   digits as its target, outlier exposure, so the model learns to be unsure on such drawings),
   repeated so that they make up ``DIGITS_FINETUNE_CORRECTION_SHARE`` of the examples, every repeat augmented
   differently: a few hundred corrections then weigh as much as thousands of MNIST images, while the replay keeps
   the model from forgetting MNIST; ``outliers`` generated non-digits (:mod:`training.ml.outliers`, uniform targets
   too, with a third as many digits drawn from the same fonts) may join them, to teach doubt on letters, shapes
   and scribbles; the replay's targets are mostly the active model's answer, the rest label
   (``DIGITS_FINETUNE_DISTILL``);
   ``DIGITS_FINETUNE_MEMBERS`` such fine-tunes, each on its own replay sample, are averaged, and the candidate is
   that average weighted with the active model's weights (``DIGITS_FINETUNE_INTERPOLATION``), which keeps more of
   both (:func:`train_soup`);
3. evaluate the candidate and the active model, both as exported ``.tflite`` through LiteRT (exactly what web
   processes would serve), on the 10,000 MNIST test images and on the held-out corrections neither trained on: the
   accuracy on those to a digit, and the share of the not-a-digit ones the product would flag as not a digit;
4. register the candidate as a new version (parent: the active one) and activate it only if it passes the gate:
   MNIST test accuracy at most ``DIGITS_GATE_MAX_MNIST_DROP`` below the active model's, held-out accuracy and the
   held-out not-a-digit share flagged each at most ``DIGITS_GATE_MAX_HELDOUT_DROP`` below it (both 0 by default: at
   least as good). A rejected candidate stays registered, inactive, with the reason.
   With shadow trials on (``TrustPolicy.shadow_trials``), a candidate that passed is not activated but starts a
   shadow trial (:mod:`training.shadow`), which promotes it only if it does as well on live drawings.

Activation is the last step, so a run that dies anywhere before leaves the active model untouched.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone

from recognizer import registry, serving
from recognizer.core import figures
from recognizer.core.open_set import NOT_A_DIGIT_LABEL
from recognizer.corrections import CorrectionSet, new_corrections_since, select_corrections
from recognizer.models import ModelVersion, TrainingRun, TrustPolicy
from training import shadow
from training.ml import outliers
from training.ml.evaluate import evaluate_tflite, mnist_test_metrics, not_a_digit_metrics
from training.ml.export import export_artifacts
from training.ml.fit import History, dense_targets, fit, prepare_images, seeded
from training.ml.mnist import load_mnist
from training.ml.model import compile_annealed
from training.runs import ProgressFn, RunBusy, RunRecorder, claim

RunStatus = TrainingRun.RunStatus
#: However few the corrections, none is repeated more than this many times per epoch (it would be learnt by heart).
MAX_REPEATS = 40


@dataclass
class FinetuneOptions:
    """One fine-tune's parameters; :meth:`from_settings` fills them from the ``DIGITS_FINETUNE_*`` settings."""

    min_corrections: int
    epochs: int
    replay: int
    correction_share: float
    heldout_share: float
    learning_rate: float
    batch_size: int
    eval_limit: int
    max_mnist_drop: float
    max_heldout_drop: float
    max_flagged_rise: float
    train_on_pending: bool
    interpolation: float
    distill: float
    members: int
    outliers: int = 0
    name: str | None = None
    force: bool = False
    activate: bool = True
    seed: int | None = None
    mnist_dir: str | None = None
    command: str = ""
    verbose: int = 0

    @classmethod
    def from_settings(cls, **overrides) -> FinetuneOptions:
        """The configured options; ``overrides`` that are not None replace them."""
        values = {
            "min_corrections": settings.DIGITS_FINETUNE_MIN_CORRECTIONS,
            "epochs": settings.DIGITS_FINETUNE_EPOCHS,
            "replay": settings.DIGITS_FINETUNE_REPLAY,
            "correction_share": settings.DIGITS_FINETUNE_CORRECTION_SHARE,
            "heldout_share": settings.DIGITS_FINETUNE_HELDOUT_SHARE,
            "learning_rate": settings.DIGITS_FINETUNE_LEARNING_RATE,
            "batch_size": settings.DIGITS_FINETUNE_BATCH_SIZE,
            "eval_limit": settings.DIGITS_FINETUNE_EVAL_LIMIT,
            "max_mnist_drop": settings.DIGITS_GATE_MAX_MNIST_DROP,
            "max_heldout_drop": settings.DIGITS_GATE_MAX_HELDOUT_DROP,
            "max_flagged_rise": settings.DIGITS_GATE_MAX_FLAGGED_RISE,
            "train_on_pending": settings.DIGITS_TRAIN_ON_PENDING,
            "interpolation": settings.DIGITS_FINETUNE_INTERPOLATION,
            "distill": settings.DIGITS_FINETUNE_DISTILL,
            "members": settings.DIGITS_FINETUNE_MEMBERS,
            "seed": settings.DIGITS_FINETUNE_SEED,
        }
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str


def allowance(max_drop: float) -> str:
    """What the gate allows, in words for the run's message."""
    return f"the gate allows down to {-max_drop * 100:+.2f}" if max_drop > 0 else "the gate allows no loss"


def gate(before: dict, after: dict, options: FinetuneOptions) -> Verdict:
    """Compare the candidate (``after``) with the active model (``before``) on the same images."""
    summary = (
        f"MNIST test accuracy {before['mnist_test_accuracy']:.2%} → {after['mnist_test_accuracy']:.2%} "
        f"on {after['mnist_test_count']} images"
    )
    failures = []
    change = after["mnist_test_accuracy"] - before["mnist_test_accuracy"]
    if change < -options.max_mnist_drop - 1e-9:
        failures.append(f"MNIST test accuracy changed {change * 100:+.2f} points, {allowance(options.max_mnist_drop)}")
    held_out = [
        ("heldout_corrections_accuracy", "heldout_corrections_count", "held-out corrections", "accuracy"),
        ("heldout_not_a_digit_flagged", "heldout_not_a_digit_count", "held-out not-a-digit corrections", "flagged"),
    ]
    for key, count, what, figure in held_out:
        if not after.get(count):
            continue
        summary += f"; {what} {figure} {before[key]:.2%} → {after[key]:.2%} on {after[count]}"
        change = after[key] - before[key]
        if change < -options.max_heldout_drop - 1e-9:
            failures.append(
                f"{what} {figure} changed {change * 100:+.2f} points, {allowance(options.max_heldout_drop)}"
            )
    if "mnist_test_flagged" in before and "mnist_test_flagged" in after:
        summary += (
            f"; MNIST test digits answered not a digit {before['mnist_test_flagged']:.2%} → "
            f"{after['mnist_test_flagged']:.2%}"
        )
        rise = after["mnist_test_flagged"] - before["mnist_test_flagged"]
        if rise > options.max_flagged_rise + 1e-9:
            failures.append(
                f"MNIST test digits answered not a digit rose {rise * 100:+.2f} points, the gate allows up to "
                f"{options.max_flagged_rise * 100:+.2f}"
            )
    if not any(after.get(count) for _, count, _, _ in held_out):
        summary += "; no held-out corrections yet, judged on MNIST alone"
    if failures:
        return Verdict(False, f"Rejected by the gate: {'; '.join(failures)}. {summary}.")
    return Verdict(True, f"Passed the gate: {summary}.")


def correction_repeats(replay: int, corrections: int, share: float) -> int:
    """How many times each correction appears per epoch so corrections make up ``share`` of the examples."""
    if corrections == 0 or share <= 0:
        return 0
    wanted = share * replay / ((1.0 - share) * corrections) if share < 1 else MAX_REPEATS
    return int(min(MAX_REPEATS, max(1, round(wanted))))


@dataclass(frozen=True)
class TrainingSet:
    """What a fine-tune trains on (``x``, ``y``: the replay sample, the repeated corrections, then the generated
    outliers) and is tested on."""

    x: np.ndarray
    y: np.ndarray
    replay: int
    repeats: int
    outliers: int
    x_test: np.ndarray
    y_test: np.ndarray


def training_sets(corrections: CorrectionSet, options: FinetuneOptions) -> list[TrainingSet]:
    """One :class:`TrainingSet` per member of the soup (``options.members``), sharing one read of MNIST and one
    prepared MNIST test set: each member's random MNIST replay sample (from ``options.seed`` and its number, when
    seeded) plus the training corrections repeated to their share and ``options.outliers`` generated non-digits
    (labelled not a digit), all through the serving preprocessing."""
    mnist = load_mnist(Path(options.mnist_dir or settings.DIGITS_MNIST_DIR))
    limit = options.eval_limit or len(mnist.y_test)
    x_test, y_test = prepare_images(mnist.x_test[:limit]), mnist.y_test[:limit]
    sets = []
    for member in range(options.members):
        rng = np.random.default_rng(options.seed if member == 0 or options.seed is None else [options.seed, member])
        replay = np.sort(rng.choice(len(mnist.y_train), size=min(options.replay, len(mnist.y_train)), replace=False))
        repeats = correction_repeats(len(replay), len(corrections.y_train), options.correction_share)
        others = outliers.generate(options.outliers, seed=int(rng.integers(2**31)))
        sets.append(
            TrainingSet(
                x=np.concatenate(
                    [
                        prepare_images(mnist.x_train[replay]),
                        np.tile(corrections.x_train, (repeats, 1, 1)),
                        others.images,
                    ]
                ),
                y=np.concatenate([mnist.y_train[replay], np.tile(corrections.y_train, repeats), others.labels]),
                replay=len(replay),
                repeats=repeats,
                outliers=int((others.labels == NOT_A_DIGIT_LABEL).sum()),
                x_test=x_test,
                y_test=y_test,
            )
        )
    return sets


def distance_digits(data: TrainingSet, corrections: CorrectionSet, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """What the candidate's distance to the digits is fitted on (:mod:`training.ml.export`): its replay's MNIST
    digits and the training corrections to a digit, so that the hands of the site's own users are not "far"; shuffled
    (the export fits on the first ``DISTANCE_DIGITS`` and holds the last part of those out to set the scale)."""
    own = corrections.y_train != NOT_A_DIGIT_LABEL
    x = np.concatenate([data.x[: data.replay], corrections.x_train[own]])
    y = np.concatenate([data.y[: data.replay], corrections.y_train[own]]).astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    return x[order], y[order]


@dataclass(frozen=True)
class DetectorLogits:
    """The not-a-digit detector's logits of the images both models are judged on (None without a detector): they
    do not depend on the digit model, so they are read once per run."""

    mnist_test: np.ndarray | None
    heldout_not_digits: np.ndarray | None

    @classmethod
    def read(cls, data: TrainingSet, corrections: CorrectionSet) -> DetectorLogits:
        return cls(serving.not_a_digit_logits(data.x_test), serving.not_a_digit_logits(corrections.heldout_not_digits))


def evaluate_version(
    model_content: bytes,
    data: TrainingSet,
    corrections: CorrectionSet,
    temperature: float,
    detector_logits: DetectorLogits,
) -> tuple[dict, list[list[int]], list[list[int]]]:
    """A model's figures on the MNIST test images and the held-out corrections, with both confusion matrices
    (its MNIST confidences, and its answers to the MNIST test digits and to the held-out not-a-digit corrections, at
    the calibration ``temperature`` it serves with, and with the not-a-digit detector's ``detector_logits`` of both,
    read once for the candidate and the active model)."""
    metrics, mnist_matrix = mnist_test_metrics(
        model_content, data.x_test, data.y_test, temperature, detector_logits.mnist_test
    )
    heldout, heldout_matrix = evaluate_tflite(model_content, *corrections.heldout_digits)
    metrics.update(heldout_corrections_accuracy=heldout["accuracy"], heldout_corrections_count=heldout["count"])
    others = not_a_digit_metrics(
        model_content,
        corrections.heldout_not_digits,
        temperature,
        settings.DIGITS_LOW_CONFIDENCE,
        detector_logits.heldout_not_digits,
    )
    metrics.update({f"heldout_not_a_digit_{key}": value for key, value in others.items()})
    return metrics, mnist_matrix, heldout_matrix


def last_trained_run() -> TrainingRun | None:
    """The last fine-tune that got as far as training a candidate (skipped and failed runs do not count)."""
    return (
        TrainingRun.objects.filter(kind=TrainingRun.Kind.FINETUNE, status__in=[RunStatus.SUCCEEDED, RunStatus.REJECTED])
        .order_by("-started_at")
        .first()
    )


def fine_tune(
    options: FinetuneOptions,
    run: TrainingRun | None = None,
    echo: Callable[[str], None] | None = None,
    progress: ProgressFn | None = None,
) -> TrainingRun:
    """Run the whole pipeline as ``run`` (a queued row, or a new one); returns the finished run.

    A failure is recorded on the run (status failed, the error) and re-raised.
    """
    run = run or TrainingRun()
    run.kind = TrainingRun.Kind.FINETUNE
    run.parameters = {k: v for k, v in asdict(options).items() if k not in {"command", "verbose", "mnist_dir"}}
    try:
        claim(run)
    except RunBusy as busy:
        run.status, run.message, run.finished_at = RunStatus.SKIPPED, f"Skipped: {busy}.", timezone.now()
        run.save()
        return run
    with RunRecorder(run, echo=echo, progress=progress) as recorder:
        try:
            return _fine_tune(run, recorder, options)
        except BaseException as exc:
            recorder.fail(exc)
            raise


def _fine_tune(run: TrainingRun, recorder: RunRecorder, options: FinetuneOptions) -> TrainingRun:
    base = ModelVersion.objects.active()
    if base is None:
        return recorder.finish(RunStatus.SKIPPED, "Skipped: no model version is active.")
    run.base_version = base
    last = last_trained_run()
    new = new_corrections_since(last.started_at if last else None, include_pending=options.train_on_pending)
    if new < options.min_corrections and not options.force:
        since = f"since run #{last.pk} of {last.started_at:%Y-%m-%d %H:%M %Z}" if last else "so far"
        return recorder.finish(
            RunStatus.SKIPPED,
            f"Skipped: {new} new distinct image(s) with a usable correction {since}; "
            f"at least {options.min_corrections} are needed.",
        )

    with recorder.timed("data"):
        recorder.stage(2, f"selecting corrections and {options.members} MNIST replay sample(s)")
        corrections = select_corrections(options.heldout_share, include_pending=options.train_on_pending)
        if len(corrections.y_train) == 0 and not options.outliers:
            return recorder.finish(
                RunStatus.SKIPPED, f"Skipped: no correction to train on ({corrections.total} usable, all held out)."
            )
        sets = training_sets(corrections, options)
        data = sets[0]
        run.mnist_samples = data.replay
        run.correction_samples = len(corrections.y_train)
        run.heldout_samples = len(corrections.y_heldout)
        run.parameters.update(
            correction_repeats=data.repeats,
            generated_outliers=data.outliers,
            duplicates_dropped=corrections.duplicates,
            not_a_digit_corrections=corrections.not_a_digit_train,
        )
        run.save(update_fields=["base_version", "mnist_samples", "correction_samples", "heldout_samples", "parameters"])

    with tempfile.TemporaryDirectory() as tmp:
        with recorder.timed("train"):
            recorder.stage(
                8,
                f"fine-tuning {base.name}: {data.replay} MNIST + {len(corrections.y_train)} corrections "
                f"({corrections.not_a_digit_train} not a digit) x{data.repeats} + {data.outliers} generated outliers, "
                f"{options.epochs} epoch(s), {options.members} member(s)",
            )
            # The parent's label smoothing, kept: hard targets would sharpen a model trained on smoothed ones, and the
            # candidate serves with the parent's temperature.
            smoothing = float(base.metrics.get("label_smoothing", 0.0))
            with seeded(options.seed):  # repeatable: loaded in it, the dropout's generator is seeded too
                model = _load_keras(base, Path(tmp))
                history = train_soup(model, sets, corrections, options, recorder, smoothing)
        name = options.name or f"ft{run.pk}-{timezone.now():%Y%m%d-%H%M%S}"
        with recorder.timed("export"):
            recorder.stage(80, "exporting the candidate (.keras, .tflite)")
            keras_path, tflite_path = export_artifacts(
                model, Path(tmp) / "out", name, distance_digits(sets[0], corrections, options.seed)
            )
        with recorder.timed("evaluate"):
            recorder.stage(84, f"evaluating the candidate and {base.name} on {len(data.y_test)} MNIST test images")
            temperature = base.metrics.get("temperature", 1.0)  # the candidate inherits it (below)
            logits = DetectorLogits.read(data, corrections)
            after, mnist_matrix, heldout_after = evaluate_version(
                tflite_path.read_bytes(), data, corrections, temperature, logits
            )
            with base.tflite_file.open("rb") as fh:
                before, _, heldout_before = evaluate_version(fh.read(), data, corrections, temperature, logits)
        verdict = gate(before, after, options)
        run.metrics_before, run.metrics_after, run.history = before, after, history.as_dict()
        with recorder.timed("figures"):
            recorder.stage(92, "drawing the curves and confusion matrices")
            curves = figures.png(figures.curves_figure(run.history, "held-out corrections"))
            run.curves_image.save("curves.png", ContentFile(curves), save=False)
            panels = [
                (f"{base.name} (active) on held-out corrections", heldout_before),
                ("candidate on held-out corrections", heldout_after),
                ("candidate on MNIST test", mnist_matrix),
            ]
            run.confusion_image.save(
                "confusion.png", ContentFile(figures.png(figures.confusion_figure(panels))), save=False
            )
        with recorder.timed("register"):
            recorder.stage(95, f"registering {name}")
            version = registry.register_version(
                name,
                keras_path,
                tflite_path,
                metrics={
                    **after,
                    "train_samples": len(data.y),
                    "mnist_replay": data.replay,
                    "corrections": len(corrections.y_train),
                    "generated_outliers": data.outliers,
                    "epochs": options.epochs,
                    # Not refitted (no held-out handwriting here): the parent's calibration, the best guess.
                    "temperature": temperature,
                    "label_smoothing": smoothing,
                },
                confusion_matrix=mnist_matrix,
                parent=base,
                training_command=options.command,
                notes=verdict.reason,
            )
            run.result_version = version
            status, message = _activate_if_passed(run, version, base, verdict, options)
    return recorder.finish(status, message)


def train_soup(
    model: keras.Model,
    sets: list[TrainingSet],
    corrections: CorrectionSet,
    options: FinetuneOptions,
    recorder: RunRecorder,
    label_smoothing: float = 0.0,
) -> History:
    """Fine-tune a copy of the active ``model`` on each of ``sets`` (one per member, each in its own order), and
    leave ``model`` with the candidate's weights: their average (a model soup, Wortsman et al., 2022),
    interpolated towards the active model's. Returns the first member's history (for the curves). Targets are
    smoothed by ``label_smoothing``, the parent's.

    One fine-tune moves MNIST test accuracy by a few images either way, by chance alone (the replay sample, the
    augmentation); averaging members cancels much of that chance, so the candidate passes a gate that allows no
    loss on MNIST more often, with what the corrections taught intact.
    """
    base_weights = model.get_weights()
    validation = (corrections.x_heldout, corrections.y_heldout) if len(corrections.y_heldout) else None
    soup, histories = [], []
    share = (80 - 8) / len(sets)  # of the run's progress: training runs from 8% to 80%
    for member, member_data in enumerate(sets):
        model.set_weights(base_weights)
        compile_annealed(
            model, options.learning_rate, len(member_data.y), options.batch_size, options.epochs, label_smoothing
        )
        history = fit(
            model,
            member_data.x,
            distilled_targets(model, member_data, options.distill),
            epochs=options.epochs,
            batch_size=options.batch_size,
            validation=validation,
            progress=recorder.within(8 + member * share, 8 + (member + 1) * share),
            verbose=options.verbose,
            decay="optimizer",
            seed=member,
        )
        histories.append(history)
        soup.append(model.get_weights())
    model.set_weights([np.mean(weights, axis=0).astype(weights[0].dtype) for weights in zip(*soup, strict=True)])
    interpolate(model, base_weights, options.interpolation)
    return histories[0]


def distilled_targets(model: keras.Model, data: TrainingSet, share: float) -> np.ndarray:
    """The training targets, with each replayed MNIST image's one-hot target mixed with ``share`` of the active
    model's own answer to it.

    Learning without Forgetting (Li & Hoiem, 2016): the replay then asks the candidate to keep the active model's
    answers on MNIST, its doubts included, not only to get the labels right, so what the corrections teach moves
    MNIST less.
    """
    targets = dense_targets(data.y)
    if share > 0 and data.replay:
        replay = data.x[: data.replay].astype(np.float32)[..., None]
        teacher = model.predict(replay, batch_size=512, verbose=0)
        targets[: data.replay] = (1.0 - share) * targets[: data.replay] + share * teacher
    return targets


def interpolate(model: keras.Model, base_weights: list[np.ndarray], share: float) -> None:
    """Set the fine-tuned ``model``'s weights to ``share`` of themselves plus the rest of the active model's.

    Weight-space ensembling (WiSE-FT, Wortsman et al., 2022): the two models are close enough that their average is
    a good model too, and it keeps most of what the corrections taught along with most of what the active model knew,
    which is what the gate asks for.
    """
    if share >= 1.0:
        return
    tuned = model.get_weights()
    model.set_weights(
        [
            share * new + (1.0 - share) * old if np.issubdtype(new.dtype, np.floating) else new
            for new, old in zip(tuned, base_weights, strict=True)
        ]
    )


def _load_keras(version: ModelVersion, directory: Path) -> keras.Model:
    """The version's Keras model, read from storage (which may not be a local file system)."""
    path = directory / "base.keras"
    with version.keras_file.open("rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return keras.models.load_model(path, compile=False)


def _activate_if_passed(
    run: TrainingRun, version: ModelVersion, base: ModelVersion, verdict: Verdict, options: FinetuneOptions
) -> tuple[str, str]:
    """Activate the candidate if the gate passed and nothing changed under the run; returns (status, message)."""
    if not verdict.passed:
        return RunStatus.REJECTED, verdict.reason
    if not options.activate:
        return RunStatus.SUCCEEDED, f"{verdict.reason} Not activated (asked not to)."
    reason = ""
    if ModelVersion.objects.active() != base:
        reason = "the active model changed while it trained"
    elif not TrainingRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).exists():
        reason = "this run lost its lock (its heartbeat went stale)"
    if reason:
        version.notes = f"{verdict.reason} Not activated: {reason}."
        version.save(update_fields=["notes"])
        return RunStatus.REJECTED, version.notes
    if TrustPolicy.current().shadow_trials:
        trial = shadow.start_trial(version, base, run)
        return RunStatus.SUCCEEDED, (
            f"{verdict.reason} Shadow trial #{trial.pk} started: {version.name} reads live drawings beside "
            f"{base.name} and is promoted if it agrees with people at least as well."
        )
    registry.activate(version)
    return RunStatus.SUCCEEDED, f"{verdict.reason} Activated {version.name}."
