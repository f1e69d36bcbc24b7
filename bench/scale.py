"""Scale: how stored-prediction throughput grows with the number of web workers (1, 2, then more than the cores).

Same set-up as ``bench/http_load.py`` (gunicorn, PostgreSQL, wrk, every request stored and checked), at one
concurrency high enough to keep every worker busy. How fine-tune time grows with the number of corrections is
measured by ``bench/finetune.py``.

    python -m bench.scale [--workers 1 2 4] [--concurrency 16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os

from bench.common import Machine, fit_line, markdown_table, pyplot, write_result
from bench.server import BenchSite

NAME = "scale"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args(argv)

    machine = Machine()
    site = BenchSite()
    results = {}
    try:
        for workers in args.workers:
            with site.serve(workers) as server:
                result = server.load(args.concurrency, args.seconds)
            results[workers] = result
            print(f"{workers} workers: {result.rps:.1f} req/s, p50 {result.latency_ms['p50']:.2f} ms", flush=True)
    finally:
        site.close()

    one = results[min(results)].rps
    rows = [
        [
            w,
            r.rps,
            f"{r.rps / one:.2f}x",
            f"{r.rps / (one * w / min(results)):.0%}",
            r.latency_ms["p50"],
            r.latency_ms["p99"],
            r.error_count,
            "yes" if r.one_row_per_request else "**NO**",
            r.cpu_ms_per_request("gunicorn"),
            r.capacity,
        ]
        for w, r in results.items()
    ]
    headers = ["workers", "req/s", "vs 1 worker", "scaling efficiency", "p50 ms", "p99 ms", "errors", "1 row each"]
    table = markdown_table([*headers, "web CPU ms/req", "CPU-bound req/s"], rows)
    cores = os.cpu_count() or 1
    within = [w for w in results if w <= cores]
    notes = [
        f"gunicorn sync workers, PostgreSQL, wrk at {args.concurrency} connections for {args.seconds} s per worker "
        f"count; this machine has {cores} cores, shared by the server, PostgreSQL and wrk.",
        table,
    ]
    if len(within) >= 2:
        a, b = fit_line(within, [results[w].rps for w in within])
        fitted = f"Fitted up to the core count: **req/s ≈ {a:.0f} + {b:.0f} x workers**. "
        if b > 0.2 * one:
            fitted += (
                f"Each worker adds about {b:.0f} stored predictions/s while it has a core of its own (the database "
                "and the load generator need CPU too); past the core count more workers only queue. An operator "
                "adds a worker per core, and a machine (sharing the database) when the workers of one are busy."
            )
        else:
            fitted += (
                "A second worker added little here: the cores were already busy (with the database, the load "
                "generator, or other work on the machine — see the load average)."
            )
        notes.append(fitted)

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ws = list(results)
    ax.plot(ws, [results[w].rps for w in ws], "o-", color="#2563eb", label="measured")
    ax.plot(ws, [one * w / min(ws) for w in ws], ":", color="#9ca3af", label="linear")
    ax.axvline(cores, color="#b45309", linestyle="--", label=f"{cores} cores")
    ax.set_xticks(ws)
    ax.set_xlabel("gunicorn workers")
    ax.set_ylabel("stored predictions per second")
    ax.set_title("Throughput by web workers")
    ax.legend()
    write_result(NAME, "Scale: throughput by web workers", machine, notes, fig)
    return {"results": results}


if __name__ == "__main__":
    main()
