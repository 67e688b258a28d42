"""CDS Hooks 2.0 cards for the actionable findings of a medication review.

One card per medicine (review item) whose action class is avoid / use alternative / adjust dose
/ monitor, holding every source's recommendations (CPIC and DPWG) and, when the sources give
different action classes, a line saying so and which one the card's indicator follows (the
more cautious). A "result incomplete" item gives one card naming the genes missing; its test
suggestions come from the caller (`suggest`), which knows the patient and the test directory,
so a suggested FHIR ServiceRequest is complete (`subject`, coded test). `standard` and `no PGx
guidance` items give no card. Recommendation texts are verbatim (Markdown-escaped so allele
names such as `*2` are not read as emphasis); `summary` is built only from the drug, the action
class and the gene phenotypes, cut to fewer than 140 characters. `uuid` is a uuid5 of the
card's content, so the same review gives the same cards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from pgxguard.guidance.model import Action, MedicineReview, Recommendation, ReviewResult
from pgxguard.guidance.review import NO_RESULT_BASIS
from pgxguard.report.view import (
    ACTIONABLE,
    guidance_kb,
    markdown_escape,
    phenotype_text,
    sorted_items,
)

INDICATOR: dict[Action, str] = {
    Action.AVOID: "critical",
    Action.USE_ALTERNATIVE: "critical",
    Action.ADJUST_DOSE: "warning",
    Action.MONITOR: "warning",
    Action.RESULT_INCOMPLETE: "warning",
    Action.NO_RECOMMENDATION: "info",
    Action.STANDARD: "info",
    Action.NO_GUIDANCE: "info",
}
SUMMARY_MAX = 139  # CDS Hooks: "<140 characters"
_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/pgxguard/cds-hooks")
# The engine's own "CPIC and DPWG differ" message: the card states the difference itself.
_ENGINE_DIFFER = "CPIC and DPWG differ:"

Suggest = Callable[[MedicineReview], list[dict[str, Any]]]


def _cut(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _with_uuid(card: dict[str, Any]) -> dict[str, Any]:
    key = json.dumps(card, sort_keys=True, ensure_ascii=False)
    return {"uuid": str(uuid.uuid5(_NS, key)), **card}


def _basis_md(item: MedicineReview) -> list[str]:
    return [f"- {markdown_escape(g)}: {markdown_escape(b)}" for g, b in item.basis.items()]


def source_actions(item: MedicineReview) -> dict[str, Action]:
    """The most cautious action class each source gives this patient (a source whose matching
    entries all say "no recommendation" counts as no recommendation)."""
    out: dict[str, Action] = {}
    for r in item.recommendations:
        cur = out.get(r.source)
        if (cur is None or cur is Action.NO_RECOMMENDATION
                or (r.action is not Action.NO_RECOMMENDATION and r.action.priority < cur.priority)):
            out[r.source] = r.action
    return out


def disagreement(item: MedicineReview) -> str | None:
    """'CPIC: avoid; DPWG: adjust dose' when the sources give different action classes."""
    acts = source_actions(item)
    if len(set(acts.values())) < 2:
        return None
    return "; ".join(f"{s}: {a}" for s, a in sorted(acts.items()))


def _rec_block(rec: Recommendation) -> list[str]:
    head = f"**{markdown_escape(rec.source)}** ({markdown_escape(rec.source_version)})"
    if rec.population and rec.population.lower() != "general":
        head += f", population {markdown_escape(rec.population)}"
    lines = [f"{head}: _{rec.action}_", "", markdown_escape(rec.text)]
    if rec.strength:
        lines.append(f"Strength: {markdown_escape(rec.strength)}")
    return lines


def _medicine_card(item: MedicineReview) -> dict[str, Any]:
    deciding = min(item.recommendations, key=lambda r: r.action.priority, default=None)
    pheno = ((phenotype_text(deciding) if deciding is not None else "")
             or "; ".join(f"{g} {b}" for g, b in item.basis.items()))
    differ = disagreement(item)
    sources = list(dict.fromkeys(r.source for r in item.recommendations))
    summary = f"{item.drug}: {item.action}"
    if differ:
        summary += f" ({' and '.join(sources)} differ)"
    summary = _cut(summary + (f" – {pheno}" if pheno else ""))
    lines: list[str] = []
    if differ:
        lines += [f"**{' and '.join(sources)} differ:** {markdown_escape(differ)}. The card "
                  f"follows the more cautious ({item.action}).", ""]
    for rec in item.recommendations:
        lines += [*_rec_block(rec), ""]
    if item.basis:
        lines += ["**Based on:**", *_basis_md(item)]
    msgs = [m for m in item.messages if not m.startswith(_ENGINE_DIFFER)]
    if msgs:
        lines += ["", *(f"- {markdown_escape(m)}" for m in msgs)]
    labels = list(dict.fromkeys(f"{r.source} {r.source_version}".strip()
                                for r in item.recommendations))
    card: dict[str, Any] = {
        "summary": summary,
        "indicator": INDICATOR[item.action],
        "detail": "\n".join(lines).strip(),
        "source": {"label": "; ".join(labels)},
    }
    if deciding is not None and deciding.guideline_url:
        card["source"]["url"] = deciding.guideline_url
    links = list(dict.fromkeys((r.source, r.guideline_url) for r in item.recommendations
                               if r.guideline_url))
    if links:
        card["links"] = [{"label": f"{s} guideline", "url": u, "type": "absolute"}
                         for s, u in links]
    return _with_uuid(card)


def _missing_card(item: MedicineReview, kb_label: str,
                  suggest: Suggest | None) -> dict[str, Any]:
    genes = list(item.missing_genes) or ["a required gene"]
    summary = _cut(f"{item.drug}: result incomplete for {', '.join(genes)} – see details")
    # "No result" only for a gene without one: the messages say why a result on record cannot
    # be used (results that disagree, an indeterminate phenotype, ties)
    lines = [f"No result for {markdown_escape(g)}." for g in item.missing_genes
             if item.basis.get(g, NO_RESULT_BASIS) == NO_RESULT_BASIS]
    lines += [markdown_escape(m) for m in item.messages]
    if item.basis:
        lines += ["", "**Results on record:**", *_basis_md(item)]
    for rec in item.recommendations:
        lines += ["", *_rec_block(rec)]
    card: dict[str, Any] = {
        "summary": summary,
        "indicator": INDICATOR[Action.RESULT_INCOMPLETE],
        "detail": "\n".join(lines),
        "source": {"label": kb_label},
    }
    suggestions = suggest(item) if suggest is not None else []
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "at-most-one"
    return _with_uuid(card)


def cds_cards(review: ReviewResult, *, suggest: Suggest | None = None) -> list[dict[str, Any]]:
    """CDS Hooks 2.0 cards (JSON-ready dicts), one per medicine, most urgent first.

    `suggest(item)` gives the suggestions of a "result incomplete" card (none without it: a
    report has no patient to order for)."""
    kb = guidance_kb(review).get("version")
    kb_label = f"pgxguard knowledge base {kb}" if kb else "pgxguard"
    cards: list[dict[str, Any]] = []
    for item in sorted_items(review):
        if item.action in ACTIONABLE:
            cards.append(_medicine_card(item))
        elif item.action is Action.RESULT_INCOMPLETE:
            cards.append(_missing_card(item, kb_label, suggest))
    return cards


__all__ = ["INDICATOR", "SUMMARY_MAX", "Suggest", "cds_cards", "disagreement", "source_actions"]
