"""The product's settings plus the baseline's URL (benchmark servers only)."""

from digits_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.keras_baseline.urls"
