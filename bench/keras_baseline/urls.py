"""The product's routes plus ``POST /bench/keras/predictions/`` (benchmark servers only)."""

from django.urls import path

from bench.keras_baseline.views import KerasPredictionView
from digits_site.urls import urlpatterns as product_urlpatterns

urlpatterns = [path("bench/keras/predictions/", KerasPredictionView.as_view()), *product_urlpatterns]
