"""The site started exactly as the README's run command does (``scripts/run.sh``: MNIST, migrate, the default
model, collectstatic, then honcho running the Procfile's gunicorn, Celery worker and scheduler), on a free port and
a var/ folder of its own, with nothing else set: DEBUG off, the random key kept under var/, SQLite, no Redis.

Only the virtualenv set-up is skipped (``DIGITS_SKIP_SETUP=1``): the tests run from a ready .venv.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.env import ROOT
from tests.support.faults import closed_port

#: Variables of the developer's or CI's environment that would change what the run command does.
CLEARED = ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "ALLOWED_HOSTS", "DIGITS_HTTPS")


class Site:
    def __init__(self, var: Path, port: int, process: subprocess.Popen, log: Path) -> None:
        self.var, self.port, self.process, self.log = var, port, process, log
        self.base = f"http://127.0.0.1:{port}"

    def call(
        self, method: str, path: str, body: object = None, headers: dict | None = None, raw: bytes | None = None
    ) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            sent = {"Content-Type": "application/json", **(headers or {})}
            connection.request(method, path, payload, sent)
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, body: object = None, headers: dict | None = None) -> tuple[int, dict]:
        status, _, data = self.call(method, path, body, headers)
        return status, json.loads(data) if data else {}


@contextmanager
def running_site(tmp_path: Path, **env: str) -> Iterator[Site]:
    var = tmp_path / "var"
    port = closed_port()
    base = {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith(("SECURE_", "DIGITS_RATE"))}
    environment = {
        **base,
        "DIGITS_SKIP_SETUP": "1",
        "DIGITS_VAR_DIR": str(var),
        "DIGITS_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "2",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    log = tmp_path / "site.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["scripts/run.sh"], cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    site = Site(var, port, process, log)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, log.read_text()[-5000:]
            try:
                if site.call("GET", "/healthz")[0] in (200, 503):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-5000:]
            time.sleep(0.5)
        yield site
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
