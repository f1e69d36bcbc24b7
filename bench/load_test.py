"""Load test: 5,000 predictions at concurrency 32 against the production server, with a model swap half-way.

    python bench/load_test.py [--requests 5000] [--concurrency 32] [--workers 4]

It creates a PostgreSQL database of its own (``digits_load``, dropped and re-created), migrates it, activates the
shipped model and registers a second, genuinely different one (a small model trained on 3,000 MNIST images for two
epochs, about a minute). It then starts gunicorn on 127.0.0.1 with
production settings (DEBUG off, PostgreSQL, Redis as the cache, behind a TLS proxy as far as Django knows) and
sends distinct MNIST test digits drawn on a 280x280 canvas, each its own PNG, from ``--concurrency`` threads. When
half have been answered it runs ``manage.py activate_model`` in another process, as an operator would.

Afterwards it checks what the issue asks for and prints the figures (also written to bench/results/load_test.md):
no 5xx; exactly as many drawings and submissions stored as predictions made; every stored image readable, its
SHA-256 that of its row and of the bytes the client sent for that answer; the row's 28x28 input exactly what
preprocessing makes of the stored image; every answer's ``model_version`` one of the two versions, the same as its
row's, and its probabilities those that version's model gives on the row's input; answers that started after the
swap (plus the refresh interval) all from the new version. It exits non-zero if any check fails.

It runs for a bounded time (``--time-limit``, default 15 minutes) and every request has a timeout.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import hashlib
import http.client
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "load_test.md"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2, as the Procfile)")
    parser.add_argument(
        "--postgres", default=os.environ.get("DIGITS_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--database", default="digits_load")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="the cache (rate limits) of the server")
    parser.add_argument(
        "--mnist-dir", default=os.environ.get("DIGITS_MNIST_DIR", str(ROOT.parent / "shared" / "mnist"))
    )
    parser.add_argument("--time-limit", type=float, default=900, help="seconds for the whole run")
    parser.add_argument("--request-timeout", type=float, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the database and files afterwards")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/results/load_test.md")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


# --- Setting up the server ----------------------------------------------------------------------------------------


def recreate_database(admin_url: str, name: str) -> str:
    libpq = admin_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(libpq, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    libpq = admin_url.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(libpq, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def server_env(args: argparse.Namespace, database_url: str, var_dir: Path) -> dict[str, str]:
    cleared = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")
    base = {k: v for k, v in os.environ.items() if k not in cleared and not k.startswith("DIGITS_RATE_")}
    return {
        **base,
        "DJANGO_SETTINGS_MODULE": "digits_site.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis,
        "DIGITS_VAR_DIR": str(var_dir),
        "DIGITS_MNIST_DIR": args.mnist_dir,
        # TLS ends at a proxy in production; requests here say so with X-Forwarded-Proto, as the proxy would.
        "DIGITS_BEHIND_TLS_PROXY": "1",
        # All requests come from one address here, so the per-client limit is raised out of the way (it is still
        # counted in Redis on every request, as in production).
        "DIGITS_RATE_PREDICT": "1000000/min",
        "DIGITS_RATE_PREDICT_ADDRESS": "1000000/min",
        "DIGITS_MODEL_REFRESH_SECONDS": "1",
    }


class Gunicorn:
    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self._log = log.open("w")
        command = [sys.executable, "-m", "gunicorn", "digits_site.wsgi", "--bind", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(
            [*command, "--workers", str(workers), "--timeout", "60", "--backlog", "2048"],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_until_healthy(self, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited:\n{self.log.read_text()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                body = json.loads(response.read())
                connection.close()
                if response.status == 200 and body["model"]["loaded"]:
                    return body
            except OSError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"gunicorn did not become healthy:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


# --- The load -----------------------------------------------------------------------------------------------------


def make_images(mnist_dir: str, count: int) -> tuple[list[bytes], list[int]]:
    """``count`` distinct drawings: MNIST test digits (then training digits) drawn as dark ink on a white canvas."""
    from bench.drawing import mnist_as_drawing, png_bytes
    from training.ml.mnist import load_mnist

    mnist = load_mnist(Path(mnist_dir))
    images = list(mnist.x_test) + list(mnist.x_train)
    labels = list(mnist.y_test) + list(mnist.y_train)
    pngs = [png_bytes(mnist_as_drawing(image)) for image in images[:count]]
    assert len(set(pngs)) == count, "the drawings must be distinct to tell their rows apart"
    return pngs, [int(label) for label in labels[:count]]


@dataclass
class Answer:
    index: int
    status: int
    started: float
    finished: float
    body: dict = field(default_factory=dict)
    error: str = ""

    @property
    def latency(self) -> float:
        return self.finished - self.started


class Client:
    """One keep-alive connection per thread (gunicorn's sync workers close it after each answer; it reconnects)."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.local = threading.local()

    def post(self, index: int, png: bytes) -> Answer:
        payload = json.dumps({"image": "data:image/png;base64," + base64.b64encode(png).decode()})
        headers = {"Content-Type": "application/json", "X-Forwarded-Proto": "https"}
        started = time.monotonic()
        try:
            connection = getattr(self.local, "connection", None)
            if connection is None:
                connection = self.local.connection = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=self.timeout
                )
            connection.request("POST", "/api/predictions/", payload, headers)
            response = connection.getresponse()
            data = response.read()
            finished = time.monotonic()
            try:
                body = json.loads(data)
            except ValueError:
                body = {"raw": data[:200].decode(errors="replace")}
            return Answer(index, response.status, started, finished, body)
        except (OSError, http.client.HTTPException) as exc:
            self.local.connection = None
            return Answer(index, 0, started, time.monotonic(), error=f"{type(exc).__name__}: {exc}")


@dataclass
class Swap:
    started: float = 0.0
    finished: float = 0.0
    output: str = ""


def run_load(args, port: int, pngs: list[bytes], env: dict[str, str], second: str, deadline: float):
    client = Client(port, args.request_timeout)
    answers: list[Answer] = []
    swap = Swap()
    lock = threading.Lock()
    half = threading.Event()

    def activate() -> None:
        half.wait()
        swap.started = time.monotonic()
        swap.output = manage(env, "activate_model", second, timeout=120).strip()
        swap.finished = time.monotonic()

    swapper = threading.Thread(target=activate, daemon=True)
    swapper.start()

    def one(index: int) -> Answer:
        answer = client.post(index, pngs[index])
        with lock:
            answers.append(answer)
            if len(answers) == len(pngs) // 2:
                half.set()
        return answer

    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        futures = [pool.submit(one, index) for index in range(len(pngs))]
        for future in concurrent.futures.as_completed(futures, timeout=max(1.0, deadline - time.monotonic())):
            future.result()
    wall = time.monotonic() - began
    swapper.join(timeout=max(1.0, deadline - time.monotonic()))
    return sorted(answers, key=lambda a: a.index), wall, swap


# --- Checking what was stored -------------------------------------------------------------------------------------


def verify(answers: list[Answer], pngs: list[bytes], names: tuple[str, str], swap: Swap, refresh: float) -> dict:
    """Every check the issue asks for, against the database and the files the server wrote."""
    import numpy as np
    from django.core.files.storage import default_storage

    from recognizer.core.preprocessing import preprocess
    from recognizer.images import open_image
    from recognizer.models import Drawing, ModelVersion, Submission
    from recognizer.serving import load_version

    problems: list[str] = []
    ok = [a for a in answers if a.status == 201]
    by_id = {a.body["id"]: a for a in ok}
    server_errors = [a for a in answers if a.status >= 500]
    statuses: dict[str, int] = {}
    for a in answers:
        kind = str(a.status) if a.status else a.error.split(":")[0]
        statuses[kind] = statuses.get(kind, 0) + 1
    if server_errors:
        problems.append(f"{len(server_errors)} answers were 5xx, e.g. {server_errors[0].body}")
    if len(ok) != len(answers):
        problems.append(f"{len(answers) - len(ok)} answers were not 201: {statuses}")

    versions = {v.name: v for v in ModelVersion.objects.filter(name__in=names)}
    models = {v.pk: (v.name, load_version(v).classifier) for v in versions.values()}
    answered_versions = {a.body.get("model_version") for a in ok}
    if not answered_versions <= set(names):
        problems.append(f"answers name versions outside the two: {answered_versions - set(names)}")

    rows = Drawing.objects.count()
    submissions = Submission.objects.count()
    if rows != len(answers) or submissions != len(answers):
        problems.append(f"{rows} drawings and {submissions} submissions stored for {len(answers)} predictions")

    checked = 0
    for drawing in Drawing.objects.select_related("model_version").iterator(chunk_size=500):
        answer = by_id.get(drawing.pk)
        if answer is None:
            problems.append(f"drawing {drawing.pk} has no answer")
            continue
        try:
            with default_storage.open(drawing.image.name, "rb") as fh:
                stored = fh.read()
            image = open_image(stored)
        except Exception as exc:  # noqa: BLE001 (any failure to read it back is what is being checked)
            problems.append(f"drawing {drawing.pk}: image unreadable ({exc})")
            continue
        digest = hashlib.sha256(stored).hexdigest()
        expected = hashlib.sha256(pngs[answer.index]).hexdigest()
        if not (digest == drawing.image_sha256 == expected):
            problems.append(f"drawing {drawing.pk}: stored image does not match its row or what was sent")
        if bytes(drawing.model_input) != preprocess(image).tobytes():
            problems.append(f"drawing {drawing.pk}: model input is not the stored image preprocessed")
        name, classifier = models[drawing.model_version_id]
        if answer.body["model_version"] != name or answer.body["digit"] != drawing.predicted_digit:
            problems.append(f"drawing {drawing.pk}: answer and row disagree")
        recomputed = classifier.predict(drawing.input_array[None])[0].astype(np.float64)
        recomputed /= recomputed.sum()
        if not np.allclose(recomputed, drawing.probabilities, atol=1e-5):
            problems.append(f"drawing {drawing.pk}: probabilities are not those of {name} on its input")
        checked += 1

    old, new = names
    before = [a for a in ok if a.finished < swap.started]
    after = [a for a in ok if a.started > swap.finished + refresh + 0.5]
    if any(a.body["model_version"] != old for a in before):
        problems.append("an answer completed before the swap began names the new version")
    late = [a for a in after if a.body["model_version"] != new]
    if late:
        problems.append(f"{len(late)} answers started after the swap (+refresh) still came from the old version")
    return {
        "problems": problems,
        "statuses": statuses,
        "rows": rows,
        "submissions": submissions,
        "checked": checked,
        "per_version": {n: sum(a.body.get("model_version") == n for a in ok) for n in names},
        "before": len(before),
        "after": len(after),
        "after_from_old": len(late),
        "registry_accuracy": {n: versions[n].metrics.get("mnist_test_accuracy", float("nan")) for n in names},
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def report(args, answers, wall, swap, checks, names, labels, began_at, workers, load) -> str:
    latencies = [a.latency * 1000 for a in answers if a.status]
    ok = [a for a in answers if a.status == 201]
    accuracy = {
        n: (
            sum(a.body["digit"] == labels[a.index] for a in ok if a.body["model_version"] == n)
            / max(1, sum(a.body["model_version"] == n for a in ok))
        )
        for n in names
    }
    swap_at = sum(a.finished < swap.started for a in answers)
    lines = [
        "# Load test: predictions against the production server",
        "",
        f"Run {began_at:%Y-%m-%d %H:%M} UTC with `python bench/load_test.py --requests {args.requests} "
        f"--concurrency {args.concurrency} --workers {workers}`: gunicorn ({workers} sync workers, DEBUG off) on "
        f"127.0.0.1, PostgreSQL, Redis as the cache; {os.cpu_count()} CPU cores shared with other work "
        f"(load average {load[0]:.1f} at the start).",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| predictions sent | {len(answers)} (distinct MNIST digits drawn on a 280x280 canvas, PNG) |",
        f"| concurrency | {args.concurrency} client threads |",
        f"| answers | {', '.join(f'{k}: {v}' for k, v in sorted(checks['statuses'].items()))} |",
        f"| 5xx | {sum(a.status >= 500 for a in answers)} |",
        f"| wall time | {wall:.1f} s |",
        f"| throughput | {len(answers) / wall:.1f} predictions/s |",
        f"| latency p50 / p90 / p99 / max | {percentile(latencies, 50):.0f} / {percentile(latencies, 90):.0f} / "
        f"{percentile(latencies, 99):.0f} / {max(latencies):.0f} ms |",
        f"| latency mean | {statistics.fmean(latencies):.0f} ms |",
        f"| model swap | `activate_model {names[1]}` after {swap_at} answers, "
        f"took {swap.finished - swap.started:.1f} s |",
        f"| answers per version | {', '.join(f'{n}: {c}' for n, c in checks['per_version'].items())} |",
        f"| answers started over 1.5 s after the swap | {checks['after']}, of which from the old version: "
        f"{checks['after_from_old']} |",
        f"| rows stored | {checks['rows']} drawings, {checks['submissions']} submissions |",
        f"| rows checked (image readable, SHA-256 = row = sent, input = preprocess(image), probabilities = "
        f"version's model on input) | {checks['checked']} |",
        f"| accuracy of the answers (MNIST labels) | {', '.join(f'{n}: {acc:.1%}' for n, acc in accuracy.items())} |",
        f"| MNIST test accuracy in the registry | "
        f"{', '.join(f'{n}: {acc:.1%}' for n, acc in checks['registry_accuracy'].items())} |",
        "",
        "Result: " + ("**all checks passed**." if not checks["problems"] else "**FAILED**:"),
    ]
    lines += [f"- {p}" for p in checks["problems"][:20]]
    return "\n".join(lines) + "\n"


def main() -> int:
    args = parse_args()
    began = time.monotonic()
    deadline = began + args.time_limit
    began_at = datetime.now(UTC)
    load = os.getloadavg()
    var_dir = Path(tempfile.mkdtemp(prefix="digits-load-"))
    step(f"Database {args.database} (re-created), files under {var_dir}")
    database_url = recreate_database(args.postgres, args.database)
    env = server_env(args, database_url, var_dir)
    os.environ.update(env)  # this process checks the results with the same settings
    server = None
    try:
        manage(env, "migrate", "--noinput", "-v0")
        first = manage(env, "ensure_model").strip()
        step(first)
        second = "load-b"
        step("Training a second, different model (3,000 MNIST images, 2 epochs) to swap to")
        manage(env, "train", "--subset", "3000", "--epochs", "2", "--no-activate", "--name", second, "-v0")
        import django

        django.setup()
        from recognizer.models import ModelVersion

        names = (ModelVersion.objects.get(is_active=True).name, second)
        step(f"Making {args.requests} distinct drawings")
        pngs, labels = make_images(args.mnist_dir, args.requests)
        step(f"Starting gunicorn with {args.workers} workers")
        server = Gunicorn(env, args.workers, var_dir / "gunicorn.log")
        server.wait_until_healthy()
        step(f"Sending {args.requests} predictions from {args.concurrency} threads; swapping to {second} half-way")
        answers, wall, swap = run_load(args, server.port, pngs, env, second, deadline)
        step(f"{len(answers)} answers in {wall:.1f} s; {swap.output}")
        server.stop()
        server = None
        step("Checking every stored row and file")
        from django.db import connection

        connection.close()
        checks = verify(answers, pngs, names, swap, refresh=1.0)
        text = report(args, answers, wall, swap, checks, names, labels, began_at, args.workers, load)
        print(text)
        if not args.no_write:
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(text)
            step(f"Written to {RESULTS.relative_to(ROOT)}")
        return 1 if checks["problems"] else 0
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(args.postgres, args.database)
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
