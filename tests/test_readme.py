"""Every command the README shows, run as written.

The API example (curl) runs word for word in bash against the site started by the run command
(:mod:`tests.support.site`: ``scripts/run.sh`` on a free port, the only change to the text being that address). The
other blocks are commands that take minutes (training) or are this suite itself (``make test``): each is checked to
exist as written, its every option accepted (``--help`` lists it), its make target pointing at the script named.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

import pytest

from bench.drawing import draw_digit, png_bytes
from tests.support.env import ROOT
from tests.support.site import running_site

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)
ADDRESS = "http://127.0.0.1:8000"


def test_the_readme_shows_these_blocks() -> None:
    """If a block is added, this test must learn to run it."""
    kinds = [
        "curl" if "curl" in block else "make" if block.startswith("make") else "manage" if "manage.py" in block else ""
        for block in BLOCKS
    ]
    assert "" not in kinds, BLOCKS
    assert kinds.count("curl") == 1


def test_the_api_example_runs_as_written_against_the_run_command(tmp_path) -> None:
    [block] = [block for block in BLOCKS if "curl" in block]
    work = tmp_path / "work"
    work.mkdir()
    (work / "seven.png").write_bytes(png_bytes(draw_digit(7)))
    with running_site(tmp_path) as site:
        script = block.replace(ADDRESS, site.base)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=work, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
        prediction, correction = (json.loads(line) for line in result.stdout.splitlines() if line.strip())
        assert prediction["correction_url"].startswith(site.base)
        assert correction["id"] == prediction["id"]
        assert correction["correction"]["label"] == 7
        assert correction["correction"]["status"] == "pending"
        assert (work / "jar").read_text().count("digits_client") == 1  # the cookie was kept


def test_make_targets_run_the_scripts_named() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for block in BLOCKS:
        if block.startswith("make"):
            target, script = re.match(r"make (\w+)\s+# = (\S+)", block).groups()
            assert re.search(rf"^{target}:.*\n\t{re.escape(script)}$", makefile, flags=re.MULTILINE), target
            assert (ROOT / script).exists()


@pytest.mark.parametrize("block", [b for b in BLOCKS if "manage.py" in b and "curl" not in b])
def test_management_commands_exist_with_every_option_shown(block: str) -> None:
    for line in block.strip().splitlines():
        words = shlex.split(line.split("#", 1)[0])
        words = [w for w in words if "=" not in w or w.startswith("-")]  # environment assignments
        if "manage.py" in words:
            command = words[words.index("manage.py") + 1]
            help_command = ["manage.py", command, "--help"]
        else:  # a benchmark that finishes the job (python -m bench.accuracy ...)
            command = words[words.index("-m") + 1]
            help_command = ["-m", command, "--help"]
        result = subprocess.run([sys.executable, *help_command], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        for option in (w for w in words if w.startswith("--")):
            assert option in result.stdout, (command, option)
