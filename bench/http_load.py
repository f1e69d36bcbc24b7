"""HTTP end to end, every prediction stored: our server against the usual way, at concurrency 1, 8 and 32.

The production set-up — gunicorn with several sync workers as in the Procfile, ``DEBUG=0``, PostgreSQL in its own
database (``digits_bench``) — on 127.0.0.1, driven by wrk in another process with real drawings (JSON data URLs, as
the page sends them), every request a new client. After each run the database must hold exactly one drawing and
one submission per request the server handled (its access log), and every id answered. Then the same, in the same
run, against the baseline: the same server and code path but Keras ``model.predict`` in the view
(``bench/keras_baseline``).

    python -m bench.http_load [--workers 4] [--seconds 10] [--concurrency 1 8 32]
"""

from __future__ import annotations

import argparse
import importlib

from bench.common import Machine, markdown_table, pyplot, write_result
from bench.server import BenchSite, WrkResult

NAME = "http_load"


def measure(site: BenchSite, workers: int, levels: list[int], seconds: int, baseline: bool) -> list[WrkResult]:
    results = []
    with site.serve(workers, baseline=baseline) as server:
        for concurrency in levels:
            result = server.load(concurrency, seconds)
            who = "Keras baseline" if baseline else "Digits"
            print(
                f"{who:>14} c={concurrency:<3} {result.rps:8.1f} req/s  p50 {result.latency_ms['p50']:8.2f} ms  "
                f"p99 {result.latency_ms['p99']:8.2f} ms  errors {result.error_count}  "
                f"stored {result.stored_drawings}/{result.requests}",
                flush=True,
            )
            results.append(result)
    return results


def row(who: str, r: WrkResult) -> list[object]:
    return [
        who,
        r.concurrency,
        r.ok,
        r.rps,
        r.latency_ms["p50"],
        r.latency_ms["p90"],
        r.latency_ms["p99"],
        r.error_count,
        f"{r.stored_drawings} / {r.requests}",
        "yes" if r.one_row_per_request else "**NO**",
        r.cpu_ms_per_request("gunicorn"),
        r.cpu_ms_per_request("PostgreSQL"),
        r.capacity,
    ]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn workers (default 2, as the Procfile: one per core here)"
    )
    parser.add_argument("--seconds", type=int, default=10, help="seconds per concurrency level (default 10)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--no-baseline", action="store_true", help="skip the Keras baseline")
    args = parser.parse_args(argv)

    machine = Machine()
    site = BenchSite()
    try:
        ours = measure(site, args.workers, args.concurrency, args.seconds, baseline=False)
        keras = [] if args.no_baseline else measure(site, args.workers, args.concurrency, args.seconds, baseline=True)
    finally:
        site.close()

    headers = ["server", "concurrency", "201s", "req/s", "p50 ms", "p90 ms", "p99 ms", "errors", "rows / handled"]
    rows = [row("Digits (LiteRT)", r) for r in ours] + [row("Keras baseline", r) for r in keras]
    cpu_headers = ["web CPU ms/req", "PostgreSQL CPU ms/req", "CPU-bound req/s"]
    table = markdown_table([*headers, "1 row each", *cpu_headers], rows)
    best = max(ours, key=lambda r: r.rps)
    best_capacity = max(ours, key=lambda r: r.capacity)
    c1 = next((r for r in ours if r.concurrency == 1), ours[0])
    lines = [
        f"- p50 at concurrency {c1.concurrency}: **{c1.latency_ms['p50']:.2f} ms** (target ≤ 10 ms: "
        f"{'met' if c1.latency_ms['p50'] <= 10 else 'NOT met'})",
        f"- Best throughput: **{best.rps:.0f} stored predictions/s** at concurrency {best.concurrency} "
        f"(target ≥ 300: {'met' if best.rps >= 300 else 'NOT met'})",
        f"- CPU per stored prediction: {best_capacity.cpu_ms_per_request('gunicorn'):.1f} ms in the web worker, "
        f"{best_capacity.cpu_ms_per_request('PostgreSQL'):.1f} ms in PostgreSQL: this machine's cores could serve "
        f"about **{best_capacity.capacity:.0f} stored predictions/s** with nothing else running",
        f"- Errors: {sum(r.error_count for r in ours)}; one stored drawing and submission per request: "
        f"{'yes, every run' if all(r.one_row_per_request for r in ours) else '**NO**'}",
    ]
    ratio_table = ""
    if keras:
        best_keras = max(keras, key=lambda r: r.rps)
        ratios = []
        for mine, theirs in zip(ours, keras, strict=True):
            if not theirs.ok:
                ratios.append([mine.concurrency, f"baseline answered nothing in {args.seconds} s", "", ""])
                continue
            ratios.append(
                [
                    mine.concurrency,
                    f"{mine.rps / theirs.rps:.1f}x",
                    f"{theirs.latency_ms['p50'] / mine.latency_ms['p50']:.1f}x",
                    f"{theirs.latency_ms['p99'] / mine.latency_ms['p99']:.1f}x",
                ]
            )
        ratio_table = "Ours as a multiple of the baseline:\n\n" + markdown_table(
            ["concurrency", "throughput", "p50 latency (lower)", "p99 latency (lower)"], ratios
        )
        c1_keras = next((r for r in keras if r.concurrency == c1.concurrency), keras[0])
        if best_keras.ok and c1_keras.ok:
            best_ratio = best.rps / best_keras.rps
            latency_ratio = c1_keras.latency_ms["p50"] / c1.latency_ms["p50"]
            lines.append(
                f"- Against the usual way: best throughput **{best_ratio:.1f}x** ({best.rps:.0f} vs "
                f"{best_keras.rps:.0f} req/s), p50 at concurrency {c1.concurrency} **{latency_ratio:.1f}x** lower "
                f"(target ≥ 30x: {'met' if min(best_ratio, latency_ratio) >= 30 else 'NOT met'})"
            )
        else:
            lines.append("- Against the usual way: the baseline did not answer at every level; no ratio is given.")
    throttled = bool(importlib.import_module("digits_site.settings").REST_FRAMEWORK.get("DEFAULT_THROTTLE_CLASSES"))
    cache = "Redis cache" + (
        " (the rate limit is checked on every request, set too high to refuse)" if throttled else ""
    )
    setup = (
        f"gunicorn, {args.workers} sync workers (as the Procfile), `DEBUG=0`, PostgreSQL on 127.0.0.1, "
        f"{cache if site.redis_url else 'no Redis (rate limit off)'}, media on local disk; wrk (1 thread) with "
        f"`bench/wrk/predict.lua`, {args.seconds} s per level after a warm-up, each request a new client "
        "(so each is also given a new client cookie). Latency is wrk's, from request sent to response read. "
        "CPU columns: CPU time of the gunicorn processes and of the database's server processes (from /proc) per "
        "request handled; *CPU-bound req/s* = cores / (web + database + wrk CPU per request), what the machine "
        "would serve with nothing else running: unlike req/s, it hardly depends on other work on the machine."
    )

    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    levels = [str(r.concurrency) for r in ours]
    width = 0.38
    xs = range(len(levels))
    left.bar([x - width / 2 for x in xs], [r.rps for r in ours], width, label="Digits (LiteRT)", color="#2563eb")
    if keras:
        left.bar([x + width / 2 for x in xs], [r.rps for r in keras], width, label="Keras baseline", color="#9ca3af")
    left.set_xticks(list(xs), levels)
    left.set_xlabel("concurrent connections")
    left.set_ylabel("stored predictions per second")
    left.set_title("Throughput")
    left.legend()
    for results, color, label in ((ours, "#2563eb", "Digits"), (keras, "#6b7280", "Keras")):
        if results:
            right.plot(levels, [r.latency_ms["p50"] for r in results], "o-", color=color, label=f"{label} p50")
            right.plot(levels, [r.latency_ms["p99"] for r in results], "s--", color=color, label=f"{label} p99")
    right.set_yscale("log")
    right.set_xlabel("concurrent connections")
    right.set_ylabel("milliseconds (log scale)")
    right.set_title("Latency")
    right.legend(fontsize=8)
    fig.tight_layout()
    write_result(NAME, "HTTP end to end, every prediction stored", machine, [setup, table, ratio_table, *lines], fig)
    return {"ours": ours, "keras": keras}


if __name__ == "__main__":
    main()
