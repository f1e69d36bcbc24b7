"""Production settings (DEBUG off): a SECRET_KEY is required, `check --deploy` is clean, and responses carry the
security headers, secure cookies and the redirect to HTTPS. Each runs Django in a subprocess with that environment,
since settings are read once, from the environment, at start-up."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Variables that change what is checked here; the tests set the ones they need.
CLEARED = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")


def django_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith(("SECURE_", "SESSION_", "CSRF_"))
    }
    return {**env, "DIGITS_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "digits_site.settings", **values}


def production_env(tmp_path: Path, **values: str) -> dict[str, str]:
    key = secrets.token_urlsafe(50)
    return django_env(tmp_path, DEBUG="0", SECRET_KEY=key, ALLOWED_HOSTS="digits.example.com,testserver", **values)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings(tmp_path) -> None:
    result = run(production_env(tmp_path), "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_a_weakened_setting(tmp_path) -> None:
    """The check above can fail: turning HSTS off is reported."""
    env = production_env(tmp_path, SECURE_HSTS_SECONDS="0")
    result = run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


def test_without_debug_a_secret_key_is_required(tmp_path) -> None:
    env = django_env(tmp_path, DEBUG="0", ALLOWED_HOSTS="digits.example.com")
    result = run(env, "manage.py", "check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.test import Client
client = Client()
secure = client.get("/api/schema/", secure=True)
plain = client.get("/api/schema/")
health = client.get("/healthz")
print(json.dumps({
    "headers": dict(secure.headers),
    "plain": [plain.status_code, plain.headers.get("Location")],
    "health": health.status_code,
    "cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.SESSION_COOKIE_HTTPONLY],
}))
"""


def probe(env: dict[str, str]) -> dict:
    result = run(env, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_responses_carry_the_security_headers(tmp_path) -> None:
    seen = probe(production_env(tmp_path))
    headers = seen["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline or foreign script can run
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert seen["plain"] == [301, "https://testserver/api/schema/"]  # plain HTTP is sent to HTTPS
    assert seen["health"] != 301  # but a load balancer's plain-HTTP health check is answered
    assert seen["cookies"] == [True, True, True]


def test_behind_a_tls_proxy_its_forwarded_protocol_is_trusted_only_when_configured(tmp_path) -> None:
    env = production_env(tmp_path, DIGITS_BEHIND_TLS_PROXY="1")
    result = run(
        env,
        "-c",
        "import django; django.setup(); from django.test import Client; "
        "print(Client().get('/api/schema/', HTTP_X_FORWARDED_PROTO='https').status_code)",
    )
    assert result.stdout.strip().splitlines()[-1] == "200"
    result = run(
        production_env(tmp_path),
        "-c",
        "import django; django.setup(); from django.test import Client; "
        "print(Client().get('/api/schema/', HTTP_X_FORWARDED_PROTO='https').status_code)",
    )
    assert result.stdout.strip().splitlines()[-1] == "301"


def test_in_development_nothing_forces_https(tmp_path) -> None:
    seen = probe(django_env(tmp_path, DEBUG="1", ALLOWED_HOSTS="testserver"))
    assert seen["plain"][0] == 200
    assert "Strict-Transport-Security" not in seen["headers"]
    assert seen["cookies"][:2] == [False, False]


def test_each_production_default_can_be_changed_by_its_variable(tmp_path) -> None:
    names = ["SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS"]
    env = production_env(tmp_path, **dict.fromkeys(names, "0"))
    code = f"import django; django.setup(); from django.conf import settings as s; print([s.{', s.'.join(names)}])"
    assert run(env, "-c", code).stdout.strip().splitlines()[-1] == "[False, False, False, 0]"
