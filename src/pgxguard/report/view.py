"""Presentation helpers shared by the HTML, FHIR and CDS Hooks writers.

Everything here is a re-arrangement of structured fields (calls, review items); nothing adds
clinical meaning. The helpers are pure functions so every output format shows the same facts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pgxguard.call.results import CallResult, GeneCall, SampleCall
from pgxguard.guidance.model import Action, MedicineReview, Recommendation, ReviewResult

# CSS class (and stable test hook) per action class.
ACTION_SLUG: dict[Action, str] = {
    Action.AVOID: "avoid",
    Action.USE_ALTERNATIVE: "alternative",
    Action.ADJUST_DOSE: "dose",
    Action.MONITOR: "monitor",
    Action.RESULT_MISSING: "missing",
    Action.STANDARD: "standard",
    Action.NO_GUIDANCE: "none",
}

# Classes a clinician must act on (cards, "results that may affect your medicines").
ACTIONABLE: frozenset[Action] = frozenset(
    {Action.AVOID, Action.USE_ALTERNATIVE, Action.ADJUST_DOSE, Action.MONITOR})


@dataclass(frozen=True, slots=True)
class GeneRow:
    """One gene as every report shows it."""

    gene: str
    called: bool
    diplotypes: tuple[str, ...]  # "*1/*2" each; ties: several, best first
    tied: bool
    tie_phenotypes: tuple[str | None, ...]  # per tied diplotype when they disagree
    variants: tuple[str, ...]
    phenotype: str | None
    activity_score: str | None
    missing_positions: tuple[str, ...]
    not_assessed: tuple[str, ...]
    source: str
    phased: bool
    warnings: tuple[str, ...]
    alleles: tuple[tuple[str, ...], ...] = ()  # the diplotypes as allele-name tuples
    origin: str | None = None  # the outside caller and version ("Cyrius 1.1.1"), if any


def diplotype_str(d: Iterable[str]) -> str:
    return "/".join(d)


def format_score(x: float | None) -> str | None:
    return None if x is None else f"{x:g}"


def gene_row(g: GeneCall) -> GeneRow:
    dips = tuple(diplotype_str(d) for d in g.diplotypes)
    return GeneRow(
        gene=g.gene, called=g.called, diplotypes=dips, tied=len(dips) > 1,
        tie_phenotypes=tuple(g.phenotypes) if len(dips) > 1 else (),
        variants=tuple(g.variants), phenotype=g.phenotype,
        activity_score=format_score(g.activity_score),
        missing_positions=tuple(g.missing_positions), not_assessed=tuple(g.not_assessed),
        source=g.source, phased=g.phased, warnings=tuple(g.warnings),
        alleles=tuple(tuple(d) for d in g.diplotypes), origin=g.origin_label())


def result_text(row: GeneRow) -> str:
    """The call in one line: diplotypes (ties joined by ' | ') or the variants found."""
    if row.diplotypes:
        return " | ".join(row.diplotypes)
    if row.variants:
        return "variants: " + ", ".join(row.variants)
    return "no call"


def pick_sample(calls: CallResult, sample: str | None) -> SampleCall:
    from pgxguard.errors import SampleError

    if sample is None:
        if len(calls.samples) == 1:
            return calls.samples[0]
        names = ", ".join(s.sample for s in calls.samples[:10]) or "none"
        raise SampleError(f"the calls hold {len(calls.samples)} samples ({names})",
                          hint="choose one with --sample")
    try:
        return calls.sample(sample)
    except KeyError:
        names = ", ".join(s.sample for s in calls.samples[:10]) or "none"
        raise SampleError(f"sample {sample!r} is not in the calls",
                          hint=f"samples present: {names}") from None


def sorted_items(review: ReviewResult) -> list[MedicineReview]:
    """Review items by clinical priority (stable: the engine's order within a class)."""
    return sorted(review.items, key=lambda m: m.action.priority)


def source_label(rec: Recommendation) -> str:
    """'CPIC' / 'DPWG' plus the version the text came from."""
    return f"{rec.source} ({rec.source_version})" if rec.source_version else rec.source


def phenotype_text(rec: Recommendation) -> str:
    """'CYP2C19 Poor Metabolizer; ...' (no doubled gene when the term already names it)."""
    return "; ".join(p if p.startswith(g) else f"{g} {p}" for g, p in rec.phenotypes.items())


def guidance_kb(review: ReviewResult) -> dict[str, Any]:
    """The guidance knowledge base of a review: `{"guidance": {...}, "alleles": {...}}` as the
    engine writes it, or a flat `{"version", "sources"}`."""
    kb = review.knowledge_base or {}
    inner = kb.get("guidance")
    return dict(inner) if isinstance(inner, dict) else dict(kb)


def basis_text(item: MedicineReview) -> str:
    return "; ".join(f"{g}: {b}" for g, b in item.basis.items())


def provenance(calls: CallResult | None, review: ReviewResult | None) -> dict[str, Any]:
    """Knowledge base, tool, build and options of the calls and the review, for every format."""
    kb = (calls.knowledge_base if calls is not None else None) or \
        (review.knowledge_base.get("alleles") if review is not None else None) or \
        (guidance_kb(review) if review is not None else {}) or {}
    out: dict[str, Any] = {
        "kb_version": kb.get("version"),
        "sources": list(kb.get("sources", [])),
        "tool": (calls.tool if calls is not None else None)
        or (review.tool if review is not None else {}) or {},
        "build": calls.build if calls is not None else None,
        "options": dict(calls.options) if calls is not None else {},
        "input": dict(calls.input) if calls is not None else {},
        "call_warnings": list(calls.warnings) if calls is not None else [],
        "limits": list(kb.get("limits", [])),
    }
    if review is not None:
        rkb = guidance_kb(review)
        out["review_kb_version"] = rkb.get("version")
        out["review_sources"] = list(rkb.get("sources", []))
        out["review_options"] = dict(review.options)
        out["review_tool"] = dict(review.tool)
    seen: list[Any] = []
    keys: set[Any] = set()
    for src in out["sources"] + out.get("review_sources", []):
        # the allele and the guidance knowledge bases both list files they share (pypgx):
        # one row per file and version, whatever else (attribution, date) each recorded
        key = (src.get("name"), src.get("version"), src.get("sha256")) \
            if isinstance(src, dict) else src
        if key not in keys:
            keys.add(key)
            seen.append(src)
    out["all_sources"] = seen
    out["source_groups"] = source_groups(seen)
    out["attributions"] = list(dict.fromkeys(
        s.get("attribution") for s in seen if isinstance(s, dict) and s.get("attribution")))
    return out


def source_groups(sources: Iterable[Any]) -> list[dict[str, Any]]:
    """Source files grouped by folder, version and licence ("pharmcat/guidelines", 118 files,
    2024-05-29 30f8cfb7b3): the printed report lists groups, the screen every file."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for s in sources:
        if not isinstance(s, dict):
            s = {"name": str(s)}
        name = str(s.get("name", ""))
        folder = name.rsplit("/", 1)[0] if "/" in name else name
        lic = str(s.get("licence", s.get("license", "")) or "")
        key = (folder, str(s.get("version", "") or ""), lic)
        g = groups.setdefault(key, {"group": folder, "version": key[1], "licence": lic,
                                    "url": s.get("url", s.get("path", "")) or "", "files": 0})
        g["files"] += 1
    return list(groups.values())


@dataclass(frozen=True, slots=True)
class PatientIds:
    """Who a report is about, as the requester knows them; every field optional (a report made
    from a VCF alone has only the sample name). Printed on every page of the report."""

    name: str | None = None
    nhs_number: str | None = None
    birth_date: str | None = None  # as given (ISO 8601 from the service)

    def nhs_display(self) -> str | None:
        """NHS number grouped 3-3-4 as the NHS prints it ("943 476 5919")."""
        n = re.sub(r"\s+", "", self.nhs_number or "")
        if len(n) == 10 and n.isdigit():
            return f"{n[:3]} {n[3:6]} {n[6:]}"
        return self.nhs_number or None


_SENTENCE_END = re.compile(r"[.!?](?=\s+(?:[A-Z(\d]|$))|[.!?]$")


def first_sentence(text: str, limit: int = 200) -> tuple[str, bool]:
    """The opening of a verbatim text for a one-line summary: its first sentence, or its first
    words up to `limit` characters. A prefix of the source text, never a rewording; the flag
    says whether anything was left out (the template then marks the cut and points to the
    full text)."""
    text = " ".join(text.split())
    m = _SENTENCE_END.search(text)
    head = text[: m.end()] if m else text
    if len(head) > limit:
        cut = head[:limit].rsplit(" ", 1)[0]
        head = cut if cut else head[:limit]
    return head, len(head) < len(text)


_POS = re.compile(r"^(chr[^:\s]+):(\d+)")


def positions_span(positions: Iterable[str]) -> str:
    """'chr19:38433867-38595848' for a list of 'chrN:POS ...' positions (one chromosome), or
    the chromosomes and counts when they span several: a compact print form of a long list."""
    by_chrom: dict[str, list[int]] = {}
    other = 0
    for p in positions:
        m = _POS.match(p)
        if m:
            by_chrom.setdefault(m.group(1), []).append(int(m.group(2)))
        else:
            other += 1
    parts = [f"{c}:{min(v)}-{max(v)}" if len(v) > 1 else f"{c}:{v[0]}"
             for c, v in by_chrom.items()]
    if other:
        parts.append(f"{other} other")
    return ", ".join(parts)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#+\-!|~])")


def markdown_escape(text: str) -> str:
    """Backslash-escape Markdown punctuation so verbatim text (allele names like *2) is shown
    as written, not as emphasis."""
    return _MD_SPECIAL.sub(r"\\\1", text)


__all__ = ["ACTIONABLE", "ACTION_SLUG", "GeneRow", "PatientIds", "basis_text", "diplotype_str",
           "first_sentence", "gene_row", "guidance_kb", "markdown_escape", "phenotype_text",
           "pick_sample", "positions_span", "provenance", "result_text", "sorted_items",
           "source_groups", "source_label"]
