"""Staff review in the Django admin: drawings with thumbnails, model versions and training runs."""

from __future__ import annotations

import base64

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from recognizer.images import array_to_png
from recognizer.models import Drawing, ModelVersion, Submission, TrainingRun


def _pixelated(data_url: str, size: int, alt: str) -> str:
    return format_html(
        '<img src="{}" width="{}" height="{}" alt="{}" style="image-rendering:pixelated;background:#000">',
        data_url,
        size,
        size,
        alt,
    )


class CorrectedFilter(admin.SimpleListFilter):
    title = "corrected"
    parameter_name = "corrected"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Corrected"), ("no", "Not corrected")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(corrected_label__isnull=False)
        if self.value() == "no":
            return queryset.filter(corrected_label__isnull=True)
        return queryset


@admin.register(Drawing)
class DrawingAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "thumbnail",
        "model_view",
        "predicted_digit",
        "confidence_pct",
        "corrected_label",
        "correction_status",
        "model_version",
        "created_at",
    ]
    list_display_links = ["id", "thumbnail"]
    list_filter = ["predicted_digit", CorrectedFilter, "correction_status", "model_version", "created_at"]
    search_fields = ["=id", "=submission__id"]
    date_hierarchy = "created_at"
    list_select_related = ["model_version"]
    list_per_page = 50
    readonly_fields = [
        "submission",
        "position",
        "large_image",
        "model_view_large",
        "image_sha256",
        "predicted_digit",
        "confidence",
        "probabilities",
        "model_version",
        "created_at",
        "session_key",
        "corrected_at",
        "reviewed_by",
        "reviewed_at",
    ]
    exclude = ["model_input", "image"]

    @admin.display(description="drawing")
    def thumbnail(self, drawing: Drawing) -> str:
        return format_html(
            '<img src="{}" width="56" height="56" alt="drawing {}" style="object-fit:contain;background:#fff;'
            'border:1px solid #ccc">',
            drawing.image.url,
            drawing.pk,
        )

    @admin.display(description="model saw")
    def model_view(self, drawing: Drawing) -> str:
        return _pixelated(self._input_url(drawing), 56, f"28x28 input of drawing {drawing.pk}")

    @admin.display(description="model saw (28x28)")
    def model_view_large(self, drawing: Drawing) -> str:
        return _pixelated(self._input_url(drawing), 224, f"28x28 input of drawing {drawing.pk}")

    @admin.display(description="drawing")
    def large_image(self, drawing: Drawing) -> str:
        return format_html(
            '<img src="{}" style="max-width:320px;background:#fff;border:1px solid #ccc">', drawing.image.url
        )

    @admin.display(description="confidence", ordering="confidence")
    def confidence_pct(self, drawing: Drawing) -> str:
        return f"{drawing.confidence:.1%}"

    @staticmethod
    def _input_url(drawing: Drawing) -> str:
        return "data:image/png;base64," + base64.b64encode(array_to_png(drawing.input_array)).decode()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # drawings come from users, through the page or the API


class DrawingInline(admin.TabularInline):
    model = Drawing
    fields = ["position", "predicted_digit", "confidence", "corrected_label", "correction_status"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["id", "number", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["=id", "number"]
    readonly_fields = ["created_at", "session_key", "number", "image"]
    inlines = [DrawingInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "is_active", "accuracy", "parent", "trained_at", "activated_at"]
    list_filter = ["is_active"]
    search_fields = ["name"]
    readonly_fields = [
        "name",
        "parent",
        "keras_file",
        "keras_sha256",
        "tflite_file",
        "tflite_sha256",
        "metrics",
        "confusion_matrix",
        "training_command",
        "trained_at",
        "created_at",
        "is_active",
        "activated_at",
    ]

    @admin.display(description="MNIST test accuracy")
    def accuracy(self, version: ModelVersion) -> str:
        value = version.mnist_accuracy
        return "—" if value is None else f"{value:.2%}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training (manage.py train, fine-tuning)


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "progress", "base_version", "result_version", "created_at", "duration"]
    list_filter = ["kind", "status"]
    readonly_fields = [f.name for f in TrainingRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
