"""Headless Chromium through Playwright (Debian's `chromium`, no browser download).

Under CI=true a missing browser fails the test; locally it skips with a loud message.
"""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import missing

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():  # noqa: ANN201
    if not CHROMIUM:
        missing("Chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()
