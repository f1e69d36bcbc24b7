"""The model's distance to the digits it learnt (training.ml.export): exported with every .tflite, served beside the
probabilities, stored with each drawing, and turning a confident answer for a letter into "not a digit". Real
models: the shipped default, and the tests' small model trained here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from bench.drawing import data_url, draw_digit
from bench.non_digits import non_digits
from recognizer.core import shipped
from recognizer.core.classifier import Classifier, ModelUnavailable
from recognizer.core.preprocessing import preprocess
from recognizer.core.uncertainty import Reason, judge
from recognizer.models import Drawing
from recognizer.registry import sha256_of
from tests.support.env import ROOT

SHIPPED = shipped.model_file()


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return Classifier(SHIPPED.read_bytes())


@pytest.fixture(scope="module")
def letters_and_shapes() -> np.ndarray:
    return np.stack(
        [preprocess(image) for _, image in non_digits(seed=5, per_shape=10, letter_fonts=["DejaVuSans.ttf"])]
    )


def test_the_shipped_model_finds_letters_and_shapes_far_from_its_digits(shipped, letters_and_shapes, mnist) -> None:
    _, digits = shipped.read_many(mnist.x_test[:2000])
    _, others = shipped.read_many(letters_and_shapes)
    assert (digits > 1).mean() < 0.01  # scaled at export: 0.2% of held-out training digits are beyond 1
    assert (others > 1).mean() > 0.3  # 51 of the 141 letters in one font and 60 shapes here
    assert np.median(others) > 2 * np.median(digits)


def test_a_confident_answer_for_a_letter_far_from_the_digits_is_not_a_digit(shipped, letters_and_shapes) -> None:
    """The rule without the distance (shape and top probability) lets most letters through as digits; with it, many
    of those are caught."""
    probabilities, distances = shipped.read_many(letters_and_shapes)
    before = [
        judge(x, p.tolist(), 0.0).reason is Reason.NOT_A_DIGIT
        for x, p in zip(letters_and_shapes, probabilities, strict=True)
    ]
    after = [
        judge(x, p.tolist(), 0.0, float(d)).reason is Reason.NOT_A_DIGIT
        for x, p, d in zip(letters_and_shapes, probabilities, distances, strict=True)
    ]
    assert all(a for a, b in zip(after, before, strict=True) if b)  # the distance only adds flags
    assert sum(after) >= sum(before) + 0.2 * len(after)


def test_the_export_keeps_the_probabilities_and_fits_its_own_distance(small_model_files, mnist) -> None:
    import keras

    keras_path, tflite_path = small_model_files
    probabilities, distances = Classifier(tflite_path.read_bytes()).read(mnist.x_test[:200])
    expected = keras.models.load_model(keras_path).predict(mnist.x_test[:200].astype(np.float32)[..., None], verbose=0)
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)
    assert distances.shape == (200,)
    assert np.all(distances >= 0)
    assert (distances > 1).mean() < 0.05  # its own scale: fitted on the 3,000 digits it trained on


def test_a_model_exported_without_the_distance_still_serves(small_model_files, tmp_path: Path) -> None:
    """Versions exported before the distance existed keep working: probabilities only, judged as before."""
    import keras

    plain = tmp_path / "plain.tflite"
    keras.models.load_model(small_model_files[0]).export(str(plain), format="litert", verbose=False)
    probabilities, distances = Classifier(plain.read_bytes()).read(np.zeros((2, 28, 28), dtype=np.uint8))
    assert probabilities.shape == (2, 10)
    assert distances is None


def test_an_artifact_without_ten_digit_probabilities_is_unavailable(tmp_path: Path) -> None:
    """The outputs are told apart by their width, so a model of another shape is refused, not misread."""
    import keras

    inputs = keras.Input(shape=(28, 28, 1))
    other = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs)))
    path = tmp_path / "other.tflite"
    other.export(str(path), format="litert", verbose=False)
    with pytest.raises(ModelUnavailable, match="ten digit probabilities"):
        Classifier(path.read_bytes())


def test_export_model_writes_the_tflite_again_and_updates_the_shipped_metadata(small_model_files, tmp_path) -> None:
    """Run as a person runs it, in a process of its own: a model saved by ``train`` names the project's own metric,
    which only this test process had registered (the command once failed on every such model)."""
    keras_path = tmp_path / "small.keras"
    shutil.copyfile(small_model_files[0], keras_path)
    (tmp_path / "metadata.json").write_text(json.dumps({"keras_file": "small.keras", "tflite_sha256": "old"}))
    command = [
        sys.executable,
        "manage.py",
        "export_model",
        str(keras_path),
        "--mnist-dir",
        str(settings.DIGITS_MNIST_DIR),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    written = tmp_path / "small.tflite"
    with written.open("rb") as fh:
        assert json.loads((tmp_path / "metadata.json").read_text())["tflite_sha256"] == sha256_of(fh)
    zeros = np.zeros((3, 28, 28), dtype=np.uint8)
    again, distances = Classifier(written.read_bytes()).read(zeros)
    np.testing.assert_allclose(again, Classifier(small_model_files[1].read_bytes()).predict(zeros), atol=1e-5)
    assert distances is not None


@pytest.mark.django_db
def test_each_drawing_stores_its_distance_and_its_answer_uses_it(client_api, active_model, shipped) -> None:
    letters = [image for kind, image in non_digits(seed=5, per_shape=0, letter_fonts=["DejaVuSans.ttf"])]
    inputs = np.stack([preprocess(image) for image in letters])
    probabilities, distances = shipped.read_many(inputs)
    # A letter the model reads confidently as a digit, which only its distance gives away.
    k = next(
        i
        for i, (x, p, d) in enumerate(zip(inputs, probabilities, distances, strict=True))
        if d > 1.2 and judge(x, p.tolist(), 0.0).reason is None
    )
    letter = client_api.post("/api/predictions/", {"image": data_url(letters[k])}, format="json").json()
    assert (letter["uncertain"], letter["uncertain_reason"]) == (True, "not_a_digit")
    assert Drawing.objects.get(pk=letter["id"]).distance == pytest.approx(float(distances[k]), rel=1e-3)
    # Read back later (the strip of recent drawings), the answer is judged the same way.
    recent = {d["id"]: d for d in client_api.get("/api/predictions/recent/").json()}
    assert recent[letter["id"]]["uncertain_reason"] == "not_a_digit"

    digit = client_api.post("/api/predictions/", {"image": data_url(draw_digit(3))}, format="json").json()
    assert digit["digit"] == 3
    assert Drawing.objects.get(pk=digit["id"]).distance < 1
