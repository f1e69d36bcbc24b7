"""Drift: are this week's drawings like the ones the model knows? Read from the served model's confidence.

The model's confidence (its top probability, after calibration) is a one-number summary of how familiar a drawing
looks to it: new hands, new pens or a new group of writers show up as a shift of its distribution towards lower
values before anyone corrects anything. Two samples of confidences (this week's, and a reference: the same model's
earlier weeks, or the quantiles of its confidence on the MNIST test set stored with the version) are compared with
the two-sample Kolmogorov-Smirnov statistic, the largest gap between their empirical distribution functions, and its
asymptotic p-value (Kolmogorov's distribution, as ``scipy.stats.ks_2samp(method="asymp")``).

With thousands of drawings a tiny, harmless shift is "significant", so drift is reported only when the gap is also
large enough to matter (:data:`MIN_EFFECT`). numpy only: no Django, usable from a notebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from itertools import pairwise

import numpy as np

#: A confidence below this is "not sure" in the plain-language reading.
LOW_CONFIDENCE = 0.9
#: Bins of the confidence histograms: fine near 1, where a served model's confidences gather.
BINS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
#: Quantile levels stored with a version (``metrics["confidence_quantiles"]``): every percent.
QUANTILE_LEVELS = 101
#: Fewer drawings this week than this, and nothing is said.
MIN_DRAWINGS = 30
#: Drift needs both a p-value below this and a KS statistic of at least MIN_EFFECT.
ALPHA = 0.01
MIN_EFFECT = 0.1


def ks_statistic(a, b) -> float:
    """The two-sample Kolmogorov-Smirnov statistic: the largest distance between the empirical distribution
    functions of ``a`` and ``b`` (ties handled: both functions are evaluated after every value equal to x)."""
    a = np.sort(np.asarray(a, dtype=np.float64).ravel())
    b = np.sort(np.asarray(b, dtype=np.float64).ravel())
    if not len(a) or not len(b):
        raise ValueError("both samples need at least one value")
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / len(a)
    cdf_b = np.searchsorted(b, points, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for Kolmogorov's limiting distribution: ``2 Σ (-1)^(k-1) exp(-2 k² x²)``, or for small x (where
    that series converges slowly) one minus the Jacobi theta form ``√(2π)/x Σ exp(-(2k-1)² π² / (8x²))``."""
    if x <= 0:
        return 1.0
    if x < 1.18:
        k = np.arange(1, 9)
        cdf = np.sqrt(2 * np.pi) / x * np.exp(-((2 * k - 1) ** 2) * np.pi**2 / (8 * x * x)).sum()
        return float(np.clip(1.0 - cdf, 0.0, 1.0))
    k = np.arange(1, 101)
    return float(np.clip(2 * np.sum((-1.0) ** (k - 1) * np.exp(-2 * k * k * x * x)), 0.0, 1.0))


@dataclass(frozen=True)
class KSResult:
    statistic: float
    pvalue: float
    n: int
    m: int


def ks_test(a, b, m: int | None = None) -> KSResult:
    """The two-sample KS test of ``a`` against ``b``, with its asymptotic p-value.

    ``m`` is the size of the population ``b`` stands for when ``b`` is a summary of it (quantiles of 10,000 MNIST
    confidences); it only enters the p-value.
    """
    n, m = len(a), m or len(b)
    statistic = ks_statistic(a, b)
    return KSResult(statistic, kolmogorov_sf(np.sqrt(n * m / (n + m)) * statistic), n, m)


def confidence_quantiles(confidences, levels: int = QUANTILE_LEVELS) -> list[float]:
    """``levels`` evenly spaced quantiles (0 to 1, both included) of ``confidences``, rounded for JSON: a summary
    that stands for the whole sample in :func:`ks_test` to within 1/(levels-1)."""
    values = np.quantile(np.asarray(confidences, dtype=np.float64), np.linspace(0, 1, levels))
    return [round(float(v), 6) for v in values]


def histogram(confidences) -> list[float]:
    """The share of ``confidences`` in each of :data:`BINS` (the last bin includes 1.0)."""
    values = np.clip(np.asarray(confidences, dtype=np.float64), BINS[0], BINS[-1])
    counts, _ = np.histogram(values, bins=BINS)
    return (counts / max(len(values), 1)).tolist()


def bin_labels() -> list[str]:
    return [f"{low:g}-{high:g}" for low, high in pairwise(BINS)]


def share_below(confidences, threshold: float = LOW_CONFIDENCE) -> float:
    values = np.asarray(confidences, dtype=np.float64)
    return float((values < threshold).mean()) if len(values) else 0.0


class Verdict(Enum):
    NO_REFERENCE = "no_reference"
    TOO_FEW = "too_few"
    SAME = "same"
    LESS_CONFIDENT = "less_confident"
    MORE_CONFIDENT = "more_confident"


@dataclass(frozen=True)
class Drift:
    """This week's confidences against a reference, and what that says."""

    verdict: Verdict
    current: int
    reference: int
    reference_source: str = ""
    #: How the reading names the reference: "before" (earlier weeks), or e.g. "on the MNIST test set".
    reference_phrase: str = "before"
    ks: KSResult | None = None
    low_current: float = 0.0
    low_reference: float = 0.0

    @property
    def drifted(self) -> bool:
        return self.verdict in (Verdict.LESS_CONFIDENT, Verdict.MORE_CONFIDENT)

    def reading(self) -> str:
        """The plain-language reading for staff."""
        now, before = _percent(self.low_current), _percent(self.low_reference)
        if self.verdict is Verdict.TOO_FEW:
            return f"Too few drawings this week to tell ({self.current})."
        if self.verdict is Verdict.NO_REFERENCE:
            return (
                f"Nothing to compare this week's {self.current} drawings with yet: the model served too few before "
                "and its version stores no reference confidences."
            )
        if self.verdict is Verdict.LESS_CONFIDENT:
            return (
                f"This week's drawings are read with less confidence than usual: {now} below {LOW_CONFIDENCE:g} "
                f"against {before} {self.reference_phrase} — more unusual handwriting, or a new group of writers; "
                "consider reviewing corrections and fine-tuning."
            )
        if self.verdict is Verdict.MORE_CONFIDENT:
            return (
                f"This week's drawings differ, but are read with more confidence than usual: {now} below "
                f"{LOW_CONFIDENCE:g} against {before} {self.reference_phrase}."
            )
        return "This week's drawings look like what the model was trained on."


def _percent(share: float) -> str:
    return f"{share:.0%}" if share >= 0.1 or share == 0 else f"{share:.1%}"


def compare(
    current,
    reference,
    *,
    reference_size: int | None = None,
    reference_source: str = "",
    reference_phrase: str = "before",
    min_drawings: int = MIN_DRAWINGS,
    alpha: float = ALPHA,
    min_effect: float = MIN_EFFECT,
) -> Drift:
    """Compare this week's confidences (``current``) with ``reference`` (a sample, or quantiles standing for
    ``reference_size`` values): drift when the KS test rejects at ``alpha`` and the gap is at least ``min_effect``;
    its direction from the mean confidence."""
    current = np.asarray(current, dtype=np.float64).ravel()
    reference = np.asarray(reference, dtype=np.float64).ravel()
    size = reference_size or len(reference)
    if len(current) < min_drawings:
        return Drift(Verdict.TOO_FEW, len(current), size, reference_source, reference_phrase)
    if not len(reference):
        return Drift(Verdict.NO_REFERENCE, len(current), 0, reference_source, reference_phrase)
    ks = ks_test(current, reference, size)
    verdict = Verdict.SAME
    if ks.pvalue < alpha and ks.statistic >= min_effect:
        verdict = Verdict.LESS_CONFIDENT if current.mean() < reference.mean() else Verdict.MORE_CONFIDENT
    return Drift(
        verdict,
        len(current),
        size,
        reference_source,
        reference_phrase,
        ks,
        share_below(current),
        share_below(reference),
    )
