"""The training augmentation: the shapes it makes are the shapes people draw that MNIST lacks."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from training.ml.augment import augment_batch, make_augmenter


def ink_box(image: np.ndarray) -> tuple[int, int]:
    """Width and height of the ink's bounding box."""
    rows, cols = np.nonzero(image > 64)
    return int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)


def lean(image: np.ndarray) -> float:
    """How far the top of a stroke sits right of its bottom, per row of height (a slant to the right is positive)."""
    rows = np.nonzero(image.max(axis=1) > 64)[0]
    top, bottom = rows[1], rows[-2]
    columns = np.arange(image.shape[1])
    shift = np.average(columns, weights=image[top]) - np.average(columns, weights=image[bottom])
    return float(shift / (bottom - top))


def augmented(image: np.ndarray, copies: int = 400) -> np.ndarray:
    """``copies`` of one 28x28 image through the training augmentation (one seed, so the test is repeatable)."""
    batch = tf.constant(np.repeat(image[None, :, :, None], copies, axis=0))
    return augment_batch(make_augmenter(seed=3), batch).numpy()[..., 0]


def test_augmentation_makes_narrow_wide_and_slanted_digits_and_keeps_them_in_the_frame() -> None:
    """A square ring stays square under rotation, uniform zoom and shifts; people also write narrow and wide
    digits and slant them more than ±10° of rotation does, which the augmentation makes (other hands were read better
    with it over seeds, bench/results/recipe_probe_gpu.md). Without the width zoom every ratio below would
    stay near 1."""
    ring = np.zeros((28, 28), np.float32)
    ring[8:20, 8:20] = 255.0
    ring[10:18, 10:18] = 0.0
    out = augmented(ring)
    boxes = np.array([ink_box(image) for image in out])
    ratios = boxes[:, 0] / boxes[:, 1]
    assert ratios.min() < 0.85
    assert ratios.max() > 1.2
    assert out.min() >= 0
    assert out.max() <= 255
    assert (out[:, 0, :] < 64).all()
    assert (out[:, -1, :] < 64).all()

    bar = np.zeros((28, 28), np.float32)
    bar[6:22, 13:15] = 255.0  # an upright 1
    leans = np.array([lean(image) for image in augmented(bar)])
    # ±10° of rotation alone leans it by at most about 0.23 (measured); the shear slants it up to twice that
    assert leans.min() < -0.3
    assert leans.max() > 0.3
