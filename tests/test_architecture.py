"""The architecture's rule, checked on a real process: what a web process loads never includes TensorFlow or Keras.

The import-linter contracts (pyproject.toml, run by the test command) check the imports written in the code; this
test checks what actually ends up in ``sys.modules`` when a web process starts, admin and task modules included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.env import ROOT

# The web process reads DATABASE_URL and the broker's URL from this environment: on the services pass, PostgreSQL's
# driver and Redis's client are among what it loads.
pytestmark = pytest.mark.services

WEB_PROCESS = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "digits_site.settings")
import digits_site.wsgi  # what gunicorn loads: django.setup(), every app's admin module
from django.urls import get_resolver
get_resolver().resolve("/admin/")  # the whole URL configuration, admin and dashboard included
from digits_site.celery import app
app.loader.import_default_modules()  # the tasks modules, as a web process sending a task loads them
print(json.dumps(sorted(sys.modules)))
"""


def _modules_of_a_web_process(var: Path) -> list[str]:
    env = {**os.environ, "DIGITS_VAR_DIR": str(var), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", WEB_PROCESS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_web_process_loads_neither_tensorflow_nor_keras(tmp_path: Path) -> None:
    modules = _modules_of_a_web_process(tmp_path)
    assert "training.admin" in modules
    assert "training.tasks" in modules
    assert "recognizer.serving" in modules or "recognizer.api.views" in modules
    loaded = [m for m in modules if m.split(".")[0] in {"tensorflow", "keras"} or m.startswith("training.ml")]
    assert loaded == []
