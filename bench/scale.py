"""Scale: how stored-prediction throughput grows with the number of web workers (1, 2, then more than the cores).

Same set-up as ``bench/http_load.py`` (gunicorn, PostgreSQL, wrk, every request stored and checked), at one
concurrency high enough to keep every worker busy. How fine-tune time grows with the number of corrections is
measured by ``bench/finetune.py``.

    python -m bench.scale [--workers 1 2 3 4] [--concurrency 16] [--seconds 10]
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

from bench.common import Machine, markdown_table, pyplot, write_result
from bench.server import BenchSite

NAME = "scale"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3, 4])
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
    # A sync worker serves one request at a time, waiting for the database and the disk part of it: alone it does
    # r1 requests/s. Workers add r1 each until the cores are busy: then the CPU time per request caps the machine.
    r1 = one / min(results)
    capacity = float(np.median([r.capacity for r in results.values()]))
    model = {w: min(w * r1, capacity) for w in results}
    error = float(np.mean([abs(results[w].rps - model[w]) / model[w] for w in results]))
    saturated = math.ceil(capacity / r1)
    notes = [
        f"gunicorn sync workers, PostgreSQL, wrk at {args.concurrency} connections for {args.seconds} s per worker "
        f"count; this machine has {cores} cores, shared by the server, PostgreSQL and wrk.",
        table,
        f"Fitted: **req/s ≈ min({r1:.0f} x workers, {capacity:.0f})** (mean error {error:.0%}). One worker serves "
        f"about {r1:.0f} stored predictions/s on its own: it also waits for the database's commit. Workers add that "
        f"much each until the cores are busy, at about {capacity:.0f}/s (cores / CPU time per request, measured), "
        f"so {saturated} workers saturate this machine. An operator runs about that many per machine and adds "
        "machines (sharing the database) beyond it.",
    ]

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ws = list(results)
    ax.plot(ws, [results[w].rps for w in ws], "o-", color="#2563eb", label="measured")
    ax.plot(ws, [model[w] for w in ws], ":", color="#6b7280", label="fitted: min(r1 x workers, capacity)")
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
