"""Rate limits on predicting and correcting: per client (its cookie; cookie-less requests share their address's), a
ceiling per address, numbers charged per digit; configurable, 429 with Retry-After, kept in the cache.

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


NUMBERS = "/api/numbers/"
CLASS_ADDRESS = "10.0.0.1"
NO_LIMITS = {"predict": None, "correct": None, "predict_address": None, "correct_address": None}


@pytest.fixture
def rates(settings, throttle_clock):
    """Set the rates, e.g. ``rates(predict="3/min")``; the scopes not named are not limited. The limits' clock is
    held mid-minute (``throttle_clock``), so a test's requests count in one window."""

    def set_rates(**scopes: str | None) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**NO_LIMITS, **scopes}}

    return set_rates


def predict(client: APIClient, **extra):
    return client.post(PREDICT, {"image": data_url(draw_digit(1))}, format="json", **extra)


def known_client(address: str = CLASS_ADDRESS) -> APIClient:
    """A client that has its cookie already (its first prediction was made, and counted, without it)."""
    client = APIClient(REMOTE_ADDR=address)
    assert predict(client).status_code == 201
    cache.clear()
    return client


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_predictions_over_the_rate_get_429_with_retry_after_and_are_not_stored(active_model, rates):
    client = known_client()
    rates(predict="3/min")
    assert [predict(client).status_code for _ in range(3)] == [201, 201, 201]
    assert_throttled(predict(client))
    assert_throttled(client.post(NUMBERS, {"image": data_url(draw_number("12"))}, format="json"))
    assert Drawing.objects.count() == 4
    assert client.get(f"{PREDICT}{Drawing.objects.first().pk}/").status_code == 200  # reading is not limited


def test_a_number_costs_one_per_digit(active_model, rates) -> None:
    client = known_client()
    rates(predict="5/min")
    assert client.post(NUMBERS, {"image": data_url(draw_number("123"))}, format="json").status_code == 201
    refused = client.post(NUMBERS, {"image": data_url(draw_number("456"))}, format="json")  # 6 digits > 5
    assert_throttled(refused)
    assert Drawing.objects.count() == 1 + 3  # the refused number stored nothing
    assert predict(client).status_code == 429  # the refused digits were counted as well


def test_corrections_have_their_own_limit(active_model, rates) -> None:
    client = known_client()
    rates(predict="2/min", correct="2/min")
    bodies = [predict(client).json() for _ in range(2)]
    assert_throttled(predict(client))
    url = bodies[0]["correction_url"]
    assert client.post(url, {"label": 4}, format="json").status_code == 200  # predicting's limit is not shared
    assert client.post(url, {"label": 5}, format="json").status_code == 200
    assert_throttled(client.post(url, {"label": 6}, format="json"))
    assert Drawing.objects.get(pk=bodies[0]["id"]).corrected_label == 5


def test_clients_behind_one_address_each_have_their_own_budget(active_model, rates) -> None:
    """A class behind one school router: one child using up its limit does not stop the others."""
    children = [known_client() for _ in range(3)]
    rates(predict="2/min", predict_address="100/min")
    assert [predict(children[0]).status_code for _ in range(3)] == [201, 201, 429]
    assert [predict(child).status_code for child in children[1:]] == [201, 201]


def test_clients_without_a_cookie_share_their_address_budget(active_model, rates) -> None:
    """Dropping the cookie to look new buys nothing: cookie-less requests from one address are one client."""
    rates(predict="2/min", predict_address="100/min")
    flood = APIClient(REMOTE_ADDR=CLASS_ADDRESS)
    statuses = []
    for _ in range(3):
        flood.cookies.clear()
        statuses.append(predict(flood).status_code)
    assert statuses == [201, 201, 429]
    assert predict(APIClient(REMOTE_ADDR="10.0.0.2")).status_code == 201


def test_the_address_ceiling_holds_whatever_the_cookies(active_model, rates) -> None:
    children = [known_client() for _ in range(4)]
    rates(predict="100/min", predict_address="3/min")
    assert [predict(child).status_code for child in children] == [201, 201, 201, 429]
    assert predict(known_client("10.0.0.2")).status_code == 201


def test_a_flooding_client_does_not_use_up_its_address(active_model, rates) -> None:
    """Requests its own limit refuses are not counted against the address: the classmates keep their ceiling."""
    flood, child = known_client(), known_client()
    rates(predict="2/min", predict_address="4/min")
    assert [predict(flood).status_code for _ in range(10)] == [201, 201] + [429] * 8
    assert [predict(child).status_code for _ in range(2)] == [201, 201]


def test_a_forged_forwarded_for_header_does_not_buy_a_new_budget(active_model, rates) -> None:
    rates(predict_address="1/min")
    client = APIClient(REMOTE_ADDR="10.0.0.1")
    assert predict(client, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 201
    client.cookies.clear()
    assert_throttled(predict(client, HTTP_X_FORWARDED_FOR="192.0.2.2"))


def test_behind_a_proxy_the_forwarded_address_is_the_client(active_model, rates, settings) -> None:
    rates(predict_address="1/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = APIClient(REMOTE_ADDR="10.0.0.100")
    assert predict(proxy, HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 201
    assert_throttled(predict(proxy, HTTP_X_FORWARDED_FOR="192.0.2.1"))
    assert predict(proxy, HTTP_X_FORWARDED_FOR="192.0.2.2").status_code == 201


def test_a_rate_can_be_switched_off(client_api, active_model, rates) -> None:
    rates()
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
    monkeypatch.delenv("DIGITS_RATE_PREDICT_ADDRESS", raising=False)
    monkeypatch.delenv("DIGITS_RATE_CORRECT_ADDRESS", raising=False)
    fresh = runpy.run_path(str(ROOT / "digits_site" / "settings.py"))
    assert fresh["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"] == {
        "predict": "120/min",
        "correct": "60/min",
        "predict_address": "1800/min",
        "correct_address": "600/min",
    }


def redis_cache(location: str, prefix: str = "") -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


def test_limits_are_kept_in_redis(active_model, rates, settings) -> None:
    client_api = known_client()
    url = os.environ.get("DIGITS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    prefix = f"digits-test-{uuid.uuid4().hex}"  # keys of this test only: the database may be shared
    settings.CACHES = redis_cache(url, prefix)
    redis = cache._cache.get_client(write=True)
    try:
        redis.ping()
    except RedisError as exc:
        skip_or_fail(f"Redis is unreachable at {url}: {exc}")
    rates(predict="2/min", correct="2/min", predict_address="100/min")
    try:
        assert [predict(client_api).status_code for _ in range(2)] == [201, 201]
        assert_throttled(predict(client_api))
        keys = redis.keys(f"{prefix}:*")
        [counter] = [key for key in keys if b"throttle_predict:client:" in key]
        assert redis.get(counter) == b"3"  # one counter per client and window: the two admitted and the refused one
        [address] = [key for key in keys if b"throttle_predict_address:" in key]
        assert redis.get(address) == b"2"  # the refused one did not count against the address
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
    rates(predict="1/min", correct="1/min", predict_address="1/min", correct_address="1/min")
    with caplog.at_level(logging.WARNING, logger="recognizer.api.throttling"):
        bodies = [predict(client_api) for _ in range(3)]
        assert [b.status_code for b in bodies] == [201, 201, 201]  # the limit cannot be kept, so it is not applied
        url = bodies[0].json()["correction_url"]
        assert [client_api.post(url, {"label": label}, format="json").status_code for label in (4, 5)] == [200, 200]
    assert Drawing.objects.count() == 3
    assert Drawing.objects.get(pk=bodies[0].json()["id"]).corrected_label == 5
    assert "cache is unreachable" in caplog.text
