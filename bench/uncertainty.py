"""How honest is ``uncertain``? Measures recognizer.core.uncertainty with the shipped model on MNIST and on scribbles.

    DIGITS_MNIST_DIR=../shared/mnist .venv/bin/python bench/uncertainty.py [--thresholds 0.7 0.9]

Prints, for each low-confidence threshold: the share of the 10,000 MNIST test digits called uncertain, how many of the
model's errors are among them, the accuracy of the answers given as certain, and the share of 400 random scribbles
(6 to 20 pen strokes across a 280 px canvas, the page's pen width) called uncertain, by reason.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digits_site.settings")


def scribbles(count_per_size: int = 100) -> np.ndarray:
    from recognizer.core.preprocessing import preprocess

    images = []
    for segments in (6, 10, 15, 20):
        for seed in range(count_per_size):
            points = [tuple(p) for p in np.random.default_rng(seed).uniform(40, 240, (segments, 2))]
            canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
            ImageDraw.Draw(canvas).line(points, fill=(0, 0, 0, 255), width=20, joint="curve")
            images.append(preprocess(canvas))
    return np.stack(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.7, 0.9, 0.95])
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from recognizer.core import shipped
    from recognizer.core.classifier import Classifier
    from recognizer.core.uncertainty import Reason, judge
    from training.ml.mnist import load_mnist

    classifier = Classifier(shipped.model_file().read_bytes())
    mnist = load_mnist(Path(settings.DIGITS_MNIST_DIR))
    mnist_probs = classifier.predict_many(mnist.x_test)
    wrong = mnist_probs.argmax(axis=1) != mnist.y_test
    noise = scribbles()
    noise_probs = classifier.predict_many(noise)
    print(f"model {shipped.metadata()['name']}: {wrong.sum()} errors on the {len(wrong)} MNIST test digits")
    for threshold in args.thresholds:
        unsure = np.array([judge(x, p, threshold).uncertain for x, p in zip(mnist.x_test, mnist_probs, strict=True)])
        certain_accuracy = 1 - (wrong & ~unsure).sum() / (~unsure).sum()
        reasons = [judge(x, p, threshold).reason for x, p in zip(noise, noise_probs, strict=True)]
        shares = {reason: np.mean([r is reason for r in reasons]) for reason in Reason}
        print(
            f"threshold {threshold:.2f}: MNIST uncertain {unsure.mean():.2%}, errors among them "
            f"{(wrong & unsure).sum()}/{wrong.sum()}, accuracy of certain answers {certain_accuracy:.2%}; "
            f"scribbles uncertain {np.mean([r is not None for r in reasons]):.0%} "
            f"(not_a_digit {shares[Reason.NOT_A_DIGIT]:.0%}, low_confidence {shares[Reason.LOW_CONFIDENCE]:.0%})"
        )


if __name__ == "__main__":
    main()
