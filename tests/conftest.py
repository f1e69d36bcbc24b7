"""Shared fixtures: isolated media storage, the real shipped model registered and active, API clients, Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import hypothesis
import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from rest_framework.test import APIClient

from recognizer import registry, serving
from recognizer.api.throttling import ClientAndAddressThrottle
from recognizer.models import ModelVersion
from recognizer.registry import activate, ensure_default_model, register_version
from tests.support.env import CHROMIUM, CHROMIUM_ARGS, skip_or_fail

if TYPE_CHECKING:
    from tests.support.workers import Service

# Property-based tests (hypothesis, schemathesis) explore new examples on every developer run; in CI they replay the
# same ones, so a submission's result does not depend on the luck of the draw.
hypothesis.settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis.settings.load_profile("ci")


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"database: {settings.DATABASES['default']['ENGINE']}", f"MNIST: {settings.DIGITS_MNIST_DIR}"]


#: pytest-django's fixtures through which a test reaches the database.
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def reaches_services(item: pytest.Item) -> bool:
    """Whether a test touches the configured database or broker: through pytest-django (a fixture or the
    ``django_db`` mark), or through processes it starts with this environment (the ``celery`` and ``services``
    marks). Every other test computes the same thing whatever the backends are."""
    marks = {mark.name for mark in item.iter_markers()}
    return bool(DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))) or bool(
        {"django_db", "celery", "services"} & marks
    )


def passes(item: pytest.Item) -> set[str]:
    """The passes of scripts/test.sh that run a test when both run at once (``DIGITS_PASS``): one that reaches the
    database or the broker runs on both, the SQLite pass (``embedded``) and the PostgreSQL + Redis one
    (``services``); any other on the SQLite pass alone; and one marked ``same_on_any_database`` (minutes of training
    whose rows are ordinary ones) once, on the services pass or on the pass the mark names, which keeps the two about
    as long (while these all ran on the SQLite pass, it took 39 min and the services pass 17, on a slow 2-core machine
    on 2026-12-07; all on the services pass, 17 min 26 s and 19 min 48 s on 2026-12-07 23:30)."""
    if mark := item.get_closest_marker("same_on_any_database"):
        return {mark.args[0] if mark.args else "services"}
    return {"embedded", "services"} if reaches_services(item) else {"embedded"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``DIGITS_PASS`` set (scripts/test.sh, when PostgreSQL answers) a pass runs its share of the tests
    (:func:`passes`): running the others again would only double CI's time. Without it, every test runs."""
    this_pass = os.environ.get("DIGITS_PASS")
    if not this_pass:
        return
    kept = {id(item): this_pass in passes(item) for item in items}
    config.hook.pytest_deselected(items=[item for item in items if not kept[id(item)]])
    items[:] = [item for item in items if kept[id(item)]]


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
def _static_without_collectstatic(settings) -> None:
    """In-process tests render pages from the source's static files: the production storage (WhiteNoise's manifest,
    written by ``collectstatic``, which the run command runs) is for served sites."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _model_cache(settings, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test starts as a host that has fetched no model artifact yet (recognizer.serving's local cache)."""
    settings.DIGITS_MODEL_CACHE_DIR = tmp_path_factory.mktemp("model-cache")


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
def throttle_clock(monkeypatch) -> float:
    """Hold the rate limits' clock in the middle of the current minute. They count in fixed windows, so a test's
    requests must fall in one window, not across its end (a CI run once sent a test's third request into the next
    minute's window, and it got 200 where 429 was due)."""
    mid_window = (time.time() // 60) * 60 + 30
    monkeypatch.setattr(ClientAndAddressThrottle, "timer", lambda self: mid_window)
    return mid_window


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
    from training.ml.mnist import load_mnist

    return load_mnist(Path(settings.DIGITS_MNIST_DIR))


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (python), one per test module.

    Per module rather than per session: Playwright's sync API keeps an event loop running in this thread, and it must
    be gone before another module's tests use the ORM. Meanwhile the browser tests' own ORM calls are still plain
    synchronous code, which Django would otherwise refuse to run "from an async context".
    """
    if not CHROMIUM.exists():
        skip_or_fail(f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright (python) is not installed")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
            # The ORM calls made meanwhile ran in Playwright's context, on connections of their own: close them, or
            # PostgreSQL refuses to drop the test database at the end ("being accessed by other users").
            connections.close_all()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture(scope="session")
def small_model_files(mnist, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real CNN trained for two epochs on 3,000 MNIST images (``.keras``, ``.tflite``): a weak but sound model
    (about 90% on MNIST) that fine-tuning tests can improve on, whatever the shipped default model is. Seeded, so
    every run starts from the same weak model."""
    from training.ml.export import export_artifacts
    from training.ml.fit import fit, prepare_images, seeded
    from training.ml.model import build_model

    x, y = prepare_images(mnist.x_train[-3000:]), mnist.y_train[-3000:]
    with seeded(0):  # not only the weights' seed: its parallel augmentation drew in thread order (89.8-94.6% on MNIST)
        model = build_model()
        fit(model, x, y, epochs=2, batch_size=64, verbose=0)
    return export_artifacts(model, tmp_path_factory.mktemp("small-model"), "small", (x, y))


@pytest.fixture
def small_model(db, small_model_files):
    """:func:`small_model_files` registered as version ``small`` and active."""
    version = register_version("small", *small_model_files, metrics={"mnist_test_accuracy": None})
    return activate(version)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """Starts processes (tests/workers.py); stops whatever is still running at the end, before the test database is
    flushed."""
    from tests.support.workers import Service

    started: list[Service] = []

    def start(name: str, args: list[str], env: dict[str, str]) -> Service:
        service = Service(name, args, env, tmp_path)
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill(signal.SIGTERM)
