"""The published knowledge-base sources (`kb-sources/`): checked file by file, read as published.

The tree holds CPIC's and DPWG's knowledge as PharmCAT and CPIC publish it (allele definitions,
function and phenotype tables, guideline annotations, curated messages, CPIC's change log), with
`pharmcat/FILES.tsv` giving each file's source commit, date and SHA-256. Every file the build reads
must be listed there and match its SHA-256; a file that is missing, altered or unlisted is a
`KnowledgeBaseError`, never a silent skip. Only `pgxguard kb build` and the rebuild test read this
tree; an installed pgxguard reads the compiled snapshot.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgxguard.errors import KnowledgeBaseError

__all__ = ["FileInfo", "SourceTree", "default_sources_dir"]

FILES_TSV = "pharmcat/FILES.tsv"
ENV_VAR = "PGXGUARD_KB_SOURCES"

# Licences and attributions the sources ask for (kb-sources/README.md, cpic/LICENSE.md).
PHARMCAT_REPO = "https://github.com/PharmGKB/PharmCAT"
CPIC_DATA_REPO = "https://github.com/cpicpgx/cpic-data"
LICENCES: dict[str, tuple[str, str, str]] = {
    # folder prefix -> (licence, url, attribution)
    "pharmcat/definitions/": (
        "MPL-2.0 (PharmCAT); allele definitions from CPIC (CC0 1.0) and PharmVar",
        PHARMCAT_REPO,
        "CPIC\u00ae allele definitions via PharmCAT; PharmVar nomenclature (www.pharmvar.org)"),
    "pharmcat/phenotype/": (
        "MPL-2.0 (PharmCAT); CPIC content CC0 1.0", PHARMCAT_REPO,
        "CPIC\u00ae allele function and phenotype tables (www.clinpgx.org), via PharmCAT"),
    "pharmcat/guidelines/CPIC_": (
        "CC0 1.0 (CPIC); annotations by ClinPGx/PharmGKB", PHARMCAT_REPO,
        "CPIC\u00ae guideline recommendations, ClinPGx/PharmGKB guideline annotations "
        "(www.clinpgx.org)"),
    "pharmcat/guidelines/DPWG_": (
        "CC BY-SA 4.0 (ClinPGx/PharmGKB annotations of DPWG guidelines)", PHARMCAT_REPO,
        "DPWG guidelines (Royal Dutch Pharmacists Association, KNMP), annotated by "
        "ClinPGx/PharmGKB (www.clinpgx.org)"),
    "pharmcat/messages.json": (
        "MPL-2.0 (PharmCAT)", PHARMCAT_REPO, "PharmCAT curated messages"),
    "cpic/": ("CC0 1.0", CPIC_DATA_REPO,
              "CPIC\u00ae change log (cpicpgx/cpic-data); refer to cpicpgx.org for the most "
              "current content"),
}


def default_sources_dir() -> Path:
    """$PGXGUARD_KB_SOURCES, else `../shared/kb-sources` beside the source checkout."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "kb-sources"


@dataclass(frozen=True, slots=True)
class FileInfo:
    path: str  # relative to the tree, e.g. "pharmcat/phenotype/CYP2D6.json"
    commit: str
    date: str
    sha256: str

    @property
    def licence(self) -> tuple[str, str, str]:
        for prefix, lic in LICENCES.items():
            if self.path.startswith(prefix):
                return lic
        raise KnowledgeBaseError(f"no licence recorded for source file {self.path}",
                                 hint="add its licence to pgxguard/kb/sources.py LICENCES")


class SourceTree:
    """A checked kb-sources tree: `read_json`/`read_text` verify each file against FILES.tsv."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_sources_dir()
        index = self.root / FILES_TSV
        if not index.is_file():
            raise KnowledgeBaseError(
                "knowledge-base sources not found (no pharmcat/FILES.tsv)", path=str(self.root),
                hint=f"pass --sources DIR (the kb-sources tree) or set {ENV_VAR}")
        self.files: dict[str, FileInfo] = {}
        with index.open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t")
            want = {"file", "commit", "commit_date", "sha256"}
            if not want <= set(reader.fieldnames or ()):
                raise KnowledgeBaseError(f"FILES.tsv lacks columns {sorted(want)}",
                                         path=str(index))
            for n, row in enumerate(reader, start=2):
                f = (row["file"] or "").strip()
                if not f or f in self.files:
                    raise KnowledgeBaseError(f"empty or repeated file name {f!r}",
                                             path=str(index), line=n)
                self.files[f] = FileInfo(f, row["commit"].strip(), row["commit_date"].strip(),
                                         row["sha256"].strip().lower())
        self.read: list[str] = []  # files read so far, in order (for provenance)

    def listed(self, prefix: str, suffix: str = "") -> list[str]:
        """Listed files under `prefix` ending in `suffix`, sorted; unlisted files are refused."""
        folder = self.root / prefix
        on_disk = sorted(str(p.relative_to(self.root)) for p in folder.glob(f"*{suffix}")
                         if p.is_file()) if folder.is_dir() else []
        unlisted = [f for f in on_disk if f not in self.files]
        if unlisted:
            raise KnowledgeBaseError(
                f"files not listed in {FILES_TSV}: {', '.join(unlisted[:5])}",
                path=str(self.root), hint="list each source file with its commit, date and "
                                          "SHA-256, or remove it")
        return sorted(f for f in self.files if f.startswith(prefix) and f.endswith(suffix))

    def raw(self, rel: str) -> bytes:
        info = self.files.get(rel)
        if info is None:
            raise KnowledgeBaseError(f"{rel} is not listed in {FILES_TSV}", path=str(self.root))
        p = self.root / rel
        try:
            data = p.read_bytes()
        except OSError as e:
            raise KnowledgeBaseError(f"cannot read source file: {e.strerror or e}", path=str(p),
                                     hint="restore the kb-sources tree") from e
        digest = hashlib.sha256(data).hexdigest()
        if digest != info.sha256:
            raise KnowledgeBaseError(
                f"SHA-256 {digest[:16]}... differs from FILES.tsv ({info.sha256[:16]}...)",
                path=str(p), hint="the source file was altered: restore it as published")
        if rel not in self.read:
            self.read.append(rel)
        return data

    def read_json(self, rel: str) -> Any:
        try:
            return json.loads(self.raw(rel).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise KnowledgeBaseError(f"not valid UTF-8 JSON: {e}", path=str(self.root / rel),
                                     hint="restore the file as published") from e

    def read_text(self, rel: str) -> str:
        try:
            return self.raw(rel).decode("utf-8")
        except UnicodeDecodeError as e:
            raise KnowledgeBaseError("not UTF-8 text", path=str(self.root / rel)) from e

    def info(self, rel: str) -> FileInfo:
        return self.files[rel]

    def digest(self) -> str:
        """One SHA-256 over every file read (name and checksum), for short provenance."""
        h = hashlib.sha256()
        for rel in sorted(self.read):
            h.update(f"{rel}\t{self.files[rel].sha256}\n".encode())
        return h.hexdigest()
