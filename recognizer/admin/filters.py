"""List filters for drawings that Django's field filters cannot express: review queue, corrected digit, confidence,
and the clients with the most corrections."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from recognizer.models import Drawing
from recognizer.review import needs_review, top_correcting_clients, top_correcting_networks


class ReviewFilter(admin.SimpleListFilter):
    """The review queue: pending corrections, then the least confident unreviewed predictions (see ``get_ordering``
    in the drawing admin, which sorts the queue that way)."""

    title = "review"
    parameter_name = "review"
    NEEDED = "needed"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(self.NEEDED, f"Needs review (pending, or below {settings.DIGITS_LOW_CONFIDENCE:.0%} confidence)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return needs_review(queryset) if self.value() == self.NEEDED else queryset


class CorrectedDigitFilter(admin.SimpleListFilter):
    """Drawings by what people said they are: any correction, none, one digit, or not a digit."""

    title = "corrected digit"
    parameter_name = "corrected"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        labels = [(str(label), name) for label, name in Drawing.LABEL_CHOICES]
        return [("any", "Any correction"), ("none", "No correction"), *labels]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value == "any":
            return queryset.filter(corrected_label__isnull=False)
        if value == "none":
            return queryset.filter(corrected_label__isnull=True)
        if value in {str(label) for label, _ in Drawing.LABEL_CHOICES}:
            return queryset.filter(corrected_label=int(value))
        return queryset


class ConfidenceBandFilter(admin.SimpleListFilter):
    title = "confidence"
    parameter_name = "confidence"
    #: (parameter value, label, lower bound inclusive, upper bound exclusive)
    BANDS = [
        ("lt50", "below 50%", 0.0, 0.5),
        ("50-70", "50 to 70%", 0.5, 0.7),
        ("70-90", "70 to 90%", 0.7, 0.9),
        ("90-99", "90 to 99%", 0.9, 0.99),
        ("ge99", "99% and above", 0.99, None),
    ]

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(value, label) for value, label, _, _ in self.BANDS]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        for value, _, low, high in self.BANDS:
            if self.value() == value:
                queryset = queryset.filter(confidence__gte=low)
                return queryset if high is None else queryset.filter(confidence__lt=high)
        return queryset


def short_key(client_key: str) -> str:
    """A client key as staff see it: its first 8 characters identify a client among the others well enough."""
    return f"{client_key[:8]}…"


class ClientFilter(admin.SimpleListFilter):
    """One client's drawings (``?client=<key>``, as the drawing list's client column links); offered for the clients
    with the most corrections, so that one flooding corrections is seen at once."""

    title = "client (most corrections)"
    parameter_name = "client"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(key, f"{short_key(key)} ({count} corrections)") for key, count in top_correcting_clients()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(client_key=self.value()) if self.value() else queryset


class NetworkFilter(admin.SimpleListFilter):
    """The drawings from one network (``?network=<key>``, the submissions' anonymous network key); offered for the
    networks with the most corrections, so that a flood from one network shows even when its client changes its
    cookie for each correction."""

    title = "network (most corrections)"
    parameter_name = "network"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(key, f"{key[:8]} ({count} corrections)") for key, count in top_correcting_networks()]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(submission__network_key=self.value()) if self.value() else queryset
