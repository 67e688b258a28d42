"""htslib's own messages, caught at the edge and turned into pgxguard warnings or errors.

htslib (under cyvcf2) writes ``[E::func] text`` / ``[W::func] text`` straight to file
descriptor 2, so neither Python's ``warnings`` nor ``sys.stderr`` sees them, and a user would get
raw lines on a successful run. `HtslibLog.capture()` points descriptor 2 at a temporary file
while cyvcf2 works (one capture at a time per process, under a lock); lines that are not
htslib's are written back to the real stderr afterwards, so nothing else is lost.

Rules, by level and function:

* ``[E::idx_find_and_load] Could not retrieve index file`` - dropped: pgxguard itself decides
  whether an index is there (``input.indexed``) and streams the file otherwise.
* ``[E::bcf_hdr_parse_line]`` (a header line htslib skips) and every ``[W::...]`` - a warning
  naming the file; repeated messages are counted once, and the per-name ones (contigs, INFO and
  FORMAT keys not declared in the header, invalid tag names) are gathered into one line each.
* ``[W::bgzf_read_block] EOF marker is absent`` and any other ``[E::...]`` - an error (exit 2):
  htslib hit data it could not read, so the calls may be incomplete.
* ``[I::...]`` / ``[D::...]`` (information, debugging) - dropped.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from pgxguard.errors import VcfError

__all__ = ["HtslibLog"]

_LINE = re.compile(r"^\[(?P<level>[EWID])::(?P<func>[A-Za-z0-9_]+)\]\s*(?P<text>.*)$")
_FD_LOCK = threading.RLock()
_DROPPED = (("idx_find_and_load", "Could not retrieve index file"),)
_WARNING_ERRORS = frozenset({"bcf_hdr_parse_line"})
_FATAL_WARNINGS = (("bgzf_read_block", "EOF marker is absent"),)
_CONTIG = re.compile(r"^Contig '(?P<name>[^']+)' is not defined in the header")
_UNDECLARED = re.compile(r"^(?P<field>INFO|FORMAT) '(?P<name>[^']+)'(?: at \S+)? is not defined "
                         r"in the header")
_BAD_TAG = re.compile(r'^Invalid tag name: "(?P<name>[^"]+)"')
_MAX_WARNINGS = 10


class HtslibLog:
    """htslib's messages about one file, as pgxguard warnings and errors."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._warnings: dict[str, None] = {}  # ordered set
        self._undeclared: dict[str, None] = {}
        self._keys: dict[str, dict[str, None]] = {"INFO": {}, "FORMAT": {}}
        self._bad_tags: dict[str, None] = {}
        self._errors: list[str] = []
        self._extra = 0

    @contextmanager
    def capture(self) -> Iterator[None]:
        """Route descriptor 2 to a temporary file while the block runs."""
        with _FD_LOCK, tempfile.TemporaryFile() as tmp:
            with suppress(AttributeError, ValueError, OSError):
                sys.stderr.flush()  # Python's own buffered text goes out before the swap
            saved = os.dup(2)
            try:
                os.dup2(tmp.fileno(), 2)
                try:
                    yield
                finally:
                    os.dup2(saved, 2)
            finally:
                os.close(saved)
                tmp.seek(0)
                self._take(tmp.read().decode("utf-8", errors="replace"))

    def _take(self, text: str) -> None:
        foreign: list[str] = []
        for line in text.splitlines():
            m = _LINE.match(line.strip())
            if m is None:
                if line.strip():
                    foreign.append(line)
                continue
            self.add(m["level"], m["func"], m["text"].strip())
        if foreign:
            with suppress(OSError):
                os.write(2, ("\n".join(foreign) + "\n").encode())

    def add(self, level: str, func: str, text: str) -> None:
        """Classify one htslib message (see the module docstring)."""
        if level in "ID" or any(func == f and text.startswith(t) for f, t in _DROPPED):
            return
        if any(func == f and text.startswith(t) for f, t in _FATAL_WARNINGS) or (
                level == "E" and func not in _WARNING_ERRORS):
            self._errors.append(text)
            return
        m = _CONTIG.match(text)
        if m:
            self._undeclared[m["name"]] = None
            return
        m = _UNDECLARED.match(text)
        if m:
            self._keys[m["field"]][m["name"]] = None
            return
        m = _BAD_TAG.match(text)
        if m:
            self._bad_tags[m["name"]] = None
            return
        text = re.sub(r"\s*\(Quick workaround:.*\)$", "", text)
        if level == "E":
            text = f"header line skipped: {text}"
        if text in self._warnings:
            return
        if len(self._warnings) >= _MAX_WARNINGS:
            self._extra += 1
            return
        self._warnings[text] = None

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self._errors))

    def warnings(self) -> list[str]:
        """One line per distinct message, naming the file."""
        out = []
        if self._undeclared:
            names = list(self._undeclared)
            out.append(f"{self.path}: contig(s) {', '.join(names[:10])}"
                       f"{' ...' if len(names) > 10 else ''} not declared in the header "
                       "(##contig lines); read as written (htslib)")
        for field, keys in self._keys.items():
            if keys:
                names = list(keys)
                out.append(f"{self.path}: {field} key(s) {', '.join(names[:10])}"
                           f"{' ...' if len(names) > 10 else ''} not declared in the header; "
                           "read as strings (htslib)")
        if self._bad_tags:
            names = list(self._bad_tags)
            out.append(f"{self.path}: invalid tag name(s) {', '.join(names[:10])}"
                       f"{' ...' if len(names) > 10 else ''} (htslib)")
        out += [f"{self.path}: htslib: {w}" for w in self._warnings]
        if self._extra:
            out.append(f"{self.path}: htslib: {self._extra} more message(s) not shown")
        return out

    def raise_errors(self, what: str = "htslib could not read the file") -> None:
        """Raise `VcfError` when htslib reported an error (the result could be incomplete)."""
        errs = self.errors
        if errs:
            raise VcfError(f"{what}: {'; '.join(errs[:3])}", path=self.path,
                           hint="check that the file is complete and valid (`bcftools view` "
                                "shows the problem); re-create or re-download it")

    def describe(self) -> str:
        """htslib's error text, to add to an exception cyvcf2 raised."""
        errs = self.errors
        return f"; htslib: {'; '.join(errs[:3])}" if errs else ""
