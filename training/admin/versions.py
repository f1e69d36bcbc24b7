"""Model versions in the admin: metrics, confusion matrix, artifacts with checksums, and activation or roll-back.

Activating goes through :func:`recognizer.registry.activate`, which verifies the artifact first; a refusal is shown
to staff as an error and leaves the active model untouched. Every activation goes to the version's history.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from recognizer.admin.html import EMPTY, badge, percent, signed_points
from recognizer.core import figures
from recognizer.models import ModelVersion
from recognizer.registry import ActivationRefused, activate, sha256_of
from recognizer.stats import VERSION_METRICS, compare_versions, live_accuracy, with_live_counts


def is_roll_back(version: ModelVersion, active: ModelVersion | None) -> bool:
    """Going back to a version that was served before, or to an ancestor of the active one, is a roll-back.

    It is the same operation as activating; the admin only says it plainly to staff.
    """
    if active is None or version == active:
        return False
    if version.activated_at is not None:
        return True
    ancestor, seen = active.parent, set()
    while ancestor is not None and ancestor.pk not in seen:
        if ancestor == version:
            return True
        seen.add(ancestor.pk)
        ancestor = ancestor.parent
    return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "state", "mnist", "heldout", "live", "served", "parent", "trained_at", "activated_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    list_select_related = ["parent"]
    actions = ["activate_version", "roll_back_to_version"]
    fields = [
        "name",
        "state",
        "parent",
        "trained_at",
        "activated_at",
        "metrics_table",
        "confusion_image",
        "artifacts",
        "training_command",
        "notes",
    ]
    readonly_fields = [f for f in fields if f != "notes"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        return with_live_counts(super().get_queryset(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training (manage.py train, fine-tuning)

    def has_delete_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        return False  # versions are kept, so any of them can be rolled back to

    def get_urls(self) -> list:
        confirm = self.admin_site.admin_view(self.confirm_activation)
        return [
            path("<path:object_id>/activate/", confirm, name="recognizer_modelversion_activate"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        active = ModelVersion.objects.active()
        version = self.get_object(request, unquote(object_id))
        extra = {"active_version": active, "roll_back": version is not None and is_roll_back(version, active)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    # Columns and read-only fields.

    @admin.display(description="state", ordering="is_active")
    def state(self, version: ModelVersion) -> SafeString:
        return badge("active", "ok") if version.is_active else badge("inactive", "off")

    @admin.display(description="MNIST test")
    def mnist(self, version: ModelVersion) -> str:
        return percent(version.mnist_accuracy, 2)

    @admin.display(description="held-out corrections")
    def heldout(self, version: ModelVersion) -> str:
        return percent(version.metrics.get("heldout_corrections_accuracy"), 2)

    @admin.display(description="live (from corrections)")
    def live(self, version: ModelVersion) -> str:
        return percent(live_accuracy(version.served, version.wrong), 1)

    @admin.display(description="drawings served", ordering="served")
    def served(self, version: ModelVersion) -> int:
        return version.served

    @admin.display(description="metrics")
    def metrics_table(self, version: ModelVersion) -> SafeString:
        rows = compare_versions(version, None)
        body = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", ((r.label, percent(r.candidate, 2)) for r in rows)
        )
        shown = {key for key, _ in VERSION_METRICS}
        extra = {
            k: v
            for k, v in version.metrics.items()
            if not isinstance(v, dict | list) and "accuracy" not in k and k not in shown
        }
        more = format_html_join(
            "", "<tr><th>{}</th><td>{}</td></tr>", ((k.replace("_", " "), v) for k, v in sorted(extra.items()))
        )
        return format_html('<table class="digits-table">{}{}</table>', body, more)

    @admin.display(description="confusion matrix (MNIST test set)")
    def confusion_image(self, version: ModelVersion) -> SafeString:
        if not version.confusion_matrix:
            return format_html("{}", EMPTY)
        uri = figures.confusion_matrix(version.confusion_matrix)
        return format_html('<img class="digits-chart" src="{}" alt="confusion matrix of {}">', uri, version.name)

    @admin.display(description="artifacts")
    def artifacts(self, version: ModelVersion) -> SafeString:
        """Each artifact with its size and recorded SHA-256, and whether the stored file still matches it."""
        rows = []
        for fieldfile, recorded in (
            (version.tflite_file, version.tflite_sha256),
            (version.keras_file, version.keras_sha256),
        ):
            try:
                with fieldfile.open("rb") as fh:
                    actual = sha256_of(fh)
                size = f"{fieldfile.size / 1024:,.0f} KiB"
                check = badge("checksum matches", "ok") if actual == recorded else badge("checksum MISMATCH", "bad")
            except (OSError, ValueError):
                size, check = EMPTY, badge("file missing", "bad")
            rows.append((fieldfile.url, fieldfile.name.rsplit("/", 1)[-1], size, recorded, check))
        body = format_html_join(
            "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>', rows
        )
        return format_html(
            '<table class="digits-table"><tr><th>file</th><th>size</th><th>SHA-256</th><th></th></tr>{}</table>', body
        )

    # Activation and roll-back, both confirmed on a page that compares the version with the active one.

    @admin.action(description="Activate the selected version…", permissions=["change"])
    def activate_version(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> HttpResponse | None:
        return self._to_confirmation(request, queryset)

    @admin.action(description="Roll back to the selected version…", permissions=["change"])
    def roll_back_to_version(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> HttpResponse | None:
        return self._to_confirmation(request, queryset)

    def _to_confirmation(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse("admin:recognizer_modelversion_activate", args=[queryset.get().pk]))

    def confirm_activation(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET: the metric differences against the active version. POST: activate (or roll back) for real."""
        version = get_object_or_404(ModelVersion, pk=unquote(object_id))
        if not self.has_change_permission(request, version):
            raise PermissionDenied
        change_url = reverse("admin:recognizer_modelversion_change", args=[version.pk])
        if version.is_active:
            self.message_user(request, f"{version.name} is already the active version.", messages.INFO)
            return HttpResponseRedirect(change_url)
        active = ModelVersion.objects.active()
        roll_back = is_roll_back(version, active)
        if request.method == "POST":
            try:
                activate(version)
            except ActivationRefused as exc:
                self.message_user(request, f"Activation refused, the active model is unchanged: {exc}", messages.ERROR)
                return HttpResponseRedirect(change_url)
            done = f"Rolled back from {active.name}" if roll_back else "Activated"
            self.log_change(request, version, f"{done}; previously active: {active.name if active else 'none'}.")
            self.message_user(request, f"{version.name} is now active; every web process serves it within seconds.")
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{'Roll back to' if roll_back else 'Activate'} {version.name}?",
            "version": version,
            "active": active,
            "roll_back": roll_back,
            "rows": [
                (
                    row.label,
                    percent(row.active, 2),
                    percent(row.candidate, 2),
                    signed_points(row.difference, row.lower_is_better),
                )
                for row in compare_versions(version, active)
            ],
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/recognizer/modelversion/confirm_activation.html", context)
