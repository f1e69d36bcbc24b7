"""Several Digits hosts on one machine, with real processes: nginx (deploy/nginx.conf) in front of gunicorn web nodes,
each with its own empty ``DIGITS_VAR_DIR``, Celery workers, and moto's standalone S3 server as the object store.

Used by ``tests/test_multinode.py`` and ``bench/multinode.py``. Nothing here shares a folder between "hosts": what one
node stores, another reads through the object store and the database, as on separate machines.

nginx runs unprivileged with its own configuration and state folder: as the current user, or as ``nobody`` when that
user is root (so the folder it reads and writes is made for it, outside any private temporary folder).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.common import PYTHON, ROOT, free_port

NGINX_TEMPLATE = ROOT / "deploy" / "nginx.conf"
NGINX = os.environ.get("DIGITS_NGINX", "/usr/sbin/nginx")
#: The bucket and keys the S3 stand-in is used with (moto accepts any keys).
S3_BUCKET = "digits"
S3_KEYS = {"AWS_ACCESS_KEY_ID": "digits-test", "AWS_SECRET_ACCESS_KEY": "digits-test-secret"}


def nginx_binary() -> str | None:
    """nginx from Debian's package, if installed."""
    return NGINX if Path(NGINX).exists() else shutil.which("nginx")


class Process:
    """A process started in its own session (so its whole group can be signalled), logging to a file."""

    def __init__(self, name: str, args: Sequence[str], env: dict[str, str], log_dir: Path, **popen) -> None:
        self.name, self.log = name, Path(log_dir) / f"{name}.log"
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                list(args), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **popen
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited ({self.popen.returncode}) before {what}:\n{self.output()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {what} within {timeout} s:\n{self.output()[-3000:]}")
            time.sleep(0.2)

    def kill(self, sig: int = signal.SIGTERM) -> None:
        """Signal the whole process group and wait for the leader (SIGKILL after 30 s)."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)
        # The leader is gone; its children (gunicorn's workers, holding the listening socket) may linger a moment.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.popen.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)


def answers(url: str, status: int = 200) -> Callable[[], bool]:
    """A readiness check: GET ``url`` answers ``status``."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (127.0.0.1 only)
                return response.status == status
        except urllib.error.HTTPError as exc:
            return exc.code == status
        except OSError:
            return False

    return check


# ---------------------------------------------------------------- the object store


def start_s3(log_dir: Path, env: dict[str, str] | None = None) -> tuple[Process, str]:
    """moto's standalone S3 server on 127.0.0.1 with the bucket :data:`S3_BUCKET`; returns it and its endpoint URL."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = Process(
        "s3", [PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env or {**os.environ}, log_dir
    )
    server.wait_for(answers(endpoint + "/moto-api/"), 60, "HTTP answer")
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_boto_keys())
    client.create_bucket(Bucket=S3_BUCKET)
    return server, endpoint


def _boto_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_KEYS["AWS_SECRET_ACCESS_KEY"],
    }


def s3_env(endpoint: str) -> dict[str, str]:
    """The settings that put a node's storage on the object store (digits_site/settings.py)."""
    return {
        "DIGITS_S3_BUCKET": S3_BUCKET,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_S3_ADDRESSING_STYLE": "path",
        **S3_KEYS,
    }


def s3_objects(endpoint: str, prefix: str = "") -> list[str]:
    """The keys in the bucket under ``prefix``."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_boto_keys())
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


# ---------------------------------------------------------------- web nodes and workers


def start_web_node(
    name: str, env: dict[str, str], log_dir: Path, workers: int = 2, extra: Sequence[str] = ()
) -> tuple[Process, str]:
    """gunicorn as in the Procfile (sync workers, an access log in ``log_dir/<name>-access.log``) on a free port;
    returns it and its address once ``/healthz`` answers 200."""
    port = free_port()
    args = [PYTHON, "-m", "gunicorn", "digits_site.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    args += ["--timeout", "60", "--access-logfile", str(Path(log_dir) / f"{name}-access.log"), *extra]
    node = Process(name, args, env, log_dir)
    node.wait_for(answers(f"http://127.0.0.1:{port}/healthz"), 90, "a healthy /healthz")
    return node, f"127.0.0.1:{port}"


def start_worker(name: str, env: dict[str, str], log_dir: Path, queues: Sequence[str]) -> Process:
    """A Celery worker consuming only ``queues`` (as a training host runs it), once it says it is ready."""
    args = [PYTHON, "-m", "celery", "-A", "digits_site", "worker", "--loglevel", "INFO", "--concurrency", "1"]
    args += ["--hostname", f"{name}-{os.getpid()}@%h", "--queues", ",".join(queues)]
    args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    worker = Process(name, args, env, log_dir)
    worker.wait_for(lambda: " ready." in worker.output(), 120, "ready message")
    return worker


def manage_steps(env: dict[str, str], steps: Sequence[Sequence[str]], timeout: float = 300) -> str:
    """Several ``manage.py`` commands, one after the other in one process (Django starts once); their output."""
    script = (
        "import sys, django; django.setup(); from django.core.management import call_command\n"
        f"for step in {[list(step) for step in steps]!r}: call_command(*step)\n"
    )
    env = {**env, "DJANGO_SETTINGS_MODULE": "digits_site.settings"}
    result = subprocess.run([PYTHON, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode:
        raise RuntimeError(f"manage.py {steps} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """``manage.py`` in its own process (as an operator runs it on a host); its output."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


# ---------------------------------------------------------------- the proxy


def render_nginx_conf(state_dir: Path, listen: str, static_root: Path, nodes: Sequence[str]) -> str:
    """deploy/nginx.conf with its placeholders filled in."""
    values = {
        "@STATE_DIR@": str(state_dir),
        "@LISTEN@": listen,
        "@STATIC_ROOT@": str(static_root),
        "@WEB_NODES@": "\n".join(f"        server {node} max_fails=1 fail_timeout=10s;" for node in nodes),
    }
    lines = []
    for line in NGINX_TEMPLATE.read_text().splitlines():
        if not line.lstrip().startswith("#"):  # the comments name the placeholders
            for placeholder, value in values.items():
                line = line.replace(placeholder, value)
        lines.append(line)
    return "\n".join(lines) + "\n"


class Nginx:
    """nginx with deploy/nginx.conf in a folder of its own, listening on 127.0.0.1, as an unprivileged process.

    The folder holds the rendered configuration, its state (pid, logs, buffered bodies) and ``static/``, the
    collected static files (``STATIC_ROOT`` for ``collectstatic``).
    """

    def __init__(self) -> None:
        binary = nginx_binary()
        if binary is None:
            raise FileNotFoundError("nginx is not installed (apt-get install nginx)")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="digits-nginx-"))
        self.static_root = self.dir / "static"
        self.static_root.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Process | None = None
        # Root runs it as nobody: nginx's own folder must be that user's (and /tmp, above it, is open to all).
        self.user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None

    def _own(self) -> None:
        if self.user is not None:
            for path in [self.dir, *self.dir.rglob("*")]:
                os.chown(path, self.user.pw_uid, self.user.pw_gid, follow_symlinks=False)

    def configure(self, nodes: Sequence[str]) -> Path:
        conf = self.dir / "nginx.conf"
        conf.write_text(render_nginx_conf(self.dir, f"127.0.0.1:{self.port}", self.static_root, nodes))
        self._own()
        return conf

    def _command(self, *extra: str) -> list[str]:
        return [
            self.binary,
            "-p",
            str(self.dir),
            "-c",
            str(self.dir / "nginx.conf"),
            "-e",
            str(self.dir / "error.log"),
            *extra,
        ]

    def _as_user(self) -> dict:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def test_config(self) -> str:
        """``nginx -t`` on the rendered file: raises with nginx's message when it is refused."""
        result = subprocess.run(self._command("-t"), capture_output=True, text=True, **self._as_user())
        if result.returncode:
            raise RuntimeError(f"nginx -t refused the configuration:\n{result.stderr}")
        return result.stderr

    def start(self, nodes: Sequence[str]) -> None:
        self.configure(nodes)
        self.test_config()
        self.process = Process("nginx", self._command("-g", "daemon off;"), {**os.environ}, self.dir, **self._as_user())
        self.process.wait_for(answers(self.url + "/healthz"), 30, "an answer through nginx")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        from bench.server import children

        return [self.process.pid, *children(self.process.pid)]

    def access_log(self) -> list[str]:
        path = self.dir / "access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill(signal.SIGQUIT)  # graceful: finish the requests in flight
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
