"""Load the guidance snapshot (gzip JSON written by `pgxguard.guidance.build`)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from pgxguard.errors import KnowledgeBaseError
from pgxguard.guidance.knowledge import GuidanceKB
from pgxguard.snapshot import decode_snapshot, read_snapshot_file

SNAPSHOT_NAME = "guidance.json.gz"
_REBUILD = "rebuild it with `pgxguard kb build` or reinstall pgxguard"


def _decode(raw: bytes, origin: str) -> GuidanceKB:
    data = decode_snapshot(raw, origin, what="guidance snapshot", hint=_REBUILD)
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
    data = read_snapshot_file(path, what="guidance snapshot", hint=_REBUILD)
    return GuidanceKB.from_json(data, origin=str(path))


__all__ = ["SNAPSHOT_NAME", "load_guidance"]
