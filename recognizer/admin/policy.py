"""The trust policy in the admin: one row, edited like any object (its history keeps who changed what and when)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from recognizer.models import TrustPolicy


@admin.register(TrustPolicy)
class TrustPolicyAdmin(admin.ModelAdmin):
    fieldsets = [
        (
            "Corrections",
            {
                "fields": ["mode", "accept_above", "exclude_below", "burst_corrections", "burst_minutes"],
                "description": (
                    "Each public correction gets a trust (0-1) when it arrives: the model's probability for the "
                    "label, a nearest-neighbour reader over other clients' drawings, and the client's and network's "
                    "record. On “decide”, corrections at or above the first threshold are auto-accepted (they train), "
                    "below the second auto-excluded, and the rest wait in the review queue, most useful first. "
                    "Every automatic decision is recorded as the user “policy” and can be reversed with the review "
                    "actions."
                ),
            },
        ),
        (
            "New models",
            {"fields": ["shadow_trials", "shadow_drawings", "shadow_hours", "shadow_min_labelled"]},
        ),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not TrustPolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        """There is one policy: the list goes straight to it."""
        policy = TrustPolicy.current()
        return HttpResponseRedirect(reverse("admin:recognizer_trustpolicy_change", args=[policy.pk]))
