"""Staff run Digits from the Django admin: review drawings, manage model versions and training runs, and follow
the product on the dashboard. Each admin lives in its own module; importing them here registers them."""

from django.contrib import admin

from recognizer.admin import drawings, runs, versions

admin.site.site_header = "Digits administration"
admin.site.site_title = "Digits admin"
admin.site.index_title = "Review and operations"
admin.site.enable_nav_sidebar = False  # the review lists need the width; the index and breadcrumbs navigate

__all__ = ["drawings", "runs", "versions"]
