"""Headless Chromium for the browser tests: Debian `chromium` driven by Playwright for Python,
never a downloaded browser. Import `needs_chromium` (the skip mark) and the `browser` fixture."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _executable() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


needs_chromium = pytest.mark.skipif(_executable() is None,
                                    reason="Debian chromium not installed (/usr/bin/chromium)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    exe = _executable()
    assert exe is not None
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(exe), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
