"""Would stronger augmentation, or digits drawn from fonts, teach the model other hands? A cheap probe before a
50-minute training run.

    DIGITS_MNIST_DIR=../shared/mnist .venv/bin/python -m bench.augment_probe [--epochs 2]

The shipped model (digits-v2 when this was written) is fine-tuned for ``--epochs`` on MNIST's 60,000 training images
(through the product's preprocessing) under each variant, with the same schedule (Adam, cosine from 5e-4 to 0, batch
128) and seed, and each result reads the sets of :mod:`bench.accuracy` (the shared sets whole, 600 canvas-sweep digits
x 9 brushes):

* **today's augmentation** (:mod:`training.ml.augment`), the control: what fine-tuning alone changes;
* **+ warp, thicker**: each image also bent by a smooth random field (a 4x4 grid of offsets, 0.8 px standard
  deviation, bicubic; elastic distortion after Simard et al. 2003) and slanted by a shear of up to ±0.2, and strokes
  thickened by up to 3 px (a 4x4 dilation for 6% of the images) besides today's 1-2 px;
* **+ warp, thicker, font digits**: the same, with 6,000 digits drawn from the DejaVu fonts (pen along the glyph's
  centre lines, or filled) added to the training images: 1s with a flag and a base, which MNIST's writers rarely
  make and the other writers' errors are full of.
* **+ re-stroked digits**: today's augmentation, with 20,000 MNIST *training* digits thinned to their centre lines
  and stroked again as canvas drawings (the canvas sweep's renderer, :func:`bench.handwriting_sets.stroke`, its own
  seed) with a brush from a hairline to a fat marker, added to the training images: drawn digits of every pen
  width. The canvas sweep is drawn by the same renderer (from test digits), so its gain there is partly the
  renderer's; the other sets are the independent reading.
* **+ styled 1s, 7s and 4s**: today's augmentation, with 6,000 drawn 1s with a long flag (often a base), crossed 7s
  and open 4s added (:mod:`training.ml.styled_digits`, what ``manage.py train --styled N`` adds): the styles the
  other writers' errors are full of, drawn as the page draws, where the font digits above are glyphs.
* **+ styled 1s alone**: the same draw's 2,000 flagged 1s without the 7s and 4s: whether the 1s carry the gain, and
  the crossed 7s and open 4s the cost on MNIST and the canvas sweep.
* **+ styled 1s and curled 9s**: those 2,000 1s and 2,000 drawn 9s whose tail curls left (or leaves the loop from
  its lower left), the other writers' weakest digit once the 1s were mended, nearly always read as a 3.

``--variants`` picks some (``shipped today warp fonts restroked styled ones nines``; default all), ``--name`` the
results file, ``--seed`` the fine-tune's seed (its shuffling and augmentation) and the styled digits' (default 0): a
probe's gain is one draw until it repeats over seeds. ``--rate`` is where the cosine starts (default 5e-4, what
``manage.py train --finish-ones`` closes a run with): whether a gentler fine-tune keeps the gain at less cost.

The figures answer whether these are worth a full training run; the fit time is per variant on this machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import accuracy  # noqa: E402
from bench.common import Machine, markdown_table, setup_django, write_result  # noqa: E402
from recognizer.core import shipped  # noqa: E402

SHIPPED = shipped.model_file("keras_file")
SHIPPED_NAME = f"{shipped.metadata()['name']} as shipped"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_DIGITS = 6000
RESTROKED_DIGITS = 20000
STYLED_DIGITS = 6000
#: The variants by their command-line keys.
VARIANTS = {
    "shipped": SHIPPED_NAME,
    "today": "today's augmentation",
    "warp": "+ warp, thicker",
    "fonts": "+ warp, thicker, font digits",
    "restroked": "+ re-stroked digits",
    "styled": "+ styled 1s, 7s and 4s",
    "ones": "+ styled 1s alone",
    "nines": "+ styled 1s and curled 9s",
}
#: The digits whose accuracy each set's cell also shows.
WATCHED = (1, 9)
SETS = ("MNIST test", "optdigits windep", "semeion", "hwd-1000", "canvas sweep")


def warp(images, alpha: float = 0.8, grid: int = 4, shear: float = 0.2):
    """A batch (N, 28, 28, 1) bent by a smooth random displacement field and slanted by a random shear."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    field = tf.image.resize(tf.random.normal((n, grid, grid, 2)) * alpha, (28, 28), method="bicubic")
    ys, xs = tf.meshgrid(tf.range(28.0), tf.range(28.0), indexing="ij")
    slant = tf.random.uniform((n, 1, 1), -shear, shear)
    return _bilinear(images, ys[None] + field[..., 0], xs[None] + field[..., 1] + slant * (ys[None] - 13.5))


def _bilinear(images, sy, sx):
    """``images`` (N, H, W, 1) sampled at float coordinates (N, H, W), zero outside."""
    import tensorflow as tf

    padded = tf.pad(images[..., 0], [[0, 0], [1, 1], [1, 1]])
    last = tf.cast(tf.shape(images)[1] + 1, tf.float32)
    y0, x0 = tf.floor(sy), tf.floor(sx)
    wy, wx = sy - y0, sx - x0

    def at(y, x):
        index = tf.stack([tf.clip_by_value(y + 1, 0, last), tf.clip_by_value(x + 1, 0, last)], -1)
        return tf.gather_nd(padded, tf.cast(index, tf.int32), batch_dims=1)

    top = at(y0, x0) * (1 - wx) + at(y0, x0 + 1) * wx
    bottom = at(y0 + 1, x0) * (1 - wx) + at(y0 + 1, x0 + 1) * wx
    return (top * (1 - wy) + bottom * wy)[..., None]


def stronger_batch(augmenter, images):
    """Today's geometry, then the warp, then thickness from -1 to +3 px."""
    import tensorflow as tf

    images = warp(augmenter(images, training=True))
    thicker = [tf.nn.max_pool2d(images, k, 1, "SAME") for k in (2, 3, 4)]
    thin = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
    c = tf.random.uniform((tf.shape(images)[0], 1, 1, 1))
    out = tf.where(c < 0.22, thicker[0], tf.where(c < 0.34, thicker[1], tf.where(c < 0.4, thicker[2], images)))
    return tf.clip_by_value(tf.where((c >= 0.4) & (c < 0.5), thin, out), 0.0, 255.0)


def font_digits(count: int, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """``count`` digits from the DejaVu fonts, drawn with a pen along their centre lines or filled, preprocessed."""
    import cv2
    from PIL import Image, ImageDraw, ImageFont

    from recognizer.core import strokes as S
    from recognizer.core.preprocessing import preprocess
    from training.ml.outliers import CANVAS, _ink_image, _skeleton

    fonts = sorted(FONT_DIR.glob("DejaVu[SM]*.ttf"))
    rng = np.random.default_rng(seed)
    images, labels = [], []
    while len(images) < count:
        digit = int(rng.integers(10))
        font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), int(CANVAS * rng.uniform(0.5, 0.8)))
        glyph = Image.new("L", (CANVAS, CANVAS), 0)
        ImageDraw.Draw(glyph).text((CANVAS / 2, CANVAS / 2), str(digit), fill=255, font=font, anchor="mm")
        mask = (np.asarray(glyph.rotate(rng.uniform(-12, 12), resample=Image.BILINEAR)) > 127).astype(np.uint8) * 255
        if rng.random() < 2 / 3:
            brush = max(2, round(CANVAS * S.BRUSH_FRACTION * rng.uniform(0.4, 1.0)))
            mask = cv2.dilate(_skeleton(mask), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (brush, brush)))
        image = preprocess(_ink_image(mask))
        if image.max() > 0:
            images.append(image)
            labels.append(digit)
    return np.stack(images), np.array(labels)


def restroked_digits(
    images: np.ndarray, labels: np.ndarray, count: int, seed: int = 29
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` of MNIST's raw training ``images`` re-stroked at a random brush (0-30% of the digit's height), size,
    place, slant, canvas and export style, through the product's preprocessing."""
    from bench import handwriting_sets as hw
    from recognizer.core.preprocessing import preprocess

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))[:count]
    drawn = []
    for segments in hw.mnist_skeletons(images[order]):
        style = hw.STYLES[rng.integers(len(hw.STYLES))]
        canvas = 280 if rng.random() < 0.75 else 560
        image, _ = hw.stroke(segments, rng, rng.uniform(0.0, 0.3), canvas, style, bool(rng.integers(2)))
        drawn.append(preprocess(image))
    return np.stack(drawn), labels[order]


def styled_ones(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The 1s among ``count`` styled digits of ``seed`` (a third of them): the very 1s the ``styled`` variant adds."""
    from training.ml import styled_digits

    labels = styled_digits.labels(count)
    return styled_digits.images(count, seed)[labels == 1], labels[labels == 1]


def curled_nines(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``ones`` variant's 1s and as many drawn 9s with a curled tail (their own draw)."""
    from training.ml import styled_digits

    ones, labels = styled_ones(count, seed)
    nines = styled_digits.images(len(ones), seed + 1, (9,))
    return np.concatenate([ones, nines]), np.concatenate([labels, np.full(len(nines), 9, labels.dtype)])


def probe(variant: str, x: np.ndarray, y: np.ndarray, epochs: int, evaluation: dict, seed: int, rate: float) -> dict:
    """Fine-tune a fresh copy of the shipped model under ``variant`` (none for it as shipped); its accuracy per set
    and fit time. The stronger augmentation replaces ``training.ml.fit``'s batch augmentation for that run only."""
    import keras

    from training.ml import fit as training_fit
    from training.ml.augment import augment_batch
    from training.ml.model import compile_annealed

    keras.utils.set_random_seed(seed)
    model = keras.models.load_model(SHIPPED, compile=False)
    row: dict = {"fit s": None}
    if variant != SHIPPED_NAME:
        stronger = variant in (VARIANTS["warp"], VARIANTS["fonts"])
        training_fit.augment_batch = stronger_batch if stronger else augment_batch
        compile_annealed(model, rate, len(x), 128, epochs)
        started = time.perf_counter()
        try:
            training_fit.fit(model, x, y, epochs=epochs, batch_size=128, decay="optimizer", verbose=2)
        finally:
            training_fit.augment_batch = augment_batch
        row["fit s"] = time.perf_counter() - started
    for name, (inputs, labels) in evaluation.items():
        predicted = model.predict(inputs.astype(np.float32)[..., None], batch_size=512, verbose=0).argmax(axis=1)
        row[name] = float(np.mean(predicted == labels))
        for digit in WATCHED:
            row[f"{name} {digit}s"] = float(np.mean(predicted[labels == digit] == digit))
    print(variant, row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--name", default="augment_probe", help="results file name (default augment_probe)")
    parser.add_argument("--seed", type=int, default=0, help="the fine-tunes' and the styled digits' seed (default 0)")
    parser.add_argument("--rate", type=float, default=5e-4, help="the fine-tunes' first learning rate (default 5e-4)")
    args = parser.parse_args()
    setup_django()
    machine = Machine()
    from bench.handwriting_sets import MNIST_DIR
    from recognizer.core.preprocessing import preprocess
    from training.ml import styled_digits
    from training.ml.fit import prepare_images
    from training.ml.mnist import load_mnist

    evaluation = {}
    for labelled in accuracy.load_sets(quick=False, sweep_digits=600):
        if labelled.name in SETS:
            evaluation[labelled.name] = (np.stack([preprocess(i) for i in labelled.images]), labelled.labels)
    mnist = load_mnist(MNIST_DIR)
    x, y = prepare_images(mnist.x_train), mnist.y_train
    extra = {
        "fonts": lambda: font_digits(FONT_DIGITS),
        "restroked": lambda: restroked_digits(mnist.x_train, mnist.y_train, RESTROKED_DIGITS),
        "styled": lambda: (styled_digits.images(STYLED_DIGITS, args.seed), styled_digits.labels(STYLED_DIGITS)),
        "ones": lambda: styled_ones(STYLED_DIGITS, args.seed),
        "nines": lambda: curled_nines(STYLED_DIGITS, args.seed),
    }
    rows = {}
    for key in args.variants:
        vx, vy = x, y
        if key in extra:
            ex, ey = extra[key]()
            vx, vy = np.concatenate([x, ex]), np.concatenate([y, ey])
        rows[VARIANTS[key]] = probe(VARIANTS[key], vx, vy, args.epochs, evaluation, args.seed, args.rate)
    pct = lambda v: f"{v:.2%}"  # noqa: E731
    watched = lambda r, s: ", ".join(f"{d}s {pct(r[f'{s} {d}s'])}" for d in WATCHED)  # noqa: E731
    seconds = lambda v: f"{v:.0f} s" if v else "-"  # noqa: E731
    table = markdown_table(
        [f"fine-tune ({args.epochs} epochs from {args.rate:g}, seed {args.seed})", *evaluation, "fit"],
        [
            (name, *(f"{pct(r[s])} ({watched(r, s)})" for s in evaluation), seconds(r["fit s"]))
            for name, r in rows.items()
        ],
    )
    title = f"Augmentation probe: fine-tunes of {SHIPPED_NAME.removesuffix(' as shipped')}"
    write_result(args.name, title, machine, [__doc__.strip(), table])


if __name__ == "__main__":
    main()
