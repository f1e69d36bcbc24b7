"""Memory: the resident size of a web worker after warm-up, whether TensorFlow is loaded in it, and the same for a
worker of the Keras baseline; the Celery worker's peak during a fine-tune is measured by ``bench/finetune.py``.

Read from /proc: ``VmRSS`` of each gunicorn worker after it has served a warm-up and a few seconds of load, and its
memory map, where any file of the ``tensorflow`` package (``libtensorflow_framework``, ``_pywrap_tensorflow_internal``)
would show if anything in the process had imported TensorFlow or Keras.

    python -m bench.memory [--workers 2] [--seconds 5]
"""

from __future__ import annotations

import argparse

from bench.common import Machine, markdown_table, pyplot, write_result
from bench.server import BenchSite, maps_tensorflow, rss_mib

NAME = "memory"


def worker_memory(site: BenchSite, workers: int, seconds: int, baseline: bool) -> list[tuple[int, float, bool]]:
    """``(pid, RSS MiB, TensorFlow mapped)`` of each worker after warm-up and ``seconds`` of load at 8 connections."""
    with site.serve(workers, baseline=baseline) as server:
        server.load(8, seconds)
        return [(pid, rss_mib(pid), maps_tensorflow(pid)) for pid in server.worker_pids()]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--seconds", type=int, default=5, help="seconds of load after the warm-up (default 5)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the Keras baseline")
    args = parser.parse_args(argv)

    machine = Machine()
    site = BenchSite()
    try:
        ours = worker_memory(site, args.workers, args.seconds, baseline=False)
        keras = [] if args.no_baseline else worker_memory(site, args.workers, args.seconds, baseline=True)
    finally:
        site.close()

    rows = [["Digits web worker", pid, rss, "yes" if tf else "no"] for pid, rss, tf in ours]
    rows += [["Keras baseline web worker", pid, rss, "yes" if tf else "no"] for pid, rss, tf in keras]
    table = markdown_table(["process", "pid", "RSS MiB", "TensorFlow loaded"], rows)
    worst = max(rss for _, rss, _ in ours)
    met = "met" if worst * 1.048576 <= 200 else "NOT met"
    verdict = (
        f"Largest Digits web worker: **{worst:.0f} MiB** (target ≤ 200 MB: {met}); "
        f"TensorFlow loaded in a Digits web worker: **{'YES' if any(tf for *_, tf in ours) else 'no'}**."
    )
    setup = (
        f"gunicorn with {args.workers} sync workers, `DEBUG=0`, PostgreSQL; each worker measured after the warm-up "
        f"and {args.seconds} s of load at 8 connections. The Celery worker's memory during a fine-tune is in "
        "`finetune.md`."
    )

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    labels = [f"{r[0]} {r[1]}" for r in rows]
    ax.barh(labels, [r[2] for r in rows], color=["#2563eb"] * len(ours) + ["#9ca3af"] * len(keras))
    ax.axvline(200 / 1.048576, color="#b91c1c", linestyle="--", label="200 MB target")
    ax.set_xlabel("resident memory, MiB")
    ax.invert_yaxis()
    ax.legend()
    write_result(NAME, "Memory of a web worker", machine, [setup, table, verdict], fig)
    return {"ours": ours, "keras": keras}


if __name__ == "__main__":
    main()
