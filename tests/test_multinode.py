"""Digits on several hosts, with real processes and no shared disk: nginx (deploy/nginx.conf) in front of two gunicorn
web nodes, each with its own empty ``DIGITS_VAR_DIR``; a Celery worker that consumes only the training queue, with its
own ``var/``; PostgreSQL, Redis, and moto's standalone S3 server as the object store (bench/cluster.py starts them).

Runs on scripts/test.sh's PostgreSQL + Redis pass; on the embedded SQLite pass it is skipped (hosts cannot share a
SQLite file). A missing nginx, Redis or moto is a skip on a developer machine and a failure in CI (skip_or_fail).
The tests run in order on one cluster; the last one kills a web node.
"""

from __future__ import annotations

import hashlib
import http.client
import http.cookiejar
import json
import os
import re
import secrets
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from bench import cluster
from bench.drawing import data_url, draw_digit
from bench.handwriting import render
from tests.support.env import skip_or_fail
from tests.support.workers import FAST, RATES_OFF

pytestmark = [pytest.mark.slow, pytest.mark.celery]

POSTGRES_URL = os.environ.get("DIGITS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
STAFF = ("ops", "multi-node-" + secrets.token_hex(8))
#: What each web node logs of a request: the address it came from and the client-address headers it carried.
ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s xff="%({x-forwarded-for}i)s" real="%({x-real-ip}i)s"'


def libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


@dataclass
class Cluster:
    dir: Path
    database: str
    env: dict[str, str]
    s3: str
    nginx: cluster.Nginx
    nodes: dict[str, cluster.Process] = field(default_factory=dict)
    addresses: dict[str, str] = field(default_factory=dict)
    worker: cluster.Process | None = None

    def query(self, sql: str, *params) -> list[tuple]:
        import psycopg

        with psycopg.connect(libpq(self.database)) as conn:
            return conn.execute(sql, params).fetchall()

    def access_log(self, node: str) -> list[str]:
        path = self.dir / f"{node}-access.log"
        return path.read_text(errors="replace").splitlines() if path.exists() else []

    def logs(self) -> str:
        parts = []
        for path in sorted(self.dir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-2500:]}")
        return "\n".join(parts)


def requirements() -> tuple[str, str]:
    """Skips (or fails in CI) unless this is the PostgreSQL pass with Redis, nginx and moto at hand."""
    if settings.DATABASES["default"]["ENGINE"] not in {"django.db.backends.postgresql", "digits_site.postgresql"}:
        pytest.skip("several hosts need a database server: runs on the PostgreSQL + Redis pass, not on embedded SQLite")
    redis_url = os.environ.get("DIGITS_TEST_REDIS_URL")
    if not redis_url:
        skip_or_fail("DIGITS_TEST_REDIS_URL is not set: the multi-node test needs Redis")
    import redis

    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis at {redis_url} is unreachable: {exc}")
    if cluster.nginx_binary() is None:
        skip_or_fail("nginx is not installed (scripts/test.sh installs Debian's nginx)")
    try:
        import boto3  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError:
        skip_or_fail("moto[server] and boto3 are not installed (requirements.txt)")
    import psycopg

    try:
        psycopg.connect(libpq(POSTGRES_URL), connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        skip_or_fail(f"PostgreSQL is unreachable at {POSTGRES_URL}: {exc}")
    return POSTGRES_URL, redis_url


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The whole set-up, started once for the module's tests and stopped after them."""
    postgres_url, redis_url = requirements()
    import psycopg

    base_dir = tmp_path_factory.mktemp("multinode")
    name = f"digits_multinode_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(libpq(postgres_url), autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    database = urllib.parse.urlsplit(postgres_url)._replace(path=f"/{name}").geturl()
    started: list[cluster.Process] = []
    nginx = None
    try:
        s3, endpoint = cluster.start_s3(base_dir)
        started.append(s3)
        queue = f"digits-multinode-{uuid.uuid4().hex[:10]}"
        omit = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MEDIA_ROOT", "DIGITS_VAR_DIR", "STATIC_ROOT"}
        env = {k: v for k, v in os.environ.items() if k not in omit and k != "DJANGO_SETTINGS_MODULE"}
        env.update(
            DATABASE_URL=database,
            REDIS_URL=redis_url,
            # Queues of this run's own: other test runs on the same Redis never take its tasks.
            CELERY_TASK_DEFAULT_QUEUE=queue,
            DIGITS_TRAINING_QUEUE=f"{queue}-training",
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(40),
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="0",
            SESSION_COOKIE_SECURE="0",
            CSRF_COOKIE_SECURE="0",
            DIGITS_NUM_PROXIES="1",
            DIGITS_MNIST_DIR=str(settings.DIGITS_MNIST_DIR),
            DIGITS_MODEL_REFRESH_SECONDS="1.0",
            # All the test's traffic comes from one address (127.0.0.1 through nginx): no classroom ceiling either.
            **RATES_OFF,
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONPATH=str(cluster.ROOT),
            **cluster.s3_env(endpoint),
        )
        nginx = cluster.Nginx()
        # The operator's shell: migrate, register the shipped model (into the object store), a staff account, and
        # the static files for the proxy.
        ops = {
            **env,
            "DIGITS_VAR_DIR": str(base_dir / "ops-var"),
            "STATIC_ROOT": str(nginx.static_root),
            "DJANGO_SUPERUSER_USERNAME": STAFF[0],
            "DJANGO_SUPERUSER_PASSWORD": STAFF[1],
            "DJANGO_SUPERUSER_EMAIL": "ops@example.com",
        }
        steps = [["migrate", "--noinput", "-v0"], ["ensure_model"], ["createsuperuser", "--noinput"]]
        cluster.manage_steps(ops, [*steps, ["collectstatic", "--noinput", "-v0"]])
        hosts = Cluster(base_dir, database, env, endpoint, nginx)
        for node in ("web-a", "web-b"):
            # Static files are part of the release, like the code: collected once, deployed read-only to every web
            # host (the manifest, for hashed names) and to the proxy (the files). Here the proxy's copy serves both.
            node_env = {**env, "DIGITS_VAR_DIR": str(base_dir / node / "var"), "STATIC_ROOT": str(nginx.static_root)}
            process, address = cluster.start_web_node(
                node, node_env, base_dir, workers=2, extra=["--access-logformat", ACCESS_FORMAT]
            )
            started.append(process)
            hosts.nodes[node], hosts.addresses[node] = process, address
        nginx.start(list(hosts.addresses.values()))
        worker_env = {
            **env,
            **FAST,
            "DIGITS_VAR_DIR": str(base_dir / "trainer" / "var"),
            "DIGITS_TRAIN_ON_PENDING": "1",
            # The gate's judgement is tested elsewhere (tests/test_finetune.py): here any sound candidate is promoted.
            "DIGITS_GATE_MAX_MNIST_DROP": "1",
            "DIGITS_GATE_MAX_HELDOUT_DROP": "1",
            "DIGITS_GATE_MAX_FLAGGED_RISE": "1",
        }
        hosts.worker = cluster.start_worker("trainer", worker_env, base_dir, [env["DIGITS_TRAINING_QUEUE"]])
        started.append(hosts.worker)
        yield hosts
    finally:
        for process in reversed(started):
            process.kill(signal.SIGTERM)
        if nginx is not None:
            nginx.remove()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# ---------------------------------------------------------------- a small HTTP client


@dataclass(frozen=True)
class Answer:
    sent: float
    status: int
    body: dict


def request(
    url: str, payload: dict | None = None, headers: dict[str, str] | None = None, opener=None
) -> tuple[int, bytes, dict]:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})  # noqa: S310
    try:
        with (opener or urllib.request.build_opener()).open(req, timeout=30) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def predict(base: str, image: str) -> Answer:
    sent = time.time()
    try:
        status, body, _ = request(base + "/api/predictions/", {"image": image})
        return Answer(
            sent, status, json.loads(body) if status == 201 else {"detail": body[:300].decode(errors="replace")}
        )
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, or an answer cut off mid-body
        return Answer(sent, 0, {"detail": repr(exc)})


class Traffic(threading.Thread):
    """One client predicting over and over at ``base``, keeping every answer, until stopped."""

    def __init__(self, base: str, seed: int, pause: float = 0.02) -> None:
        super().__init__(daemon=True)
        rng = np.random.default_rng(seed)
        self.base, self.pause = base, pause
        self.images = [data_url(render(d, rng)) for d in range(10)]
        self.answers: list[Answer] = []
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            self.answers.append(predict(self.base, self.images[i % 10]))
            i += 1
            self.stop.wait(self.pause)


def staff_session(base: str):
    """An opener logged in to the admin as the staff account (through nginx, with the CSRF token)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(base + "/admin/login/", timeout=30) as response:
        assert response.status == 200
    token = next(c.value for c in jar if c.name == "csrftoken")
    form = {"username": STAFF[0], "password": STAFF[1], "csrfmiddlewaretoken": token, "next": "/admin/"}
    req = urllib.request.Request(base + "/admin/login/", data=urllib.parse.urlencode(form).encode())  # noqa: S310
    with opener.open(req, timeout=30) as response:
        assert response.url.endswith("/admin/"), response.url
    return opener, next(c.value for c in jar if c.name == "csrftoken")  # a new one since the login


def posts_to_predictions(lines: list[str]) -> list[str]:
    return [line for line in lines if '"POST /api/predictions/ ' in line]


# ---------------------------------------------------------------- the tests


def test_nginx_serves_static_files_and_passes_the_client_address(hosts: Cluster) -> None:
    nginx = hosts.nginx
    assert "syntax is ok" in nginx.test_config()
    css = next(hosts.nginx.static_root.rglob("*.css"))
    path = "/static/" + css.relative_to(nginx.static_root).as_posix()
    before = {node: len(hosts.access_log(node)) for node in hosts.nodes}
    status, body, headers = request(nginx.url + path)
    assert (status, body) == (200, css.read_bytes())
    assert headers["Server"] == "nginx"
    assert "max-age=31536000" in headers.get("Cache-Control", "")
    # A client's own X-Forwarded-For is kept, then nginx's view of it appended; the web node takes that last one.
    status, _, _ = request(nginx.url + "/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    assert status == 200
    time.sleep(0.3)
    new = [line for node in hosts.nodes for line in hosts.access_log(node)[before[node] :]]
    assert not [line for line in new if "/static/" in line], "static files must not reach the web nodes"
    seen = [line for line in new if "/healthz" in line]
    assert len(seen) == 1
    assert 'xff="203.0.113.9, 127.0.0.1" real="127.0.0.1"' in seen[0]


def test_the_web_nodes_trust_exactly_one_proxy_hop(hosts: Cluster) -> None:
    """With DIGITS_NUM_PROXIES=1 the client is the address nginx appended, whatever the client wrote before it."""
    from rest_framework.settings import api_settings
    from rest_framework.test import APIRequestFactory
    from rest_framework.throttling import BaseThrottle

    assert hosts.env["DIGITS_NUM_PROXIES"] == "1"
    request_ = APIRequestFactory().get("/", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7", REMOTE_ADDR="10.0.0.2")
    before = api_settings.NUM_PROXIES
    try:
        api_settings.NUM_PROXIES = 1
        assert BaseThrottle().get_ident(request_) == "198.51.100.7"
    finally:
        api_settings.NUM_PROXIES = before


def test_predictions_through_nginx_land_on_both_nodes_and_in_the_object_store(hosts: Cluster) -> None:
    rng = np.random.default_rng(1)
    answers = [predict(hosts.nginx.url, data_url(render(i % 10, rng))) for i in range(24)]
    assert [a.status for a in answers] == [201] * 24, [a.body for a in answers if a.status != 201]
    served = {node: len(posts_to_predictions(hosts.access_log(node))) for node in hosts.nodes}
    assert all(count >= 4 for count in served.values()), served
    ids = [a.body["id"] for a in answers]
    rows = hosts.query("SELECT id, image FROM recognizer_drawing WHERE id = ANY(%s)", ids)
    assert len(rows) == 24
    stored = set(cluster.s3_objects(hosts.s3, "drawings/"))
    assert {image for _, image in rows} <= stored
    # No node wrote drawings to its own disk.
    for node in hosts.nodes:
        assert not list((hosts.dir / node / "var").rglob("*.png"))


def test_a_fine_tune_on_the_training_host_is_served_by_both_nodes_within_2_s(hosts: Cluster) -> None:
    base = hosts.nginx.url
    # Corrections through nginx, on whichever node answers.
    rng = np.random.default_rng(2)
    for i in range(36):
        digit = i % 10
        answer = predict(base, data_url(render(digit, rng)))
        assert answer.status == 201
        status, _, _ = request(
            answer.body["correction_url"], {"label": digit, "token": answer.body["correction_token"]}
        )
        assert status == 200
    old = hosts.query("SELECT id, name FROM recognizer_modelversion WHERE is_active")[0]
    traffic = {
        "nginx": Traffic(base, 3),
        "web-a": Traffic("http://" + hosts.addresses["web-a"], 4),
        "web-b": Traffic("http://" + hosts.addresses["web-b"], 5),
    }
    for client in traffic.values():
        client.start()
    try:
        # "Fine-tune now" in the admin, through nginx: the run goes to the training queue, which only the trainer reads.
        opener, token = staff_session(base)
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": token}).encode()
        button = urllib.request.Request(base + "/admin/recognizer/trainingrun/fine-tune/", data=form)  # noqa: S310
        with opener.open(button, timeout=30) as response:
            assert response.status == 200
        run_id = hosts.query("SELECT max(id) FROM recognizer_trainingrun")[0][0]
        deadline = time.monotonic() + 240
        while True:
            status, version_id, message = hosts.query(
                "SELECT status, result_version_id, message FROM recognizer_trainingrun WHERE id = %s", run_id
            )[0]
            if status in {"succeeded", "skipped", "rejected", "failed"}:
                break
            assert time.monotonic() < deadline, f"run #{run_id} still {status}:\n{hosts.logs()}"
            time.sleep(0.5)
        assert status == "succeeded", f"{status}: {message}\n{hosts.worker.output()[-3000:]}"
        new_name, activated_at, sha = hosts.query(
            "SELECT name, activated_at, tflite_sha256 FROM recognizer_modelversion WHERE id = %s AND is_active",
            version_id,
        )[0]
        switched = activated_at.timestamp()
        time.sleep(max(0.0, switched + 3.5 - time.time()))
    finally:
        for client in traffic.values():
            client.stop.set()
        for client in traffic.values():
            client.join(timeout=40)
    assert "fine_tune" in hosts.worker.output()
    for node in hosts.nodes:  # web nodes sent it, never ran it
        assert "Received task" not in hosts.nodes[node].output()
    failed = {name: [a for a in client.answers if a.status != 201] for name, client in traffic.items()}
    assert not any(failed.values()), failed
    for name, client in traffic.items():
        late = [a for a in client.answers if a.sent > switched + 2.0]
        assert late, f"{name}: no answers sent 2 s after the swap"
        stale = [a.body["model_version"] for a in late if a.body["model_version"] != new_name]
        assert not stale, f"{name} answered with {stale[:3]} more than 2 s after {new_name} was activated"
        assert {a.body["model_version"] for a in client.answers} <= {old[1], new_name}
    # Each node fetched the new artifact from the object store into its own cache, checked by its checksum.
    for node in hosts.nodes:
        cached = hosts.dir / node / "var" / "model-cache" / f"{sha}.tflite"
        assert hashlib.sha256(cached.read_bytes()).hexdigest() == sha
    assert any(key.startswith(f"models/{new_name}/") for key in cluster.s3_objects(hosts.s3, "models/"))


def test_the_admin_shows_drawings_stored_through_either_node(hosts: Cluster) -> None:
    opener, _ = staff_session(hosts.nginx.url)
    for node, address in hosts.addresses.items():
        digit = 7 if node == "web-a" else 4
        answer = predict("http://" + address, data_url(draw_digit(digit)))
        assert answer.status == 201
        # Through nginx, so on either node: the drawing's page shows its stored image, fetched from the object store.
        with opener.open(f"{hosts.nginx.url}/admin/recognizer/drawing/{answer.body['id']}/change/", timeout=30) as page:
            html = page.read().decode()
        src = re.search(r'<img class="digits-thumb digits-thumb--large" src="([^"]+)"', html)
        assert src, f"no image on the admin page of a drawing stored through {node}"
        url = src.group(1).replace("&amp;", "&")
        assert url.startswith(hosts.s3 + "/"), url  # a signed link to the object store
        status, body, _ = request(url)
        assert status == 200
        assert body.startswith(b"\x89PNG")
        stored = hosts.query("SELECT image_sha256 FROM recognizer_drawing WHERE id = %s", answer.body["id"])[0][0]
        assert hashlib.sha256(body).hexdigest() == stored
    with opener.open(f"{hosts.nginx.url}/admin/recognizer/drawing/", timeout=30) as page:
        listing = page.read().decode()
    assert listing.count('class="digits-thumb"') >= 2


def test_killing_a_web_node_costs_only_its_requests_in_flight(hosts: Cluster) -> None:
    clients = [Traffic(hosts.nginx.url, 10 + i, pause=0.0) for i in range(4)]
    for client in clients:
        client.start()
    try:
        time.sleep(2.0)
        hosts.nodes["web-b"].kill(signal.SIGKILL)
        dead_at = time.time()  # the node's processes are gone (kill waits for them)
        time.sleep(3.0)
    finally:
        for client in clients:
            client.stop.set()
        for client in clients:
            client.join(timeout=40)
    answers = [a for client in clients for a in client.answers]
    failed = [a for a in answers if a.status != 201]
    after = [a for a in answers if a.sent > dead_at]
    # At most one request per client can have been in flight to the killed node, each sent before it died; every
    # request after that went to the other node. A request in flight ends as nginx's 502, or cut off mid-body when
    # nginx had already passed the answer's headers on (http.client's IncompleteRead): either way one lost request,
    # counted here, never a thread that stops sending.
    assert len(failed) <= len(clients), failed
    assert all(a.sent < dead_at for a in failed), failed
    assert all(a.status == 502 or "IncompleteRead" in a.body["detail"] for a in failed), failed
    assert len(after) >= 10
    assert all(a.status == 201 for a in after)
