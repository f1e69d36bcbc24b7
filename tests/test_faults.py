"""Faults in a running production server (gunicorn, DEBUG off, PostgreSQL): the database goes away and comes back.

The server reaches its own PostgreSQL database through a TCP proxy this test controls; cutting the proxy is the
database becoming unreachable, as when its server stops or the network fails. While it is cut the API answers 503
with a JSON error and stores nothing; once it is back, the same server process answers again.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from bench.drawing import data_url, draw_digit
from tests.support.env import skip_or_fail
from tests.support.faults import TcpProxy, closed_port

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("DIGITS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")

pytestmark = [pytest.mark.slow, pytest.mark.services]


def libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


@pytest.fixture
def database():
    """A PostgreSQL database of its own, dropped afterwards; its URL."""
    try:
        admin = psycopg.connect(libpq(POSTGRES_URL), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL is unreachable at {POSTGRES_URL}: {exc}")
    name = f"digits_faults_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(POSTGRES_URL)._replace(path=f"/{name}").geturl()
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


class Server:
    """gunicorn serving the site on 127.0.0.1, and a small JSON client for it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = closed_port()
        self._log = log.open("w")
        command = [sys.executable, "-m", "gunicorn", "digits_site.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(
            [*command, "--workers", "1", "--timeout", "30"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.log = log

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = json.dumps(body) if body is not None else None
            connection.request(method, path, payload, {"Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), json.loads(data) if data else {}
        finally:
            connection.close()

    def wait_until_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"the server did not become healthy:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def run_manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def proxied_server(request: pytest.FixtureRequest, database: str, tmp_path: Path):
    """The production server on a migrated database with the default model active, reached through a proxy (with
    the extra environment variables an indirect parametrization gives)."""
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL")}
    base |= {"DIGITS_VAR_DIR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "digits_site.settings"}
    run_manage({**base, "DATABASE_URL": database}, "migrate", "--noinput", "-v0")
    run_manage({**base, "DATABASE_URL": database}, "ensure_model")
    target = urlsplit(database)
    proxy = TcpProxy((target.hostname or "127.0.0.1", target.port or 5432))
    proxy.restore()
    production = {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",  # plain HTTP on the loopback; TLS is the proxy's job in production
        "DATABASE_URL": target._replace(netloc=f"{target.username}@127.0.0.1:{proxy.port}").geturl(),
        "DATABASE_CONNECT_TIMEOUT": "2",
        "DIGITS_RATE_PREDICT": "off",
        "DIGITS_RATE_PREDICT_ADDRESS": "off",
        **getattr(request, "param", {}),
    }
    server = Server({**base, **production}, tmp_path / "gunicorn.log")
    try:
        server.wait_until_healthy()
        yield server, proxy, tmp_path / "var" / "media"
    finally:
        server.stop()
        proxy.cut()


def stored_drawings(media: Path) -> list[Path]:
    return sorted((media / "drawings").rglob("*.png")) if (media / "drawings").exists() else []


def test_with_the_database_down_the_api_answers_503_json_and_recovers(proxied_server, database) -> None:
    server, proxy, media = proxied_server
    image = {"image": data_url(draw_digit(1))}
    status, _, first = server.call("POST", "/api/predictions/", image)
    assert status == 201, first
    assert server.call("POST", first["correction_url"], {"label": 7, "token": first["correction_token"]})[0] == 200
    files_before = stored_drawings(media)

    proxy.cut()
    for method, path, body in [
        ("POST", "/api/predictions/", image),
        ("POST", "/api/numbers/", image),
        ("POST", f"/api/predictions/{first['id']}/correction/", {"label": 4, "token": first["correction_token"]}),
        ("GET", f"/api/predictions/{first['id']}/", None),
    ]:
        status, headers, answer = server.call(method, path, body)
        assert status == 503, (method, path, answer)
        assert answer == {"detail": "The database is unavailable; try again shortly.", "code": "database_unavailable"}
        assert headers["Retry-After"] == "5"
    status, _, health = server.call("GET", "/healthz")
    assert status == 503
    assert health["status"] == "unavailable"
    assert health["database"] == {"ok": False, "error": "OperationalError"}
    assert stored_drawings(media) == files_before  # nothing half-written

    proxy.restore()
    status, _, second = server.call("POST", "/api/predictions/", image)  # the very next request
    assert status == 201, second
    assert server.call("GET", "/healthz")[0] == 200
    assert server.process.poll() is None  # the same process, no restart

    with psycopg.connect(libpq(database)) as connection:
        rows = connection.execute("SELECT id, corrected_label FROM recognizer_drawing ORDER BY id").fetchall()
    assert rows == [(first["id"], 7), (second["id"], None)]
    assert len(stored_drawings(media)) == 2


def restart_the_database_under(server: Server, proxy: TcpProxy) -> dict:
    """A prediction (so the web process keeps a connection), then every connection dropped as by a database restart
    while the site is idle; returns the first prediction."""
    status, _, first = server.call("POST", "/api/predictions/", {"image": data_url(draw_digit(3))})
    assert status == 201, first
    proxy.cut()
    proxy.restore()
    return first


@pytest.mark.parametrize("proxied_server", [{"DATABASE_HEALTH_CHECK_WINDOW": "0.5"}], indirect=True)
def test_a_database_restart_during_a_quiet_spell_fails_no_request(proxied_server) -> None:
    """The kept connection died while idle for longer than the window: it is checked, found dead and replaced."""
    server, proxy, _ = proxied_server
    restart_the_database_under(server, proxy)
    time.sleep(1.0)
    status, _, answer = server.call("POST", "/api/predictions/", {"image": data_url(draw_digit(5))})
    assert status == 201, answer


@pytest.mark.parametrize("proxied_server", [{"DATABASE_HEALTH_CHECK_WINDOW": "60"}], indirect=True)
def test_a_connection_used_within_the_window_is_not_checked_and_recovers_after_one_503(proxied_server) -> None:
    """The documented price of skipping the check under load: a restart costs the next request on that connection
    (a 503 the client may retry), and the one after is served on a new connection."""
    server, proxy, _ = proxied_server
    restart_the_database_under(server, proxy)
    status, _, answer = server.call("POST", "/api/predictions/", {"image": data_url(draw_digit(5))})
    assert (status, answer.get("code")) == (503, "database_unavailable")
    status, _, answer = server.call("POST", "/api/predictions/", {"image": data_url(draw_digit(5))})
    assert status == 201, answer
