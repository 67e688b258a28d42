"""Gzip-JSON snapshots and packaged data files, shared by every stage that writes or loads data."""

from __future__ import annotations

import gc
import gzip
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pgxguard.errors import KnowledgeBaseError
from pgxguard.io.atomic import write_bytes

# The name this writer had here, for code that imports it from this module.
atomic_write_bytes = write_bytes


def packaged_bytes(package: str, name: str, what: str) -> tuple[bytes, str]:
    """(bytes, location) of a data file shipped in `package`/data; missing is an error."""
    from importlib import resources

    res = resources.files(package).joinpath("data", name)
    try:
        return res.read_bytes(), str(res)
    except OSError as e:
        raise KnowledgeBaseError(f"the {what} is missing", path=str(res),
                                 hint="reinstall pgxguard") from e


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a snapshot is decoded into objects.

    Decoding the knowledge base allocates a few hundred thousand dicts, lists and dataclasses
    and frees nearly none: each collection the allocations trigger finds nothing and rescans
    the ever larger heap (about half of the load's time). They hold no reference cycles, so
    reference counting frees them as before; collection resumes afterwards, unless it was off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def snapshot_bytes(body: dict[str, Any]) -> bytes:
    """Deterministic gzip JSON (sorted keys, gzip mtime 0): same content, same bytes."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def write_snapshot_file(body: dict[str, Any], path: str | Path) -> Path:
    target = Path(path)
    try:
        return write_bytes(target, snapshot_bytes(body), make_dirs=True)
    except OSError as e:
        raise KnowledgeBaseError(f"cannot write the snapshot: {e}", path=str(target)) from e


def decode_snapshot(raw: bytes, origin: str, *, what: str, hint: str) -> dict[str, Any]:
    """gzip JSON object from `raw`, or a KnowledgeBaseError naming `origin` and how to fix it."""
    return decode_snapshot_text(raw, origin, what=what, hint=hint)[0]


def decode_snapshot_text(raw: bytes, origin: str, *, what: str,
                         hint: str) -> tuple[dict[str, Any], str]:
    """`decode_snapshot` and the JSON text itself, so a checksum can be checked on the text
    as written instead of on a re-serialisation (see `kb.model.checksum_ok`)."""
    try:
        blob = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise KnowledgeBaseError(f"{what} is not a valid gzip file: {e}", path=origin,
                                 hint=hint) from e
    try:
        text = blob.decode("utf-8")
        data: Any = json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise KnowledgeBaseError(f"{what} is not valid JSON: {e}", path=origin, hint=hint) from e
    if not isinstance(data, dict):
        raise KnowledgeBaseError(f"{what} is not a JSON object", path=origin, hint=hint)
    return data, text


def read_snapshot_file(path: str | Path, *, what: str, hint: str) -> dict[str, Any]:
    return read_snapshot_file_text(path, what=what, hint=hint)[0]


def read_snapshot_file_text(path: str | Path, *, what: str,
                            hint: str) -> tuple[dict[str, Any], str]:
    """`read_snapshot_file` and the JSON text (see `decode_snapshot_text`)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise KnowledgeBaseError(f"cannot read the {what}: {e.strerror or e}", path=str(p),
                                 hint=hint) from e
    return decode_snapshot_text(raw, str(p), what=what, hint=hint)


__all__ = ["atomic_write_bytes", "decode_snapshot", "decode_snapshot_text", "gc_paused",
           "read_snapshot_file",
           "read_snapshot_file_text", "snapshot_bytes", "write_snapshot_file"]
