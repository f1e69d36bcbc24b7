"""Probe training recipes on a GPU: a PyTorch replica of the digits CNN and its augmentation, trained for the full
24 epochs with several seeds per variant, read on MNIST test and on other hands.

A full run costs about 40 minutes of this project's 2-core machine; a GPU machine runs a dozen variants side by side
in a few minutes, so recipes can be compared over seeds instead of on one run each. It is a probe, not the product:
the shipped model is still trained by ``manage.py train`` (Keras), and a recipe found here is measured again there.
PyTorch is not one of the project's requirements; the GPU machine brings its own.

Two steps::

    # here, with the project's environment: every set through the product's own preprocess, into one .npz
    DIGITS_MNIST_DIR=../shared/mnist .venv/bin/python -m bench.recipe_probe_torch prepare .gpu/data.npz
    # there, with PyTorch: one variant, its seeds, appending one JSON line per run to OUT/results.jsonl
    python3 -m bench.recipe_probe_torch run aniso 0,1 24 .gpu/data.npz OUT

A variant is a ``+``-joined set of: ``v2`` (no label smoothing, no EMA: digits-v2's recipe; otherwise 0.1 and EMA
as ``--label-smoothing 0.1 --ema``), ``aniso`` (width scaled apart from height, horizontal shear), ``elastic``
(Simard's elastic distortion on half the images), ``lowres`` (a quarter of the images reduced to 12-18 px,
thresholded and scaled back, like a scanned bitmap), ``tra`` (the optdigits training writers added three times).
Results: bench/results/recipe_probe_gpu.md.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

SETS = ("MNIST_test", "optdigits_windep", "semeion", "hwd_1000", "canvas_sweep")


def prepare(path: Path) -> None:
    """Write MNIST train and every evaluation set of ``bench.accuracy`` through the product's ``preprocess``."""
    from bench import handwriting_sets as hw
    from bench.accuracy import load_sets
    from training.ml.fit import prepare_images

    x_train, y_train = hw.mnist("train")
    arrays = {"MNIST_train_x": prepare_images(x_train), "MNIST_train_y": y_train}
    for labelled in load_sets(quick=False, sweep_digits=1500):
        key = labelled.name.replace(" ", "_").replace("-", "_")
        arrays[f"{key}_x"] = prepare_images(labelled.images)
        arrays[f"{key}_y"] = labelled.labels
        if "brush" in labelled.groups:
            arrays[f"{key}_brush"] = labelled.groups["brush"]
    np.savez_compressed(path, **arrays)


def run(variant: str, seeds: list[int], epochs: int, data: Path, out: Path) -> None:
    """Train ``variant`` once per seed and append its readings (live weights, EMA, EMA with batch-norm statistics
    recomputed) to ``out/results.jsonl``."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = True
    arrays = np.load(data)
    opts = set(variant.split("+"))

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.tensor(x, dtype=torch.float32, device=dev)[:, None]

    evals = {k: (tensor(arrays[f"{k}_x"]), torch.tensor(arrays[f"{k}_y"], device=dev)) for k in SETS}
    brush = arrays["canvas_sweep_brush"]

    def bn(channels: int, flat: bool = False) -> nn.Module:  # Keras' momentum 0.9 and epsilon
        return (nn.BatchNorm1d if flat else nn.BatchNorm2d)(channels, eps=1e-3, momentum=0.1)

    def conv(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), bn(cout), nn.ReLU()]

    class Net(nn.Module):
        """training/ml/model.py's CNN, Glorot-initialised like Keras."""

        def __init__(self) -> None:
            super().__init__()
            layers = [*conv(1, 32), *conv(32, 32), nn.MaxPool2d(2), nn.Dropout(0.1)]
            layers += [*conv(32, 64), *conv(64, 64), nn.MaxPool2d(2), nn.Dropout(0.1), *conv(64, 128), *conv(128, 128)]
            self.features = nn.Sequential(*layers)
            self.head = nn.Sequential(
                nn.Linear(128, 128, bias=False), bn(128, True), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10)
            )
            for module in self.modules():
                if isinstance(module, nn.Conv2d | nn.Linear):
                    nn.init.xavier_uniform_(module.weight)
                    if module.bias is not None:
                        nn.init.zeros_(module.bias)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(x / 255.0).mean((2, 3)))

    def uniform(n: int, bound: float) -> torch.Tensor:
        return (torch.rand(n, device=dev) * 2 - 1) * bound

    radius = 12
    taps = torch.arange(-radius, radius + 1, device=dev, dtype=torch.float32)
    gauss = torch.exp(-(taps**2) / (2 * 4.0**2))
    gauss = gauss / gauss.sum()

    def elastic_field(n: int, alpha: float = 22.0) -> torch.Tensor:
        field = torch.rand(n * 2, 1, 28, 28, device=dev) * 2 - 1
        field = F.conv2d(F.pad(field, (radius, radius, 0, 0), mode="reflect"), gauss.view(1, 1, 1, -1))
        field = F.conv2d(F.pad(field, (0, 0, radius, radius), mode="reflect"), gauss.view(1, 1, -1, 1))
        return field.view(n, 2, 28, 28) * alpha  # pixels

    def augment(x: torch.Tensor) -> torch.Tensor:
        """training/ml/augment.py in one resampling: rotation, zoom, shifts, then stroke thickness."""
        n = x.shape[0]
        angle, zoom = uniform(n, 10 * math.pi / 180), 1 + uniform(n, 0.12)
        aspect = uniform(n, 0.15) if "aniso" in opts else torch.zeros(n, device=dev)
        shear = uniform(n, 0.25) if "aniso" in opts else torch.zeros(n, device=dev)
        sx, sy = zoom * torch.exp(aspect), zoom * torch.exp(-aspect)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack(
            [
                torch.stack([cos * sx, cos * shear * sx - sin * sy, uniform(n, 0.16)], 1),
                torch.stack([sin * sx, sin * shear * sx + cos * sy, uniform(n, 0.16)], 1),
            ],
            1,
        )
        grid = F.affine_grid(theta, (n, 1, 28, 28), align_corners=False)
        if "elastic" in opts:
            on = (torch.rand(n, 1, 1, 1, device=dev) < 0.5).float()
            grid = grid + elastic_field(n).permute(0, 2, 3, 1) * (2 / 28) * on
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        thick = F.max_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 1)
        thicker = F.max_pool2d(x, 3, 1, padding=1)
        thin = -F.max_pool2d(F.pad(-x, (0, 1, 0, 1)), 2, 1)
        choice = torch.rand(n, 1, 1, 1, device=dev)
        x = torch.where(choice < 0.25, thick, torch.where(choice < 0.35, thicker, torch.where(choice < 0.45, thin, x)))
        if "lowres" in opts:
            size = int(torch.randint(12, 19, (1,)).item())
            low = F.interpolate(x, size=(size, size), mode="area")
            threshold = (0.2 + torch.rand(n, 1, 1, 1, device=dev) * 0.3) * 255
            up = F.interpolate((low > threshold).float() * 255, size=(28, 28), mode="bilinear", align_corners=False)
            x = torch.where(torch.rand(n, 1, 1, 1, device=dev) < 0.25, up, x)
        return x.clamp(0, 255)

    def read(model: nn.Module) -> dict[str, float]:
        model.eval()
        figures = {}
        with torch.no_grad():
            for key in SETS:
                x, y = evals[key]
                right = torch.cat([model(x[i : i + 4096]).argmax(1) for i in range(0, len(x), 4096)]) == y
                figures[key] = round(right.float().mean().item() * 100, 2)
                if key == "canvas_sweep":
                    hits = right.cpu().numpy()
                    figures["sweep_fat"] = round(hits[brush == "fat marker 30%"].mean() * 100, 2)
                    figures["sweep_1px"] = round(hits[brush == "1 px"].mean() * 100, 2)
        return figures

    def recompute_batch_norm(model: nn.Module, x: torch.Tensor) -> None:
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # a plain average over the batches below
        model.train()
        with torch.no_grad():
            for i in range(0, 20000, 500):
                model(x[i : i + 500])
        for norm in norms:
            norm.momentum = 0.1

    x_train, y_train = tensor(arrays["MNIST_train_x"]), torch.tensor(arrays["MNIST_train_y"], device=dev)
    x_plain = x_train
    if "tra" in opts:
        x_extra, y_extra = tensor(arrays["optdigits_tra_x"]), torch.tensor(arrays["optdigits_tra_y"], device=dev)
        x_train, y_train = torch.cat([x_train] + [x_extra] * 3), torch.cat([y_train] + [y_extra] * 3)
    smoothing, use_ema = (0.0, False) if "v2" in opts else (0.1, True)
    out.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        torch.manual_seed(seed)
        model = Net().to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, eps=1e-7, fused=dev == "cuda")
        params = list(model.parameters())
        average = [p.detach().clone() for p in params]
        started = time.time()
        for epoch in range(epochs):  # cosine per epoch down to 1%, as training.ml.fit
            for group in optimizer.param_groups:
                group["lr"] = 2e-3 * 0.5 * (1 + math.cos(math.pi * epoch / epochs)) + 2e-5
            model.train()
            order = torch.randperm(len(x_train), device=dev)
            for i in range(0, len(x_train), 128):
                batch = order[i : i + 128]
                loss = F.cross_entropy(model(augment(x_train[batch])), y_train[batch], label_smoothing=smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if use_ema:
                    with torch.no_grad():
                        torch._foreach_lerp_(average, params, 0.001)  # momentum 0.999, as EMA_MOMENTUM
        result = {"variant": variant, "seed": seed, "epochs": epochs, "train_s": round(time.time() - started, 1)}
        result["live"] = read(model)
        if use_ema:
            with torch.no_grad():
                for mean, param in zip(average, params, strict=True):
                    param.copy_(mean)
            result["ema"] = read(model)
            recompute_batch_norm(model, x_plain)
            result["ema_bn"] = read(model)
        print(json.dumps(result), flush=True)
        with open(out / "results.jsonl", "a") as fh:
            fh.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(Path(sys.argv[2]))
    else:
        _, _, name, seed_list, epoch_count, data_file, out_dir = sys.argv
        run(name, [int(s) for s in seed_list.split(",")], int(epoch_count), Path(data_file), Path(out_dir))
