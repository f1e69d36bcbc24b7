"""In-process prediction: a drawn PNG → decode → preprocess → LiteRT (the digit model, then the not-a-digit
detector), timed stage by stage.

The same work the web process does for one request, without HTTP or the database write, on the shipped default
model through the real serving module (active model, hot-swap check included). For comparison, the usual way —
Keras ``model.predict`` on the same model's ``.keras`` — is timed in a separate process (so TensorFlow never shares
this one), on the same preprocessed inputs.

    python -m bench.predict_inprocess [--iterations 2000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time

import numpy as np

from bench.common import PYTHON, ROOT, Machine, drawn_pngs, markdown_table, percentiles_ms, pyplot, write_result

NAME = "predict_inprocess"


def time_litert(pngs: list[bytes], iterations: int, warmup: int = 50) -> dict[str, list[float]]:
    """Seconds per stage for ``iterations`` predictions, cycling through the drawings."""
    from django.core.management import call_command

    from recognizer import serving
    from recognizer.core.preprocessing import preprocess
    from recognizer.images import open_image
    from recognizer.registry import ensure_default_model

    call_command("migrate", verbosity=0)
    ensure_default_model()
    stages: dict[str, list[float]] = {"decode": [], "preprocess": [], "LiteRT": [], "detector": [], "total": []}
    detector = serving.not_a_digit_detector()
    clock = time.perf_counter
    for i in range(warmup + iterations):
        raw = pngs[i % len(pngs)]
        t0 = clock()
        image = open_image(raw)
        t1 = clock()
        model_input = preprocess(image)
        t2 = clock()
        serving.predict(model_input)
        t3 = clock()
        if detector is not None:
            detector.score(model_input[None])
        t4 = clock()
        if i >= warmup:
            for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True):
                stages[key].append(value)
    return stages


def time_keras(inputs: np.ndarray, iterations: int) -> dict[str, list[float]]:
    """Run in a child process: seconds per ``model.predict`` (and per direct call) on one preprocessed input."""
    out = subprocess.run(
        [PYTHON, "-m", "bench.predict_inprocess", "--keras-child", str(iterations)],
        input=inputs.tobytes(),
        capture_output=True,
        cwd=ROOT,
    )
    if out.returncode:
        raise RuntimeError(f"the Keras timing process failed:\n{out.stderr.decode()[-3000:]}")
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def keras_child(iterations: int) -> None:
    import os
    import sys

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    inputs = np.frombuffer(sys.stdin.buffer.read(), dtype=np.uint8).reshape(-1, 28, 28, 1).astype(np.float32)
    from recognizer.core import shipped

    model = keras.saving.load_model(shipped.model_file("keras_file"), compile=False)
    result: dict[str, list[float]] = {"Keras model.predict": [], "Keras model(x)": []}
    for _ in range(5):  # warm-up: the first calls trace the graph
        model.predict(inputs[:1], verbose=0)
        model(inputs[:1], training=False)
    for i in range(iterations):
        x = inputs[i % len(inputs) : i % len(inputs) + 1]
        t0 = time.perf_counter()
        model.predict(x, verbose=0)
        t1 = time.perf_counter()
        np.asarray(model(x, training=False))
        t2 = time.perf_counter()
        result["Keras model.predict"].append(t1 - t0)
        result["Keras model(x)"].append(t2 - t1)
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000, help="timed predictions (default 2000)")
    parser.add_argument("--keras-iterations", type=int, default=200, help="timed Keras predictions (default 200)")
    parser.add_argument(
        "--size", type=int, default=280, help="drawing size in pixels (default 280, what the page sends)"
    )
    parser.add_argument(
        "--decode-sizes", type=int, nargs="*", default=[280, 400, 1000], help="sizes for the decode-time table"
    )
    parser.add_argument("--keras-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.keras_child:
        keras_child(args.keras_child)
        return {}

    from bench.common import setup_django

    machine = Machine()
    setup_django()
    from recognizer.core.preprocessing import preprocess
    from recognizer.images import open_image

    pngs = drawn_pngs(args.size)
    stages = time_litert(pngs, args.iterations)
    inputs = np.stack([preprocess(open_image(raw)) for raw in pngs])
    keras = time_keras(inputs, args.keras_iterations)

    decode_rows = []
    for size in args.decode_sizes:
        sized = drawn_pngs(size)
        seconds = []
        for i in range(200):
            t0 = time.perf_counter()
            open_image(sized[i % len(sized)])
            seconds.append(time.perf_counter() - t0)
        s = percentiles_ms(seconds)
        decode_rows.append([f"{size}x{size}", f"{np.mean([len(p) for p in sized]) / 1024:.1f}", s["p50"], s["p99"]])
    decode_table = (
        "Decoding alone, by the size of the drawing sent (the page sends at most 280 px; a phone's canvas is "
        "~1000 px):\n\n" + markdown_table(["drawing", "PNG KiB", "decode p50 ms", "decode p99 ms"], decode_rows)
    )

    stats = {name: percentiles_ms(values) for name, values in {**stages, **keras}.items()}
    ours = stats["total"]["p50"]
    rows = []
    for name, s in stats.items():
        label = "whole prediction (decode + preprocess + LiteRT + detector)" if name == "total" else name
        ratio = s["p50"] / ours if name.startswith("Keras") else None
        rows.append([label, s["n"], s["p50"], s["p90"], s["p99"], s["mean"], f"{ratio:.0f}x" if ratio else ""])
    table = markdown_table(["stage", "runs", "p50 ms", "p90 ms", "p99 ms", "mean ms", "p50 vs our whole"], rows)
    verdict = f"Target p50 ≤ 1 ms: **{'met' if ours <= 1.0 else 'NOT met'}** (p50 {ours:.3f} ms)."
    notes = (
        f"Input: ten drawn digits ({args.size}x{args.size} RGBA PNG, as the page sends them, "
        f"{np.mean([len(p) for p in pngs]) / 1024:.1f} KiB on average), cycled. One thread, the shipped default "
        "model, through `recognizer.serving` (active-model check included), then the shipped not-a-digit detector "
        "on the same input (`detector`), as `recognizer.predictions` reads it for every stored drawing. The Keras "
        "rows run the same model's "
        "`.keras` on the same preprocessed inputs in a separate process (TensorFlow, default threads); they exclude "
        "decode and preprocess, so they flatter Keras."
    )

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    names = list(stats)
    ax.barh(names, [stats[n]["p50"] for n in names], color=["#2563eb"] * len(stages) + ["#9ca3af"] * len(keras))
    ax.errorbar([stats[n]["p99"] for n in names], names, fmt="|", color="#111827", markersize=12, label="p99")
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds (log scale); bar = p50, tick = p99")
    ax.set_title("In-process prediction")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    write_result(NAME, "In-process prediction", machine, [notes, table, verdict, decode_table], fig)
    return stats


if __name__ == "__main__":
    main()
