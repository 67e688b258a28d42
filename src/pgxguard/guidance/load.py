"""Load the guidance snapshot (gzip JSON written by `pgxguard.guidance.build`)."""

from __future__ import annotations

import functools
import gzip
import json
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

from pgxguard.errors import KnowledgeBaseError
from pgxguard.guidance.knowledge import GuidanceKB

SNAPSHOT_NAME = "guidance.json.gz"
_REBUILD = "rebuild it with `python -m pgxguard.guidance.build` or reinstall pgxguard"


def _decode(raw: bytes, origin: str) -> GuidanceKB:
    try:
        data: Any = json.loads(gzip.decompress(raw))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as e:
        raise KnowledgeBaseError(f"guidance snapshot is not valid gzip JSON: {e}", path=origin,
                                 hint=_REBUILD) from e
    if not isinstance(data, dict):
        raise KnowledgeBaseError("guidance snapshot is not a JSON object", path=origin,
                                 hint=_REBUILD)
    return GuidanceKB.from_json(data, origin=origin)


@functools.lru_cache(maxsize=1)
def _bundled() -> GuidanceKB:
    res = resources.files("pgxguard.guidance").joinpath("data", SNAPSHOT_NAME)
    try:
        raw = res.read_bytes()
    except OSError as e:
        raise KnowledgeBaseError("the bundled guidance snapshot is missing", path=str(res),
                                 hint=_REBUILD) from e
    return _decode(raw, str(res))


def load_guidance(path: str | Path | None = None) -> GuidanceKB:
    """Load `path`, or the snapshot bundled with pgxguard (cached) when no path is given."""
    if path is None:
        return _bundled()
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise KnowledgeBaseError(f"cannot read the guidance snapshot: {e.strerror or e}",
                                 path=str(p)) from e
    return _decode(raw, str(p))


__all__ = ["SNAPSHOT_NAME", "load_guidance"]
