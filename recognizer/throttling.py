"""Rate limits on predicting and correcting, kept in the cache (Redis in production), failing open.

Limits protect the service and the training data from one client's flood; they are not what keeps data safe. So
when the cache cannot be reached (Redis down), requests are let through and a warning is logged: predictions and
corrections keep working and being stored, unthrottled, until the cache is back.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is loading
    from rest_framework.request import Request
    from rest_framework.views import APIView

log = logging.getLogger(__name__)


class FailOpenScopedRateThrottle(ScopedRateThrottle):
    """DRF's per-client scoped limit (``throttle_scope`` on the view), which lets requests through when the cache
    is down. A scope whose rate is ``None`` (``DIGITS_RATE_*=off``) is not limited."""

    def get_rate(self) -> str | None:
        # Read at each request rather than once at import (as DRF does), so settings changes take effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError) as exc:
            log.warning("Rate limit %r not applied: the cache is unreachable (%s)", self.scope, exc)
            return True
