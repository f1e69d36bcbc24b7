"""Rate limits on predicting and correcting: per client, and a generous ceiling per address; kept in the cache (Redis
in production), failing open.

A *client* is the signed ``digits_client`` cookie (:mod:`recognizer.api.authentication`), a logged-in user by account;
requests without a valid cookie share one client budget per address (so a script that drops its cookie to look new
still counts as one client). A class of 30 behind one school router is 30 clients with one address: each has its own
budget (``DIGITS_RATE_PREDICT``, ``DIGITS_RATE_CORRECT``), and the address has a ceiling sized for a whole class
(``DIGITS_RATE_PREDICT_ADDRESS``, ``DIGITS_RATE_CORRECT_ADDRESS``). A request refused by its client's limit does not
count against the address, so one client flooding never uses up its classmates' budget. Predictions are counted in
digits: a number of five digits costs five (:func:`charge`, called once the digits are split, before any is
recognized).

Limits protect the service and the training data from one client's flood; they are not what keeps data safe. So
when the cache cannot be reached (Redis down), requests are let through and a warning is logged: predictions and
corrections keep working and being stored, unthrottled, until the cache is back.

Counting: each client (and address) has one counter per fixed window of the rate's period, and a request costs one
round trip to Redis per counter whatever the limit (DRF's own throttle reads and writes back a list of every recent
request's time). The price is the usual one of fixed windows: a client may send up to twice its limit across the
edge between two windows.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from recognizer.api.authentication import client_key
from recognizer.network import client_address

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is loading
    from rest_framework.request import Request
    from rest_framework.views import APIView

log = logging.getLogger(__name__)
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


@functools.cache
def _redis(location: str, options: tuple[tuple[str, object], ...]) -> redis.Redis:
    return redis.Redis.from_url(location, **dict(options))


def count_request(key: str, ttl: int, amount: int = 1) -> int:
    """Add ``amount`` to the counter under the cache key ``key`` (kept ``ttl`` seconds from its first request) and
    return the count so far: one pipelined round trip with Redis; Django's cache API with the embedded file cache."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != REDIS_CACHE:
        return amount if cache.add(key, amount, ttl) else cache.incr(key, amount)
    client = _redis(config["LOCATION"], tuple(sorted(config.get("OPTIONS", {}).items())))
    pipeline = client.pipeline(transaction=False)
    full_key = cache.make_key(key)
    pipeline.set(full_key, 0, ex=ttl, nx=True)
    pipeline.incrby(full_key, amount)
    return pipeline.execute()[1]


def rate(scope: str) -> tuple[int, int] | None:
    """``(requests, seconds)`` of a scope's rate, read at each request (settings may change); ``None``: no limit."""
    value = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
    return None if value is None else SimpleRateThrottle.parse_rate(None, value)


def client_identity(request: Request) -> str:
    """Whose budget a request spends: the account, the client cookie it came with, or (without either) its
    address's. Decided once per request, when the throttle first counts it: a cookie made during the request (for a
    new client) does not move the rest of its cost to a fresh budget."""
    django_request = getattr(request, "_request", request)
    identity = getattr(django_request, "_digits_throttle_identity", None)
    if identity is None:
        user = getattr(request, "user", None)
        key = client_key(request)
        if user is not None and user.is_authenticated:
            identity = f"user:{user.pk}"
        else:
            identity = f"client:{key}" if key else f"anonymous:{client_address(request)}"
        django_request._digits_throttle_identity = identity
    return identity


class _Window:
    def __init__(self, scope: str, limit: int, duration: int, now: float) -> None:
        self.scope, self.limit, self.duration = scope, limit, duration
        self.number = int(now // duration)
        self.end = (self.number + 1) * duration

    def count(self, identity: str, amount: int) -> bool:
        """Count ``amount`` for ``identity``; whether it is still within the limit."""
        key = f"throttle_{self.scope}:{identity}:{self.number}"
        return count_request(key, self.duration + 1, amount) <= self.limit


class ClientAndAddressThrottle(BaseThrottle):
    """The view's ``throttle_scope`` (``predict``, ``correct``) limited per client, then ``<scope>_address`` per
    address; a scope whose rate is ``None`` (``DIGITS_RATE_*=off``) is not limited."""

    def __init__(self) -> None:
        self.refused_until = 0.0
        self.now = 0.0

    def allow_request(self, request: Request, view: APIView) -> bool:
        scope = getattr(view, "throttle_scope", None)
        return self.spend(request, scope, 1) if scope else True

    def spend(self, request: Request, scope: str, amount: int) -> bool:
        self.now = self.timer()
        budgets = [(scope, client_identity(request)), (f"{scope}_address", f"address:{client_address(request)}")]
        try:
            for name, identity in budgets:
                parsed = rate(name)
                if parsed is None:
                    continue
                window = _Window(name, *parsed, self.now)
                if not window.count(identity, amount):
                    self.refused_until = window.end
                    return False
        except (RedisError, OSError) as exc:
            log.warning("Rate limit %r not applied: the cache is unreachable (%s)", scope, exc)
        except ValueError:  # the file cache's counter expired between add() and incr(): a new window's first request
            pass
        return True

    def timer(self) -> float:
        return time.time()

    def wait(self) -> float:
        """Seconds until the refusing window ends and its count starts again (DRF sends it as ``Retry-After``)."""
        return max(self.refused_until - self.now, 1.0)


def charge(request: Request, view: APIView, amount: int) -> None:
    """Charge ``amount`` more to the request's budgets of its view's scope (a number's digits beyond the first,
    which the throttle already counted); raises :class:`~rest_framework.exceptions.Throttled` (429) when over."""
    scope = getattr(view, "throttle_scope", None)
    if amount <= 0 or not scope:
        return
    throttle = ClientAndAddressThrottle()
    if not throttle.spend(request, scope, amount):
        raise Throttled(throttle.wait())
