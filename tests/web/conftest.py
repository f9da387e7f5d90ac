"""Browser tests: a live Lockgate with the real local models, driven by Debian's chromium through
Playwright (never a downloaded browser). With LOCKGATE_SCREENSHOTS=1 the screenshots go to docs/console/,
which docs/console.md shows."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.live import local_models_server

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _needs(condition: bool, message: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def live(tmp_path_factory, sqlite_template, postgres):
    directory = tmp_path_factory.mktemp("console")
    with local_models_server("sqlite", directory, sqlite_template, postgres) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    _needs(
        Path(CHROMIUM).exists() or shutil.which("chromium") is not None, "chromium missing: make system-deps"
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _needs(False, "playwright missing: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where the browser tests save their screenshots: docs/console/ only when asked
    (LOCKGATE_SCREENSHOTS=1), so that `make test` leaves the working tree as it found it."""
    if os.environ.get("LOCKGATE_SCREENSHOTS") != "1":
        return tmp_path_factory.mktemp("screenshots")
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
