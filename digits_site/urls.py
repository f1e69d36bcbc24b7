"""URL routes: the drawing page, the API (with its OpenAPI schema and docs), the staff dashboard and the admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve

urlpatterns = [
    path("", include("training.urls")),
    path("admin/", admin.site.urls),
    path("", include("recognizer.urls")),
]

handler400 = "recognizer.api.exceptions.bad_request"
handler404 = "recognizer.api.exceptions.not_found"
handler500 = "recognizer.api.exceptions.server_error"

if settings.DIGITS_SERVE_MEDIA:
    # The embedded set-up serves stored drawings itself; behind a web server, set DIGITS_SERVE_MEDIA=0 and serve
    # MEDIA_ROOT there instead.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT})]
