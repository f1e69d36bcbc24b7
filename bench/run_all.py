"""Run every benchmark, one after the other, each in its own process: ``make bench`` (= ``python -m bench.run_all``).

Each prints its table and writes ``bench/results/<name>.md`` and ``<name>.png``. Everything is bounded (seconds
per load level, numbers of images) and talks only to 127.0.0.1: PostgreSQL (the benchmark's own ``digits_bench``
database, re-created), gunicorn on a free port, wrk. Figures depend on how busy the machine is: each result records
the load average before and after.

    python -m bench.run_all [--only http_load memory] [--skip training]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import PYTHON, ROOT, fmt_load, load_average

BENCHMARKS = [
    "predict_inprocess",
    "profile_request",
    "http_load",
    "memory",
    "scale",
    "multinode",
    "training",
    "finetune",
    "accuracy",
    "adaptation",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--skip", nargs="+", choices=BENCHMARKS, default=[], help="leave these out")
    args = parser.parse_args(argv)
    chosen = [name for name in (args.only or BENCHMARKS) if name not in args.skip]

    failed, took = [], {}
    for name in chosen:
        print(f"\n==> bench/{name}.py (load average {fmt_load(load_average())})", flush=True)
        started = time.monotonic()
        code = subprocess.run([PYTHON, "-m", f"bench.{name}"], cwd=ROOT).returncode
        took[name] = time.monotonic() - started
        if code:
            failed.append(name)
    print("\n==> Done: " + ", ".join(f"{n} {s:.0f} s{' FAILED' if n in failed else ''}" for n, s in took.items()))
    print("Results in bench/results/ (markdown tables and PNG charts).")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
