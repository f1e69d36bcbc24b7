"""The LiteRT classifier: one exported ``.tflite`` digit model, called from any thread, TensorFlow never loaded."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Self

import numpy as np
from ai_edge_litert.interpreter import Interpreter


class ModelUnavailable(RuntimeError):
    """No model version is active, or its artifact cannot be loaded."""


def output_indices(interpreter: Interpreter) -> tuple[int, int | None]:
    """The tensor indices of a digit model's outputs, told apart by their width: the ten probabilities, and the
    distance to the digits the model learnt (``training.ml.export``; None for artifacts exported before it)."""
    outputs = {int(d["shape"][-1]): d["index"] for d in interpreter.get_output_details()}
    if 10 not in outputs:
        raise ModelUnavailable("the model artifact has no output of ten digit probabilities")
    return outputs[10], outputs.get(1)


class LiteRTModel:
    """A LiteRT interpreter over one ``.tflite`` model of 28x28 inputs, safe to call from several threads: each call
    runs a whole batch (the input resized to it) and returns the outputs asked for."""

    def __init__(self, model_content: bytes, num_threads: int = 1) -> None:
        try:
            self._interpreter = Interpreter(model_content=model_content, num_threads=num_threads)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelUnavailable(f"the model artifact cannot be loaded: {exc}") from exc
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._batch = 1
        self._lock = threading.Lock()

    def run(self, images: np.ndarray, outputs: list[int | None]) -> list[np.ndarray | None]:
        """The tensors ``outputs`` (None stays None) for uint8 inputs (N, 28, 28), each copied."""
        batch = images.reshape(-1, 28, 28, 1).astype(np.float32)
        with self._lock:
            if batch.shape[0] != self._batch:
                self._interpreter.resize_tensor_input(self._input, list(batch.shape))
                self._interpreter.allocate_tensors()
                self._batch = batch.shape[0]
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            return [None if i is None else self._interpreter.get_tensor(i).copy() for i in outputs]


class OneScore(LiteRTModel):
    """A small model read beside the digit model, with one number per input (the whole-digit verifier's
    probability, the not-a-digit detector's logit)."""

    def __init__(self, model_content: bytes, num_threads: int = 1) -> None:
        super().__init__(model_content, num_threads)
        self._output = self._interpreter.get_output_details()[0]["index"]

    @classmethod
    def from_file(cls, path: Path) -> Self:
        """The model in ``path`` (raises OSError when it cannot be read, :class:`ModelUnavailable` when LiteRT
        cannot load it)."""
        return cls(path.read_bytes())

    def score(self, images: np.ndarray) -> np.ndarray:
        """For uint8 inputs (N, 28, 28) from :func:`recognizer.core.preprocessing.preprocess`: (N,)."""
        (scores,) = self.run(images, [self._output])
        return scores.reshape(-1).astype(np.float64)


class Classifier(LiteRTModel):
    """The digit model: web processes use one thread per interpreter (they serve requests in parallel instead);
    evaluation, which scores 10,000 images in a worker, may use more."""

    def __init__(self, model_content: bytes, num_threads: int = 1) -> None:
        super().__init__(model_content, num_threads)
        self._output, self._distance = output_indices(self._interpreter)

    def read(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities (N, 10) for uint8 inputs (N, 28, 28) from :func:`recognizer.core.preprocessing.preprocess`,
        and each input's distance to the digits the model learnt (N,), 1 at the not-a-digit threshold; None when
        the artifact was exported without it."""
        probabilities, distances = self.run(images, [self._output, self._distance])
        return probabilities, None if distances is None else distances.reshape(-1)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) alone (see :meth:`read`)."""
        return self.read(images)[0]

    def read_many(self, images: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`read` for a large set of inputs, in fixed-size batches (evaluation on 10,000 images)."""
        parts = [self.read(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
        distances = [d for _, d in parts]
        return (
            np.concatenate([p for p, _ in parts]),
            None if any(d is None for d in distances) else np.concatenate(distances),
        )

    def predict_many(self, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
        """Probabilities for a large set of inputs, in fixed-size batches (evaluation on 10,000 images)."""
        return self.read_many(images, batch_size)[0]
