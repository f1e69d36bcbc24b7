"""Honest answers: "that doesn't look like a digit", and "a 4 or a 9?" when two digits are both plausible.

Two measured rules (``bench/open_set.py``; thresholds fitted on calibration digits that are never reported as a test):

* not a digit: the drawing's shape is unlike any digit (:mod:`recognizer.core.uncertainty`'s rules), or the
  evidence is weak. The evidence is read from the model's outputs (the top probability and the distance of its
  penultimate features to the nearest digit) and, when there is one, from the not-a-digit detector beside it
  (:mod:`recognizer.core.not_a_digit`), combined into one score (:func:`evidence`). Each rule is thresholded so that
  ``FLAG_RATE`` of calibration digits are flagged.
* ambiguous: a split-conformal prediction set (LAC) holds two digits or more: every digit whose probability is at
  least ``SET_THRESHOLD`` is in the set, which covers the true digit for 1 - ``ALPHA`` of calibration digits.

No Django and no model here: callers pass what the model gave.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

#: The label a person gives a drawing that is not a digit: an eleventh class beside 0-9, as open-set recognition
#: writes it. The model has no output for it; fine-tuning teaches it to be unsure on such drawings instead
#: (outlier exposure: training.ml.fit.dense_targets).
NOT_A_DIGIT_LABEL = 10
#: The share of real (calibration) digits a not-a-digit rule may flag.
FLAG_RATE = 0.01
#: Top probability below this: not a digit. Fitted on the probabilities the site serves (the shipped model's, at its
#: calibration temperature): max softmax + shape rules flag 1% of calibration digits in all at 0.581.
MIN_TOP_PROBABILITY = 0.58
#: The model's distance to the digits it learnt is scaled at export so that 1 is the 99.8th percentile of held-out
#: MNIST training digits (training.ml.export.FAR_QUANTILE); further is not a digit. With the shape rules and the top
#: probability (bench/open_set.py, digits-v2): 62.0% of generated non-digits flagged against 21.1% without it, 0.60%
#: of MNIST test digits and 1.91% of other writers' (0.32% and 2.10% without).
MAX_DISTANCE = 1.0
#: With the not-a-digit detector (recognizer.core.not_a_digit), one score replaces the two rules above:
#: ``DISTANCE_WEIGHT * log(distance) + DETECTOR_WEIGHT * logit - log(top probability)``, not a digit above
#: ``MAX_EVIDENCE``. The weights are those of the rule a first detector's benchmark singled out (2026-12-02), kept
#: rather than re-chosen for later detectors; the threshold flags, with the shape rules, FLAG_RATE of calibration
#: digits (served probabilities of digits-v2, the shipped detector of 2026-12-06 02:41: bench/not_a_digit_detector.py
#: fitted 0.3415). Measured there: 92.3% of generated non-digits flagged (62.0% before any detector, 78.4% with the
#: first, 84.5% with the second), 0.19% of MNIST test digits, 1.34% of other writers'. Another detector is served
#: with this threshold through its calibration (:func:`detector_offset`, :mod:`recognizer.core.not_a_digit`).
DISTANCE_WEIGHT = 8.0
DETECTOR_WEIGHT = 0.25
MAX_EVIDENCE = 0.342
#: Conformal (LAC) at ALPHA = 0.01 on 3,934 calibration digits, served probabilities: a digit is in the set when
#: p >= 0.273.
ALPHA = 0.01
SET_THRESHOLD = 0.273


class Verdict(StrEnum):
    DIGIT = "digit"
    AMBIGUOUS = "ambiguous"
    NOT_A_DIGIT = "not_a_digit"


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    #: The digits that are plausible, most probable first: one for a digit, two or more when ambiguous.
    candidates: list[int] = field(default_factory=list)


def evidence(
    top: np.ndarray | float,
    distance: np.ndarray | float,
    detector: np.ndarray | float,
    distance_weight: float = DISTANCE_WEIGHT,
    detector_weight: float = DETECTOR_WEIGHT,
) -> np.ndarray:
    """The combined not-a-digit score (higher: less like a digit) of the top probability, the model's distance to
    the digits it learnt and the detector's logit; works on single values and on arrays alike (the weights are
    the served ones unless a benchmark tries others)."""
    return (
        distance_weight * np.log(np.maximum(distance, 1e-6))
        + detector_weight * np.asarray(detector, dtype=np.float64)
        - np.log(np.maximum(top, 1e-12))
    )


def detector_offset(fitted: float, threshold: float = MAX_EVIDENCE, detector_weight: float = DETECTOR_WEIGHT) -> float:
    """The constant that, added to a detector's logit, makes ``threshold`` flag what ``fitted`` (the threshold fitted
    for that detector) flags: the evidence grows by ``detector_weight`` with each unit of logit."""
    return (threshold - fitted) / detector_weight


def assess(
    probabilities: np.ndarray | list[float],
    looks_like_a_digit: bool = True,
    distance: float | None = None,
    detector: float | None = None,
    min_top: float = MIN_TOP_PROBABILITY,
    set_threshold: float = SET_THRESHOLD,
) -> Assessment:
    """Judge one prediction: ``looks_like_a_digit`` is the shape rules' answer on the 28x28 input
    (``recognizer.core.uncertainty.measure(x).looks_like_a_digit``), ``distance`` the model's distance to the digits
    it learnt (``recognizer.core.classifier.Classifier.read``; None when the model does not give it), ``detector``
    the not-a-digit detector's logit (None without a detector). With both, their :func:`evidence` decides "not a
    digit"; else the top probability and the distance alone do."""
    p = np.asarray(probabilities, dtype=np.float64)
    order = [int(i) for i in np.argsort(-p)]
    if distance is not None and detector is not None:
        weak = evidence(p[order[0]], distance, detector) > MAX_EVIDENCE
    else:
        far = distance is not None and distance > MAX_DISTANCE
        weak = far or (p[order[0]] < min_top and p[order[1]] < set_threshold)
    if not looks_like_a_digit or weak:
        return Assessment(Verdict.NOT_A_DIGIT, order[:1])
    members = [d for d in order if p[d] >= set_threshold]
    if len(members) >= 2:
        return Assessment(Verdict.AMBIGUOUS, members[:3])
    return Assessment(Verdict.DIGIT, order[:1])


def conformal_threshold(probabilities: np.ndarray, labels: np.ndarray, alpha: float = ALPHA) -> float:
    """Split-conformal (LAC) quantile of 1 - p(true digit) on calibration digits; a digit is in a set when its
    probability is at least 1 - the returned value."""
    scores = 1.0 - probabilities[np.arange(len(labels)), labels]
    n = len(scores)
    level = min(1.0, np.ceil((n + 1) * (1 - alpha)) / n)
    return float(np.quantile(scores, level, method="higher"))


@dataclass(frozen=True)
class Mahalanobis:
    """Class means and a shared precision matrix of penultimate features: the distance to the nearest class."""

    means: np.ndarray
    precision: np.ndarray

    def distance(self, features: np.ndarray) -> np.ndarray:
        diffs = features[:, None, :] - self.means[None, :, :]
        squared = np.einsum("nkd,de,nke->nk", diffs, self.precision, diffs)
        return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def fit_mahalanobis(features: np.ndarray, labels: np.ndarray, shrink: float = 1e-3) -> Mahalanobis:
    means = np.stack([features[labels == k].mean(axis=0) for k in range(10)])
    centred = features - means[labels]
    covariance = centred.T @ centred / len(features)
    covariance += shrink * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
    return Mahalanobis(means.astype(np.float64), np.linalg.inv(covariance).astype(np.float64))


@dataclass(frozen=True)
class LinearProbe:
    """A logistic "not a digit" score on the penultimate features: trained on digits against synthetic non-digits
    (letters, shapes, scribbles). Tied to one model version: refit (seconds) whenever the model changes."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def score(self, features: np.ndarray) -> np.ndarray:
        """Higher is less like a digit (a logit)."""
        return ((features - self.mean) / self.scale) @ self.weights + self.bias


def fit_probe(digits: np.ndarray, others: np.ndarray, steps: int = 400, l2: float = 1e-3) -> LinearProbe:
    """Balanced logistic regression by gradient descent (no scikit-learn in the serving environment)."""
    x = np.concatenate([digits, others]).astype(np.float64)
    y = np.concatenate([np.zeros(len(digits)), np.ones(len(others))])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    x = (x - mean) / scale
    weight = np.where(y == 1, 0.5 / len(others), 0.5 / len(digits))
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        grad = weight * (p - y)
        w -= 1.0 * (x.T @ grad + l2 * w)
        b -= 1.0 * grad.sum()
    return LinearProbe(mean, scale, w, float(b))
