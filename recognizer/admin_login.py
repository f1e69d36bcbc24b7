"""Admin login guessing is slowed, then locked.

django-axes (settings ``AXES_*``) counts failed logins per username and client address and, after
``AXES_FAILURE_LIMIT`` of them, refuses that username from that address (even with the right password) for
``AXES_COOLOFF_TIME`` hours, with a 429 page. Before that, each failure is answered only after
``DIGITS_LOGIN_FAILURE_DELAY`` seconds, so guessing is slow from the first try; a right password is answered at once.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver


@receiver(user_login_failed, dispatch_uid="digits.slow_failed_login")
def slow_failed_login(sender, credentials: dict, request=None, **kwargs) -> None:
    delay = settings.DIGITS_LOGIN_FAILURE_DELAY
    if request is not None and delay > 0:
        time.sleep(delay)
