"""Typed guidance knowledge base: CPIC and DPWG recommendations as published, by lookup key.

A `GuidanceEntry` is one published recommendation (one guideline annotation row) for one drug,
with the patient facts it applies to as `Condition`s (one per gene of its ``lookupKey``; all must
hold). Condition kinds, from the source's own keys:

``lookup``         the gene's lookup key (CPIC's phenotype table: the phenotype, or the activity
                   score as published such as ``1.25`` or ``≥4.0``) or its phenotype is `value`
``no_result``      the gene has no result (not tested, or no call): CPIC's ``No Result``
``allele_status``  HLA: the patient carries allele `value` (``*57:01``) when `positive`, does not
                   when not
``diplotype``      the gene's diplotype is `value` (``*1/*28``, order-free)
``unsupported``    a key pgxguard cannot evaluate from a genotype (DPYD ``(Phenotyping)`` rows,
                   CPIC's ``xN combinations``, HLA-B ``1511 and 1502``): kept, listed, never
                   matched

`label` keeps the source's wording of the key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pgxguard.errors import KnowledgeBaseError
from pgxguard.guidance.model import Action
from pgxguard.kb.model import content_checksum

GUIDANCE_SCHEMA = 2

ConditionKind = Literal["lookup", "no_result", "allele_status", "diplotype", "unsupported"]
EVALUABLE: frozenset[str] = frozenset({"lookup", "no_result", "allele_status", "diplotype"})

_SYNONYMS = {
    "extensive metabolizer": "normal metabolizer",
    "ultra rapid metabolizer": "ultrarapid metabolizer",
}


def norm_phenotype(term: str, gene: str | None = None) -> str:
    """Case-, spelling- and prefix-insensitive phenotype key.

    Lower case; British ``metaboliser`` -> ``metabolizer``; plural -> singular; a leading gene
    symbol is dropped (``G6PD Deficient`` == ``Deficient``); ``Extensive`` == ``Normal``
    Metabolizer; ``Ultra Rapid`` == ``Ultrarapid``.
    """
    t = " ".join(term.strip().lower().split())
    t = t.replace("metaboliser", "metabolizer")
    if t.endswith("metabolizers"):
        t = t[:-1]
    if gene and t.startswith(gene.lower() + " "):
        t = t[len(gene) + 1:]
    return _SYNONYMS.get(t, t)


@dataclass(frozen=True, slots=True)
class Condition:
    gene: str
    kind: ConditionKind
    value: str = ""
    label: str = ""
    positive: bool = True


@dataclass(frozen=True, slots=True)
class GuidanceEntry:
    source: str  # CPIC, DPWG
    drug: str  # lower-case generic name
    conditions: tuple[Condition, ...]
    text: str  # the recommendation's words, verbatim (HTML tags removed)
    text_html: str  # as published
    action: Action
    action_basis: str  # which rule of docs/guidance.md gave `action`
    strength: str | None  # classification: Strong / Moderate / Optional / No recommendation / N/A
    population: str | None
    implications: tuple[str, ...]
    flags: tuple[bool, bool, bool]  # dosingInformation, alternateDrugAvailable, otherPrescribing
    recommendation_id: str
    guideline_id: str
    guideline_name: str
    guideline_url: str
    file: str  # the source file (kb-sources relative path)

    @property
    def genes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.gene for c in self.conditions))


@dataclass(frozen=True, slots=True)
class Guideline:
    """A guideline annotation: also those without structured recommendations (CPIC warfarin)."""

    source: str
    guideline_id: str
    name: str
    url: str
    drugs: tuple[str, ...]
    genes: tuple[str, ...]
    version: str  # the annotation's own version stamp
    file: str
    file_date: str
    recommendations: int


@dataclass(frozen=True, slots=True)
class Message:
    """A curated PharmCAT message shown with a gene result (and drug)."""

    name: str
    gene: str
    drugs: tuple[str, ...]
    diplotypes: tuple[str, ...]  # "A/B" (order-free); empty = any
    alleles: tuple[str, ...]  # haplotypes called; empty = any
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Change:
    """A CPIC change-log entry after the guidance snapshot, for a drug or gene."""

    date: str
    kind: str  # RECOMMENDATION, ALLELE_FUNCTION_REFERENCE, ...
    subject: str
    note: str


@dataclass(frozen=True, slots=True)
class GuidanceSource:
    name: str
    version: str
    licence: str
    url: str
    sha256: str
    provides: str
    commit: str = ""
    date: str = ""
    attribution: str = ""


@dataclass(frozen=True, slots=True)
class GuidanceKB:
    version: str
    sources: tuple[GuidanceSource, ...]
    entries: tuple[GuidanceEntry, ...]
    guidelines: tuple[Guideline, ...] = ()
    messages: tuple[Message, ...] = ()
    changes: tuple[Change, ...] = ()
    snapshot_date: str = ""
    notes: tuple[str, ...] = ()
    _by_drug: dict[str, tuple[GuidanceEntry, ...]] = field(default_factory=dict, repr=False,
                                                            compare=False)

    def __post_init__(self) -> None:
        by: dict[str, list[GuidanceEntry]] = {}
        for e in self.entries:
            by.setdefault(e.drug, []).append(e)
        self._by_drug.clear()
        self._by_drug.update({d: tuple(v) for d, v in by.items()})

    @property
    def drugs(self) -> tuple[str, ...]:
        """Drugs with at least one guideline (with or without structured recommendations)."""
        return tuple(sorted(set(self._by_drug) | {d for g in self.guidelines for d in g.drugs}))

    def for_drug(self, drug: str) -> tuple[GuidanceEntry, ...]:
        return self._by_drug.get(drug.lower(), ())

    def guidelines_for(self, drug: str) -> tuple[Guideline, ...]:
        d = drug.lower()
        return tuple(g for g in self.guidelines if d in g.drugs)

    def changes_for(self, drug: str, genes: tuple[str, ...] = ()) -> tuple[Change, ...]:
        """CPIC changes after the snapshot naming this drug, or the function tables of `genes`."""
        d = drug.lower()
        return tuple(c for c in self.changes
                     if c.subject.lower() == d or (c.subject in genes and c.kind in
                                                   ("ALLELE_FUNCTION_REFERENCE",)))

    def provenance(self) -> dict[str, Any]:
        return {"version": self.version, "snapshot_date": self.snapshot_date,
                "sources": [asdict(s) for s in self.sources]}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schema": GUIDANCE_SCHEMA,
            "version": self.version,
            "snapshot_date": self.snapshot_date,
            "sources": [asdict(s) for s in self.sources],
            "notes": list(self.notes),
            "guidelines": [asdict(g) for g in self.guidelines],
            "messages": [asdict(m) for m in self.messages],
            "changes": [asdict(c) for c in self.changes],
            "entries": [_entry_to_json(e) for e in self.entries],
        }
        body["checksum"] = content_checksum(body)
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any], *, origin: str = "<guidance>") -> GuidanceKB:
        if data.get("schema") != GUIDANCE_SCHEMA:
            raise KnowledgeBaseError(
                f"guidance schema {data.get('schema')!r}, expected {GUIDANCE_SCHEMA}",
                path=origin, hint="rebuild it with `pgxguard kb build`")
        body = {k: v for k, v in data.items() if k != "checksum"}
        if data.get("checksum") != content_checksum(body):
            raise KnowledgeBaseError(
                "guidance checksum mismatch: the snapshot was altered or truncated", path=origin,
                hint="rebuild it with `pgxguard kb build` or reinstall pgxguard")
        try:
            return cls(
                version=data["version"], snapshot_date=data.get("snapshot_date", ""),
                sources=tuple(GuidanceSource(**s) for s in data["sources"]),
                entries=tuple(_entry_from_json(e) for e in data["entries"]),
                guidelines=tuple(Guideline(**{**g, "drugs": tuple(g["drugs"]),
                                              "genes": tuple(g["genes"])})
                                 for g in data.get("guidelines", ())),
                messages=tuple(Message(**{**m, "drugs": tuple(m["drugs"]),
                                          "diplotypes": tuple(m["diplotypes"]),
                                          "alleles": tuple(m["alleles"])})
                               for m in data.get("messages", ())),
                changes=tuple(Change(**c) for c in data.get("changes", ())),
                notes=tuple(data.get("notes", ())))
        except (KeyError, TypeError, ValueError) as e:
            raise KnowledgeBaseError(f"malformed guidance snapshot: {e}", path=origin) from e


def _entry_to_json(e: GuidanceEntry) -> dict[str, Any]:
    d = asdict(e)
    d["action"] = str(e.action)
    d["flags"] = list(e.flags)
    return d


def _entry_from_json(d: dict[str, Any]) -> GuidanceEntry:
    f = d["flags"]
    return GuidanceEntry(**{
        **d,
        "conditions": tuple(Condition(**c) for c in d["conditions"]),
        "action": Action(d["action"]),
        "implications": tuple(d["implications"]),
        "flags": (bool(f[0]), bool(f[1]), bool(f[2])),
    })


__all__ = ["EVALUABLE", "GUIDANCE_SCHEMA", "Change", "Condition", "GuidanceEntry", "GuidanceKB",
           "GuidanceSource", "Guideline", "Message", "norm_phenotype"]
