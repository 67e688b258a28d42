"""Typed results of the guidance stage (medication review): what reports and the service read.

Every recommendation carries verbatim source text and its provenance; pgxguard never writes
clinical guidance itself. `ReviewResult.to_json()` / `from_json()` make the stage saveable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

REVIEW_FORMAT = "pgxguard.review/1"


class Action(StrEnum):
    """Action classes, in clinical priority order (most urgent first); docs/guidance.md.

    ``result incomplete``: the patient's result cannot decide the guidance (gene untested, no
    call, indeterminate phenotype, ties that disagree). ``no recommendation``: the guideline
    lists this result but gives no recommendation for it; never read as ``standard``, which
    only a recommendation saying so gives.
    """

    AVOID = "avoid"
    USE_ALTERNATIVE = "use alternative"
    ADJUST_DOSE = "adjust dose"
    MONITOR = "monitor"
    RESULT_INCOMPLETE = "result incomplete"
    NO_RECOMMENDATION = "no recommendation"
    STANDARD = "standard"
    NO_GUIDANCE = "no PGx guidance"
    RESULT_MISSING = "result incomplete"  # former name (alias), kept for stored reviews

    @classmethod
    def _missing_(cls, value: object) -> Action | None:
        return cls.RESULT_INCOMPLETE if value == "result missing" else None

    @property
    def priority(self) -> int:
        return list(Action).index(self)


@dataclass(frozen=True, slots=True)
class Medicine:
    """A medicine as resolved from what the user wrote."""

    query: str  # exactly as written
    name: str  # preferred name (generic, or the product for combinations)
    components: tuple[str, ...]  # generic ingredient names the guidance is keyed on
    atc: tuple[str, ...] = ()
    rxnorm: str | None = None
    dmd: str | None = None  # NHS dm+d VTM/VMP code when known
    matched_by: str = "generic"  # generic | brand | atc | rxnorm | dmd | free text
    mapping_source: str | None = None


@dataclass(frozen=True, slots=True)
class Recommendation:
    source: str  # CPIC, DPWG, ...
    source_version: str  # where the text came from (package and version)
    drug: str
    genes: tuple[str, ...]
    phenotypes: dict[str, str]  # gene -> phenotype the recommendation applies to
    text: str  # verbatim recommendation
    action: Action
    summary: str | None = None  # verbatim guideline summary
    strength: str | None = None  # classification when the source gives one
    guideline_id: str | None = None
    guideline_url: str | None = None
    population: str | None = None  # e.g. "pediatrics", "CBZ naive"; None/"general" for all
    implications: tuple[str, ...] = ()  # verbatim, one per gene
    recommendation_id: str | None = None
    guideline_name: str | None = None
    text_html: str | None = None  # the recommendation exactly as published (HTML)
    action_basis: str | None = None  # which written rule gave `action` (docs/guidance.md)


@dataclass(frozen=True, slots=True)
class MedicineReview:
    medicine: Medicine
    drug: str  # the component this entry is about
    action: Action
    recommendations: tuple[Recommendation, ...] = ()
    # Patient facts the entry rests on: gene -> "diplotype (phenotype)".
    basis: dict[str, str] = field(default_factory=dict)
    missing_genes: tuple[str, ...] = ()
    messages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReviewResult:
    sample: str
    items: tuple[MedicineReview, ...]
    knowledge_base: dict[str, Any] = field(default_factory=dict)
    calls: dict[str, Any] = field(default_factory=dict)  # provenance of the calls reviewed
    tool: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        from dataclasses import asdict

        def item(m: MedicineReview) -> dict[str, Any]:
            d = asdict(m)
            d["action"] = str(m.action)
            d["recommendations"] = [{**asdict(r), "action": str(r.action)}
                                    for r in m.recommendations]
            return d

        return {"format": REVIEW_FORMAT, "sample": self.sample,
                "knowledge_base": self.knowledge_base, "calls": self.calls, "tool": self.tool,
                "options": self.options, "items": [item(m) for m in self.items]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ReviewResult:
        def rec(r: dict[str, Any]) -> Recommendation:
            return Recommendation(**{**r, "action": Action(r["action"]),
                                     "genes": tuple(r["genes"]),
                                     "implications": tuple(r.get("implications", ()))})

        def item(m: dict[str, Any]) -> MedicineReview:
            med = m["medicine"]
            return MedicineReview(
                medicine=Medicine(**{**med, "components": tuple(med["components"]),
                                     "atc": tuple(med.get("atc", ()))}),
                drug=m["drug"], action=Action(m["action"]),
                recommendations=tuple(rec(r) for r in m["recommendations"]),
                basis=dict(m.get("basis", {})), missing_genes=tuple(m.get("missing_genes", ())),
                messages=tuple(m.get("messages", ())))

        return cls(sample=d["sample"], items=tuple(item(m) for m in d["items"]),
                   knowledge_base=d.get("knowledge_base", {}), calls=d.get("calls", {}),
                   tool=d.get("tool", {}), options=d.get("options", {}))


__all__ = ["REVIEW_FORMAT", "Action", "Medicine", "MedicineReview", "Recommendation",
           "ReviewResult"]
