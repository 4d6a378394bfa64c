"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright.

Never `playwright install`: the browser comes from the system (scripts/install-system-deps.sh), so
the tests run offline. Each session gets a new, empty profile directory.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def missing_reason() -> str | None:
    if not CHROMIUM.exists():
        return (f"BROWSER TESTS SKIPPED: {CHROMIUM} is missing; run scripts/install-system-deps.sh "
                "(installs Debian's chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "BROWSER TESTS SKIPPED: the Python package 'playwright' is not installed"
    return None


@contextmanager
def browser_context(width: int = 1600, height: int = 900) -> Iterator[Any]:
    """A persistent context on a fresh profile (Playwright passes it as --user-data-dir)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="collector-chromium-") as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height})
        try:
            yield context
        finally:
            context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
