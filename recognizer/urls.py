"""Routes of the recognizer app: the drawing page, the API and the health check."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from recognizer import health, views
from recognizer.api import views as api

router = DefaultRouter()
router.register("predictions", api.PredictionViewSet, basename="prediction")
router.register("numbers", api.NumberViewSet, basename="number")

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", health.healthz, name="healthz"),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]
