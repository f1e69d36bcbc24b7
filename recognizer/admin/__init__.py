"""Staff review drawings in the Django admin (the training app adds runs, model versions and the dashboard).
Importing the modules registers them."""

from django.contrib import admin

from recognizer.admin import drawings, policy

admin.site.site_header = "Digits administration"
admin.site.site_title = "Digits admin"
admin.site.index_title = "Review and operations"
admin.site.enable_nav_sidebar = False  # the review lists need the width; the index and breadcrumbs navigate

__all__ = ["drawings", "policy"]
