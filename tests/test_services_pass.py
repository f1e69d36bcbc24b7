"""scripts/test.sh's two passes at once: the PostgreSQL + Redis pass runs the tests that reach those services, the
SQLite pass the rest and again those that reach the database or the broker, and minutes of training that store only
ordinary rows run once, on the services pass unless their mark names the other. Alone, the SQLite pass runs every
test."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

from tests.support.env import ROOT

FILES = [
    "tests/test_api.py",  # the django_db mark
    "tests/test_multinode.py",  # a real Celery worker on the shared broker
    "tests/test_faults.py",  # a server on PostgreSQL through a proxy (the services mark)
    "tests/test_preprocessing_properties.py",  # numbers in, numbers out
    "tests/test_queues.py",  # settings only
    "tests/test_poisoning.py",  # minutes of training beside a cheap look at the same rows
]
POISONING = "tests/test_poisoning.py"
#: Minutes of training to show the MNIST gate refuses a flood of wrong corrections (``same_on_any_database``).
FLOOD = f"{POISONING}::test_a_flood_of_wrong_corrections_is_refused_by_the_mnist_gate"
#: Minutes of training marked to run once on the SQLite pass instead, so that the two passes end about together.
RELABEL = f"{POISONING}::test_a_flood_saying_real_digits_are_not_digits_is_refused_by_the_gate"
#: The staff's cheap look at the same flood's rows.
STAFF = f"{POISONING}::test_staff_spot_the_flooding_client_and_exclude_all_its_corrections_in_one_action"


@functools.cache
def collected(this_pass: str) -> frozenset[str]:
    """The ids of the tests of :data:`FILES` that a pass would run (``""``: the SQLite pass alone); one collection
    a pass, for every test here."""
    env = {**os.environ, "DIGITS_PASS": this_pass}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *FILES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return frozenset(line for line in out.splitlines() if "::" in line)


def files(test_ids: frozenset[str]) -> set[str]:
    return {test_id.split("::")[0] for test_id in test_ids}


def test_alone_the_sqlite_pass_runs_every_test() -> None:
    assert files(collected("")) == set(FILES)
    assert {FLOOD, STAFF} <= collected("")


def test_the_services_pass_keeps_database_worker_and_process_tests_and_drops_pure_ones() -> None:
    assert files(collected("services")) == set(FILES[:3]) | {POISONING}


def test_beside_it_the_sqlite_pass_runs_the_pure_tests_and_again_those_reaching_the_database() -> None:
    assert files(collected("embedded")) == set(FILES)
    assert collected("embedded") | collected("services") == collected("")
    assert STAFF in collected("embedded") & collected("services")


def test_minutes_of_training_that_only_store_rows_run_once_on_the_services_pass_or_the_pass_named() -> None:
    assert FLOOD in collected("services")
    assert FLOOD not in collected("embedded")
    assert RELABEL in collected("embedded")
    assert RELABEL not in collected("services")
