"""URL routes: the drawing page, the API (with its OpenAPI schema and docs), the staff dashboard and the admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

from recognizer.admin.dashboard import dashboard

urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("", include("recognizer.urls")),
]

if settings.DIGITS_SERVE_MEDIA:
    # The embedded set-up serves stored drawings itself; behind a web server, set DIGITS_SERVE_MEDIA=0 and serve
    # MEDIA_ROOT there instead.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]
