"""How far a correction can be trusted, computed when it arrives: four independent pieces of evidence, each 0-1.

- **model**: how plausible the corrected label is under the probabilities the model stored for the drawing. A model
  that misread a 4 as a 9 usually still gives 4 some weight; a 7 "corrected" to 1 gets almost none. Scored on a log
  scale: ``p <= 1e-4`` → 0, ``p >= 0.3`` → 1.
  The model has no output for "not a digit": there, ``p`` is how unsure it was (1 when the open-set rules flagged
  the drawing as not a digit, else 1 - its top probability), so a confident digit "corrected" to not a digit scores
  low and a drawing it already doubted scores high.
- **reader**: an independent reader, a distance-weighted k-nearest-neighbour vote over the 28x28 input against drawings
  of *other* clients whose digit is known or claimed: their standing corrections (accepted, auto-accepted, pending;
  one no person vouched for weighs as much as its client's share of uncorrected drawings) and predictions the model
  was very sure of that nobody corrected. It shares no weights with the model, and it reads the live population's own
  handwriting, so people who write alike vouch for each other. Neutral (0.5) while the pool is too small.
- **client**: the client's record (:func:`record`): the share of its corrections staff accepted, and the share of its
  drawings it did not need to correct (an honest user corrects a few; a flood corrects everything).
- **network**: the same record for all the clients that corrected from the client's network (the /24 or /48 address
  prefix): many cookies on one network share one record, so a flood from fresh cookies does not start clean.

``trust = 0.25 model + 0.35 reader + 0.20 client + 0.20 network``, then lowered in proportion when one client sent
more than ``burst_corrections`` corrections within ``burst_minutes`` (``TrustPolicy``). The weights were chosen
with ``bench/classroom.py`` (see docs/feedback_loop.md). Everything is kept on the drawing (``trust``,
``trust_reasons``) so staff see why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db.models import Case, Count, F, Q, When
from django.utils import timezone

from recognizer.core.uncertainty import Reason
from recognizer.models import Drawing, TrustPolicy

CorrectionStatus = Drawing.CorrectionStatus
WEIGHTS = {"model": 0.25, "reader": 0.35, "client": 0.20, "network": 0.20}
#: Corrections whose label the reader may learn from (besides confident uncorrected predictions): every standing
#: one of another client, so that people who write alike vouch for each other; rejected and auto-excluded ones never.
PEER = (CorrectionStatus.ACCEPTED, CorrectionStatus.AUTO_ACCEPTED, CorrectionStatus.PENDING)
#: Corrections no person has vouched for: waiting, or accepted by the policy itself. They weigh in the reader's vote
#: only as much as their client's share of uncorrected drawings, so that the policy's own decisions cannot vouch for
#: the next ones (a flood that got one correction through would otherwise carry the rest) and a flood's cookies,
#: which correct everything, weigh nothing.
UNVOUCHED = (CorrectionStatus.PENDING, CorrectionStatus.AUTO_ACCEPTED)
#: An uncorrected prediction at least this confident counts as a known digit for the reader.
SURE = 0.97
NEIGHBOURS = 9
MIN_POOL = 30


def label_probability(drawing: Drawing, label: int) -> float:
    """The model's probability for ``label``; for not a digit, how unsure it was: 1 when its answer was flagged not a
    digit (what the person saw), else the probability it left off its answer."""
    if label != Drawing.NOT_A_DIGIT:
        return float(drawing.probabilities[label])
    judged = drawing.judgement()
    return 1.0 if judged.reason is Reason.NOT_A_DIGIT else 1.0 - float(max(drawing.probabilities))


def model_plausibility(probability: float) -> float:
    """0-1 on a log scale of the model's probability for a label: 1e-4 or less → 0, 0.3 or more → 1."""
    p = max(probability, 1e-12)
    return float(np.clip((math.log10(p) + 4.0) / (4.0 + math.log10(0.3)), 0.0, 1.0))


@dataclass(frozen=True)
class ReaderVote:
    agreement: float  # weight share of the neighbours that read ``label``
    digit: int | None  # the label the neighbours read most (a digit, or Drawing.NOT_A_DIGIT)
    pool: int  # how many known drawings it compared with


def reader_pool(exclude_client: str, exclude_pk: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Known drawings of other clients, newest first (at most ``DIGITS_TRUST_POOL``): inputs (N, 784), labels (a digit,
    or not a digit where a person said so), and each one's weight in the vote: 1 for a correction staff accepted or a
    confident prediction, and for a pending or auto-accepted one the share of its client's drawings that client left
    uncorrected (a flood's cookies, which correct everything, cannot vouch for each other)."""
    known = Q(correction_status__in=PEER, excluded_from_training=False) | Q(
        correction_status=CorrectionStatus.NONE, confidence__gte=SURE
    )
    rows = list(
        Drawing.objects.filter(known)
        .exclude(pk=exclude_pk)
        .exclude(client_key=exclude_client or "\0")
        .annotate(digit=Case(When(corrected_label__isnull=False, then=F("corrected_label")), default="predicted_digit"))
        .order_by("-pk")
        .values_list("model_input", "digit", "correction_status", "client_key")[: settings.DIGITS_TRUST_POOL]
    )
    if not rows:
        return np.zeros((0, 784), dtype=np.float32), np.zeros(0, dtype=np.int64), np.zeros(0)
    unvouched_clients = {r[3] for r in rows if r[2] in UNVOUCHED}
    shares = {
        key: 1.0 - corrected / total
        for key, total, corrected in Drawing.objects.filter(client_key__in=unvouched_clients)
        .order_by()
        .values_list("client_key")
        .annotate(total=Count("pk"), corrected=Count("pk", filter=Q(corrected_label__isnull=False)))
    }
    weights = np.array([shares.get(r[3], 0.0) if r[2] in UNVOUCHED else 1.0 for r in rows])
    inputs = np.frombuffer(b"".join(bytes(r[0]) for r in rows), dtype=np.uint8).reshape(len(rows), 784)
    return inputs.astype(np.float32) / 255.0, np.array([r[1] for r in rows], dtype=np.int64), weights


def reader_vote(model_input: np.ndarray, label: int, pool: tuple[np.ndarray, np.ndarray, np.ndarray]) -> ReaderVote:
    """The vote of the ``NEIGHBOURS`` nearest known drawings, each weighted by closeness and by its source."""
    inputs, digits, credibility = pool
    if credibility.sum() < MIN_POOL:
        return ReaderVote(0.5, None, len(digits))
    query = model_input.reshape(784).astype(np.float32) / 255.0
    distances = np.sqrt(((inputs - query) ** 2).sum(axis=1))
    nearest = np.argpartition(distances, NEIGHBOURS)[:NEIGHBOURS]
    weights = credibility[nearest] / (distances[nearest] + 1.0)
    if weights.sum() <= 0:
        return ReaderVote(0.5, None, len(digits))
    votes = np.bincount(digits[nearest], weights=weights, minlength=len(Drawing.LABEL_CHOICES))
    return ReaderVote(float(votes[label] / votes.sum()), int(votes.argmax()), len(digits))


def record(drawings, exclude_pk: int | None) -> tuple[float, dict]:
    """A client's (or a network's) record from its ``drawings``: half the share of its corrections staff accepted
    (prior: one accepted, one rejected), half the share of its drawings it left uncorrected (prior: one of four
    corrected). The policy's own decisions do not count, so that its mistakes do not feed on themselves. Someone who
    corrects every drawing is rare among honest users (the model reads most drawings right) and the rule of a flood.
    """
    counted = dict(
        drawings.exclude(pk=exclude_pk)
        .order_by()
        .values_list("correction_status")
        .annotate(n=Count("pk"))
        .values_list("correction_status", "n")
    )
    seen = {
        "drawings": sum(counted.values()) + 1,
        "corrected": sum(n for status, n in counted.items() if status != CorrectionStatus.NONE) + 1,
        "staff_accepted": counted.get(CorrectionStatus.ACCEPTED, 0),
        "staff_rejected": counted.get(CorrectionStatus.REJECTED, 0),
    }
    accepted = (1.0 + seen["staff_accepted"]) / (2.0 + seen["staff_accepted"] + seen["staff_rejected"])
    uncorrected = 1.0 - (1.0 + seen["corrected"]) / (4.0 + seen["drawings"])
    return 0.5 * accepted + 0.5 * uncorrected, seen


@dataclass(frozen=True)
class Trust:
    value: float
    reasons: dict


def assess(drawing: Drawing, label: int, policy: TrustPolicy | None = None) -> Trust:
    """The trust of ``drawing``'s correction to ``label`` (its ``client_key`` and ``correction_network`` set)."""
    policy = policy or TrustPolicy.current()
    probability = label_probability(drawing, label)
    model = model_plausibility(probability)
    vote = reader_vote(drawing.input_array, label, reader_pool(drawing.client_key, drawing.pk))
    corrected = Drawing.objects.filter(corrected_label__isnull=False)
    client, client_seen = (0.5, {})
    if drawing.client_key:
        client, client_seen = record(Drawing.objects.filter(client_key=drawing.client_key), drawing.pk)
    network, network_seen = (0.5, {})
    if drawing.correction_network:
        # A network's drawings are those of the clients that corrected from it.
        clients = corrected.filter(correction_network=drawing.correction_network).values("client_key")
        network, network_seen = record(Drawing.objects.filter(client_key__in=clients), drawing.pk)
    value = (
        WEIGHTS["model"] * model
        + WEIGHTS["reader"] * vote.agreement
        + WEIGHTS["client"] * client
        + WEIGHTS["network"] * network
    )
    burst = 0
    if drawing.client_key:
        since = timezone.now() - timedelta(minutes=policy.burst_minutes)
        burst = corrected.filter(client_key=drawing.client_key, corrected_at__gte=since).exclude(pk=drawing.pk).count()
        burst += 1
    if burst > policy.burst_corrections:
        value *= policy.burst_corrections / burst
    reasons = {
        "model": round(model, 3),
        "model_probability": probability,
        "reader": round(vote.agreement, 3),
        "reader_digit": vote.digit,
        "reader_pool": vote.pool,
        "client": round(client, 3),
        "client_record": client_seen,
        "network": round(network, 3),
        "network_record": network_seen,
        "burst": burst,
    }
    return Trust(round(float(value), 4), reasons)


def explain(trust: float, reasons: dict, label: int) -> str:
    """One sentence for staff: what each piece of evidence said."""
    probability, name = reasons["model_probability"], Drawing.label_name(label)
    if label != Drawing.NOT_A_DIGIT:
        model = f"the model gave {label} {probability:.1%}"
    elif probability >= 1.0:
        model = "the model flagged it not a digit itself"
    else:
        model = f"the model was {1.0 - probability:.1%} sure of its digit"
    parts = [
        model,
        (
            f"the nearest known drawings read {Drawing.label_name(reasons['reader_digit'])} "
            f"({reasons['reader']:.0%} for {name})"
            if reasons.get("reader_digit") is not None
            else "too few known drawings to compare with"
        ),
        f"client record {reasons['client']:.2f}",
        f"network record {reasons['network']:.2f}",
    ]
    if reasons.get("burst", 0) > 1:
        parts.append(f"{reasons['burst']} corrections from this client in the burst window")
    return f"trust {trust:.2f}: " + "; ".join(parts)
