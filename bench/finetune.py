"""Fine-tuning: one cycle with N accepted corrections and its MNIST replay, for N = 1,000, 10,000 and 50,000, with
the fitted trend; and the Celery worker's peak memory while it runs one.

For each N: a fresh database with the shipped model active and N corrected drawings (MNIST training digits, stored
as the site stores drawings, each with a corrected label that staff accepted), then ``manage.py finetune`` timed
from start to exit (TensorFlow's import, the replay and the evaluation included: what an operator waits for). Then
the same cycle with 1,000 corrections as the Celery task ``recognizer.tasks.fine_tune`` in a real worker, whose
resident memory (worker and children) is sampled every 0.2 s.

Needs the fine-tune itself (``training.finetune``); on a branch without it this says so and skips.

    python -m bench.finetune [--corrections 1000 10000 50000]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import subprocess
import time
from pathlib import Path

from bench.common import PYTHON, ROOT, Machine, bench_var_dir, fit_line, markdown_table, pyplot, write_result
from bench.server import children, rss_mib
from bench.training import mnist_dir

NAME = "finetune"
TASK = "recognizer.tasks.fine_tune"
SEED = r"""
import sys
import django
django.setup()
import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from recognizer.images import array_to_png
from recognizer.models import Drawing, ModelVersion, Submission
from recognizer.core.preprocessing import preprocess
from recognizer.registry import ensure_default_model
from training.ml.mnist import load_mnist
from django.conf import settings

n = int(sys.argv[1])
version, _ = ensure_default_model()
mnist = load_mnist(settings.DIGITS_MNIST_DIR)
now = timezone.now()
for start in range(0, n, 2000):
    images, labels = mnist.x_train[start : start + 2000], mnist.y_train[start : start + 2000]
    images, labels = images[: n - start], labels[: n - start]
    submissions = Submission.objects.bulk_create(
        [Submission(created_at=now, client_key="bench", number=str((y + 1) % 10)) for y in labels]
    )
    drawings = []
    for i, (image, label, submission) in enumerate(zip(images, labels, submissions)):
        model_input = preprocess(image)
        name = default_storage.save(f"drawings/bench/{start + i}.png", ContentFile(array_to_png(image)))
        wrong = (int(label) + 1) % 10
        probabilities = [0.0] * 10
        probabilities[wrong] = 1.0
        drawings.append(Drawing(
            submission=submission, image=name, image_sha256=f"{start + i:064d}", model_input=model_input.tobytes(),
            predicted_digit=wrong, confidence=1.0, probabilities=probabilities, model_version=version,
            created_at=now, client_key="bench", corrected_label=int(label), corrected_at=now,
            correction_status=Drawing.CorrectionStatus.ACCEPTED, reviewed_at=now,
        ))
    Drawing.objects.bulk_create(drawings)
print(Drawing.objects.filter(correction_status="accepted").count())
"""


def available() -> bool:
    return importlib.util.find_spec("training.finetune") is not None


def prepared(corrections: int) -> dict[str, str]:
    """A fresh var folder and SQLite database with the shipped model and ``corrections`` accepted corrections."""
    var_dir = bench_var_dir()
    env = {**os.environ, "DIGITS_VAR_DIR": str(var_dir), "DIGITS_MNIST_DIR": str(mnist_dir())}
    env.update(DJANGO_SETTINGS_MODULE="digits_site.settings", TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    for key in ("DATABASE_URL", "MEDIA_ROOT", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(key, None)
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    for folder in ("out", "control"):  # the embedded (filesystem) broker's, before a sender or worker needs them
        (var_dir / "broker" / folder).mkdir(parents=True, exist_ok=True)
    seeded = subprocess.run(
        [PYTHON, "-c", SEED, str(corrections)], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    assert int(seeded.stdout.split()[-1]) == corrections, seeded.stdout
    return env


def time_command(corrections: int) -> float:
    env = prepared(corrections)
    started = time.monotonic()
    done = subprocess.run(
        [PYTHON, "manage.py", "finetune", "--force", "--no-activate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    took = time.monotonic() - started
    if done.returncode:
        raise RuntimeError(f"manage.py finetune failed:\n{done.stderr[-3000:]}")
    print(f"{corrections} corrections: {took:.0f} s; {done.stdout.strip()}", flush=True)
    return took


def celery_peak(corrections: int, timeout: float = 1800.0) -> tuple[float, float]:
    """Run the fine-tune as a Celery task in a real worker; ``(peak RSS MiB of worker + children, seconds)``."""
    env = prepared(corrections)
    log = open(Path(env["DIGITS_VAR_DIR"]) / "celery.log", "wb")  # noqa: SIM115 (closed with the worker)
    worker = subprocess.Popen(
        [str(Path(PYTHON).with_name("celery")), "-A", "digits_site", "worker", "--concurrency", "1", "-l", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    runner = (
        "import django, sys, time; django.setup()\n"
        "from digits_site.celery import app\n"
        "from recognizer.models import TrainingRun\n"
        f"app.send_task({TASK!r}, kwargs={{'force': True}})\n"
        "done = {'succeeded', 'skipped', 'rejected', 'failed'}\n"
        "while not TrainingRun.objects.filter(kind='finetune', status__in=done).exists(): time.sleep(0.5)\n"
    )
    try:
        client = subprocess.Popen([PYTHON, "-c", runner], cwd=ROOT, env=env)
        started, peak = time.monotonic(), 0.0
        while client.poll() is None:
            if time.monotonic() - started > timeout:
                client.kill()
                raise RuntimeError("the fine-tune task did not finish in time")
            peak = max(peak, tree_rss_mib(worker.pid))
            time.sleep(0.2)
        if client.returncode:
            raise RuntimeError(f"sending or following the task failed; see {log.name}")
        return peak, time.monotonic() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (a pool process may come and go while we read)."""
    total = 0.0
    for member in (pid, *children(pid)):
        with contextlib.suppress(OSError):
            total += rss_mib(member)
    return total


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corrections", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--no-celery", action="store_true", help="skip the Celery worker's memory")
    args = parser.parse_args(argv)

    machine = Machine()
    if not available():
        message = "Fine-tune not available on this branch (no `training.finetune`): this benchmark is skipped."
        print(message, flush=True)
        write_result(NAME, "Fine-tuning", machine, [message])
        return {"skipped": True}

    seconds = {n: time_command(n) for n in args.corrections}
    rows = [[n, s, f"{s / 60:.1f}"] for n, s in seconds.items()]
    overrides = ", ".join(f"`{k}={v}`" for k, v in sorted(os.environ.items()) if k.startswith("DIGITS_FINETUNE_"))
    sections = [
        "`manage.py finetune --force --no-activate` (epochs and MNIST replay from the settings"
        + (f": {overrides}" if overrides else ", their defaults")
        + ") on a fresh SQLite database holding the shipped model and N accepted corrections (MNIST training digits "
        "stored as drawings), timed from start to exit.",
        markdown_table(["corrections", "seconds", "minutes"], rows),
    ]
    first = seconds[min(seconds)]
    verdict = "met" if first <= 120 else "NOT met"
    sections.append(f"With {min(seconds):,} corrections: **{first:.0f} s** (target ≤ 2 minutes: {verdict}).")
    if len(seconds) >= 2:
        a, b = fit_line(list(seconds), list(seconds.values()))
        sections.append(
            f"Fitted: **seconds ≈ {a:.0f} + {b * 1000:.1f} x thousands of corrections**: a cycle stays within 2 "
            f"minutes up to about {max(0.0, (120 - a) / b):,.0f} corrections on this machine."
            if b > 0
            else f"Fitted: seconds ≈ {a:.0f} + {b * 1000:.1f} x thousands of corrections."
        )
    if not args.no_celery:
        peak, took = celery_peak(min(args.corrections))
        sections.append(
            f"Celery worker (worker and its pool processes) during a fine-tune with {min(args.corrections):,} "
            f"corrections: peak resident memory **{peak:.0f} MiB**; the task took {took:.0f} s."
        )

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ns = list(seconds)
    ax.plot(ns, [seconds[n] for n in ns], "o", color="#2563eb", label="measured")
    if len(ns) >= 2:
        ax.plot([0, max(ns)], [a, a + b * max(ns)], ":", color="#2563eb", label="fitted")
    ax.axhline(120, color="#b91c1c", linestyle="--", label="2 minutes")
    ax.set_xlabel("accepted corrections")
    ax.set_ylabel("seconds per fine-tune cycle")
    ax.set_title("Fine-tune time by corrections")
    ax.legend()
    write_result(NAME, "Fine-tuning", machine, sections, fig)
    return {"seconds": seconds}


if __name__ == "__main__":
    main()
