"""The schema: model versions, drawings with their predictions and corrections, and training runs."""

from __future__ import annotations

import hashlib
import secrets

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from recognizer.core import strokes as core_strokes
from recognizer.core.open_set import NOT_A_DIGIT_LABEL
from recognizer.core.uncertainty import Judgement, judge


def input_sha256(model_input: bytes) -> str:
    """The identity of a model input: two drawings with the same 28x28 input are the same image to the model."""
    return hashlib.sha256(model_input).hexdigest()


class InputDigestField(models.CharField):
    """The SHA-256 (hex) of the row's ``model_input``, set on every insert, one by one or in bulk, so that the
    database can group and match drawings by what the model saw (a BinaryField cannot be indexed portably)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance: models.Model, add: bool) -> str:
        value = input_sha256(bytes(model_instance.model_input))
        setattr(model_instance, self.attname, value)
        return value


def model_artifact_path(instance: ModelVersion, filename: str) -> str:
    return f"models/{instance.name}/{filename}"


class ModelVersionQuerySet(models.QuerySet):
    def active(self) -> ModelVersion | None:
        return self.filter(is_active=True).first()


class ModelVersion(models.Model):
    """One trained model: its Keras and LiteRT artifacts (with checksums), metrics and lineage.

    Exactly one version is active at a time (a partial unique constraint enforces it); web processes serve that one.
    Versions are never deleted by the pipeline, so rolling back is activating an older one.
    """

    name = models.SlugField(max_length=80, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    keras_file = models.FileField(upload_to=model_artifact_path, max_length=255)
    keras_sha256 = models.CharField(max_length=64)
    tflite_file = models.FileField(upload_to=model_artifact_path, max_length=255)
    tflite_sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict, blank=True, help_text="mnist_test_accuracy, per_digit_accuracy, …")
    confusion_matrix = models.JSONField(default=list, blank=True, help_text="10x10 counts on the MNIST test set")
    training_command = models.TextField(blank=True)
    notes = models.TextField(blank=True, help_text="Why it was or was not activated.")
    trained_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def mnist_accuracy(self) -> float | None:
        return self.metrics.get("mnist_test_accuracy")


def _unguessable() -> str:
    """A random part for stored file names (128 bits): a name cannot be guessed from a time or a content."""
    return secrets.token_urlsafe(16)


def submission_image_path(instance: Submission, filename: str) -> str:
    return f"submissions/{instance.created_at:%Y/%m/%d}/number-{_unguessable()}.png"


class Submission(models.Model):
    """One request from one client: a single digit, or a number written as several digits side by side."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    client_key = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="The anonymous client's key (recognizer.api.authentication).",
    )
    network_key = models.CharField(
        max_length=16,
        blank=True,
        db_index=True,
        help_text="An anonymous key of the network it came from: a salted hash of its /24 or /64 (recognizer.network).",
    )
    number = models.CharField(max_length=64, blank=True, help_text="The predicted digits, left to right.")
    image = models.ImageField(
        upload_to=submission_image_path,
        blank=True,
        max_length=255,
        help_text="The whole submitted drawing of a number; a single digit's image is kept on its drawing.",
    )
    strokes = models.BinaryField(
        null=True,
        blank=True,
        help_text="A number's whole drawing as strokes when the client sent them (recognizer.core.strokes.encode).",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Submission {self.pk}: {self.number}"


def drawing_image_path(instance: Drawing, filename: str) -> str:
    """Where a drawing's image is stored: by day, under a random name (and its place in its number)."""
    return f"drawings/{instance.created_at:%Y/%m/%d}/{_unguessable()}-{instance.position}.png"


class Drawing(models.Model):
    """One drawn digit: the submitted image, the exact 28x28 input the model saw, the prediction and its correction."""

    class CorrectionStatus(models.TextChoices):
        NONE = "none", "No correction"
        PENDING = "pending", "Pending review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        #: Decided by the trust policy (recognizer.policy), reviewable and reversible by staff: auto-accepted ones
        #: train like accepted ones, auto-excluded ones never do.
        AUTO_ACCEPTED = "auto", "Auto-accepted"
        AUTO_EXCLUDED = "auto_excl", "Auto-excluded"

    #: ``corrected_label`` of a drawing a person says is not a digit at all (a letter, a doodle): one more answer
    #: beside 0-9, so that every rule about corrections (statuses, trust, review, selection) holds for it unchanged.
    NOT_A_DIGIT = NOT_A_DIGIT_LABEL
    LABEL_CHOICES = [(d, str(d)) for d in range(10)] + [(NOT_A_DIGIT, "not a digit")]

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="drawings")
    position = models.PositiveSmallIntegerField(default=0, help_text="Index of this digit within its number.")
    image = models.ImageField(upload_to=drawing_image_path, max_length=255)
    image_sha256 = models.CharField(max_length=64, db_index=True)
    model_input = models.BinaryField(help_text="The 28x28 uint8 input the model saw, row by row (784 bytes).")
    input_sha256 = InputDigestField(db_index=True, help_text="SHA-256 of the model input (set on save).")
    strokes = models.BinaryField(
        null=True,
        blank=True,
        help_text="This digit's strokes on its submission's canvas when the client sent them "
        "(recognizer.core.strokes.encode: ~300 bytes for a digit).",
    )
    predicted_digit = models.PositiveSmallIntegerField(db_index=True)
    confidence = models.FloatField()
    probabilities = models.JSONField()
    distance = models.FloatField(
        null=True,
        blank=True,
        help_text="How far the model's features for this drawing lie from the digits it learnt, 1 at the not-a-digit "
        "threshold (training.ml.export); empty for a model exported without it.",
    )
    detector = models.FloatField(
        "not-a-digit logit",
        null=True,
        blank=True,
        help_text="The not-a-digit detector's logit for this drawing, higher for less digit-like "
        "(recognizer.core.not_a_digit; weighed with the model's evidence by recognizer.core.open_set); empty when "
        "no detector was read.",
    )
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="drawings")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    client_key = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="The anonymous client's key (recognizer.api.authentication).",
    )
    corrected_label = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        db_index=True,
        choices=LABEL_CHOICES,
        help_text=f"What a person said it is: a digit 0-9, or {NOT_A_DIGIT_LABEL} for not a digit.",
    )
    corrected_at = models.DateTimeField(null=True, blank=True)
    correction_status = models.CharField(
        max_length=10, choices=CorrectionStatus.choices, default=CorrectionStatus.NONE, db_index=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    excluded_from_training = models.BooleanField(default=False)
    correction_network = models.CharField(
        max_length=32,
        blank=True,
        db_index=True,
        help_text="The network (a keyed hash of the /24 or /48 address prefix) the correction came from.",
    )
    trust = models.FloatField(
        null=True, blank=True, help_text="0-1: how far the correction can be trusted (recognizer.trust), on arrival."
    )
    trust_reasons = models.JSONField(default=dict, blank=True, help_text="The trust's parts and what they saw.")
    review_priority = models.FloatField(
        null=True, blank=True, help_text="For the review queue: how much a staff decision on it would help."
    )
    decision_note = models.TextField(blank=True, help_text="Why the trust policy decided (or would decide) as it did.")
    superseded_by = models.ForeignKey(
        "SplitCorrection",
        null=True,
        blank=True,
        # Deleted only with its submission (and so with this drawing): never leaves a wrong split looking current.
        on_delete=models.RESTRICT,
        related_name="superseded_drawings",
        help_text="Set when the person said its number has another count of digits: this digit was cut wrong, is "
        "kept for the record, and never trains.",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["correction_status", "confidence"])]
        constraints = [
            models.CheckConstraint(condition=Q(predicted_digit__lte=9), name="predicted_digit_0_9"),
            models.CheckConstraint(
                condition=Q(corrected_label__isnull=True) | Q(corrected_label__lte=NOT_A_DIGIT_LABEL),
                name="corrected_label_digit_or_not_a_digit",
            ),
        ]

    def __str__(self) -> str:
        return f"Drawing {self.pk}: {self.predicted_digit}"

    @classmethod
    def label_name(cls, label: int) -> str:
        """A label as people read it: "7", or "not a digit"."""
        return dict(cls.LABEL_CHOICES)[label]

    @property
    def corrected_not_a_digit(self) -> bool:
        return self.corrected_label == self.NOT_A_DIGIT

    @property
    def input_array(self) -> np.ndarray:
        """The stored model input as a (28, 28) uint8 array."""
        return np.frombuffer(bytes(self.model_input), dtype=np.uint8).reshape(28, 28)

    def judgement(self) -> Judgement:
        """How its answer is judged (:func:`recognizer.core.uncertainty.judge`), from what was stored when it was
        answered: the same drawing reads the same whenever it is shown."""
        return judge(self.input_array, self.probabilities, settings.DIGITS_LOW_CONFIDENCE, self.distance, self.detector)

    @property
    def stroke_drawing(self) -> core_strokes.Drawing | None:
        """The stored strokes, decoded; None for a drawing sent only as a picture."""
        return None if self.strokes is None else core_strokes.decode(bytes(self.strokes))


class SplitCorrection(models.Model):
    """A person said how many digits a number has: it was read again into that many, and its earlier digits were
    kept but superseded (:attr:`Drawing.superseded_by`)."""

    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, related_name="split_corrections")
    digits_before = models.PositiveSmallIntegerField()
    digits_after = models.PositiveSmallIntegerField()
    number_before = models.CharField(max_length=64)
    number_after = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The staff member who said it; empty when the client that drew it did.",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.digits_before} → {self.digits_after} digits: {self.number_before} → {self.number_after}"


def training_run_path(instance: TrainingRun, filename: str) -> str:
    return f"training_runs/{instance.pk or 'new'}/{filename}"


class TrainingRun(models.Model):
    """One training or fine-tuning attempt, kept whatever its outcome, with its progress, figures and result."""

    class Kind(models.TextChoices):
        TRAIN = "train", "Train from scratch"
        FINETUNE = "finetune", "Fine-tune"

    class RunStatus(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        SKIPPED = "skipped", "Skipped"
        REJECTED = "rejected", "Rejected by the gate"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.FINETUNE)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    progress = models.FloatField(default=0.0, help_text="Percent done while running.")
    stage = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a queued fine-tune was handed to the broker; one without it waits for the broker to be back.",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    base_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    result_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="training_runs"
    )
    parameters = models.JSONField(default=dict, blank=True)
    mnist_samples = models.PositiveIntegerField(default=0)
    correction_samples = models.PositiveIntegerField(default=0)
    heldout_samples = models.PositiveIntegerField(default=0)
    metrics_before = models.JSONField(default=dict, blank=True)
    metrics_after = models.JSONField(default=dict, blank=True)
    history = models.JSONField(default=dict, blank=True)
    curves_image = models.ImageField(upload_to=training_run_path, blank=True, max_length=255)
    confusion_image = models.ImageField(upload_to=training_run_path, blank=True, max_length=255)
    message = models.TextField(blank=True, help_text="Why it was skipped or rejected.")
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of the process running it; a stale one means it died."
    )
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds spent in each stage.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # The fine-tune lock: at most one running run of each kind. A run whose process died is marked failed
            # once its heartbeat is stale, which frees the lock (see training.runs).
            models.UniqueConstraint(fields=["kind"], condition=Q(status="running"), name="one_running_run_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class TrustPolicy(models.Model):
    """What the product decides by itself about corrections and new models; one row, edited by staff in the admin.

    Read with :meth:`current` (which creates the row with the defaults when missing).
    """

    class Mode(models.TextChoices):
        OFF = "off", "Off: every correction waits for staff"
        ADVISE = "advise", "Advise: compute trust and show what the policy would do; staff decide"
        DECIDE = "decide", "Decide: auto-accept and auto-exclude; staff decide the uncertain middle"

    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.ADVISE)
    accept_above = models.FloatField(default=0.5, help_text="Trust at or above which a correction is auto-accepted.")
    exclude_below = models.FloatField(default=0.35, help_text="Trust below which a correction is auto-excluded.")
    burst_corrections = models.PositiveIntegerField(
        default=30, help_text="More corrections than this from one client within the burst window lower its trust."
    )
    burst_minutes = models.PositiveIntegerField(default=10)
    shadow_trials = models.BooleanField(
        default=False,
        help_text="A candidate that passed the offline gate first runs beside the active model on live drawings.",
    )
    shadow_drawings = models.PositiveIntegerField(
        default=500, help_text="A shadow trial ends after this many live drawings…"
    )
    shadow_hours = models.FloatField(default=24.0, help_text="…or after this many hours, whichever comes first.")
    shadow_min_labelled = models.PositiveIntegerField(
        default=100, help_text="Fewer judged drawings than this at the end: the trial is extended once, then refused."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "trust policy"
        verbose_name_plural = "trust policy"
        constraints = [
            models.CheckConstraint(condition=Q(exclude_below__lte=F("accept_above")), name="exclude_below_accept"),
        ]

    def __str__(self) -> str:
        return f"Trust policy ({self.get_mode_display().split(':')[0]})"

    @classmethod
    def current(cls) -> TrustPolicy:
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy


class ShadowTrial(models.Model):
    """A candidate version that passed the offline gate, running beside the active model on live drawings.

    Its answers are stored (:class:`ShadowPrediction`), never shown; it is promoted only if it agrees with what people
    said about those drawings at least as well as the active model (training.shadow decides, staff may override).
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PROMOTED = "promoted", "Promoted"
        REFUSED = "refused", "Refused"
        STOPPED = "stopped", "Stopped by staff"

    candidate = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="shadow_trials")
    baseline = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="+", help_text="The active model it is compared with."
    )
    training_run = models.ForeignKey(
        "TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="shadow_trials"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField(help_text="The trial is decided at this time at the latest…")
    target_drawings = models.PositiveIntegerField(help_text="…or once this many live drawings have been read by both.")
    extended = models.PositiveSmallIntegerField(default=0)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True, help_text='"policy", or the staff member.')
    figures = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="running"), name="one_running_shadow_trial")
        ]

    def __str__(self) -> str:
        return f"Shadow trial #{self.pk}: {self.candidate} vs {self.baseline} ({self.status})"


class ShadowPrediction(models.Model):
    """A shadow candidate's answer for one live drawing: stored, never shown."""

    trial = models.ForeignKey(ShadowTrial, on_delete=models.CASCADE, related_name="predictions")
    drawing = models.ForeignKey(Drawing, on_delete=models.CASCADE, related_name="shadow_predictions")
    digit = models.PositiveSmallIntegerField()
    confidence = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trial", "drawing"], name="one_shadow_answer_per_drawing")]

    def __str__(self) -> str:
        return f"Shadow answer {self.digit} for drawing {self.drawing_id} (trial {self.trial_id})"
