"""Routes of the recognizer app: the drawing page and the API."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from recognizer import api, views

router = DefaultRouter()
router.register("predictions", api.PredictionViewSet, basename="prediction")
router.register("numbers", api.NumberViewSet, basename="number")

urlpatterns = [
    path("", views.index, name="index"),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
