"""The production set-up for HTTP benchmarks: PostgreSQL, gunicorn workers on 127.0.0.1, wrk as the load generator.

:class:`BenchSite` makes the benchmark's own database (``digits_bench``, dropped and re-created) and media folder,
migrates it and registers the shipped model, as ``make run`` does; :meth:`BenchSite.serve` starts gunicorn the way
the ``Procfile`` does (``DEBUG=0``, sync workers, an access log) and stops it again. :func:`run_wrk` drives it from
another process with ``bench/wrk/predict.lua`` and :meth:`Server.check_stored` checks that every request left exactly
one stored drawing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import PYTHON, ROOT, bench_var_dir, drawn_pngs, free_port, fresh_postgres_database

PREDICT = "/api/predictions/"
KERAS_PREDICT = "/bench/keras/predictions/"
LUA = ROOT / "bench" / "wrk" / "predict.lua"
#: The status in a gunicorn access-log line: ... "POST /api/predictions/ HTTP/1.1" 201 1035 "-" "-"
ACCESS_STATUS = re.compile(r'HTTP/[\d.]+" (\d{3}) ')


def require_wrk() -> str:
    """The wrk binary; Debian's package is installed when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("==> Installing wrk (Debian package) for the HTTP benchmarks", flush=True)
        quiet = {"stdout": subprocess.DEVNULL, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
        subprocess.run(["apt-get", "update", "-qq"], check=True, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, **quiet)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is needed for the HTTP benchmarks: apt-get install wrk")
    return found


def rss_mib(pid: int) -> float:
    """Resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def maps_tensorflow(pid: int) -> bool:
    """Whether any of TensorFlow's files (its Python package or native libraries) is mapped into a process."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "/site-packages/tensorflow/" in maps or "libtensorflow" in maps


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far (those that are gone count as 0)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL server processes serving connections to ``database`` (their title names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                title = (entry / "cmdline").read_bytes()
                if title.startswith(b"postgres: ") and f" {database} ".encode() in title:
                    found.append(int(entry.name))
    return found


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _reachable_redis() -> str | None:
    """The benchmark's Redis database (``DIGITS_BENCH_REDIS_URL``, default 127.0.0.1 db 13) if it answers."""
    import redis

    url = os.environ.get("DIGITS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except (redis.RedisError, OSError):
        return None
    return url


def _children_cpu() -> float:
    """CPU time of this process's finished children: wrk's, once it has exited."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class WrkResult:
    """What wrk saw (answers, latency, the ids it was given) and what the server logged and stored meanwhile."""

    concurrency: int
    duration_s: float
    statuses: dict[str, int]
    errors: dict[str, int]
    latency_ms: dict[str, float]
    ids: list[int]
    served: dict[str, int] = field(default_factory=dict)  # status -> requests in the server's access log
    cpu_s: dict[str, float] = field(default_factory=dict)  # gunicorn / PostgreSQL / wrk -> CPU seconds used
    stored_drawings: int = 0
    stored_submissions: int = 0
    ids_found: int = 0

    @property
    def ok(self) -> int:
        return self.statuses.get("201", 0)

    @property
    def rps(self) -> float:
        return self.ok / self.duration_s

    @property
    def requests(self) -> int:
        """Requests the server handled: wrk's answered ones plus those in flight when it stopped."""
        return sum(self.served.values())

    @property
    def error_count(self) -> int:
        failed_at_server = sum(n for s, n in self.served.items() if s != "201")
        return sum(self.errors.values()) + sum(n for s, n in self.statuses.items() if s != "201") + failed_at_server

    def cpu_ms_per_request(self, part: str) -> float:
        return 1000 * self.cpu_s.get(part, 0.0) / max(1, self.requests)

    @property
    def capacity(self) -> float:
        """Requests per second the machine's cores could serve if the server, its database and the load generator
        had them to themselves: cores / CPU time per request. Independent of other work on the machine."""
        per_request = sum(self.cpu_s.values()) / max(1, self.requests)
        return (os.cpu_count() or 1) / per_request if per_request else float("nan")

    @property
    def one_row_per_request(self) -> bool:
        """Each request handled left exactly one drawing and one submission, and every id answered is stored once."""
        return (
            self.stored_drawings == self.stored_submissions == self.requests
            and len(set(self.ids)) == len(self.ids) == self.ok
            and self.ids_found == self.ok
        )


@dataclass
class Server:
    """A running gunicorn master and its workers."""

    process: subprocess.Popen
    url: str
    path: str
    workers: int
    site: BenchSite

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)

    def post_once(self, body: bytes) -> int:
        request = urllib.request.Request(  # noqa: S310 (http://127.0.0.1 only)
            self.url + self.path,
            data=body,
            headers={"Content-Type": "application/json", "X-Forwarded-Proto": "https"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (127.0.0.1 only)
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}; see {self.site.log}")
            with contextlib.suppress(OSError):
                status = self.post_once(self.site.bodies[0])
                if status == 201:
                    return
                raise RuntimeError(f"POST {self.path} answered {status}; see {self.site.log}")
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer within {timeout:.0f} s; see {self.site.log}")

    def load(self, concurrency: int, seconds: int) -> WrkResult:
        """Drive the server with wrk at ``concurrency`` connections for ``seconds``; check what was stored."""
        before = self.site.counts()
        logged = self.site.access_log_lines()
        server_pids = [self.process.pid, *self.worker_pids()]
        database_pids = postgres_backends(self.site.database)
        cpu_before = (cpu_seconds(server_pids), cpu_seconds(database_pids), _children_cpu())
        out = subprocess.run(
            [
                require_wrk(),
                "-t1",
                f"-c{concurrency}",
                f"-d{seconds}s",
                "--timeout",
                "60s",
                "-s",
                str(LUA),
                self.url + self.path,
                "--",
                str(self.site.bodies_dir),
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()}")
        line = next(x for x in out.stdout.splitlines() if x.startswith("WRK_RESULT "))
        raw = json.loads(line.removeprefix("WRK_RESULT "))
        result = WrkResult(
            concurrency=concurrency,
            duration_s=raw["duration_us"] / 1e6,
            statuses=raw["statuses"],
            errors=raw["errors"],
            latency_ms={k: v / 1000 for k, v in raw["latency_us"].items()},
            ids=[int(i) for i in raw["ids"]],
        )
        after = self.site.settled_counts()  # requests sent just before wrk stopped are still being stored
        cpu_after = (cpu_seconds(server_pids), cpu_seconds(database_pids), _children_cpu())
        result.cpu_s = {
            part: end - start
            for part, start, end in zip(("gunicorn", "PostgreSQL", "wrk"), cpu_before, cpu_after, strict=True)
        }
        result.stored_drawings = after[0] - before[0]
        result.stored_submissions = after[1] - before[1]
        result.ids_found = self.site.count_ids(result.ids)
        for line in self.site.access_log()[logged:]:
            status = match.group(1) if (match := ACCESS_STATUS.search(line)) else "?"
            result.served[status] = result.served.get(status, 0) + 1
        return result

    def warm_up(self, limit: float = 120.0) -> None:
        """Load the server until its latency stops falling: every worker has loaded its model and run its first
        requests (the baseline's first request in a worker imports TensorFlow and traces the model: seconds)."""
        deadline = time.monotonic() + limit
        previous = float("inf")
        while time.monotonic() < deadline:
            result = self.load(max(2, 2 * self.workers), 3)
            p50 = result.latency_ms["p50"] if result.ok else float("inf")
            if p50 < float("inf") and p50 <= 1.5 * previous and previous < float("inf"):
                return
            previous = p50


@dataclass
class BenchSite:
    """The benchmark's own database and media folder, prepared once and shared by the servers it starts."""

    database: str = "digits_bench"
    var_dir: Path = field(default_factory=bench_var_dir)
    bodies_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="digits-bench-bodies-")))
    bodies: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.database_url = fresh_postgres_database(self.database)
        self.log = self.var_dir / "server.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"MEDIA_ROOT", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"}
        }
        self.env.update(
            DATABASE_URL=self.database_url,
            DIGITS_VAR_DIR=str(self.var_dir),
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(32),
            TF_CPP_MIN_LOG_LEVEL="2",
            # TLS ends at a proxy in production (DEBUG off redirects plain HTTP); requests here say so with
            # X-Forwarded-Proto, as that proxy would.
            DIGITS_BEHIND_TLS_PROXY="1",
        )
        # Production keeps its cache (and so the per-client rate limit's counters) in Redis. Every request here
        # comes from 127.0.0.1: the limit is checked on each one, as in production, but set too high to refuse any.
        self.redis_url = _reachable_redis()
        if self.redis_url:
            self.env.update(
                REDIS_URL=self.redis_url, DIGITS_RATE_PREDICT="1000000/s", DIGITS_RATE_PREDICT_ADDRESS="1000000/s"
            )
        else:
            self.env["DIGITS_RATE_PREDICT"] = self.env["DIGITS_RATE_PREDICT_ADDRESS"] = "off"
        for command in (["migrate", "--noinput", "-v0"], ["ensure_model"]):
            subprocess.run(
                [PYTHON, "manage.py", *command], cwd=ROOT, env=self.env, check=True, stdout=subprocess.DEVNULL
            )
        for i, png in enumerate(drawn_pngs()):
            body = json.dumps({"image": "data:image/png;base64," + base64.b64encode(png).decode()}).encode()
            (self.bodies_dir / f"body{i}.json").write_bytes(body)
            self.bodies.append(body)

    def _connect(self):
        import psycopg

        return psycopg.connect(self.database_url.replace("postgres://", "postgresql://", 1))

    def counts(self) -> tuple[int, int]:
        with self._connect() as conn:
            drawings = conn.execute("SELECT count(*) FROM recognizer_drawing").fetchone()[0]
            submissions = conn.execute("SELECT count(*) FROM recognizer_submission").fetchone()[0]
        return drawings, submissions

    def settled_counts(self, timeout: float = 120.0) -> tuple[int, int]:
        """The counts once they stop changing (the server has answered everything it was sent)."""
        deadline = time.monotonic() + timeout
        previous = self.counts()
        while time.monotonic() < deadline:
            time.sleep(1.0)
            current = self.counts()
            if current == previous:
                return current
            previous = current
        return previous

    def access_log(self) -> list[str]:
        path = self.var_dir / "access.log"
        return path.read_text().splitlines() if path.exists() else []

    def access_log_lines(self) -> int:
        return len(self.access_log())

    def count_ids(self, ids: list[int]) -> int:
        with self._connect() as conn:
            return conn.execute("SELECT count(*) FROM recognizer_drawing WHERE id = ANY(%s)", [ids]).fetchone()[0]

    @contextlib.contextmanager
    def serve(self, workers: int, baseline: bool = False) -> Iterator[Server]:
        """gunicorn as in the Procfile with ``workers`` sync workers; ``baseline`` serves the Keras view too."""
        port = free_port()
        env = {**self.env, "DJANGO_SETTINGS_MODULE": "bench.keras_baseline.settings" if baseline else ""}
        if not baseline:
            env.pop("DJANGO_SETTINGS_MODULE")
        command = [
            str(Path(PYTHON).with_name("gunicorn")),
            "digits_site.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
            "--access-logfile",
            str(self.var_dir / "access.log"),
        ]
        with open(self.log, "ab") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        server = Server(process, f"http://127.0.0.1:{port}", KERAS_PREDICT if baseline else PREDICT, workers, self)
        try:
            server.wait_ready()
            server.warm_up()
            yield server
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        shutil.rmtree(self.bodies_dir, ignore_errors=True)
