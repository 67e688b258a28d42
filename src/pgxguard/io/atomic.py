"""The one atomic file writer: every file pgxguard writes goes through `write_via`.

A temporary file in the target's folder is written, flushed and fsync'd, given the usual mode
(0666 less the umask; mkstemp makes 0600), renamed over the target and the folder fsync'd, so
a crash or a failure leaves either the old file or the new one, never half of one, and a
completed write survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from pgxguard.errors import InputError


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a folder that cannot be opened (some platforms): the rename still holds
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_via(path: str | Path, write: Callable[[str], None], *, make_dirs: bool = False) -> Path:
    """Atomically create `path` by calling `write(temporary_path)` (for writers that want a
    file name, such as pyarrow). A missing folder is an `InputError` unless `make_dirs`."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if make_dirs:
        folder.mkdir(parents=True, exist_ok=True)
    elif not folder.is_dir():
        raise InputError("output directory does not exist", path=str(folder),
                         hint="create it first or write somewhere else")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return target


def write_bytes(path: str | Path, data: bytes, *, make_dirs: bool = False) -> Path:
    """Atomically write `data` to `path` (see `write_via`)."""
    def write(tmp: str) -> None:
        Path(tmp).write_bytes(data)

    return write_via(path, write, make_dirs=make_dirs)


def write_text(path: str | Path, text: str, *, make_dirs: bool = False) -> Path:
    """Atomically write `text` as UTF-8 to `path` (see `write_via`)."""
    return write_bytes(path, text.encode("utf-8"), make_dirs=make_dirs)


__all__ = ["write_bytes", "write_text", "write_via"]
