"""What tests share about their surroundings: where the project is, whether services must be there, the browser."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
#: Set by .ci/run: a service, browser or registry the tests need must be there; a skip would hide a failure.
REQUIRE_SERVICES = os.environ.get("DIGITS_REQUIRE_SERVICES") == "1"
#: Debian's Chromium (Playwright's own browser download does not work here), and how it is started.
CHROMIUM = Path(os.environ.get("DIGITS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def skip_or_fail(reason: str) -> None:
    """Skip with ``reason`` on a developer machine that lacks a service; fail in CI, where it must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (DIGITS_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def off_site_references(html: str) -> list[str]:
    """The resources a page loads from elsewhere (``src``/``href`` to another host): a CDN, for one. Searched in
    attributes rather than the whole text, where base64 images may spell anything."""
    return re.findall(r'\b(?:src|href)=["\'](?:https?:)?//[^"\']*', html)


def csp_violations(page) -> list[str]:
    """A list that fills with every Content-Security-Policy violation ``page`` reports (Chromium logs each one as a
    console error): a page that needs something the policy forbids is broken for real users, so tests assert it
    stays empty."""
    found: list[str] = []
    page.on(
        "console",
        lambda message: found.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return found
