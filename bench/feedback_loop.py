"""Benchmark of the feedback loop: does fine-tuning on one user's corrections teach the model that user's handwriting
without costing MNIST accuracy, and how long does a fine-tune cycle take?

A simulated user (``bench/handwriting.py``: ordinary 0, 2, 3, 5, 6, 8; 1 as a serif I, 4 as a pennant, 7 and 9
mirror-written) draws digits through the API and corrects every wrong answer; staff accept the corrections through
the API; then the fine-tune runs, the very Celery task the schedule runs (executed in this process). Two scenarios,
each on a fresh database from the same base model:

- *few hundred*: ``--corrections`` corrections (default 300) → the style's accuracy on fresh drawings and MNIST test
  accuracy (all 10,000 images), before and after;
- *timing*: ``--timing-corrections`` (default 1,000) corrections plus the MNIST replay → how long the cycle takes.

Writes ``bench/results/feedback_loop.md`` and ``feedback_loop.png`` and prints the figures. Run from the repository
root as a module (as a script, ``bench/numbers.py`` would shadow the standard library's ``numbers``), e.g.
``DIGITS_MNIST_DIR=../shared/mnist .venv/bin/python -m bench.feedback_loop``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corrections", type=int, default=300, help="Corrections in the accuracy scenario.")
    parser.add_argument("--timing-corrections", type=int, default=1000, help="Corrections in the timing scenario.")
    parser.add_argument("--fresh", type=int, default=100, help="Fresh drawings per digit to measure the style on.")
    parser.add_argument(
        "--base", type=Path, help="A model as PATH.keras + PATH.tflite (give PATH); default: the shipped model."
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-timing", action="store_true", help="Only run the accuracy scenario.")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args()


@dataclass
class Scenario:
    name: str
    corrections: int
    drawings: int = 0
    seconds_drawing: float = 0.0
    run: dict = field(default_factory=dict)
    style_before: dict = field(default_factory=dict)
    style_after: dict = field(default_factory=dict)
    figures: dict[str, bytes] = field(default_factory=dict)


def style_accuracy(model_content: bytes, inputs, labels) -> dict:
    """Overall and per-digit accuracy of a ``.tflite`` model on the fresh drawings."""

    from recognizer.core.classifier import Classifier

    predicted = Classifier(model_content).predict_many(inputs).argmax(axis=1)
    per_digit = {str(d): float((predicted[labels == d] == d).mean()) for d in range(10)}
    return {"accuracy": float((predicted == labels).mean()), "per_digit": per_digit, "count": len(labels)}


def fresh_drawings(per_digit: int, seed: int):
    """Drawings the fine-tune never saw: same style, another random stream."""
    import numpy as np

    from bench.handwriting import render
    from recognizer.core.preprocessing import preprocess

    rng = np.random.default_rng(seed + 10_000)
    labels = np.repeat(np.arange(10), per_digit)
    return np.stack([preprocess(render(int(d), rng)) for d in labels]), labels


def run_scenario(scenario: Scenario, args: argparse.Namespace, fresh) -> Scenario:
    """Fresh database, base model active, the user draws and corrects, staff accept, the fine-tune task runs."""
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from rest_framework.test import APIClient

    from bench.drawing import data_url
    from bench.handwriting import render
    from recognizer import registry, serving
    from recognizer.models import ModelVersion, TrainingRun
    from training.tasks import fine_tune

    call_command("flush", "--noinput", verbosity=0)
    serving.reset()
    if args.base:
        base = registry.register_version(
            args.base.name, args.base.with_suffix(".keras"), args.base.with_suffix(".tflite"), metrics={}
        )
        registry.activate(base)
    else:
        base, _ = registry.ensure_default_model()
    with base.tflite_file.open("rb") as fh:
        scenario.style_before = style_accuracy(fh.read(), *fresh)

    user, staff = APIClient(SERVER_NAME="127.0.0.1"), APIClient(SERVER_NAME="127.0.0.1")
    staff.force_login(get_user_model().objects.create_user("bench-staff", is_staff=True))
    rng = np.random.default_rng(args.seed)
    started = time.monotonic()
    made = 0
    while made < scenario.corrections:
        digit = int(rng.integers(10))
        answer = user.post("/api/predictions/", {"image": data_url(render(digit, rng))}, format="json").json()
        scenario.drawings += 1
        if answer["digit"] != digit:
            user.post(answer["correction_url"], {"label": digit}, format="json")  # pending until staff accept
            staff.post(answer["correction_url"], {"label": digit}, format="json")  # staff accept it
            made += 1
    scenario.seconds_drawing = time.monotonic() - started

    settings_override = {"DIGITS_FINETUNE_MIN_CORRECTIONS": min(scenario.corrections, 50)}
    from django.test import override_settings

    with override_settings(**settings_override):
        started = time.monotonic()
        result = fine_tune.apply().get()
        wall = time.monotonic() - started
    run = TrainingRun.objects.get(pk=result["run"])
    active = ModelVersion.objects.active()
    with active.tflite_file.open("rb") as fh:
        scenario.style_after = style_accuracy(fh.read(), *fresh)
    scenario.run = {
        "id": run.pk,
        "status": run.status,
        "message": run.message,
        "wall_seconds": round(wall, 1),
        "run_seconds": round(run.duration.total_seconds(), 1),
        "timings": run.timings,
        "mnist_samples": run.mnist_samples,
        "correction_samples": run.correction_samples,
        "heldout_samples": run.heldout_samples,
        "parameters": run.parameters,
        "before": run.metrics_before,
        "after": run.metrics_after,
        "base": base.name,
        "active_after": active.name,
    }
    for image in ("curves_image", "confusion_image"):
        with getattr(run, image).open("rb") as fh:
            scenario.figures[image] = fh.read()
    return scenario


def machine(load_at_start: str) -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.node()}: {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}; load average "
        f"(1, 5, 15 min) {load_at_start} at the start, {load_average()} at the end (the machine is shared)"
    )


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def chart(scenarios: list[Scenario], path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    first = scenarios[0]
    digits = list(range(10))
    width = 0.4
    left.bar(
        [d - width / 2 for d in digits],
        [first.style_before["per_digit"][str(d)] for d in digits],
        width,
        label=f"before ({first.style_before['accuracy']:.1%})",
    )
    left.bar(
        [d + width / 2 for d in digits],
        [first.style_after["per_digit"][str(d)] for d in digits],
        width,
        label=f"after ({first.style_after['accuracy']:.1%})",
    )
    left.set_xticks(digits)
    left.set_ylim(0, 1.05)
    left.set_xlabel("digit")
    left.set_ylabel("accuracy on fresh drawings")
    left.set_title(f"The user's handwriting, fine-tuned on {first.corrections} corrections")
    left.legend(loc="lower right")
    names = [s.name for s in scenarios]
    before = [s.run["before"]["mnist_test_accuracy"] * 100 for s in scenarios]
    after = [s.run["after"]["mnist_test_accuracy"] * 100 for s in scenarios]
    positions = range(len(scenarios))
    for offset, values, label in ((-0.2, before, "active model"), (0.2, after, "candidate")):
        bars = right.bar([p + offset for p in positions], values, 0.4, label=label)
        right.bar_label(bars, fmt="%.2f", fontsize=8)
    right.set_xticks(list(positions), names)
    low = min(before + after)
    right.set_ylim(max(0, low - 1), 100)
    right.set_ylabel("MNIST test accuracy (%)")
    right.set_title("MNIST test (10,000)")
    right.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def report(scenarios: list[Scenario], args: argparse.Namespace, command: str, started: datetime, load: str) -> str:
    lines = [
        "# Feedback loop benchmark",
        "",
        f"- Command: `{command}`",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC; commit {git_commit()}",
        f"- Machine: {machine(load)}",
        f"- Base model: {scenarios[0].run['base']}",
        "",
        "| scenario | drawings | corrections (train + held out) | MNIST replay | style accuracy before → after | "
        "MNIST test before → after | status | fine-tune cycle |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in scenarios:
        r = s.run
        lines.append(
            f"| {s.name} | {s.drawings} | {r['correction_samples']} + {r['heldout_samples']} | {r['mnist_samples']} | "
            f"{s.style_before['accuracy']:.1%} → {s.style_after['accuracy']:.1%} "
            f"({(s.style_after['accuracy'] - s.style_before['accuracy']) * 100:+.1f} points) | "
            f"{r['before']['mnist_test_accuracy']:.2%} → {r['after']['mnist_test_accuracy']:.2%} "
            f"({(r['after']['mnist_test_accuracy'] - r['before']['mnist_test_accuracy']) * 100:+.2f} points) | "
            f"{r['status']} | {r['run_seconds']:.0f} s |"
        )
    lines += ["", "Per-digit accuracy on fresh drawings in the user's style (before → after):", ""]
    lines.append("| scenario | " + " | ".join(str(d) for d in range(10)) + " |")
    lines.append("| --- " * 11 + "|")
    for s in scenarios:
        cells = [
            f"{s.style_before['per_digit'][str(d)]:.0%} → {s.style_after['per_digit'][str(d)]:.0%}" for d in range(10)
        ]
        lines.append(f"| {s.name} | " + " | ".join(cells) + " |")
    lines += ["", "Stage timings (seconds) and gate verdicts:", ""]
    for s in scenarios:
        timings = ", ".join(f"{k} {v:.1f}" for k, v in s.run["timings"].items())
        repeats = s.run["parameters"]["correction_repeats"]
        lines.append(
            f"- {s.name}: {timings}; whole run {s.run['run_seconds']:.1f} s (each training correction seen "
            f"{repeats} times). {s.run['message']}"
        )
    lines += [
        "",
        f"Fresh drawings: {scenarios[0].style_before['count']} ({args.fresh} per digit) from another random stream "
        "than the corrected ones; MNIST test accuracy is measured by the fine-tune itself on all 10,000 test images "
        "through LiteRT. Parameters: " + ", ".join(f"{k}={v}" for k, v in scenarios[0].run["parameters"].items()),
        "",
        "![chart](feedback_loop.png)",
        "",
        f"The {scenarios[0].name} run's own figures, as staff see them on its training run: curves (training, and the "
        "held-out corrections after the epoch) and confusion matrices.",
        "",
        "![curves](feedback_loop_curves.png)",
        "",
        "![confusion matrices](feedback_loop_confusion.png)",
        "",
    ]
    return "\n".join(lines)


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    args = parse_args()
    command = shlex.join([sys.executable, *sys.argv])
    started, load = datetime.now(UTC), load_average()
    with tempfile.TemporaryDirectory(prefix="digits-bench-") as tmp:
        sys.path.insert(0, str(ROOT))
        from bench.common import setup_django

        setup_django(Path(tmp))
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        fresh = fresh_drawings(args.fresh, args.seed)
        scenarios = [run_scenario(Scenario("few hundred", args.corrections), args, fresh)]
        if not args.skip_timing:
            scenarios.append(run_scenario(Scenario("timing", args.timing_corrections), args, fresh))
        args.out.mkdir(parents=True, exist_ok=True)
        chart(scenarios, args.out / "feedback_loop.png")
        (args.out / "feedback_loop_curves.png").write_bytes(scenarios[0].figures["curves_image"])
        (args.out / "feedback_loop_confusion.png").write_bytes(scenarios[0].figures["confusion_image"])
        text = report(scenarios, args, command, started, load)
        (args.out / "feedback_loop.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
