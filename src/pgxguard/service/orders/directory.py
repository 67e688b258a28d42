"""The PGx test directory, read from `service/data/test_directory.tsv` (data, not code).

Test codes are pgxguard's own, in the FHIR CodeSystem `DIRECTORY_SYSTEM` (a namespaced URL, not
an official National Genomic Test Directory code: docs/cds-hooks.md maps them)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from pgxguard.errors import KnowledgeBaseError
from pgxguard.service.errors import ValidationFailedError

DIRECTORY_FILE = "test_directory.tsv"
DIRECTORY_SYSTEM = "https://github.com/pgxguard/fhir/CodeSystem/test-directory"
COLUMNS = ("code", "name", "genes", "trigger_drugs", "clinical_context", "source_note")


@dataclass(frozen=True, slots=True)
class DirectoryTest:
    code: str
    name: str
    genes: tuple[str, ...]
    trigger_drugs: tuple[str, ...]
    clinical_context: str
    source_note: str


def parse_directory(text: str, origin: str = DIRECTORY_FILE) -> tuple[DirectoryTest, ...]:
    rows = [(n, line) for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.startswith("#")]
    if not rows or tuple(rows[0][1].split("\t")) != COLUMNS:
        raise KnowledgeBaseError("test directory header must be: " + ", ".join(COLUMNS),
                                 path=origin, line=rows[0][0] if rows else None)
    out: list[DirectoryTest] = []
    for n, line in rows[1:]:
        cells = line.split("\t")
        if len(cells) != len(COLUMNS) or not all(c.strip() for c in cells[:3]):
            raise KnowledgeBaseError(f"expected {len(COLUMNS)} tab-separated cells",
                                     path=origin, line=n)
        split = [tuple(x.strip() for x in cells[i].split(",") if x.strip() not in ("", "-"))
                 for i in (2, 3)]
        out.append(DirectoryTest(code=cells[0].strip(), name=cells[1].strip(), genes=split[0],
                                 trigger_drugs=tuple(d.lower() for d in split[1]),
                                 clinical_context=cells[4].strip(),
                                 source_note=cells[5].strip()))
    codes = [t.code for t in out]
    if len(set(codes)) != len(codes):
        raise KnowledgeBaseError("duplicate test code in the directory", path=origin)
    return tuple(out)


@functools.lru_cache(maxsize=1)
def directory() -> tuple[DirectoryTest, ...]:
    text = resources.files("pgxguard.service").joinpath("data", DIRECTORY_FILE).read_text(
        encoding="utf-8")
    return parse_directory(text)


def get_test(code: str) -> DirectoryTest:
    for t in directory():
        if t.code.lower() == code.strip().lower():
            return t
    raise ValidationFailedError(f"unknown test code {code!r}",
                                hint="codes: " + ", ".join(t.code for t in directory()))


@functools.lru_cache(maxsize=1)
def _by_trigger_drug() -> dict[str, tuple[DirectoryTest, ...]]:
    out: dict[str, list[DirectoryTest]] = {}
    for t in directory():
        for d in t.trigger_drugs:
            out.setdefault(d, []).append(t)
    return {d: tuple(ts) for d, ts in out.items()}


def prompted_by_drug(drug: str) -> list[DirectoryTest]:
    """Directory tests a prescription of `drug` (generic name) should prompt (a CDS hook asks
    this for every draft medicine: an index, not a scan)."""
    return list(_by_trigger_drug().get(drug.strip().lower(), ()))


def for_missing_genes(drug: str, genes: Iterable[str]) -> list[DirectoryTest]:
    """The tests to suggest when a guideline of `drug` needs `genes` and the result on record
    lacks them: one test covering them all if there is one, else one per gene. Per gene the
    test prompted by `drug` comes first, then a general test (no trigger drugs), then any test
    of the gene (its name and context say what it is for). No genes lacking: no test (every
    test would cover the empty set)."""
    want = list(dict.fromkeys(genes))
    if not want:
        return []
    d = drug.strip().lower()

    def rank(t: DirectoryTest) -> int:
        return 0 if d in t.trigger_drugs else 1 if not t.trigger_drugs else 2

    tests = sorted(directory(), key=rank)
    whole = [t for t in tests if set(want) <= set(t.genes)]
    if whole and rank(whole[0]) < 2:
        return whole[:1]
    out: list[DirectoryTest] = []
    for g in want:
        t = next((t for t in tests if g in t.genes), None)
        if t is not None and t not in out:
            out.append(t)
    return out


__all__ = ["DIRECTORY_SYSTEM", "DirectoryTest", "directory", "for_missing_genes", "get_test",
           "parse_directory", "prompted_by_drug"]
