"""Shadow trials: a candidate that passed the offline gate proves itself on live drawings before it is served.

While a trial runs, web processes (recognizer.serving) let the candidate read every live drawing beside the active
model and store its answers (``ShadowPrediction``), never shown. The trial ends after ``target_drawings`` drawings or
at ``ends_at``, whichever comes first; :func:`decide_trials` (a periodic task) then judges it:

- every trial drawing served by the baseline gets the digit people said it is: its standing correction (accepted,
  auto-accepted, pending), or the prediction itself when nobody corrected it (people saw it and let it be);
  drawings whose correction was rejected or auto-excluded say nothing and are left out;
- the candidate is **promoted** (activated) if it agrees with those digits at least as often as the active model
  did, and **refused** otherwise, with the figures;
- it is refused too if it reads one digit clearly worse (``MAX_DIGIT_LOSS``), however much better it reads the
  others: that is what a targeted poisoning looks like (one style of one digit taught a wrong label), and a model
  better on average can still fail a whole class of one digit;
- too few judged drawings: the trial is extended once, then refused for want of evidence.

Staff can promote, extend or stop a trial in the admin (every decision keeps who, when and why). Imports no Keras.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from recognizer import registry
from recognizer.models import Drawing, ModelVersion, ShadowPrediction, ShadowTrial, TrainingRun, TrustPolicy

Status = ShadowTrial.Status
CorrectionStatus = Drawing.CorrectionStatus
POLICY = "policy"
STANDING = (CorrectionStatus.ACCEPTED, CorrectionStatus.AUTO_ACCEPTED, CorrectionStatus.PENDING)
#: A candidate that gets wrong this many more drawings of one digit than it fixes (drawings of that digit the active
#: model read right, less those it missed that the candidate reads right) is refused.
MAX_DIGIT_LOSS = 3


def start_trial(candidate: ModelVersion, baseline: ModelVersion, run: TrainingRun | None = None) -> ShadowTrial:
    """Start a trial of ``candidate`` against the active ``baseline``; a trial still running is stopped (the newer
    candidate, trained on more corrections, replaces it)."""
    policy = TrustPolicy.current()
    now = timezone.now()
    with transaction.atomic():
        for old in ShadowTrial.objects.select_for_update().filter(status=Status.RUNNING):
            _close(old, Status.STOPPED, POLICY, f"Replaced by a newer candidate, {candidate.name}.")
        return ShadowTrial.objects.create(
            candidate=candidate,
            baseline=baseline,
            training_run=run,
            started_at=now,
            ends_at=now + timedelta(hours=policy.shadow_hours),
            target_drawings=policy.shadow_drawings,
        )


@dataclass(frozen=True)
class Figures:
    drawings: int  # live drawings both models read
    judged: int  # of which people said what digit they are
    baseline_right: int
    candidate_right: int
    corrected: int  # judged drawings with a standing correction
    candidate_right_on_corrected: int
    disagreements: int  # drawings on which the two models answered differently
    worst_digit: int | None = None  # the digit the candidate reads worst against the active model
    worst_digit_loss: int = 0  # of that digit: drawings it gets wrong that the active model read right, less fixes

    @property
    def baseline_accuracy(self) -> float | None:
        return self.baseline_right / self.judged if self.judged else None

    @property
    def candidate_accuracy(self) -> float | None:
        return self.candidate_right / self.judged if self.judged else None


def figures(trial: ShadowTrial) -> Figures:
    rows = ShadowPrediction.objects.filter(trial=trial, drawing__model_version=trial.baseline_id).values_list(
        "digit", "drawing__predicted_digit", "drawing__corrected_label", "drawing__correction_status"
    )
    drawings = judged = baseline_right = candidate_right = corrected = candidate_corrected = disagreements = 0
    loss = [0] * 10
    for shadow, served, label, status in rows.iterator():
        drawings += 1
        disagreements += shadow != served
        if label is None:
            truth = served
        elif label == Drawing.NOT_A_DIGIT:
            continue  # no digit to agree with: both models answer digits (how unsure they are is not compared)
        elif status in STANDING:
            truth = label
            corrected += 1
            candidate_corrected += shadow == label
        else:
            continue  # a rejected or auto-excluded correction says nothing about the digit
        judged += 1
        baseline_right += served == truth
        candidate_right += shadow == truth
        loss[truth] += (served == truth) - (shadow == truth)
    worst = max(range(10), key=lambda d: loss[d])
    return Figures(
        drawings,
        judged,
        baseline_right,
        candidate_right,
        corrected,
        candidate_corrected,
        disagreements,
        worst if loss[worst] > 0 else None,
        max(loss[worst], 0),
    )


def _close(trial: ShadowTrial, status: str, who: str, reason: str, data: Figures | None = None) -> ShadowTrial:
    trial.status, trial.decided_by, trial.decided_at, trial.reason = status, who, timezone.now(), reason
    if data is not None:
        trial.figures = {
            **asdict(data),
            "baseline_accuracy": data.baseline_accuracy,
            "candidate_accuracy": data.candidate_accuracy,
        }
    trial.save(update_fields=["status", "decided_by", "decided_at", "reason", "figures"])
    note = f"Shadow trial #{trial.pk}: {trial.get_status_display().lower()} by {who}: {reason}"
    ModelVersion.objects.filter(pk=trial.candidate_id).update(notes=f"{trial.candidate.notes} {note}".strip())
    return trial


def summary(data: Figures) -> str:
    if not data.judged:
        return f"{data.drawings} live drawing(s), none judged yet"
    return (
        f"on {data.judged} judged live drawings ({data.corrected} corrected), the candidate agreed with people "
        f"{data.candidate_accuracy:.2%}, the active model {data.baseline_accuracy:.2%}; "
        f"they disagreed on {data.disagreements} of {data.drawings}"
    )


def promote(trial: ShadowTrial, who: str, reason: str = "") -> ShadowTrial:
    """Activate the candidate (if the active model is still the baseline) and close the trial as promoted."""
    data = figures(trial)
    active = ModelVersion.objects.active()
    if active is None or active.pk != trial.baseline_id:
        return _close(trial, Status.REFUSED, who, f"the active model changed during the trial; {summary(data)}", data)
    registry.activate(trial.candidate)
    return _close(trial, Status.PROMOTED, who, reason or summary(data), data)


def extend(trial: ShadowTrial, who: str, hours: float | None = None, drawings: int | None = None) -> ShadowTrial:
    policy = TrustPolicy.current()
    trial.ends_at = max(trial.ends_at, timezone.now()) + timedelta(hours=hours or policy.shadow_hours)
    trial.target_drawings += drawings or policy.shadow_drawings
    trial.extended += 1
    trial.reason = f"Extended by {who} at {timezone.now():%Y-%m-%d %H:%M %Z}."
    trial.save(update_fields=["ends_at", "target_drawings", "extended", "reason"])
    return trial


def stop(trial: ShadowTrial, who: str) -> ShadowTrial:
    return _close(trial, Status.STOPPED, who, "Stopped; the candidate stays registered, inactive.", figures(trial))


def decide(trial: ShadowTrial, now=None) -> ShadowTrial:
    """Judge a running trial that is due (enough drawings, or its time is up); one that is not due is left alone."""
    now = now or timezone.now()
    data = figures(trial)
    if trial.status != Status.RUNNING or (data.drawings < trial.target_drawings and now < trial.ends_at):
        return trial
    policy = TrustPolicy.current()
    if data.judged < policy.shadow_min_labelled:
        if trial.extended == 0:
            return extend(trial, POLICY)
        return _close(trial, Status.REFUSED, POLICY, f"Not enough evidence: {summary(data)}.", data)
    if data.worst_digit_loss >= MAX_DIGIT_LOSS:
        why = (
            f"Reads the {data.worst_digit}s worse live: {data.worst_digit_loss} more of them wrong than the active "
            f"model (at most {MAX_DIGIT_LOSS - 1} allowed); {summary(data)}."
        )
        return _close(trial, Status.REFUSED, POLICY, why, data)
    if data.candidate_right >= data.baseline_right:
        return promote(trial, POLICY, f"At least as good live: {summary(data)}.")
    return _close(trial, Status.REFUSED, POLICY, f"Worse live than the active model: {summary(data)}.", data)


def decide_trials(now=None) -> list[ShadowTrial]:
    """Judge every running trial that is due (the periodic task); returns the trials looked at."""
    return [decide(trial, now) for trial in ShadowTrial.objects.filter(Q(status=Status.RUNNING)).order_by("pk")]
