"""Shadow trials in the admin: the candidate against the active model on live drawings, with the figures so far, and
staff's promote / extend / stop actions (each recorded on the trial and in its history)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from recognizer.admin.html import EMPTY, percent
from recognizer.models import ShadowTrial
from recognizer.registry import ActivationRefused
from training import shadow


@admin.register(ShadowTrial)
class ShadowTrialAdmin(admin.ModelAdmin):
    list_display = ["id", "candidate", "baseline", "status", "progress", "live_figures", "started_at", "decided"]
    list_filter = ["status"]
    list_select_related = ["candidate", "baseline"]
    actions = ["promote_trials", "extend_trials", "stop_trials"]
    fields = [
        "candidate",
        "baseline",
        "training_run",
        "status",
        "progress",
        "live_figures",
        "started_at",
        "ends_at",
        "target_drawings",
        "extended",
        "decided_at",
        "decided_by",
        "reason",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a trial starts when a candidate passes the offline gate

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="drawings")
    def progress(self, trial: ShadowTrial) -> str:
        return f"{trial.predictions.count()} / {trial.target_drawings} (until {trial.ends_at:%Y-%m-%d %H:%M})"

    @admin.display(description="agreement with people (candidate vs active)")
    def live_figures(self, trial: ShadowTrial) -> SafeString:
        data = shadow.figures(trial) if trial.status == ShadowTrial.Status.RUNNING else None
        if data is None and trial.figures:
            fields = shadow.Figures.__dataclass_fields__
            data = shadow.Figures(**{k: v for k, v in trial.figures.items() if k in fields})
        if data is None or not data.judged:
            return format_html("{}", EMPTY)
        worst = ""
        if data.worst_digit is not None:
            worst = f"; reads the {data.worst_digit}s worse by {data.worst_digit_loss}"
        return format_html(
            "<b>{}</b> vs {} on {} judged ({} corrected); disagree on {}{}",
            percent(data.candidate_accuracy, 2),
            percent(data.baseline_accuracy, 2),
            data.judged,
            data.corrected,
            data.disagreements,
            worst,
        )

    @admin.display(description="decided")
    def decided(self, trial: ShadowTrial) -> str:
        if trial.decided_at is None:
            return EMPTY
        return f"{trial.decided_by}, {trial.decided_at:%Y-%m-%d %H:%M}"

    def _each_running(self, request: HttpRequest, queryset: QuerySet[ShadowTrial], verb: str, act) -> None:
        done = 0
        for trial in queryset.filter(status=ShadowTrial.Status.RUNNING):
            try:
                trial = act(trial)
            except ActivationRefused as exc:
                self.message_user(request, f"Trial #{trial.pk}: {exc}", messages.ERROR)
                continue
            note = f"{verb}: {trial.reason}"
            LogEntry.objects.log_actions(request.user.pk, [trial], CHANGE, note, single_object=True)
            done += 1
        self.message_user(request, f"{verb}: {done} trial(s).", messages.SUCCESS if done else messages.WARNING)

    @admin.action(description="Promote the candidate now", permissions=["change"])
    def promote_trials(self, request: HttpRequest, queryset: QuerySet[ShadowTrial]) -> None:
        who = request.user.get_username()
        self._each_running(request, queryset, "Promoted", lambda t: shadow.promote(t, who, f"Promoted by {who}."))

    @admin.action(description="Extend (another period and as many drawings)", permissions=["change"])
    def extend_trials(self, request: HttpRequest, queryset: QuerySet[ShadowTrial]) -> None:
        self._each_running(request, queryset, "Extended", lambda t: shadow.extend(t, request.user.get_username()))

    @admin.action(description="Stop (the candidate stays inactive)", permissions=["change"])
    def stop_trials(self, request: HttpRequest, queryset: QuerySet[ShadowTrial]) -> None:
        self._each_running(request, queryset, "Stopped", lambda t: shadow.stop(t, request.user.get_username()))
