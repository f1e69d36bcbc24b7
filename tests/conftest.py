"""Shared fixtures: isolated media storage, the real shipped model registered and active, API clients."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import hypothesis
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from recognizer import registry, serving
from recognizer.models import ModelVersion
from recognizer.registry import ensure_default_model

ROOT = Path(__file__).resolve().parent.parent
#: Set by .ci/run: a service, browser or registry the tests need must be there; a skip would hide a failure.
REQUIRE_SERVICES = os.environ.get("DIGITS_REQUIRE_SERVICES") == "1"

# Property-based tests (hypothesis, schemathesis) explore new examples on every developer run; in CI they replay the
# same ones, so a submission's result does not depend on the luck of the draw.
hypothesis.settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason`` on a developer machine that lacks a service; fail in CI, where it must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (DIGITS_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"database: {settings.DATABASES['default']['ENGINE']}", f"MNIST: {settings.DIGITS_MNIST_DIR}"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test writes files to its own storage folder, never to the developer's var/."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _own_cache(settings, request: pytest.FixtureRequest) -> None:
    """Each test has a cache of its own (rate-limit counters start at zero), in memory: a test never clears or fills
    the configured cache, which may be a Redis that others use. Tests of the Redis cache configure it themselves."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }


@pytest.fixture(autouse=True)
def _fresh_serving() -> None:
    """Each test starts with no model loaded: the database (and so the active version) is rolled back between tests."""
    serving.reset()
    yield
    serving.reset()


@pytest.fixture
def active_model(db):
    """The real default model shipped in recognizer/default_model, registered and active."""
    version, _ = ensure_default_model()
    return version


@pytest.fixture
def second_version(active_model, tmp_path) -> ModelVersion:
    """Another registered (inactive) version, with the same real artifacts under a new name."""
    paths = []
    for field in ("keras_file", "tflite_file"):
        target = tmp_path / f"second{'.keras' if field == 'keras_file' else '.tflite'}"
        with getattr(active_model, field).open("rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        paths.append(target)
    return registry.register_version("second", *paths, metrics={"mnist_test_accuracy": 0.9}, parent=active_model)


@pytest.fixture
def client_api() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_api(staff_user) -> APIClient:
    client = APIClient()
    client.force_login(staff_user)
    return client


@pytest.fixture(scope="session")
def mnist():
    """MNIST from the configured directory (CI points it at ../shared/mnist)."""
    from training.data import load_mnist

    return load_mnist(Path(settings.DIGITS_MNIST_DIR))
