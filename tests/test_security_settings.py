"""Safe defaults and production settings. With nothing set (the run command), DEBUG is off and the signing key is a
random one kept under var/; production (`DIGITS_HTTPS=1`) makes `check --deploy` clean, and responses carry the
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
CLEARED = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DIGITS_HTTPS")


def django_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith(("SECURE_", "SESSION_", "CSRF_"))
    }
    return {**env, "DIGITS_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "digits_site.settings", **values}


def production_env(tmp_path: Path, **values: str) -> dict[str, str]:
    key = secrets.token_urlsafe(50)
    hosts = "digits.example.com,testserver"
    return django_env(tmp_path, DEBUG="0", DIGITS_HTTPS="1", SECRET_KEY=key, ALLOWED_HOSTS=hosts, **values)


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


SETTINGS = "import django; django.setup(); from django.conf import settings as s; print({})"


def test_with_nothing_set_debug_is_off_and_the_key_is_random_kept_in_var(tmp_path) -> None:
    """The run command sets neither: no debug pages, and no key from the public source (which would let anyone
    forge client cookies and correction tokens); the key is made once, private, and the same for every process."""
    env = django_env(tmp_path)
    code = SETTINGS.format("[s.DEBUG, s.SECRET_KEY]")
    first = run(env, "-c", code)
    assert first.returncode == 0, first.stderr
    debug, key = eval(first.stdout.strip().splitlines()[-1])  # noqa: S307 (our own print of two literals)
    kept = tmp_path / "secret_key"
    assert debug is False
    assert key == kept.read_text().strip()
    assert len(key) >= 50
    assert kept.stat().st_mode & 0o777 == 0o600
    assert eval(run(env, "-c", code).stdout.strip().splitlines()[-1])[1] == key  # noqa: S307 (kept, not remade)
    other = tmp_path / "other"
    other.mkdir()
    assert eval(run(django_env(other), "-c", code).stdout.strip().splitlines()[-1])[1] != key  # noqa: S307


def test_processes_starting_at_once_share_one_key(tmp_path) -> None:
    env = django_env(tmp_path)
    code = SETTINGS.format("s.SECRET_KEY")
    starts = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    keys = {process.communicate(timeout=120)[0].strip().splitlines()[-1] for process in starts}
    assert keys == {(tmp_path / "secret_key").read_text().strip()}


def test_a_set_secret_key_is_used_and_nothing_is_written(tmp_path) -> None:
    env = django_env(tmp_path, SECRET_KEY="k" * 60)
    assert run(env, "-c", SETTINGS.format("s.SECRET_KEY")).stdout.strip().splitlines()[-1] == "k" * 60
    assert not (tmp_path / "secret_key").exists()


def test_without_https_the_plain_http_run_works_and_check_deploy_says_what_is_missing(tmp_path) -> None:
    """The laptop run serves plain HTTP: no redirect, no secure-only cookies; `check --deploy` names them."""
    env = django_env(tmp_path, ALLOWED_HOSTS="testserver")
    seen = probe(env)
    assert seen["plain"][0] == 200
    assert seen["cookies"][:2] == [False, False]
    result = run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W008" in result.stderr + result.stdout  # SECURE_SSL_REDIRECT


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


def test_numbers_in_the_environment_are_read_as_written_and_a_wrong_one_is_named(tmp_path) -> None:
    """``DIGITS_FINETUNE_LEARNING_RATE=1e-4`` is the rate people write (django-environ's own float reader failed on
    it, and read ``1e3`` as 13); a value that is no number stops start-up with its name, not a silent default."""
    code = SETTINGS.format("[s.DIGITS_FINETUNE_LEARNING_RATE, s.AXES_COOLOFF_TIME, s.DIGITS_LOW_CONFIDENCE]")
    env = django_env(tmp_path, DIGITS_FINETUNE_LEARNING_RATE="1e-4", AXES_COOLOFF_TIME="1e3")
    result = run(env, "-c", code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [1e-4, 1000.0, 0.7]
    wrong = run(django_env(tmp_path, DIGITS_LOW_CONFIDENCE="sure"), "-c", code)
    assert wrong.returncode != 0
    assert "DIGITS_LOW_CONFIDENCE='sure' is not a number" in wrong.stderr
