"""Training runs in the admin: live progress, figures, errors, the "fine-tune now" button and the schedule.

The button records a queued run and sends the Celery task ``recognizer.tasks.fine_tune`` for it (the worker owns the
code); if the broker is unreachable the run waits for it and is sent when it is back (:mod:`training.tasks`), and
the button says so. The schedule is django-celery-beat's periodic task for that same name, edited in its own admin.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST
from django_celery_beat.models import PeriodicTask

from recognizer.admin.html import EMPTY, percent, run_progress
from recognizer.core import figures
from recognizer.models import TrainingRun
from training.tasks import queue_fine_tune

FINE_TUNE_TASK = "recognizer.tasks.fine_tune"
FINAL = {
    TrainingRun.RunStatus.SUCCEEDED,
    TrainingRun.RunStatus.SKIPPED,
    TrainingRun.RunStatus.REJECTED,
    TrainingRun.RunStatus.FAILED,
}


def may_queue_fine_tune(user) -> bool:
    """Queuing a fine-tune creates a training run, so it takes the permission to add one."""
    return user.is_active and user.is_staff and user.has_perm("recognizer.add_trainingrun")


def schedule_links() -> dict:
    """The fine-tune's periodic tasks (django-celery-beat) and the admin links to see or add one."""
    return {
        "schedules": PeriodicTask.objects.filter(task=FINE_TUNE_TASK).select_related("interval", "crontab"),
        "schedule_url": reverse("admin:django_celery_beat_periodictask_changelist")
        + "?"
        + urlencode({"task": FINE_TUNE_TASK}),
        "schedule_add_url": reverse("admin:django_celery_beat_periodictask_add")
        + "?"
        + urlencode({"task": FINE_TUNE_TASK, "name": "Fine-tune on corrections"}),
    }


#: Metrics that are shares, shown as percentages: accuracies, and how many not-a-digit corrections were flagged.
SHARES = ("accuracy", "_flagged", "_uncertain")


def _figure(key: str, value: float | None) -> str:
    if value is None:
        return EMPTY
    if any(part in key for part in SHARES):
        return percent(value, 2)
    return f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"


def elapsed(run: TrainingRun) -> str:
    """How long the run took, or has been running so far."""
    if run.started_at is None:
        return EMPTY
    seconds = int(((run.finished_at or timezone.now()) - run.started_at).total_seconds())
    text = (
        f"{seconds // 3600}h {seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m {seconds % 60:02d}s"
    )
    return text if run.finished_at else f"{text} so far"


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "live_status",
        "base_version",
        "result_version",
        "samples",
        "duration_text",
        "started",
    ]
    list_filter = ["kind", "status", "created_at"]
    list_select_related = ["base_version", "result_version"]
    change_list_template = "admin/recognizer/trainingrun/change_list.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "kind",
                    "live_status",
                    "duration_text",
                    "created_at",
                    "sent_at",
                    "started_at",
                    "finished_at",
                    "worker",
                ]
            },
        ),
        ("Data", {"fields": ["mnist_samples", "correction_samples", "heldout_samples", "parameters"]}),
        ("Result", {"fields": ["base_version", "result_version", "metrics_table", "message", "error_text"]}),
        ("Figures", {"fields": ["curves", "confusion"]}),
    ]
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]

    class Media:
        js = ["recognizer/admin/progress.js"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs come from `manage.py train` and the fine-tune task

    def get_urls(self) -> list:
        return [
            path("progress/", self.admin_site.admin_view(self.progress), name="recognizer_trainingrun_progress"),
            path("fine-tune/", self.admin_site.admin_view(self.fine_tune), name="recognizer_trainingrun_fine_tune"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = {**schedule_links(), "may_fine_tune": may_queue_fine_tune(request.user)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    # Columns and read-only fields.

    @admin.display(description="status", ordering="status")
    def live_status(self, run: TrainingRun) -> SafeString:
        return run_progress(run)

    @admin.display(description="started", ordering="started_at")
    def started(self, run: TrainingRun) -> str:
        return f"{timezone.localtime(run.started_at):%Y-%m-%d %H:%M}" if run.started_at else "not yet"

    @admin.display(description="duration", ordering="finished_at")
    def duration_text(self, run: TrainingRun) -> str:
        return elapsed(run)

    @admin.display(description="samples: MNIST / corrections / held out")
    def samples(self, run: TrainingRun) -> str:
        return f"{run.mnist_samples:,} / {run.correction_samples:,} / {run.heldout_samples:,}"

    @admin.display(description="metrics (before → after)")
    def metrics_table(self, run: TrainingRun) -> SafeString:
        before, after = run.metrics_before, run.metrics_after
        keys = [k for k in dict.fromkeys([*before, *after]) if isinstance(after.get(k, before.get(k)), int | float)]
        if not keys:
            return format_html("{}", EMPTY)
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            ((k, _figure(k, before.get(k)), _figure(k, after.get(k))) for k in keys),
        )
        return format_html(
            '<table class="digits-table"><tr><th></th><th>before</th><th>after</th></tr>{}</table>', rows
        )

    @admin.display(description="error")
    def error_text(self, run: TrainingRun) -> SafeString:
        return format_html('<pre class="digits-error">{}</pre>', run.error) if run.error else format_html("{}", EMPTY)

    @admin.display(description="training curves")
    def curves(self, run: TrainingRun) -> SafeString:
        if run.curves_image:
            uri = run.curves_image.url
        elif any(run.history.get(k) for k in ("loss", "accuracy")):
            uri = figures.training_curves(run.history)
        else:
            return format_html("{}", EMPTY)
        return format_html('<img class="digits-chart" src="{}" alt="training curves of run {}">', uri, run.pk)

    @admin.display(description="confusion matrix")
    def confusion(self, run: TrainingRun) -> SafeString:
        if run.confusion_image:
            uri = run.confusion_image.url
        elif run.result_version and run.result_version.confusion_matrix:
            uri = figures.confusion_matrix(
                run.result_version.confusion_matrix, f"{run.result_version.name}, MNIST test"
            )
        else:
            return format_html("{}", EMPTY)
        return format_html('<img class="digits-chart" src="{}" alt="confusion matrix of run {}">', uri, run.pk)

    # Staff-only endpoints: live progress for progress.js, and the "fine-tune now" button.

    @staticmethod
    def _runs_json(runs: QuerySet[TrainingRun]) -> dict:
        return {
            str(run.pk): {
                "status": run.status,
                "status_display": run.get_status_display(),
                "progress": run.progress,
                "stage": run.stage,
                "final": run.status in FINAL,
                "duration": elapsed(run),
            }
            for run in runs
        }

    @staticmethod
    def _ids(request: HttpRequest) -> list[int]:
        return [int(part) for part in request.GET.get("ids", "").split(",") if part.strip().isdigit()][:100]

    @method_decorator(require_GET)
    def progress(self, request: HttpRequest) -> JsonResponse:
        """``?ids=1,2``: the status and progress of those runs, polled by progress.js while they are live."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return JsonResponse({"runs": self._runs_json(TrainingRun.objects.filter(pk__in=self._ids(request)))})

    @method_decorator(require_POST)
    def fine_tune(self, request: HttpRequest) -> HttpResponse:
        """Queue a fine-tune now as a training run, and say whether it went to the broker or waits for it."""
        if not may_queue_fine_tune(request.user):
            raise PermissionDenied
        run = queue_fine_tune()
        run.refresh_from_db()
        if run.sent_at:
            self.message_user(
                request,
                f"Fine-tune queued as training run #{run.pk} on the '{settings.DIGITS_TRAINING_QUEUE}' queue; "
                "a worker that consumes it will start it.",
            )
        else:
            self.message_user(
                request, f"Training run #{run.pk} is queued but not sent: {run.message}", messages.WARNING
            )
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, require_https=request.is_secure()):
            back = reverse("admin:recognizer_trainingrun_changelist")
        return HttpResponseRedirect(back)
