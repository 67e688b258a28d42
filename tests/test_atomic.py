"""The one atomic writer (`pgxguard.io.atomic`): all or nothing, fsync'd, the usual mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pgxguard.errors import InputError
from pgxguard.io import atomic


def test_writes_and_replaces(tmp_path: Path) -> None:
    p = tmp_path / "out.json"
    assert atomic.write_text(p, "one\n") == p
    atomic.write_bytes(p, b"two\n")
    assert p.read_bytes() == b"two\n"
    assert [q.name for q in tmp_path.iterdir()] == ["out.json"]


def test_mode_follows_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        p = atomic.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o640  # 0666 less 027


def test_failure_keeps_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    p = tmp_path / "part.parquet"
    p.write_bytes(b"old")

    def half_then_fail(tmp: str) -> None:
        Path(tmp).write_bytes(b"ha")
        raise RuntimeError("writer died")

    with pytest.raises(RuntimeError, match="writer died"):
        atomic.write_via(p, half_then_fail)
    assert p.read_bytes() == b"old"
    assert [q.name for q in tmp_path.iterdir()] == ["part.parquet"]


def test_file_and_folder_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if Path("/proc/self/fd").is_dir()
                      else str(fd))
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    atomic.write_text(tmp_path / "r.json", "{}")
    assert len(synced) == 2
    if Path("/proc/self/fd").is_dir():
        assert Path(synced[0]).parent == tmp_path and Path(synced[0]).name.startswith(".r.json.")
        assert Path(synced[1]) == tmp_path


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="output directory does not exist"):
        atomic.write_text(tmp_path / "nope" / "x.txt", "x")
    p = atomic.write_text(tmp_path / "made" / "deep" / "x.txt", "x", make_dirs=True)
    assert p.read_text() == "x"
