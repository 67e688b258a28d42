"""Where the pinned upstream packages are: `$PGXGUARD_SOURCES`, default /tmp/dl.

`make sources` downloads them there (the Makefile's `SOURCES`, passed on to the tests as
`PGXGUARD_SOURCES`); the tests that rebuild from them skip when a file is absent. The
`sources_dir` fixture in conftest.py gives the same folder.
"""

from __future__ import annotations

import os
from pathlib import Path

SOURCES_DIR = Path(os.environ.get("PGXGUARD_SOURCES") or "/tmp/dl")


def pinned(name: str) -> Path:
    """The path of one pinned file (which may be absent: the caller skips)."""
    return SOURCES_DIR / name
