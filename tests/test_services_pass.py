"""scripts/test.sh's second pass, against PostgreSQL and Redis, runs the tests that reach them and only those."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.env import ROOT


def _collected(files: list[str], services_pass: bool) -> set[str]:
    env = {**os.environ, "DIGITS_SERVICES_PASS": "1" if services_pass else "0"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.split("::")[0] for line in out.splitlines() if "::" in line}


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
