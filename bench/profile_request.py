"""Profile one prediction request through the whole Django stack: where the time goes, and which queries it makes.

Posts real drawings to ``POST /api/predictions/`` in-process (Django's test client, the real middleware, DRF,
serving and storage) on PostgreSQL, with production settings (``DEBUG=0``). Prints and writes the SQL of one
request and a pyinstrument call tree of many; this is how the waste removed from the request path was found.

    python -m bench.profile_request [--requests 300] [--sqlite]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import time

from bench.common import (
    Machine,
    bench_var_dir,
    drawn_pngs,
    fresh_postgres_database,
    markdown_table,
    percentiles_ms,
    write_result,
)

NAME = "profile_request"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="profiled requests (default 300)")
    parser.add_argument("--sqlite", action="store_true", help="use SQLite instead of PostgreSQL")
    args = parser.parse_args(argv)

    machine = Machine()
    var_dir = bench_var_dir()
    os.environ.update(
        DIGITS_VAR_DIR=str(var_dir),
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(32),
        DJANGO_SETTINGS_MODULE="digits_site.settings",
        # The limit is still checked on every request, but set too high to refuse any (all come from one client).
        DIGITS_RATE_PREDICT="1000000/s",
        DIGITS_RATE_PREDICT_ADDRESS="1000000/s",
    )
    os.environ.pop("MEDIA_ROOT", None)
    if args.sqlite:
        os.environ.pop("DATABASE_URL", None)
    else:
        os.environ["DATABASE_URL"] = fresh_postgres_database("digits_bench_profile")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler

    from recognizer.registry import ensure_default_model

    call_command("migrate", verbosity=0)
    ensure_default_model()
    bodies = [json.dumps({"image": "data:image/png;base64," + base64.b64encode(png).decode()}) for png in drawn_pngs()]
    client = Client(SERVER_NAME="127.0.0.1")

    def post(i: int):
        response = client.post(
            "/api/predictions/", bodies[i % len(bodies)], content_type="application/json", secure=True
        )
        assert response.status_code == 201, response.content
        client.cookies.clear()  # every request is a new client, as in the HTTP benchmark
        return response

    for i in range(20):
        post(i)
    with CaptureQueriesContext(connection) as queries:
        post(0)
    sql = [q["sql"] for q in queries.captured_queries]

    profiler = Profiler(interval=0.0002)
    durations = []
    profiler.start()
    for i in range(args.requests):
        t0 = time.perf_counter()
        post(i)
        durations.append(time.perf_counter() - t0)
    profiler.stop()
    stats = percentiles_ms(durations)

    tree = profiler.output_text(
        unicode=True, color=False, show_all=os.environ.get("BENCH_PROFILE_ALL") == "1", short_mode=False
    )
    queries_md = "\n".join(f"{n}. `{q[:160]}{'…' if len(q) > 160 else ''}`" for n, q in enumerate(sql, 1))
    table = markdown_table(
        ["database", "requests", "p50 ms", "p99 ms", "SQL statements per request"],
        [["SQLite" if args.sqlite else "PostgreSQL", stats["n"], stats["p50"], stats["p99"], len(sql)]],
    )
    write_result(
        NAME,
        "Profile of one prediction request (in-process, Django test client)",
        machine,
        [
            "Times include the profiler's overhead; the HTTP benchmark has the real figures.",
            table,
            "## SQL of one request\n\n" + queries_md,
            "## Where the time goes (pyinstrument)\n\n```\n" + tree + "\n```",
        ],
    )
    return {"stats": stats, "queries": sql}


if __name__ == "__main__":
    main()
