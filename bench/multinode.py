"""Multi-node: stored predictions per second through nginx with 1 and 2 web nodes, the CPU each process spends per
request, and a projection to N web hosts from those per-request costs (which part saturates first).

The set-up is tests/test_multinode.py's (bench/cluster.py): nginx from deploy/nginx.conf in front of gunicorn nodes
(2 sync workers each, each node with its own empty ``var/``), PostgreSQL (the benchmark's own database), Redis for the
cache and the per-client rate limit (checked on every request, set too high to refuse any), and moto's S3 server as the
object store every drawing is written to. wrk (bench/wrk/predict.lua) drives nginx; every request must leave exactly
one stored drawing. CPU time is read from /proc for each process group during the measured window.

On this one machine every "host" shares the same cores, so adding a node cannot add throughput here: the measured
figure is what the per-request costs allow. The projection divides each part's capacity by its measured cost.

    python -m bench.multinode [--nodes 1 2] [--concurrency 16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench import cluster
from bench.common import (
    Machine,
    bench_var_dir,
    drawn_pngs,
    fresh_postgres_database,
    markdown_table,
    write_result,
)
from bench.server import LUA, _reachable_redis, children, cpu_seconds, postgres_backends, require_wrk

NAME = "multinode"
DATABASE = "digits_bench_multinode"
PARTS = ["web (gunicorn)", "nginx", "PostgreSQL", "Redis", "S3 stand-in (moto)", "wrk"]


def group_pids(pid: int) -> list[int]:
    """A process and its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children(current)
    return found


def redis_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "redis-server":
                    found.append(int(entry.name))
    return found


def stored_drawings(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as conn:
        return conn.execute("SELECT count(*) FROM recognizer_drawing").fetchone()[0]


def settled(database_url: str) -> int:
    previous = stored_drawings(database_url)
    for _ in range(60):
        time.sleep(0.5)
        current = stored_drawings(database_url)
        if current == previous:
            return current
        previous = current
    return previous


def run_wrk(url: str, bodies: Path, concurrency: int, seconds: int) -> dict:
    args = [require_wrk(), "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "30s", "-s", str(LUA)]
    out = subprocess.run([*args, url + "/api/predictions/", "--", str(bodies)], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip()}")
    line = next(x for x in out.stdout.splitlines() if x.startswith("WRK_RESULT "))
    return json.loads(line.removeprefix("WRK_RESULT "))


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    env: dict[str, str], work: Path, nginx: cluster.Nginx, s3: cluster.Process, nodes: int, args, bodies: Path
) -> dict:
    started: list[cluster.Process] = []
    try:
        addresses = []
        for i in range(nodes):
            node_env = {**env, "DIGITS_VAR_DIR": str(work / f"n{nodes}-web{i}" / "var")}
            process, address = cluster.start_web_node(f"n{nodes}-web{i}", node_env, work, workers=args.workers)
            started.append(process)
            addresses.append(address)
        nginx.start(addresses)
        run_wrk(nginx.url, bodies, args.concurrency, 4)  # warm-up: every worker loads its model, connects
        pids = {
            "web (gunicorn)": [pid for p in started for pid in group_pids(p.pid)],
            "nginx": group_pids(nginx.process.pid),
            "PostgreSQL": postgres_backends(DATABASE),
            "Redis": redis_pids(),
            "S3 stand-in (moto)": group_pids(s3.pid),
        }
        before_rows = settled(env["DATABASE_URL"])
        logged = len(nginx.access_log())
        before = {part: cpu_seconds(p) for part, p in pids.items()} | {"wrk": children_cpu()}
        raw = run_wrk(nginx.url, bodies, args.concurrency, args.seconds)
        after_cpu = {part: cpu_seconds(p) for part, p in pids.items()} | {"wrk": children_cpu()}
        rows = settled(env["DATABASE_URL"]) - before_rows
        # Requests nginx passed on: wrk's answers plus those in flight when it stopped (logged 499 by nginx, stored).
        passed = len([line for line in nginx.access_log()[logged:] if '"POST /api/predictions/' in line])
        ok = raw["statuses"].get("201", 0)
        failed = sum(n for s, n in raw["statuses"].items() if s != "201") + sum(raw["errors"].values())
        handled = max(rows, ok)
        cpu = {part: after_cpu[part] - before[part] for part in PARTS}
        return {
            "nodes": nodes,
            "rps": ok / (raw["duration_us"] / 1e6),
            "ok": ok,
            "failed": failed,
            "rows": rows,
            "passed": passed,
            "latency": {k: v / 1000 for k, v in raw["latency_us"].items()},
            "cpu_ms": {part: 1000 * seconds / max(1, handled) for part, seconds in cpu.items()},
        }
    finally:
        nginx.stop()
        for process in started:
            process.kill()


def projection(costs: dict[str, float], host_cores: int) -> tuple[list[list], dict[str, float]]:
    """Stored predictions/s with N web hosts of ``host_cores`` cores each, from the CPU ms per request of each part.

    Web hosts scale out; PostgreSQL (one primary on a host of its own), Redis (one thread) and one nginx host do not.
    The object store is a service (S3 or a cluster) that scales by itself; moto's cost is reported, not projected.
    """
    caps = {
        "PostgreSQL": host_cores * 1000 / costs["PostgreSQL"],
        "Redis": 1000 / costs["Redis"] if costs["Redis"] > 0 else float("inf"),
        "nginx": host_cores * 1000 / costs["nginx"],
    }
    per_web_host = host_cores * 1000 / costs["web (gunicorn)"]
    rows = []
    for n in (1, 2, 4, 8, 16, 32, 64):
        limits = {"web CPU": n * per_web_host, **caps}
        part = min(limits, key=limits.get)
        rows.append([n, limits["web CPU"], limits[part], part])
    return rows, {"web host": per_web_host, **caps}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per web node")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args(argv)
    if cluster.nginx_binary() is None:
        raise SystemExit("nginx is needed: apt-get install nginx")
    redis_url = _reachable_redis()
    if redis_url is None:
        raise SystemExit("Redis is needed on 127.0.0.1 (DIGITS_BENCH_REDIS_URL)")

    machine = Machine()
    work = bench_var_dir()
    bodies = Path(tempfile.mkdtemp(prefix="digits-bench-bodies-"))
    for i, png in enumerate(drawn_pngs()):
        body = {"image": "data:image/png;base64," + base64.b64encode(png).decode()}
        (bodies / f"body{i}.json").write_text(json.dumps(body))
    s3, endpoint = cluster.start_s3(work)
    nginx = cluster.Nginx()
    omit = {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MEDIA_ROOT", "DIGITS_VAR_DIR", "DJANGO_SETTINGS_MODULE"}
    env = {k: v for k, v in os.environ.items() if k not in omit}
    env.update(
        DATABASE_URL=fresh_postgres_database(DATABASE),
        REDIS_URL=redis_url,
        DIGITS_RATE_PREDICT="1000000/s",
        DIGITS_RATE_PREDICT_ADDRESS="1000000/s",  # wrk is one address: the classroom ceiling would refuse it
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(40),
        SECURE_SSL_REDIRECT="0",  # plain HTTP to nginx here; in production TLS ends at nginx or before it
        DIGITS_NUM_PROXIES="1",
        STATIC_ROOT=str(nginx.static_root),
        TF_CPP_MIN_LOG_LEVEL="2",
        **cluster.s3_env(endpoint),
    )
    results = []
    try:
        ops = {**env, "DIGITS_VAR_DIR": str(work / "ops")}
        cluster.manage_steps(ops, [["migrate", "--noinput", "-v0"], ["ensure_model"], ["collectstatic", "--noinput"]])
        for nodes in args.nodes:
            result = measure(env, work, nginx, s3, nodes, args, bodies)
            results.append(result)
            print(f"{nodes} node(s): {result['rps']:.0f} stored predictions/s, {result['failed']} failed", flush=True)
            if not result["ok"]:
                raise SystemExit(f"no request succeeded; see the logs in {work}")
    finally:
        nginx.remove()
        s3.kill()
        shutil.rmtree(bodies, ignore_errors=True)

    cores = os.cpu_count() or 1
    table = markdown_table(
        ["web nodes", "stored/s", "p50 ms", "p99 ms", "failed", "1 row per request"]
        + [f"{p} CPU ms/req" for p in PARTS],
        [
            [
                r["nodes"],
                r["rps"],
                r["latency"]["p50"],
                r["latency"]["p99"],
                r["failed"],
                "yes" if r["rows"] == r["passed"] else f"**NO** ({r['rows']} rows, {r['passed']} requests)",
                *[r["cpu_ms"][p] for p in PARTS],
            ]
            for r in results
        ],
    )
    costs = {p: sum(r["cpu_ms"][p] for r in results) / len(results) for p in PARTS}
    rows, caps = projection(costs, cores)
    projected = markdown_table(["web hosts", "web CPU allows /s", "projected stored/s", "limited by"], rows)
    first = next((row for row in rows if row[3] != "web CPU"), None)
    saturates = (
        f"With hosts like this one ({cores} cores each), a web host serves about {caps['web host']:.0f} stored "
        f"predictions/s; PostgreSQL on a {cores}-core host of its own allows about {caps['PostgreSQL']:.0f}/s, Redis "
        f"(one thread) about {caps['Redis']:.0f}/s, one {cores}-core nginx about {caps['nginx']:.0f}/s. "
        + (
            f"**{first[3]} saturates first**, from about {first[0]} web hosts on."
            if first
            else "Web CPU stays the limit up to 64 web hosts."
        )
    )
    notes = [
        f"nginx (deploy/nginx.conf) in front of {', '.join(str(n) for n in args.nodes)} gunicorn node(s) of "
        f"{args.workers} sync workers each, every node with its own empty var/; PostgreSQL, Redis (cache and rate "
        f"limit) and moto's S3 server (every drawing is a PUT to it); wrk at {args.concurrency} connections for "
        f"{args.seconds} s after a 4 s warm-up. Everything runs on this one {cores}-core machine, shared with wrk "
        "and the other parts (and other work: see the load average), so a second node adds no cores: the measured "
        "rate is what the CPU costs allow here, not a scaling result.",
        table,
        "CPU ms per request: CPU time of each process group during the measured window (from /proc) divided by the "
        "requests handled. Redis is the machine's shared redis-server (other work may use it too).",
        "### Projection to N web hosts",
        "From the measured per-request costs (mean of the runs above): each web host adds its cores' worth of "
        "requests; PostgreSQL (one primary), Redis (one thread) and nginx do not scale with web hosts. The object "
        "store is S3 or a cluster that scales by itself: moto's cost above is the stand-in's, not projected. "
        "Memory, network and disk are not modelled.",
        projected,
        saturates,
    ]
    write_result(NAME, "Multi-node: nginx, web nodes, PostgreSQL, Redis, object store", machine, notes)
    return {"results": results, "costs": costs, "caps": caps}


if __name__ == "__main__":
    main()
