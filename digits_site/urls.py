"""URL routes: the drawing page, the API (with its OpenAPI schema and docs), the staff dashboard and the admin."""

from django.contrib import admin
from django.urls import include, path, re_path

from recognizer import media

urlpatterns = [
    path("", include("training.urls")),
    path("admin/", admin.site.urls),
    path("", include("recognizer.urls")),
    # Stored files, each only to those who may see it (recognizer.media): never a public folder.
    re_path(r"^media/(?P<path>.+)$", media.serve, name="media"),
]

handler400 = "recognizer.api.exceptions.bad_request"
handler404 = "recognizer.api.exceptions.not_found"
handler500 = "recognizer.api.exceptions.server_error"
