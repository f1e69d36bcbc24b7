"""Rate limits on predicting and correcting, kept in the cache (Redis in production), failing open.

Limits protect the service and the training data from one address's flood; they are not what keeps data safe. So
when the cache cannot be reached (Redis down), requests are let through and a warning is logged: predictions and
corrections keep working and being stored, unthrottled, until the cache is back.

DRF's own throttle keeps the time of each of an address's recent requests in one cached list, read and written back
whole on every request: its cost grows with the limit (at 120/min, up to 120 entries unpickled and pickled per
request; many times that for a classroom behind one address with a raised limit). Here a client has one counter per
fixed window of the rate's period, and a request costs one round trip to Redis whatever the limit. The price is the
usual one of fixed windows: a client may send up to twice its limit across the edge between two windows.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

import redis
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is loading
    from rest_framework.request import Request
    from rest_framework.views import APIView

log = logging.getLogger(__name__)
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


@functools.cache
def _redis(location: str, options: tuple[tuple[str, object], ...]) -> redis.Redis:
    return redis.Redis.from_url(location, **dict(options))


def count_request(key: str, ttl: int) -> int:
    """Count one request under the cache key ``key`` (kept ``ttl`` seconds from its first request) and return the
    count so far: one pipelined round trip with Redis; Django's cache API with the embedded file cache."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != REDIS_CACHE:
        return 1 if cache.add(key, 1, ttl) else cache.incr(key)
    client = _redis(config["LOCATION"], tuple(sorted(config.get("OPTIONS", {}).items())))
    pipeline = client.pipeline(transaction=False)
    full_key = cache.make_key(key)
    pipeline.set(full_key, 0, ex=ttl, nx=True)
    pipeline.incr(full_key)
    return pipeline.execute()[1]


class FailOpenScopedRateThrottle(ScopedRateThrottle):
    """A per-address limit (per user for staff) for the view's ``throttle_scope``, counted in fixed windows, that
    lets requests through when the cache is down.
    A scope whose rate is ``None`` (``DIGITS_RATE_*=off``) is not limited."""

    window_end: float = 0.0

    def get_rate(self) -> str | None:
        # Read at each request rather than once at import (as DRF does), so settings changes take effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.scope = getattr(view, self.scope_attr, None)
        self.rate = self.get_rate() if self.scope else None
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        try:
            count = count_request(f"{self.get_cache_key(request, view)}:{window}", self.duration + 1)
        except (RedisError, OSError) as exc:
            log.warning("Rate limit %r not applied: the cache is unreachable (%s)", self.scope, exc)
            return True
        except ValueError:  # the file cache's counter expired between add() and incr(): a new window's first request
            return True
        return count <= self.num_requests

    def wait(self) -> float:
        """Seconds until the address's window ends and its count starts again (DRF sends it as ``Retry-After``)."""
        return max(self.window_end - self.now, 1.0)
