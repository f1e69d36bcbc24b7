"""Rate limits on predicting and correcting: per client, configurable, 429 with Retry-After, kept in the cache.

And when the cache is Redis and Redis is down, the limits fail open: predictions and corrections still work and
are stored.
"""

from __future__ import annotations

import logging
import os
import runpy
import uuid

import pytest
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.test import APIClient

from bench.drawing import data_url, draw_digit, draw_number
from digits_site.settings import env_rate
from recognizer.models import Drawing
from tests.support.env import ROOT, skip_or_fail
from tests.support.faults import closed_port

pytestmark = pytest.mark.django_db

PREDICT = "/api/predictions/"


@pytest.fixture
def rates(settings):
    """Set the rates of the two scopes, e.g. ``rates(predict="3/min", correct=None)``."""

    def set_rates(**scopes: str | None) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": scopes}

    return set_rates


def predict(client: APIClient, **extra):
    return client.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json", **extra)


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_predictions_over_the_rate_get_429_with_retry_after_and_are_not_stored(client_api, active_model, rates):
    rates(predict="3/min", correct="60/min")
    assert [predict(client_api).status_code for _ in range(3)] == [201, 201, 201]
    assert_throttled(predict(client_api))
    assert_throttled(client_api.post("/api/numbers/", {"image": data_url(draw_number("12"))}, format="json"))
    assert Drawing.objects.count() == 3
    assert client_api.get(f"{PREDICT}{Drawing.objects.first().pk}/").status_code == 200  # reading is not limited


def test_corrections_have_their_own_limit(client_api, active_model, rates) -> None:
    rates(predict="2/min", correct="2/min")
    bodies = [predict(client_api).json() for _ in range(2)]
    assert_throttled(predict(client_api))
    url = bodies[0]["correction_url"]
    assert client_api.post(url, {"label": 4}, format="json").status_code == 200  # predicting's limit is not shared
    assert client_api.post(url, {"label": 5}, format="json").status_code == 200
    assert_throttled(client_api.post(url, {"label": 6}, format="json"))
    assert Drawing.objects.get(pk=bodies[0]["id"]).corrected_label == 5


def test_each_client_address_has_its_own_budget(active_model, rates) -> None:
    rates(predict="1/min", correct="1/min")
    first, second = APIClient(REMOTE_ADDR="10.0.0.1"), APIClient(REMOTE_ADDR="10.0.0.2")
    assert predict(first).status_code == 201
    assert_throttled(predict(first))
    assert predict(second).status_code == 201


def test_a_forged_forwarded_for_header_does_not_buy_a_new_budget(active_model, rates) -> None:
    rates(predict="1/min", correct="1/min")
    client = APIClient(REMOTE_ADDR="10.0.0.1")
    assert predict(client, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 201
    assert_throttled(predict(client, HTTP_X_FORWARDED_FOR="192.0.2.2"))


def test_behind_a_proxy_the_forwarded_address_is_the_client(active_model, rates, settings) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "NUM_PROXIES": 1,
        "DEFAULT_THROTTLE_RATES": {"predict": "1/min", "correct": "1/min"},
    }
    proxy = APIClient(REMOTE_ADDR="10.0.0.100")
    assert predict(proxy, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 201
    assert_throttled(predict(proxy, HTTP_X_FORWARDED_FOR="192.0.2.1"))
    assert predict(proxy, HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 201


def test_a_rate_can_be_switched_off(client_api, active_model, rates) -> None:
    rates(predict=None, correct=None)
    assert {predict(client_api).status_code for _ in range(5)} == {201}


@pytest.mark.parametrize(
    ("value", "expected"), [("120/min", "120/min"), ("5/s", "5/s"), ("off", None), ("none", None), ("", None)]
)
def test_rates_come_from_the_environment(monkeypatch, value: str, expected: str | None) -> None:
    monkeypatch.setenv("DIGITS_RATE_TEST", value)
    assert env_rate("DIGITS_RATE_TEST", "60/min") == expected


def test_the_default_rates(monkeypatch) -> None:
    """What a site gets with no ``DIGITS_RATE_*`` set: the settings file read afresh without them, whatever this run's
    environment sets (rather than skipping when it sets them)."""
    monkeypatch.delenv("DIGITS_RATE_PREDICT", raising=False)
    monkeypatch.delenv("DIGITS_RATE_CORRECT", raising=False)
    fresh = runpy.run_path(str(ROOT / "digits_site" / "settings.py"))
    assert fresh["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"] == {"predict": "120/min", "correct": "60/min"}


def redis_cache(location: str, prefix: str = "") -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


def test_limits_are_kept_in_redis(client_api, active_model, rates, settings) -> None:
    url = os.environ.get("DIGITS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    prefix = f"digits-test-{uuid.uuid4().hex}"  # keys of this test only: the database may be shared
    settings.CACHES = redis_cache(url, prefix)
    redis = cache._cache.get_client(write=True)
    try:
        redis.ping()
    except RedisError as exc:
        skip_or_fail(f"Redis is unreachable at {url}: {exc}")
    rates(predict="2/min", correct="2/min")
    try:
        assert [predict(client_api).status_code for _ in range(2)] == [201, 201]
        assert_throttled(predict(client_api))
        keys = redis.keys(f"{prefix}:*")
        [counter] = [key for key in keys if b"throttle_predict" in key]
        assert redis.get(counter) == b"3"  # one counter per client and window: the two admitted and the refused one
        assert 0 < redis.ttl(counter) <= 61
        redis.delete(*keys)
        assert predict(client_api).status_code == 201  # the counter lived in Redis
    finally:
        if keys := redis.keys(f"{prefix}:*"):
            redis.delete(*keys)


def test_with_redis_down_predictions_and_corrections_still_work_and_are_stored(
    client_api, active_model, rates, settings, caplog
):
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{closed_port()}/0")
    rates(predict="1/min", correct="1/min")
    with caplog.at_level(logging.WARNING, logger="recognizer.api.throttling"):
        bodies = [predict(client_api) for _ in range(3)]
        assert [b.status_code for b in bodies] == [201, 201, 201]  # the limit cannot be kept, so it is not applied
        url = bodies[0].json()["correction_url"]
        assert [client_api.post(url, {"label": label}, format="json").status_code for label in (4, 5)] == [200, 200]
    assert Drawing.objects.count() == 3
    assert Drawing.objects.get(pk=bodies[0].json()["id"]).corrected_label == 5
    assert "cache is unreachable" in caplog.text
