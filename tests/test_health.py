"""``/healthz``: database, broker, the active model version and whether this process has it loaded."""

from __future__ import annotations

import os

import pytest
from django.core.files.storage import default_storage
from redis import Redis
from redis.exceptions import RedisError

from recognizer import serving
from recognizer.models import ModelVersion
from tests.support.env import skip_or_fail
from tests.support.faults import closed_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def filesystem_broker(settings, tmp_path) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path / "broker" / "out"),
        "data_folder_out": str(tmp_path / "broker" / "out"),
        "control_folder": str(tmp_path / "broker" / "control"),
    }


def health(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


def test_healthy_reports_every_part_and_loads_the_active_model(client, active_model, filesystem_broker) -> None:
    assert serving.loaded_version_name() is None  # a fresh process
    status, body = health(client)
    assert status == 200
    assert body == {
        "status": "ok",
        "database": {"ok": True, "vendor": body["database"]["vendor"]},
        "broker": {"ok": True, "transport": "filesystem"},
        "model": {"active_version": active_model.name, "loaded_version": active_model.name, "loaded": True},
    }
    assert serving.loaded_version_name() == active_model.name  # ready for the first prediction


def test_without_an_active_model_it_is_unavailable(client, db, filesystem_broker) -> None:
    status, body = health(client)
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["model"]["active_version"] is None
    assert body["model"]["loaded"] is False
    assert body["model"]["error"] == "ModelUnavailable"


def test_a_broker_that_is_down_is_reported_but_serving_goes_on(client, active_model, settings) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    status, body = health(client)
    assert status == 200  # predictions and corrections do not need the broker
    assert body["status"] == "degraded"
    assert body["broker"] == {"ok": False, "transport": "redis", "error": "ConnectionError"}


def test_a_reachable_redis_broker_is_ok(client, active_model, settings) -> None:
    url = os.environ.get("DIGITS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        Redis.from_url(url, socket_connect_timeout=1).ping()
    except RedisError as exc:
        skip_or_fail(f"Redis is unreachable at {url}: {exc}")
    settings.CELERY_BROKER_URL = url
    status, body = health(client)
    assert (status, body["status"], body["broker"]) == (200, "ok", {"ok": True, "transport": "redis"})


def test_an_active_version_that_cannot_load_is_reported_while_the_old_one_serves(
    client, active_model, second_version, filesystem_broker, settings
) -> None:
    settings.DIGITS_MODEL_REFRESH_SECONDS = 0
    assert health(client)[0] == 200
    default_storage.delete(second_version.tflite_file.name)
    # Same bytes as the active model, which this host has cached: drop that copy, as on a host that never had it.
    serving.cached_path(second_version.tflite_sha256).unlink()
    ModelVersion.objects.update(is_active=False)
    ModelVersion.objects.filter(pk=second_version.pk).update(is_active=True)  # bypassing the registry's checks
    status, body = health(client)
    assert status == 200
    assert body["status"] == "degraded"
    assert body["model"] == {
        "active_version": second_version.name,
        "loaded_version": active_model.name,
        "loaded": False,
    }


def test_it_answers_only_get(client, active_model, filesystem_broker) -> None:
    assert client.post("/healthz").status_code == 405
