"""PostgreSQL, with Django's connection health check skipped for a connection that answered moments ago.

Django checks a kept connection (``SELECT 1``, a round trip) at the start of every request that uses it, so that a
database restart during a quiet spell costs no failed request. Under load that check is 5-10% of what a stored
prediction costs (docs/performance.md) and says nothing new: the connection answered a few milliseconds before. As
connection pools do (HikariCP's "alive bypass window"), the check is skipped while the connection last finished a
request without error less than ``DATABASE_HEALTH_CHECK_WINDOW`` seconds ago; one idle for longer is checked.
A database that restarts in the middle of traffic fails the requests in flight either way.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    #: When a request last used this connection without an error (``time.monotonic()``).
    last_good_use = float("-inf")

    def close_if_unusable_or_obsolete(self) -> None:
        # Called when a request starts and when it ends; only at the end of one that used the connection (and so
        # did or skipped its check) is ``health_check_done`` set.
        if self.connection is not None and self.health_check_done and not self.errors_occurred:
            self.last_good_use = time.monotonic()
        super().close_if_unusable_or_obsolete()

    def close_if_health_check_failed(self) -> None:
        recently = time.monotonic() - self.last_good_use < settings.DATABASE_HEALTH_CHECK_WINDOW
        if self.connection is not None and recently:
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
