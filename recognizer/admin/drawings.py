"""Drawings and submissions in the admin: the review list, its filters and queue, and the bulk review actions (one of
them excludes every correction of a client that floods wrong ones)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from recognizer import policy, review
from recognizer.admin.filters import (
    ClientFilter,
    ConfidenceBandFilter,
    CorrectedDigitFilter,
    NetworkFilter,
    ReviewFilter,
    short_key,
)
from recognizer.admin.html import EMPTY, badge, model_input, percent, replay
from recognizer.core import strokes as core_strokes
from recognizer.export import build_data_set
from recognizer.models import Drawing, SplitCorrection, Submission

CorrectionStatus = Drawing.CorrectionStatus
STATUS_TONES = {
    CorrectionStatus.NONE: "off",
    CorrectionStatus.PENDING: "warn",
    CorrectionStatus.ACCEPTED: "ok",
    CorrectionStatus.REJECTED: "bad",
    CorrectionStatus.AUTO_ACCEPTED: "ok",
    CorrectionStatus.AUTO_EXCLUDED: "bad",
}
REVIEW_FIELDS = {"corrected_label", "correction_status", "excluded_from_training"}


class DrawingActionForm(ActionForm):
    """The action bar, plus the digit (or not a digit) that the "relabel" action gives the selected drawings."""

    label = forms.TypedChoiceField(
        label="as",
        choices=[("", "—"), *Drawing.LABEL_CHOICES],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="for “Relabel”",
    )


class DrawingForm(forms.ModelForm):
    """Editing one drawing's review fields: a correction status needs a corrected digit (or not a digit), and the
    other way round. The label's choices are the model field's: 0-9 and "not a digit"."""

    class Meta:
        model = Drawing
        fields = ["corrected_label", "correction_status", "excluded_from_training"]

    def clean(self) -> dict:
        data = super().clean()
        label, status = data.get("corrected_label"), data.get("correction_status")
        if label is None and status not in (None, CorrectionStatus.NONE):
            self.add_error("corrected_label", "A correction status needs a corrected digit.")
        if label is not None and status == CorrectionStatus.NONE:
            self.add_error("correction_status", "A corrected digit needs a status (pending, accepted or rejected).")
        return data


@admin.register(Drawing)
class DrawingAdmin(admin.ModelAdmin):
    form = DrawingForm
    action_form = DrawingActionForm
    list_display = [
        "id",
        "thumbnail",
        "model_view",
        "predicted",
        "confidence_bar",
        "correction",
        "trust_column",
        "client",
        "model_version",
        "created_at",
        "reviewed",
    ]
    list_display_links = ["id", "thumbnail"]
    list_filter = [
        ReviewFilter,
        "predicted_digit",
        CorrectedDigitFilter,
        "correction_status",
        ConfidenceBandFilter,
        "excluded_from_training",
        ("superseded_by", admin.EmptyFieldListFilter),
        ClientFilter,
        NetworkFilter,
        "model_version",
        "created_at",
        ("reviewed_by", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["=id", "=submission__id"]
    search_help_text = "Drawing id (or submission id)"
    date_hierarchy = "created_at"
    list_select_related = ["model_version", "reviewed_by"]
    list_per_page = 50
    actions = [
        "accept_corrections",
        "reject_corrections",
        "relabel",
        "confirm_predictions",
        "exclude_from_training",
        "exclude_clients",
        "exclude_networks",
        "include_in_training",
        "export_data_set",
    ]
    fieldsets = [
        (
            "Drawing",
            {
                "fields": [
                    "large_image",
                    "strokes_replay",
                    "model_view_large",
                    "submission",
                    "position",
                    "split",
                    "image_sha256",
                ]
            },
        ),
        (
            "Prediction",
            {
                "fields": [
                    "predicted_digit",
                    "confidence_pct",
                    "probability_bars",
                    "distance",
                    "detector",
                    "model_version",
                ]
            },
        ),
        ("Correction and review", {"fields": [*DrawingForm.Meta.fields, "corrected_at", "reviewed_by", "reviewed_at"]}),
        ("Trust", {"fields": ["trust", "decision_note", "trust_reasons", "review_priority"]}),
        ("Origin", {"fields": ["created_at", "client_key", "correction_network"], "classes": ["collapse"]}),
    ]
    # Everything shown is read-only except the review form's fields.
    readonly_fields = [
        name for _, options in fieldsets for name in options["fields"] if name not in DrawingForm.Meta.fields
    ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if request.GET.get(ReviewFilter.parameter_name) == ReviewFilter.NEEDED:
            title = "Needs review: pending corrections first, then the least confident predictions"
            extra_context = {**(extra_context or {}), "title": title}
        return super().changelist_view(request, extra_context)

    def get_ordering(self, request: HttpRequest) -> list:
        """The review queue comes sorted for review: pending corrections first, then the least confident."""
        if request.GET.get(ReviewFilter.parameter_name) == ReviewFilter.NEEDED:
            return review.REVIEW_ORDER
        return super().get_ordering(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # drawings come from users, through the page or the API

    def get_queryset(self, request: HttpRequest) -> QuerySet[Drawing]:
        """Each drawing with how many corrections its client made (the client column, which sorts by it)."""
        this_client = review.corrections_per_client().filter(client_key=OuterRef("client_key")).values("count")
        return super().get_queryset(request).annotate(client_corrections=Subquery(this_client))

    def save_model(self, request: HttpRequest, drawing: Drawing, form: forms.ModelForm, change: bool) -> None:
        """An edit of the review fields is a review: stamp who and when (and when the label changed)."""
        if REVIEW_FIELDS & set(form.changed_data):
            drawing.reviewed_by, drawing.reviewed_at = request.user, timezone.now()
        if "corrected_label" in form.changed_data:
            drawing.corrected_at = drawing.reviewed_at
        super().save_model(request, drawing, form, change)

    # Columns and read-only fields.

    @admin.display(description="drawing")
    def thumbnail(self, drawing: Drawing) -> SafeString:
        return format_html(
            '<img class="digits-thumb" src="{}" width="56" height="56" alt="drawing {}">', drawing.image.url, drawing.pk
        )

    @admin.display(description="model saw")
    def model_view(self, drawing: Drawing) -> SafeString:
        return model_input(drawing, 56)

    @admin.display(description="model saw (28x28, enlarged)")
    def model_view_large(self, drawing: Drawing) -> SafeString:
        return model_input(drawing, 224)

    @admin.display(description="drawing")
    def large_image(self, drawing: Drawing) -> SafeString:
        return format_html('<img class="digits-thumb digits-thumb--large" src="{}" alt="drawing">', drawing.image.url)

    @admin.display(description="strokes (replayed)")
    def strokes_replay(self, drawing: Drawing) -> SafeString:
        return replay(drawing.stroke_drawing)

    @admin.display(description="predicted", ordering="predicted_digit")
    def predicted(self, drawing: Drawing) -> SafeString:
        return format_html('<span class="digits-digit">{}</span>', drawing.predicted_digit)

    @admin.display(description="confidence", ordering="confidence")
    def confidence_bar(self, drawing: Drawing) -> SafeString:
        return format_html(
            '<span class="digits-meter" title="{}"><span style="width:{}%"></span></span> {}',
            percent(drawing.confidence, 2),
            f"{drawing.confidence * 100:.0f}",
            percent(drawing.confidence),
        )

    @admin.display(description="confidence")
    def confidence_pct(self, drawing: Drawing) -> str:
        return percent(drawing.confidence, 2)

    @admin.display(description="probabilities")
    def probability_bars(self, drawing: Drawing) -> SafeString:
        rows = format_html_join(
            "",
            '<div class="digits-prob"><b>{}</b><span class="digits-meter"><span style="width:{}%"></span></span>'
            " {}</div>",
            ((digit, f"{p * 100:.1f}", percent(p)) for digit, p in enumerate(drawing.probabilities)),
        )
        return format_html('<div class="digits-probs">{}</div>', rows)

    @admin.display(description="its number's split")
    def split(self, drawing: Drawing) -> str:
        split = drawing.superseded_by
        if split is None:
            return "current" if drawing.submission.split_corrections.exists() else EMPTY
        return f"Replaced when its number was read again as {split.digits_after} digits: {describe_split(split)}"

    @admin.display(description="correction", ordering="corrected_label")
    def correction(self, drawing: Drawing) -> SafeString:
        excluded = badge("excluded from training", "bad") if drawing.excluded_from_training else ""
        if drawing.superseded_by_id is not None:
            excluded = format_html("{} {}", excluded, badge("superseded: split again", "off"))
        if drawing.corrected_label is None:
            return format_html("{} {}", EMPTY, excluded)
        return format_html(
            '<span class="digits-digit{}">{}</span> {} {}',
            " digits-not-a-digit" if drawing.corrected_not_a_digit else "",
            drawing.get_corrected_label_display(),
            badge(drawing.get_correction_status_display(), STATUS_TONES[drawing.correction_status]),
            excluded,
        )

    @admin.display(description="trust", ordering="trust")
    def trust_column(self, drawing: Drawing) -> SafeString:
        if drawing.trust is None:
            return format_html("{}", EMPTY)
        tone = "ok" if drawing.trust >= 0.5 else "warn" if drawing.trust >= 0.35 else "bad"
        return format_html('<span title="{}">{}</span>', drawing.decision_note, badge(f"{drawing.trust:.2f}", tone))

    @admin.display(description="client: corrections", ordering="client_corrections")
    def client(self, drawing: Drawing) -> SafeString:
        if not drawing.client_key:
            return format_html("{}", EMPTY)
        return format_html(
            '<a href="?{}={}" title="this client\'s drawings">{}</a>: {}',
            ClientFilter.parameter_name,
            drawing.client_key,
            short_key(drawing.client_key),
            drawing.client_corrections or 0,
        )

    @admin.display(description="reviewed", ordering="reviewed_at")
    def reviewed(self, drawing: Drawing) -> str:
        if drawing.reviewed_at is None:
            return EMPTY
        who = drawing.reviewed_by.get_username() if drawing.reviewed_by else "(deleted user)"
        return f"{who}, {timezone.localtime(drawing.reviewed_at):%Y-%m-%d %H:%M}"

    # Bulk actions: each records who reviewed and when, on the drawings and in their history.

    def _done(self, request: HttpRequest, ids: list[int], selected: int, did: str, skipped: str = "") -> None:
        if ids:
            LogEntry.objects.log_actions(request.user.pk, Drawing.objects.filter(pk__in=ids), CHANGE, did)
        note = f"{did}: {len(ids)} drawing{'s' if len(ids) != 1 else ''}."
        if skipped and len(ids) < selected:
            note += f" {selected - len(ids)} skipped ({skipped})."
        self.message_user(request, note, messages.SUCCESS if ids else messages.WARNING)

    @admin.action(description="Accept the selected corrections", permissions=["change"])
    def accept_corrections(self, request: HttpRequest, queryset: QuerySet[Drawing]) -> None:
        keys = set(queryset.values_list("client_key", flat=True))
        self._done(request, review.accept(queryset, request.user), queryset.count(), "Accepted", "no correction")
        policy.reconsider(keys)  # the clients' records changed: their waiting corrections are decided again

    @admin.action(description="Reject the selected corrections", permissions=["change"])
    def reject_corrections(self, request: HttpRequest, queryset: QuerySet[Drawing]) -> None:
        keys = set(queryset.values_list("client_key", flat=True))
        self._done(request, review.reject(queryset, request.user), queryset.count(), "Rejected", "no correction")
        policy.reconsider(keys)

    @admin.action(description="Relabel as the digit (or not a digit) chosen next to the action", permissions=["change"])
    def relabel(self, request: HttpRequest, queryset: QuerySet[Drawing]) -> None:
        try:
            label = DrawingActionForm.base_fields["label"].clean(request.POST.get("label", ""))
        except ValidationError:
            label = None
        if label is None:
            self.message_user(request, "Choose the digit (or not a digit) to relabel the drawings as.", messages.ERROR)
            return
        ids = review.relabel(queryset, label, request.user)
        self._done(request, ids, queryset.count(), f"Relabelled as {Drawing.label_name(label)}")

    @admin.action(description="Confirm the predictions (reviewed, no correction)", permissions=["change"])
    def confirm_predictions(self, request: HttpRequest, queryset: QuerySet[Drawing]) -> None:
        ids = review.confirm(queryset, request.user)
        self._done(request, ids, queryset.count(), "Confirmed", "already corrected")

    @admin.action(description="Exclude from training", permissions=["change"])
    def exclude_from_training(self, request: HttpRequest, queryset: QuerySet[Drawing]) -> None:
        ids = review.set_excluded(queryset, True, request.user)
        self._done(request, ids, queryset.count(), "Excluded from training", "already excluded")

    @admin.action(description="Exclude every correction by the selected drawings' clients", permissions=["change"])
    def exclude_clients(self, request: HttpRequest, queryset: QuerySet[Drawing]) -> None:
        clients = queryset.exclude(client_key="").values("client_key").distinct().count()
        ids = review.exclude_clients(queryset, request.user)
        self._done(request, ids, len(ids), f"Excluded from training every correction by {clients} client(s)")

    @admin.action(description="Exclude every correction from the selected drawings' networks", permissions=["change"])
    def exclude_networks(self, request: HttpRequest, queryset: QuerySet[Drawing]) -> None:
        networks = queryset.exclude(submission__network_key="").values("submission__network_key").distinct().count()
        ids = review.exclude_networks(queryset, request.user)
        self._done(request, ids, len(ids), f"Excluded from training every correction from {networks} network(s)")

    @admin.action(description="Include in training again", permissions=["change"])
    def include_in_training(self, request: HttpRequest, queryset: QuerySet[Drawing]) -> None:
        ids = review.set_excluded(queryset, False, request.user)
        self._done(request, ids, queryset.count(), "Included in training", "not excluded")

    @admin.action(description="Export the training-ready corrections as a data set (zip)", permissions=["view"])
    def export_data_set(self, request: HttpRequest, queryset: QuerySet[Drawing]) -> HttpResponse | None:
        """Download the selected drawings that training would use (see recognizer.corrections) as NPZ + IDX."""
        data_set = build_data_set(within=queryset)
        if not data_set.manifest["count"] + data_set.manifest["not_a_digit_count"]:
            self.message_user(
                request, "None of the selected drawings has a correction that may train.", messages.WARNING
            )
            return None
        response = HttpResponse(data_set.zip_bytes(), content_type="application/zip")
        name = timezone.localtime().strftime("digits-corrections-%Y%m%d-%H%M%S.zip")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def describe_split(split: SplitCorrection) -> str:
    """A split for staff, e.g. "1 → 2 digits (1 → 14), 2026-12-02 14:03, by the client" (or the staff member)."""
    who = split.made_by.get_username() if split.made_by else "the client"
    when = timezone.localtime(split.created_at)
    return (
        f"{split.digits_before} → {split.digits_after} digits ({split.number_before} → {split.number_after}), "
        f"{when:%Y-%m-%d %H:%M}, by {who}"
    )


class DrawingInline(admin.TabularInline):
    model = Drawing
    fields = [
        "position",
        "model_view",
        "predicted_digit",
        "confidence",
        "corrected_label",
        "correction_status",
        "superseded",
    ]
    readonly_fields = fields
    # The current digits first, then each earlier split's, latest first (NULLs sort differently in each database).
    ordering = [F("superseded_by").desc(nulls_first=True), "position"]
    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="model saw")
    def model_view(self, drawing: Drawing) -> SafeString:
        return model_input(drawing, 56)

    @admin.display(description="split")
    def superseded(self, drawing: Drawing) -> SafeString:
        if drawing.superseded_by_id is None:
            return format_html("{}", "current")
        before = drawing.superseded_by.digits_before
        return badge(f"superseded ({before} digit{'' if before == 1 else 's'})", "off")


class SplitCorrectionInline(admin.TabularInline):
    """Each time the person said the number has another count of digits."""

    model = SplitCorrection
    verbose_name = "split corrected"
    verbose_name_plural = "splits corrected (the person said how many digits there were)"
    fields = ["what", "created_at", "made_by"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description="digits (number)")
    def what(self, split: SplitCorrection) -> str:
        return f"{split.digits_before} → {split.digits_after} digits ({split.number_before} → {split.number_after})"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["id", "number", "digits", "split", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["=id", "number"]
    readonly_fields = ["created_at", "client_key", "number", "image", "strokes_replay"]
    inlines = [SplitCorrectionInline, DrawingInline]

    @admin.display(description="strokes (replayed)")
    def strokes_replay(self, submission: Submission) -> SafeString:
        strokes = None if submission.strokes is None else core_strokes.decode(bytes(submission.strokes))
        return replay(strokes, height=160)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Submission]:
        latest = SplitCorrection.objects.filter(submission=OuterRef("pk")).order_by("-created_at", "-pk")
        return (
            super()
            .get_queryset(request)
            .annotate(
                digit_count=Count("drawings", filter=Q(drawings__superseded_by=None)),
                split_id=Subquery(latest.values("pk")[:1]),
            )
        )

    @admin.display(description="digits", ordering="digit_count")
    def digits(self, submission: Submission) -> int:
        return submission.digit_count

    @admin.display(description="split corrected")
    def split(self, submission: Submission) -> str:
        """The latest time the person said how many digits there were (most numbers: never)."""
        if submission.split_id is None:
            return EMPTY
        return describe_split(SplitCorrection.objects.select_related("made_by").get(pk=submission.split_id))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
