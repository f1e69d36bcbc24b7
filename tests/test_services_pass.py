"""scripts/test.sh's second pass, against PostgreSQL and Redis, runs the tests that reach them and only those."""

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


@functools.cache
def collected(services_pass: bool) -> frozenset[str]:
    """The ids of the tests of :data:`FILES` that a pass would run (one collection a pass, for every test here)."""
    env = {**os.environ, "DIGITS_SERVICES_PASS": "1" if services_pass else "0"}
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


def test_the_services_pass_keeps_database_worker_and_process_tests_and_drops_pure_ones() -> None:
    assert files(collected(services_pass=False)) == set(FILES)
    assert files(collected(services_pass=True)) == set(FILES[:3]) | {"tests/test_poisoning.py"}


def test_minutes_of_training_that_only_store_rows_run_on_the_sqlite_pass_alone() -> None:
    """The flood of wrong corrections trains for minutes to show the MNIST gate refuses it: its rows are ordinary
    ones, so the services pass leaves it to the SQLite pass and keeps the staff's cheap look at the same flood."""
    file = "tests/test_poisoning.py"
    flood = f"{file}::test_a_flood_of_wrong_corrections_is_refused_by_the_mnist_gate"
    staff = f"{file}::test_staff_spot_the_flooding_client_and_exclude_all_its_corrections_in_one_action"
    assert {flood, staff} <= collected(services_pass=False)
    assert staff in collected(services_pass=True)
    assert flood not in collected(services_pass=True)
