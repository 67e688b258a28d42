"""Typed guidance knowledge base: recommendations compiled verbatim from pinned sources.

A `GuidanceEntry` is one recommendation of one source for one drug, with the patient facts it
applies to as `Condition`s (one per gene; all must hold). Condition kinds:

``phenotype``   the gene's phenotype term is one of `values` (compared after `norm_phenotype`)
``activity``    the gene's activity score is one of `values` (numbers as text, e.g. ``"1"``)
``allele``      the patient carries allele `values[0]` (``negate``: does not carry it); used for
                HLA ``HLA-B*57:01 positive`` and for carrier rows such as CYP4F2 ``*3``
``diplotype``   the gene's diplotype is one of `values` (``"*1/*3"``, order-free)
``genotype``    the genotype at rsID `rsid` is one of `values` (bases, order-free, e.g. ``"CT"``),
                read from the called diplotype and the allele definitions
``missing``     the source's row for "no result for this gene" (pypgx phenotype ``None``)
``unsupported`` a key pgxguard cannot evaluate from calls (kept, listed, never matched)

`label` keeps the source's own wording of the condition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pgxguard.errors import KnowledgeBaseError
from pgxguard.guidance.model import Action
from pgxguard.kb.model import content_checksum

GUIDANCE_SCHEMA = 1

ConditionKind = Literal["phenotype", "activity", "allele", "diplotype", "genotype", "missing",
                        "unsupported"]
EVALUABLE: frozenset[str] = frozenset({"phenotype", "activity", "allele", "diplotype",
                                        "genotype", "missing"})

_SYNONYMS = {
    "extensive metabolizer": "normal metabolizer",
    "ultra rapid metabolizer": "ultrarapid metabolizer",
}


def norm_phenotype(term: str, gene: str | None = None) -> str:
    """Case-, spelling- and prefix-insensitive phenotype key.

    Lower case; British ``metaboliser`` -> ``metabolizer``; plural ``metabolizers`` -> singular;
    a leading gene symbol is dropped (``G6PD Deficient`` == ``Deficient``); DPWG's older
    ``Extensive Metabolizer`` == ``Normal Metabolizer``; ``Ultra Rapid`` == ``Ultrarapid``.
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
    values: tuple[str, ...] = ()
    label: str = ""
    negate: bool = False
    rsid: str | None = None


@dataclass(frozen=True, slots=True)
class GuidanceEntry:
    source: str  # CPIC, DPWG
    source_version: str  # "pypgx 0.27.0 recommendation-table.csv", "panno 0.3.1 GuidelineMerge"
    drug: str  # lower-case generic name
    conditions: tuple[Condition, ...]
    text: str  # verbatim
    action: Action
    action_basis: str  # how `action` was derived (see build.py rules)
    summary: str | None = None
    guideline_id: str | None = None
    guideline_url: str | None = None
    flags: tuple[int, int, int] | None = None  # panno (Avoid, Alternate, Dosing)
    row: str = ""  # where in the source: table and row id

    @property
    def genes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.gene for c in self.conditions))


@dataclass(frozen=True, slots=True)
class GuidanceSource:
    name: str
    version: str
    licence: str
    url: str
    sha256: str
    provides: str


@dataclass(frozen=True, slots=True)
class GuidanceKB:
    version: str
    sources: tuple[GuidanceSource, ...]
    entries: tuple[GuidanceEntry, ...]
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
        return tuple(sorted(self._by_drug))

    def for_drug(self, drug: str) -> tuple[GuidanceEntry, ...]:
        return self._by_drug.get(drug.lower(), ())

    def provenance(self) -> dict[str, Any]:
        return {"version": self.version, "sources": [asdict(s) for s in self.sources]}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schema": GUIDANCE_SCHEMA,
            "version": self.version,
            "sources": [asdict(s) for s in self.sources],
            "notes": list(self.notes),
            "entries": [_entry_to_json(e) for e in self.entries],
        }
        body["checksum"] = content_checksum(body)
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any], *, origin: str = "<guidance>") -> GuidanceKB:
        if data.get("schema") != GUIDANCE_SCHEMA:
            raise KnowledgeBaseError(
                f"guidance schema {data.get('schema')!r}, expected {GUIDANCE_SCHEMA}",
                path=origin, hint="rebuild it with `python -m pgxguard.guidance.build`")
        body = {k: v for k, v in data.items() if k != "checksum"}
        if data.get("checksum") != content_checksum(body):
            raise KnowledgeBaseError(
                "guidance checksum mismatch: the snapshot was altered or truncated", path=origin,
                hint="rebuild it with `python -m pgxguard.guidance.build` or reinstall pgxguard")
        try:
            return cls(version=data["version"],
                       sources=tuple(GuidanceSource(**s) for s in data["sources"]),
                       entries=tuple(_entry_from_json(e) for e in data["entries"]),
                       notes=tuple(data.get("notes", ())))
        except (KeyError, TypeError, ValueError) as e:
            raise KnowledgeBaseError(f"malformed guidance snapshot: {e}", path=origin) from e


def _entry_to_json(e: GuidanceEntry) -> dict[str, Any]:
    d = asdict(e)
    d["action"] = str(e.action)
    d["flags"] = list(e.flags) if e.flags is not None else None
    return d


def _entry_from_json(d: dict[str, Any]) -> GuidanceEntry:
    flags = d.get("flags")
    return GuidanceEntry(
        source=d["source"], source_version=d["source_version"], drug=d["drug"],
        conditions=tuple(Condition(gene=c["gene"], kind=c["kind"], values=tuple(c["values"]),
                                   label=c.get("label", ""), negate=bool(c.get("negate", False)),
                                   rsid=c.get("rsid"))
                         for c in d["conditions"]),
        text=d["text"], action=Action(d["action"]), action_basis=d["action_basis"],
        summary=d.get("summary"), guideline_id=d.get("guideline_id"),
        guideline_url=d.get("guideline_url"),
        flags=(int(flags[0]), int(flags[1]), int(flags[2])) if flags else None,
        row=d.get("row", ""))


__all__ = ["EVALUABLE", "GUIDANCE_SCHEMA", "Condition", "GuidanceEntry", "GuidanceKB",
           "GuidanceSource", "norm_phenotype"]
