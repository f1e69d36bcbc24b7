"""Does the feedback loop learn new writers? The public optdigits pair, through the product's own correction path.

On a fresh site with the shipped model active, every digit of the optdigits *training writers* (30 people,
``../shared/handwriting/optdigits-orig.tra``) is drawn through ``POST /api/predictions/`` as a canvas-sized PNG; each
wrong answer is corrected through the API and accepted by staff. Then one fine-tune cycle runs (the Celery task, in
this process, with the site's settings). The *other writers* (``optdigits-orig.windep``), never corrected, are read
before and after, with MNIST test (all 10,000, from the fine-tune's own gate) for the cost.

    python -m bench.adaptation [--limit N]

Writes ``bench/results/adaptation.md`` and ``adaptation.png``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench import handwriting_sets as hw
from bench.common import Machine, markdown_table, pyplot, write_result

NAME = "adaptation"


def read(model_content: bytes, labelled: hw.LabelledSet) -> dict:
    """Accuracy and per-digit accuracy of a ``.tflite`` on a set, through the product's preprocessing."""
    from recognizer.core.classifier import Classifier
    from recognizer.core.preprocessing import preprocess

    predicted = Classifier(model_content).predict_many(np.stack([preprocess(i) for i in labelled.images])).argmax(1)
    labels = labelled.labels
    return {
        "accuracy": float((predicted == labels).mean()),
        "errors": int((predicted != labels).sum()),
        "per_digit": {d: float((predicted[labels == d] == d).mean()) for d in range(10)},
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="draw only the first N training writers' digits")
    args = parser.parse_args(argv)
    machine = Machine()
    from bench.common import setup_django

    setup_django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import override_settings
    from rest_framework.test import APIClient

    from bench.drawing import data_url
    from recognizer import registry, serving
    from recognizer.models import ModelVersion, TrainingRun
    from training.tasks import fine_tune

    call_command("migrate", verbosity=0)
    serving.reset()
    base, _ = registry.ensure_default_model()
    with base.tflite_file.open("rb") as fh:
        base_content = fh.read()
    writers, others = hw.optdigits("tra"), hw.optdigits("windep")
    if args.limit:
        writers.images, writers.labels = writers.images[: args.limit], writers.labels[: args.limit]
    before = {"training writers": read(base_content, writers), "other writers": read(base_content, others)}

    user, staff = APIClient(SERVER_NAME="127.0.0.1"), APIClient(SERVER_NAME="127.0.0.1")
    staff.force_login(get_user_model().objects.create_user("bench-staff", is_staff=True))
    started = time.monotonic()
    corrected: dict[int, int] = {}
    for image, label in zip(writers.images, writers.labels, strict=True):
        answer = user.post("/api/predictions/", {"image": data_url(image)}, format="json").json()
        if answer["digit"] != label:
            user.post(answer["correction_url"], {"label": int(label)}, format="json")
            staff.post(answer["correction_url"], {"label": int(label)}, format="json")
            corrected[int(label)] = corrected.get(int(label), 0) + 1
    drawing_seconds = time.monotonic() - started
    count = sum(corrected.values())
    with override_settings(DIGITS_FINETUNE_MIN_CORRECTIONS=min(count, 50)):
        started = time.monotonic()
        result = fine_tune.apply().get()
        cycle_seconds = time.monotonic() - started
    run = TrainingRun.objects.get(pk=result["run"])
    candidate = run.result_version
    after = {}
    if candidate is not None:
        with candidate.tflite_file.open("rb") as fh:
            content = fh.read()
        after = {"training writers": read(content, writers), "other writers": read(content, others)}
    active = ModelVersion.objects.active()

    mnist_before = run.metrics_before.get("mnist_test_accuracy")
    mnist_after = run.metrics_after.get("mnist_test_accuracy")
    rows = []
    for name in ("training writers", "other writers"):
        b, a = before[name], after.get(name)
        rows.append(
            [
                name + (" (corrected)" if name == "training writers" else " (never corrected)"),
                f"{b['accuracy']:.2%} ({b['errors']})",
                f"{a['accuracy']:.2%} ({a['errors']})" if a else "—",
                f"{(a['accuracy'] - b['accuracy']) * 100:+.2f} pt" if a else "—",
                f"1s {b['per_digit'][1]:.1%} → {a['per_digit'][1]:.1%}" if a else "",
            ]
        )
    if mnist_before is not None and mnist_after is not None:
        rows.append(
            [
                "MNIST test (the gate's figure)",
                f"{mnist_before:.2%}",
                f"{mnist_after:.2%}",
                f"{(mnist_after - mnist_before) * 100:+.2f} pt",
                "",
            ]
        )
    sections = [
        f"{len(writers.labels)} drawings of the training writers sent, {count} corrected "
        f"({', '.join(f'{d}: {n}' for d, n in sorted(corrected.items()))}) in {drawing_seconds:.0f} s; one fine-tune "
        f"cycle: {cycle_seconds:.0f} s, run status `{run.status}`: {run.message.rstrip('.')}. "
        f"Active after: `{active.name}` (base `{base.name}`); the figures after are the fine-tuned candidate's, "
        "promoted or not.",
        markdown_table(["set", "before", "after one cycle", "change", "1s (the weakest digit)"], rows),
    ]
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    digits = np.arange(10)
    for offset, (label, figures) in zip((-0.2, 0.2), (("before", before), ("after", after)), strict=True):
        if figures:
            ax.bar(digits + offset, [100 * figures["other writers"]["per_digit"][d] for d in digits], 0.4, label=label)
    ax.set_xticks(digits)
    ax.set_ylim(70, 101)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("optdigits other writers, per digit, before and after one cycle on the training writers' corrections")
    ax.legend()
    write_result(NAME, "Adaptation: the optdigits pair through the feedback loop", machine, sections, fig)
    return {"before": before, "after": after, "mnist": (mnist_before, mnist_after), "corrections": count}


if __name__ == "__main__":
    main()
