"""What every benchmark shares: the machine it ran on, percentiles, real drawings, and writing its results.

Each benchmark prints a table and writes ``bench/results/<name>.md`` (the table, the machine, the date, the load and
the exact command) and ``bench/results/<name>.png`` (a chart), so a figure in the README can always be traced back
to a run anyone can repeat.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable


def bench_var_dir() -> Path:
    """A fresh folder for one benchmark's files (database, media), inside ``DIGITS_VAR_DIR`` when that is set."""
    import tempfile

    parent = Path(os.environ.get("DIGITS_VAR_DIR") or tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="digits-bench-", dir=parent))


def setup_django(var_dir: Path | None = None) -> Path:
    """Configure Django for an in-process benchmark: an isolated site, never the developer's.

    SQLite and media in a fresh folder (``var_dir``, or a new one), no Redis (tasks run in this process), and no rate
    limits: a simulated user or classroom sends far more a minute than the public limits allow one client.
    """
    var_dir = var_dir or bench_var_dir()
    os.environ["DIGITS_VAR_DIR"] = str(var_dir)
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "MEDIA_ROOT"):
        os.environ.pop(name, None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digits_site.settings")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for scope in ("PREDICT", "CORRECT", "PREDICT_ADDRESS", "CORRECT_ADDRESS"):
        os.environ[f"DIGITS_RATE_{scope}"] = "off"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return var_dir


# ---------------------------------------------------------------- the machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return float("nan")


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty.strip() else "")
    except OSError:
        return "unknown"


@dataclass
class Machine:
    """The facts a reader needs to compare a figure with their own: cores, CPU, memory, load, software."""

    cores: int = field(default_factory=lambda: os.cpu_count() or 0)
    cpu: str = field(default_factory=_cpu_model)
    ram_gib: float = field(default_factory=_ram_gib)
    load_before: tuple[float, float, float] = field(default_factory=load_average)
    python: str = field(default_factory=platform.python_version)
    system: str = field(default_factory=lambda: f"{platform.system()} {platform.release()}")
    commit: str = field(default_factory=git_commit)
    date: str = field(default_factory=lambda: dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"))
    command: str = field(default_factory=lambda: shlex.join(["python", *sys.orig_argv[1:]]))

    def lines(self) -> list[str]:
        load_after = load_average()
        return [
            f"- Machine: {self.cores} cores ({self.cpu}), {self.ram_gib:.1f} GiB RAM, {self.system}, "
            f"Python {self.python}",
            f"- Load average (1/5/15 min) before: {fmt_load(self.load_before)}, after: {fmt_load(load_after)}"
            + (" — the machine was busy, figures are pessimistic" if self.load_before[0] > self.cores else ""),
            f"- Date: {self.date}; commit {self.commit}",
            f"- Command: `{self.command}` (from the repository root)",
        ]


def fmt_load(load: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in load)


# ---------------------------------------------------------------- numbers


def percentiles_ms(seconds: Iterable[float]) -> dict[str, float]:
    """p50, p90, p99, mean and max of durations given in seconds, in milliseconds."""
    values = np.asarray(list(seconds), dtype=np.float64) * 1000.0
    if values.size == 0:
        return {"n": 0, "p50": float("nan"), "p90": float("nan"), "p99": float("nan"), "mean": float("nan")}
    return {
        "n": int(values.size),
        "p50": float(np.percentile(values, 50)),
        "p90": float(np.percentile(values, 90)),
        "p99": float(np.percentile(values, 99)),
        "mean": float(values.mean()),
        "max": float(values.max()),
    }


def fit_line(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``y = a + b·x``; returns ``(a, b)``."""
    b, a = np.polyfit(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), 1)
    return float(a), float(b)


# ---------------------------------------------------------------- inputs


def drawn_pngs(size: int = 400) -> list[bytes]:
    """Ten real drawings, one per digit, as the page's canvas exports them (black strokes, transparent PNG)."""
    from bench.drawing import draw_digit, png_bytes

    return [png_bytes(draw_digit(d, size=(size, size))) for d in range(10)]


POSTGRES_ADMIN_URL = os.environ.get("DIGITS_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def fresh_postgres_database(name: str = "digits_bench") -> str:
    """Drop and re-create the benchmark's own PostgreSQL database; returns its ``DATABASE_URL``."""
    import psycopg

    admin = POSTGRES_ADMIN_URL.replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- output


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, machine: Machine, sections: Sequence[str], figure=None) -> Path:
    """Write ``bench/results/<name>.md`` (and ``<name>.png`` from a matplotlib figure), print the text, return it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    parts = [f"# {title}", "", *machine.lines(), ""]
    for section in sections:
        parts += [section, ""]
    if figure is not None:
        figure.savefig(RESULTS / f"{name}.png", dpi=110, bbox_inches="tight")
        parts += [f"![{title}]({name}.png)", ""]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(parts))
    print("\n".join(parts), flush=True)
    return path


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
