"""Screenshots the browser tests take: saved over the committed ones in ``docs/screenshots`` only when asked
(``DIGITS_SCREENSHOTS=1``), otherwise in the test's own folder; either way read back and checked."""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from tests.support.env import ROOT

#: The screenshots the README and docs show.
COMMITTED = ROOT / "docs" / "screenshots"


def save_screenshot(png: bytes, name: str, tmp_path: Path, colors: int) -> Path:
    """Save ``png`` (a Playwright screenshot) as ``name``, reduced to ``colors`` colours to keep it small, in
    ``docs/screenshots`` when ``DIGITS_SCREENSHOTS=1`` and in ``tmp_path`` otherwise; returns where it went."""
    folder = COMMITTED if os.environ.get("DIGITS_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    with Image.open(path) as saved:
        assert (saved.format, saved.size) == ("PNG", image.size), path
        used = saved.getcolors(colors)
        assert used is not None, path
        assert len(used) > 1, f"{path} is a blank page"
    return path
