"""Benchmark of the trust policy and the shadow trial: a simulated classroom corrects the model through the real API.

- 30 honest clients write in a style the model has not seen (the optdigits training writers, 32x32 bitmaps drawn as
  canvas-sized pictures by :mod:`bench.handwriting_sets`, their 7s and 9s mirror-written) and correct every mistake
  with the true digit;
- 5 careless clients do the same, but 10% of their corrections name a wrong digit;
- one flooder, from one network but a new cookie every few drawings, draws 7s (the optdigits writer-independent set)
  and "corrects" every one to 1, spread over the whole session.

The classroom shares one network (a school behind one router); the flooder is on another. Everything goes through
``POST /api/predictions/`` and ``POST /api/predictions/{id}/correction/`` with Django's test client, in the order a
class would send it (every client one drawing in turn), with the trust policy on *decide*. Reports the share of the
corrections left for staff (target ≤ 10%), the precision of the auto-accepted ones (target ≥ 99%), the right
corrections lost to auto-exclusion, whether any flood correction may train, and the cost of deciding a correction.

Then (unless ``--no-cycle``) the loop itself, with the real fine-tune (:func:`training.finetune.fine_tune`):

1. **one cycle as staff would have run it by hand**: every right correction accepted, every wrong one rejected, from
   the shipped model (not activated);
2. **one cycle as the policy left it** (its auto-accepted corrections, nothing staff decided), same seed, same MNIST
   replay (not activated);
3. **one cycle as in use**: the policy's decisions, and staff deciding truthfully the corrections it queued for them
   (their ≤ 10%), activated only if the offline gate passes; every candidate reads the *other* optdigits writers in
   the classroom's style (never corrected) and the gate's MNIST test and held-out corrections;
4. **a poisoned candidate**: an attacker's 9s "corrected" to 1, written in the classroom's own style (mirrored, which
   MNIST does not contain), are accepted by mistake, with shadow trials on; the next fine-tune's candidate faces the
   offline gate and, if it passes, a shadow trial on live drawings of the classroom (other writers, corrected
   truthfully), judged by :func:`training.shadow.decide_trials`. Target: the trial refuses it; the active model stays.

Run from the repository root: ``.venv/bin/python -m bench.classroom`` (about 10 minutes on 2 cores, a minute without the
cycles); writes ``bench/results/classroom.md``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from bench import handwriting_sets as hw
from bench.drawing import data_url


def drawing(bitmap: np.ndarray, label: int, mirrored: set[int]):
    """An optdigits bitmap as the classroom draws it: mirror-written when its digit is one of ``mirrored``."""
    return hw.bitmap_drawing(bitmap[:, ::-1] if label in mirrored else bitmap, 8)


@dataclass
class Outcome:
    group: str
    drawing: int
    true: int
    label: int

    @property
    def right(self) -> bool:
        return self.true == self.label


@dataclass
class Session:
    outcomes: list[Outcome] = field(default_factory=list)
    drawings: int = 0
    read_right: int = 0
    decide_seconds: list[float] = field(default_factory=list)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--honest", type=int, default=30)
    parser.add_argument("--careless", type=int, default=5)
    parser.add_argument("--careless-error", type=float, default=0.10)
    parser.add_argument("--flood", type=int, default=150, help="7s the flooder corrects to 1.")
    parser.add_argument("--cookies-per", type=int, default=5, help="The flooder takes a new cookie every N drawings.")
    parser.add_argument(
        "--mirror",
        default="7,9",
        help="Digits the classroom mirror-writes (its new style, as in bench/handwriting.py); empty for none.",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cycle", action="store_true", help="Only the session: no fine-tune, no shadow trial.")
    parser.add_argument(
        "--in-use-only",
        action="store_true",
        help="Of the cycles, run only the one as in use (no by-hand and policy-alone comparison): poison sweeps.",
    )
    parser.add_argument("--poison", type=int, default=90, help="Drawings of the poisoned digit the attacker labels 1.")
    parser.add_argument(
        "--poison-digit", type=int, default=9, help="The digit the attacker writes in the classroom's style."
    )
    parser.add_argument("--live", type=int, default=600, help="Live drawings the shadow trial reads.")
    parser.add_argument("--no-write", action="store_true", help="Print only; do not write bench/results.")
    parser.add_argument("--name", default="classroom", help="Write bench/results/NAME.md.")
    return parser.parse_args()


def setup() -> None:
    from bench.common import setup_django

    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from recognizer import registry
    from recognizer.models import TrustPolicy

    registry.ensure_default_model()
    TrustPolicy.objects.update_or_create(pk=1, defaults={"mode": TrustPolicy.Mode.DECIDE})


ATTACKERS = ("flood", "poison")  # groups whose every correction says 1


class Classroom:
    """The clients and how each answers the site: every drawing and correction goes through the API."""

    def __init__(self, args: argparse.Namespace) -> None:
        from rest_framework.test import APIClient

        self.args = args
        self.rng = random.Random(args.seed)
        self.mirrored = {int(d) for d in args.mirror.split(",") if d.strip()}
        self.browsers = [
            APIClient(REMOTE_ADDR=f"10.20.30.{c + 10}", HTTP_HOST="localhost")
            for c in range(args.honest + args.careless)
        ]

    def group(self, client: int) -> str:
        return "honest" if client < self.args.honest else "careless"

    def send(self, session: Session, client, image, true: int, group: str) -> None:
        """Draw ``image``; correct the answer as ``group`` would (nothing when it is right and the sender honest)."""
        response = client.post("/api/predictions/", {"image": data_url(image)}, format="json")
        assert response.status_code == 201, response.content[:300]
        data = response.json()
        session.drawings += 1
        predicted = data["digit"]
        if group in ATTACKERS:
            label = 1
        elif predicted == true:
            session.read_right += 1
            return
        elif group == "careless" and self.rng.random() < self.args.careless_error:
            label = self.rng.choice([d for d in range(10) if d not in (true, predicted)])
        else:
            label = true
        started = time.perf_counter()
        answer = client.post(f"/api/predictions/{data['id']}/correction/", {"label": label}, format="json")
        session.decide_seconds.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.content[:300]
        session.outcomes.append(Outcome(group, data["id"], true, label))


def run(args: argparse.Namespace, classroom: Classroom) -> Session:
    from rest_framework.test import APIClient

    x, y = hw.read_optdigits(hw.HANDWRITING / "optdigits-orig.tra")
    # The training writers are stored writer after writer: equal consecutive slices are (about) one writer each.
    slices = np.array_split(np.arange(len(y)), len(classroom.browsers))
    queues = [[(int(i), classroom.group(c)) for i in part] for c, part in enumerate(slices)]
    xw, yw = hw.read_optdigits(hw.HANDWRITING / "optdigits-orig.windep")
    sevens = [int(i) for i in np.flatnonzero(yw == 7)][: args.flood]
    turns = max(len(q) for q in queues)
    flood_at: dict[int, list[int]] = {}
    for k, index in enumerate(sevens):
        flood_at.setdefault(k * turns // len(sevens), []).append(index)
    session = Session()
    flooder = None
    flooded = 0
    for turn in range(turns):
        for c, queue in enumerate(queues):
            if turn < len(queue):
                index, group = queue[turn]
                image = drawing(x[index], int(y[index]), classroom.mirrored)
                classroom.send(session, classroom.browsers[c], image, int(y[index]), group)
        for index in flood_at.get(turn, []):
            if flooded % args.cookies_per == 0:
                flooder = APIClient(
                    REMOTE_ADDR=f"198.51.100.{flooded // args.cookies_per % 250 + 1}", HTTP_HOST="localhost"
                )
            classroom.send(session, flooder, hw.bitmap_drawing(xw[index], 8), 7, "flood")
            flooded += 1
    return session


def report(args: argparse.Namespace, session: Session) -> list[str]:
    from bench.common import markdown_table, percentiles_ms
    from recognizer.corrections import training_corrections
    from recognizer.models import Drawing

    status = dict(Drawing.objects.filter(corrected_label__isnull=False).values_list("pk", "correction_status"))
    trust = dict(Drawing.objects.filter(corrected_label__isnull=False).values_list("pk", "trust"))
    trains = set(training_corrections().values_list("pk", flat=True))
    S = Drawing.CorrectionStatus
    rows = []
    groups = ["honest", "careless", "flood"]
    for group in [*groups, "all"]:
        mine = [o for o in session.outcomes if group in ("all", o.group)]
        counts = Counter(status[o.drawing] for o in mine)
        right = [o for o in mine if o.right]
        wrong = [o for o in mine if not o.right]
        rows.append(
            [
                group,
                len(mine),
                f"{len(right)} / {len(wrong)}",
                counts[S.AUTO_ACCEPTED],
                counts[S.PENDING],
                counts[S.AUTO_EXCLUDED],
                sum(1 for o in wrong if status[o.drawing] == S.AUTO_ACCEPTED),
                sum(1 for o in right if status[o.drawing] == S.AUTO_EXCLUDED),
                sum(1 for o in mine if o.drawing in trains),
            ]
        )
    outcomes = session.outcomes
    auto = [o for o in outcomes if status[o.drawing] == S.AUTO_ACCEPTED]
    staff = sum(1 for o in outcomes if status[o.drawing] == S.PENDING)
    precision = sum(o.right for o in auto) / len(auto) if auto else float("nan")
    flood_training = sum(1 for o in outcomes if o.group == "flood" and o.drawing in trains)
    classroom = [o for o in outcomes if o.group != "flood"]
    classroom_staff = sum(1 for o in classroom if status[o.drawing] == S.PENDING)
    right_total = sum(o.right for o in classroom)
    right_auto = sum(1 for o in classroom if o.right and status[o.drawing] == S.AUTO_ACCEPTED)
    timing = percentiles_ms(session.decide_seconds)

    def trust_band(group: str, right: bool) -> str:
        values = sorted(trust[o.drawing] for o in outcomes if o.group == group and o.right == right)
        if not values:
            return "—"
        return f"{values[0]:.2f} / {np.median(values):.2f} / {values[-1]:.2f} ({len(values)})"

    targets = markdown_table(
        ["figure", "measured", "target"],
        [
            [
                "corrections left for staff (all)",
                f"**{staff} of {len(outcomes)} = {staff / len(outcomes):.1%}**",
                "≤ 10%",
            ],
            [
                "… of the classroom's corrections (flood aside)",
                f"{classroom_staff} of {len(classroom)} = {classroom_staff / max(len(classroom), 1):.1%}",
                "",
            ],
            ["auto-accepted corrections that are right", f"**{precision:.1%}** ({len(auto)} auto-accepted)", "≥ 99%"],
            [
                "right classroom corrections that train without staff",
                f"{right_auto} of {right_total} = {right_auto / max(right_total, 1):.1%}",
                "",
            ],
            ["flood corrections that may train", f"**{flood_training}** of {args.flood}", "0"],
            [
                "time to store and decide one correction (API request)",
                f"p50 {timing['p50']:.1f} ms, p99 {timing['p99']:.1f} ms",
                "",
            ],
        ],
    )
    per_group = markdown_table(
        [
            "who",
            "corrections",
            "right / wrong label",
            "auto-accepted",
            "left for staff",
            "auto-excluded",
            "wrong but auto-accepted",
            "right but auto-excluded",
            "may train",
        ],
        rows,
    )
    bands = markdown_table(
        ["who", "trust of right labels: min / median / max (n)", "trust of wrong labels"],
        [[g, trust_band(g, True), trust_band(g, False)] for g in groups],
    )
    return [
        f"{args.honest} honest + {args.careless} careless clients (10% wrong labels) on one school network, "
        f"{session.drawings - args.flood} drawings of the optdigits training writers (read right at first: "
        f"{session.read_right / max(session.drawings - args.flood, 1):.1%}); a flooder sending {args.flood} 7s "
        f"corrected to 1 from a new cookie every {args.cookies_per} drawings on another network. Trust policy "
        "*decide*, default thresholds (auto-accept ≥ 0.50, auto-exclude < 0.35); no staff decision during the run.",
        "## Targets",
        targets,
        "## Per group (status at the end of the session)",
        per_group,
        "## Trust by group",
        bands,
    ]


@dataclass
class Cycle:
    """One fine-tune of the benchmark: its run, how long it took and how its candidate reads the other writers."""

    name: str
    run: object  # recognizer.models.TrainingRun
    seconds: float
    reading: dict | None


def set_statuses(statuses: dict[int, str]) -> None:
    from recognizer.models import Drawing

    by_status: dict[str, list[int]] = {}
    for pk, status in statuses.items():
        by_status.setdefault(status, []).append(pk)
    for status, pks in by_status.items():
        Drawing.objects.filter(pk__in=pks).update(correction_status=status)


def version_content(version) -> bytes:
    with version.tflite_file.open("rb") as fh:
        return fh.read()


def fine_tune_once(name: str, activate: bool, seed: int, other_writers: hw.LabelledSet) -> Cycle:
    """One real fine-tune (forced: the benchmark decides when) and its candidate's reading of the other writers."""
    from bench.adaptation import read
    from training.finetune import FinetuneOptions, fine_tune

    print(f"==> fine-tune: {name}", flush=True)
    started = time.perf_counter()
    options = FinetuneOptions.from_settings(
        force=True, activate=activate, seed=seed, command=f"bench/classroom.py ({name})"
    )
    run = fine_tune(options)
    seconds = time.perf_counter() - started
    version = run.result_version
    reading = read(version_content(version), other_writers) if version is not None else None
    print(f"    {run.status} in {seconds:.0f} s: {run.message}", flush=True)
    return Cycle(name, run, seconds, reading)


def cycles(args: argparse.Namespace, classroom: Classroom, session: Session) -> list[str]:
    """Staff by hand vs the policy, one cycle each from the same model; then a poisoned candidate's shadow trial."""
    from bench.adaptation import read
    from bench.common import markdown_table
    from recognizer import serving
    from recognizer.models import Drawing, ModelVersion, ShadowTrial, TrustPolicy
    from training import shadow

    S = Drawing.CorrectionStatus
    xw, yw = hw.read_optdigits(hw.HANDWRITING / "optdigits-orig.windep")
    other_writers = hw.LabelledSet(
        "optdigits windep, the classroom's style",
        [drawing(b, int(label), classroom.mirrored) for b, label in zip(xw, yw, strict=True)],
        yw,
    )
    base = ModelVersion.objects.active()
    base_reading = read(version_content(base), other_writers)
    pks = [o.drawing for o in session.outcomes]
    by_policy = dict(Drawing.objects.filter(pk__in=pks).values_list("pk", "correction_status"))
    truth = {o.drawing: S.ACCEPTED if o.right else S.REJECTED for o in session.outcomes}
    compared: list[Cycle] = []
    if not args.in_use_only:
        set_statuses(truth)
        compared.append(fine_tune_once("staff accept every right correction by hand", False, args.seed, other_writers))
        set_statuses(by_policy)
        compared.append(fine_tune_once("the policy's decisions alone", False, args.seed, other_writers))
    # What the target asks: staff decide the corrections the policy queued for them (their ≤ 10%), truthfully.
    set_statuses({pk: truth[pk] if status == S.PENDING else status for pk, status in by_policy.items()})
    with_staff = fine_tune_once("the policy, staff deciding the queue it left them", True, args.seed, other_writers)
    active = ModelVersion.objects.active()

    def gate_cells(run) -> list[str]:
        before, after = run.metrics_before or {}, run.metrics_after or {}
        if not after:
            return ["—", "—"]
        return [
            f"{before['mnist_test_accuracy']:.2%} → {after['mnist_test_accuracy']:.2%}",
            f"{before['heldout_corrections_accuracy']:.2%} → {after['heldout_corrections_accuracy']:.2%} "
            f"({after['heldout_corrections_count']})",
        ]

    def reading_cells(reading: dict | None) -> list[str]:
        if reading is None:
            return ["—", "—"]
        mirrored = " / ".join(f"{reading['per_digit'][d]:.1%}" for d in sorted(classroom.mirrored))
        return [f"{reading['accuracy']:.2%}", mirrored]

    rows = [[f"{base.name} (before)", *reading_cells(base_reading), "", "", "", ""]]
    for cycle in (*compared, with_staff):
        rows.append(
            [
                cycle.name,
                *reading_cells(cycle.reading),
                *gate_cells(cycle.run),
                f"{cycle.run.status}: {cycle.run.correction_samples} trained, {cycle.run.heldout_samples} held out",
                f"{cycle.seconds:.0f} s",
            ]
        )

    def gap(cycle: Cycle, by_hand: Cycle) -> str:
        if not (cycle.reading and by_hand.reading):
            return "—"
        return f"**{(cycle.reading['accuracy'] - by_hand.reading['accuracy']) * 100:+.2f} pt**"

    gaps = ""
    if compared:
        by_hand, policy = compared
        gaps = (
            f"Against staff accepting every right correction by hand, on the other writers: the policy alone "
            f"{gap(policy, by_hand)}, the policy with staff deciding its queue {gap(with_staff, by_hand)}."
        )

    mirrored_names = " / ".join(f"{d}s" for d in sorted(classroom.mirrored))
    cycle_table = markdown_table(
        [
            "model",
            "other writers, the classroom's style (never corrected)",
            f"… mirror-written {mirrored_names}",
            "MNIST test (the gate)",
            "held-out corrections (the gate)",
            "run",
            "cycle",
        ],
        rows,
    )

    # A poisoned candidate: the attacker writes one digit in the classroom's own style (mirror-written 9s by default)
    # and labels it 1; the corrections are accepted by mistake. MNIST has no such 9s: the offline gate may not see it.
    targets = np.flatnonzero(yw == args.poison_digit)
    poison = [int(i) for i in targets[::2][: args.poison]]
    attack = Session()
    from rest_framework.test import APIClient

    attacker = APIClient(REMOTE_ADDR="203.0.113.7", HTTP_HOST="localhost")
    for index in poison:
        image = drawing(xw[index], args.poison_digit, classroom.mirrored)
        classroom.send(attack, attacker, image, args.poison_digit, "poison")
    set_statuses({o.drawing: S.ACCEPTED for o in attack.outcomes})
    TrustPolicy.objects.filter(pk=1).update(shadow_trials=True, shadow_drawings=args.live)
    name = f"poisoned ({args.poison_digit}s in the classroom's style labelled 1, accepted by mistake)"
    poisoned = fine_tune_once(name, True, args.seed, other_writers)
    candidate = poisoned.run.result_version
    trial = ShadowTrial.objects.filter(candidate=candidate).first() if candidate else None
    gate_passed = trial is not None
    if trial is None and candidate is not None:
        # The gate refused it: the trial is started by hand so that its verdict is still measured.
        trial = shadow.start_trial(candidate, ModelVersion.objects.active(), poisoned.run)
    serving.reset()  # this process's caches; a web process sees the trial within DIGITS_MODEL_REFRESH_SECONDS
    live = Session()
    taken = set(poison)
    rest = [i for i in range(len(yw)) if i not in taken]
    print(f"==> shadow trial: {args.live} live drawings", flush=True)
    for k, j in enumerate(np.linspace(0, len(rest) - 1, args.live).astype(int)):
        c, index = k % len(classroom.browsers), rest[j]
        image = drawing(xw[index], int(yw[index]), classroom.mirrored)
        classroom.send(live, classroom.browsers[c], image, int(yw[index]), classroom.group(c))
    shadow.decide_trials()
    after = ModelVersion.objects.active()
    trial_rows = []
    if trial is not None:
        trial.refresh_from_db()
        data = shadow.figures(trial)
        trial_rows.append(
            [
                candidate.name,
                "passed" if gate_passed else "refused (trial started by hand)",
                *reading_cells(poisoned.reading),
                f"{data.drawings} / {data.judged} ({data.corrected} corrected)",
                f"{data.candidate_accuracy:.2%}" if data.judged else "—",
                f"{data.baseline_accuracy:.2%}" if data.judged else "—",
                f"**{trial.get_status_display()}**",
                after.name,
            ]
        )
    trial_table = markdown_table(
        [
            "candidate",
            "offline gate",
            "other writers",
            f"… {mirrored_names}",
            "live drawings / judged",
            "candidate agreed with people",
            "active model agreed",
            "trial",
            "active after",
        ],
        trial_rows,
    )
    return [
        "## One cycle: the policy's decisions against staff accepting every right correction by hand",
        f"The fine-tunes start from `{base.name}` with the same seed and MNIST replay; the last one (the policy, with "
        "staff deciding what it queued for them, as in use) is activated if the gate passes (active after: "
        f"`{active.name}`). The other writers "
        f"({len(yw)} drawings of the optdigits writer-independent set, written in the classroom's style) were never "
        "corrected.",
        cycle_table,
        gaps,
        "## A poisoned candidate and the shadow trial",
        f"An attacker (another network) sends {len(poison)} {args.poison_digit}s in the classroom's style labelled 1, "
        f"and they are accepted by mistake; shadow trials on. The next cycle's candidate ({poisoned.run.status}: "
        f"{poisoned.run.message.rstrip('.')}) reads {live.drawings} live drawings of the classroom (other writers, "
        "corrected truthfully) beside the active model, then the periodic judgement runs.",
        trial_table,
        f"Trial's reason: {trial.reason}" if trial is not None else "No candidate was registered.",
    ]


def main() -> None:
    args = parse_args()
    setup()
    from bench.common import Machine, write_result

    machine = Machine()
    started = time.perf_counter()
    classroom = Classroom(args)
    session = run(args, classroom)
    sections = report(args, session)
    sections.append(f"Session: {time.perf_counter() - started:.0f} s.")
    if not args.no_cycle:
        sections += cycles(args, classroom, session)
        sections.append(f"Whole benchmark: {time.perf_counter() - started:.0f} s.")
    title = "A classroom corrects the model: the trust policy, one cycle, a shadow trial"
    if args.no_write:
        print("\n\n".join(sections))
    else:
        write_result(args.name, title, machine, sections)


if __name__ == "__main__":
    main()
