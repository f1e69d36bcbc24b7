"""``/healthz``: can this web process serve? Database, broker, and the active model version and whether it is loaded.

The answer is 503 when a prediction cannot be served (no database, or no model loaded), so a load balancer stops
sending traffic here. A broker that is down is reported but answers 200 ("degraded"): predictions and corrections
do not need it, only fine-tunes do. The page is public, so it names what failed but not hosts or messages; those go
to the log.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from redis import Redis
from redis.exceptions import RedisError

from recognizer import serving
from recognizer.models import ModelVersion

log = logging.getLogger(__name__)


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        log.warning("Health check: the database is unavailable: %s", exc)
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "vendor": connection.vendor}


def _ping_redis(url: str) -> None:
    client = Redis.from_url(url, socket_connect_timeout=settings.REDIS_TIMEOUT, socket_timeout=settings.REDIS_TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


def _filesystem_broker_writable() -> None:
    """The filesystem transport's folders exist (they are made if missing, as the worker would) and are writable."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = Path(options[key])
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"{folder} is not writable")


def check_broker() -> dict:
    """Redis answers a PING; or the filesystem broker's folders are usable. Other transports are not checked."""
    transport = settings.CELERY_BROKER_URL.split("://", 1)[0]
    try:
        if transport in ("redis", "rediss", "unix"):
            _ping_redis(settings.CELERY_BROKER_URL)
        elif transport == "filesystem":
            _filesystem_broker_writable()
        else:
            return {"ok": None, "transport": transport}
    except (RedisError, OSError) as exc:
        log.warning("Health check: the %s broker is unavailable: %s", transport, exc)
        return {"ok": False, "transport": transport, "error": type(exc).__name__}
    return {"ok": True, "transport": transport}


def check_model(database_ok: bool) -> dict:
    """The active version (from the database) and the one this process serves, loading it if it has none yet."""
    active = error = None
    if not database_ok:
        error = "the database is unavailable"
    else:
        try:
            active = ModelVersion.objects.filter(is_active=True).values_list("name", flat=True).first()
            serving.active_model()
        except (DatabaseError, serving.ModelUnavailable) as exc:
            log.warning("Health check: no model can be served: %s", exc)
            error = type(exc).__name__
    loaded = serving.loaded_version_name()
    result = {"active_version": active, "loaded_version": loaded, "loaded": loaded is not None and loaded == active}
    return {**result, "error": error} if error else result


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database = check_database()
    broker = check_broker()
    model = check_model(database["ok"])
    serving_ok = database["ok"] and model["loaded_version"] is not None
    healthy = serving_ok and broker["ok"] is not False and model["loaded"]
    status = "ok" if healthy else "degraded" if serving_ok else "unavailable"
    body = {"status": status, "database": database, "broker": broker, "model": model}
    return JsonResponse(body, status=200 if serving_ok else 503)
