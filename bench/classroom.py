"""Benchmark of the trust policy: a simulated classroom corrects the model through the real API.

- 30 honest clients write in a style the model has not seen (the optdigits training writers, 32x32 bitmaps scaled
  8x, bilinear, dark ink on white) and correct every mistake with the true digit;
- 5 careless clients do the same, but 10% of their corrections name a wrong digit;
- one flooder, from one network but a new cookie every few drawings, draws 7s (the optdigits writer-independent set)
  and "corrects" every one to 1, spread over the whole session.

The classroom shares one network (a school behind one router); the flooder is on another. Everything goes through
``POST /api/predictions/`` and ``POST /api/predictions/{id}/correction/`` with Django's test client, in the order a
class would send it (every client one drawing in turn), with the trust policy on *decide*. Reports the share of the
corrections left for staff (target ≤ 10%), the precision of the auto-accepted ones (target ≥ 99%), the right
corrections lost to auto-exclusion, whether any flood correction may train, and the cost of deciding a correction.

Run from the repository root: ``.venv/bin/python bench/classroom.py`` (about a minute); writes
``bench/results/classroom.md``.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OPTDIGITS = ROOT.parent / "shared" / "handwriting"


def read_optdigits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The UCI optdigits "orig" format: 21 header lines, then per digit 32 lines of 32 ``0``/``1`` and its label."""
    lines = path.read_text().splitlines()[21:]
    bitmaps, labels = [], []
    for start in range(0, len(lines) - 32, 33):
        rows = lines[start : start + 32]
        bitmaps.append(np.array([[c == "1" for c in row.strip()] for row in rows], dtype=np.uint8))
        labels.append(int(lines[start + 32].strip()))
    return np.stack(bitmaps), np.array(labels)


def bitmap_png(bitmap: np.ndarray, scale: int = 8) -> bytes:
    """A 32x32 bitmap as a canvas-sized PNG: dark ink on white, enlarged ``scale`` times, bilinear."""
    from bench.drawing import png_bytes

    image = Image.fromarray((255 - bitmap * 255).astype(np.uint8))
    size = bitmap.shape[0] * scale
    return png_bytes(image.resize((size, size), Image.Resampling.BILINEAR).convert("RGB"))


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
    parser.add_argument("--no-write", action="store_true", help="Print only; do not write bench/results.")
    return parser.parse_args()


def setup() -> None:
    from bench.common import setup_django

    os.environ["DIGITS_RATE_PREDICT"] = os.environ["DIGITS_RATE_CORRECT"] = "off"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from recognizer import registry
    from recognizer.models import TrustPolicy

    registry.ensure_default_model()
    TrustPolicy.objects.update_or_create(pk=1, defaults={"mode": TrustPolicy.Mode.DECIDE})


def run(args: argparse.Namespace) -> Session:
    from rest_framework.test import APIClient

    rng = random.Random(args.seed)
    x, y = read_optdigits(OPTDIGITS / "optdigits-orig.tra")
    clients = args.honest + args.careless
    # The training writers are stored writer after writer: equal consecutive slices are (about) one writer each.
    slices = np.array_split(np.arange(len(y)), clients)
    queues = [[(int(i), "honest" if c < args.honest else "careless") for i in part] for c, part in enumerate(slices)]
    browsers = [APIClient(REMOTE_ADDR=f"10.20.30.{c + 10}", HTTP_HOST="localhost") for c in range(clients)]
    xw, yw = read_optdigits(OPTDIGITS / "optdigits-orig.windep")
    sevens = [int(i) for i in np.flatnonzero(yw == 7)][: args.flood]
    turns = max(len(q) for q in queues)
    flood_at: dict[int, list[int]] = {}
    for k, index in enumerate(sevens):
        flood_at.setdefault(k * turns // len(sevens), []).append(index)
    session = Session()
    flooder = None
    flooded = 0

    def send(client, png: bytes, true: int, group: str) -> None:
        image = "data:image/png;base64," + base64.b64encode(png).decode()
        response = client.post("/api/predictions/", {"image": image}, format="json")
        assert response.status_code == 201, response.content[:300]
        data = response.json()
        session.drawings += 1
        predicted = data["digit"]
        if group == "flood":
            label = 1
        elif predicted == true:
            session.read_right += 1
            return
        elif group == "careless" and rng.random() < args.careless_error:
            label = rng.choice([d for d in range(10) if d not in (true, predicted)])
        else:
            label = true
        started = time.perf_counter()
        answer = client.post(f"/api/predictions/{data['id']}/correction/", {"label": label}, format="json")
        session.decide_seconds.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.content[:300]
        session.outcomes.append(Outcome(group, data["id"], true, label))

    mirrored = {int(d) for d in args.mirror.split(",") if d.strip()}
    for turn in range(turns):
        for c, queue in enumerate(queues):
            if turn < len(queue):
                index, group = queue[turn]
                bitmap = x[index][:, ::-1] if int(y[index]) in mirrored else x[index]
                send(browsers[c], bitmap_png(bitmap), int(y[index]), group)
        for index in flood_at.get(turn, []):
            if flooded % args.cookies_per == 0:
                flooder = APIClient(
                    REMOTE_ADDR=f"198.51.100.{flooded // args.cookies_per % 250 + 1}", HTTP_HOST="localhost"
                )
            send(flooder, bitmap_png(xw[index]), 7, "flood")
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
    dump = Drawing.objects.filter(pk__in=[o.drawing for o in outcomes]).values_list("pk", "trust_reasons")
    groups_of = {o.drawing: (o.group, o.right) for o in outcomes}
    with open(Path(os.environ["DIGITS_VAR_DIR"]) / "trust.csv", "w") as fh:
        fh.write("group,right,model,reader,client,network,burst\n")
        for pk, r in dump:
            g, right = groups_of[pk]
            fh.write(f"{g},{int(right)},{r['model']},{r['reader']},{r['client']},{r['network']},{r['burst']}\n")
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


def main() -> None:
    args = parse_args()
    setup()
    from bench.common import Machine, write_result

    machine = Machine()
    started = time.perf_counter()
    session = run(args)
    sections = report(args, session)
    sections.append(f"Session: {time.perf_counter() - started:.0f} s.")
    if args.no_write:
        print("\n\n".join(sections))
    else:
        write_result("classroom", "A classroom corrects the model: the trust policy", machine, sections)


if __name__ == "__main__":
    main()
