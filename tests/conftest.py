"""Shared fixtures: isolated media storage, the real shipped model registered and active, API clients."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from recognizer import serving
from recognizer.registry import activate, ensure_default_model, register_version

ROOT = Path(__file__).resolve().parent.parent
#: Set by .ci/run: a service, browser or registry the tests need must be there; a skip would hide a failure.
REQUIRE_SERVICES = os.environ.get("DIGITS_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason`` on a developer machine that lacks a service; fail in CI, where it must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (DIGITS_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"database: {settings.DATABASES['default']['ENGINE']}", f"MNIST: {settings.DIGITS_MNIST_DIR}"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """On SQLite the test database is a file rather than in memory, so that the Celery worker and web processes the
    feedback-loop tests start can share it."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("database") / "test.sqlite3")


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test writes files to its own storage folder, never to the developer's var/."""
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


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
def client_api() -> APIClient:
    return APIClient()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-staff-123", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(staff_user) -> Client:
    """A browser-like client logged in as staff (for the admin)."""
    client = Client()
    client.force_login(staff_user)
    return client


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


@pytest.fixture(scope="session")
def small_model_files(mnist, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real CNN trained for two epochs on 3,000 MNIST images (``.keras``, ``.tflite``): a weak but sound model
    (about 90% on MNIST) that fine-tuning tests can improve on, whatever the shipped default model is."""
    from training.export import export_artifacts
    from training.model import build_model
    from training.train import fit, prepare_images

    model = build_model()
    fit(model, prepare_images(mnist.x_train[-3000:]), mnist.y_train[-3000:], epochs=2, batch_size=64, verbose=0)
    return export_artifacts(model, tmp_path_factory.mktemp("small-model"), "small")


@pytest.fixture
def small_model(db, small_model_files):
    """:func:`small_model_files` registered as version ``small`` and active."""
    version = register_version("small", *small_model_files, metrics={"mnist_test_accuracy": None})
    return activate(version)
