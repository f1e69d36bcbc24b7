"""scripts/test.sh's second pass, against PostgreSQL and Redis, runs the tests that reach them and only those."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.env import ROOT


def _collected(files: list[str], services_pass: bool, tests: bool = False) -> set[str]:
    """The files (or, with ``tests``, the test ids) that a pass over ``files`` would run."""
    env = {**os.environ, "DIGITS_SERVICES_PASS": "1" if services_pass else "0"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line if tests else line.split("::")[0] for line in out.splitlines() if "::" in line}


def test_the_services_pass_keeps_database_worker_and_process_tests_and_drops_pure_ones() -> None:
    files = [
        "tests/test_api.py",  # the django_db mark
        "tests/test_multinode.py",  # a real Celery worker on the shared broker
        "tests/test_faults.py",  # a server on PostgreSQL through a proxy (the services mark)
        "tests/test_preprocessing_properties.py",  # numbers in, numbers out
        "tests/test_queues.py",  # settings only
    ]
    assert _collected(files, services_pass=False) == set(files)
    assert _collected(files, services_pass=True) == set(files[:3])


def test_minutes_of_training_that_only_store_rows_run_on_the_sqlite_pass_alone() -> None:
    """The flood of wrong corrections trains for minutes to show the MNIST gate refuses it: its rows are ordinary
    ones, so the services pass leaves it to the SQLite pass and keeps the staff's cheap look at the same flood."""
    file = "tests/test_poisoning.py"
    flood = f"{file}::test_a_flood_of_wrong_corrections_is_refused_by_the_mnist_gate"
    staff = f"{file}::test_staff_spot_the_flooding_client_and_exclude_all_its_corrections_in_one_action"
    assert {flood, staff} <= _collected([file], services_pass=False, tests=True)
    on_services = _collected([file], services_pass=True, tests=True)
    assert staff in on_services
    assert flood not in on_services
