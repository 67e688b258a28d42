"""CDS Hooks 2.0 cards for the actionable findings of a medication review.

One card per recommendation of an item whose action class is avoid / use alternative / adjust
dose / monitor (CPIC and DPWG each get their own card, as a card has one source), and one card
suggesting a test for each "result incomplete" item. `standard` and `no PGx guidance` items give no
card. The card `detail` is the verbatim recommendation (Markdown-escaped so allele names such as
`*2` are not read as emphasis), then labelled facts from the review; `summary` is built only from
the drug, the action class and the gene phenotypes, cut to fewer than 140 characters.
`uuid` is a uuid5 of the card's content, so the same review gives the same cards.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pgxguard.guidance.model import Action, MedicineReview, Recommendation, ReviewResult
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


def _cut(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _with_uuid(card: dict[str, Any]) -> dict[str, Any]:
    key = json.dumps(card, sort_keys=True, ensure_ascii=False)
    return {"uuid": str(uuid.uuid5(_NS, key)), **card}


def _basis_md(item: MedicineReview) -> list[str]:
    return [f"- {markdown_escape(g)}: {markdown_escape(b)}" for g, b in item.basis.items()]


def _rec_card(item: MedicineReview, rec: Recommendation) -> dict[str, Any]:
    pheno = phenotype_text(rec) or "; ".join(f"{g} {b}" for g, b in item.basis.items())
    summary = _cut(f"{item.drug}: {rec.action}" + (f" ({pheno})" if pheno else ""))
    lines = [markdown_escape(rec.text), ""]
    lines.append(f"**Source:** {markdown_escape(rec.source)} "
                 f"({markdown_escape(rec.source_version)})")
    if rec.strength:
        lines.append(f"**Strength:** {markdown_escape(rec.strength)}")
    if rec.population:
        lines.append(f"**Population:** {markdown_escape(rec.population)}")
    if item.basis:
        lines += ["", "**Based on:**", *_basis_md(item)]
    if item.messages:
        lines += ["", *(f"- {markdown_escape(m)}" for m in item.messages)]
    card: dict[str, Any] = {
        "summary": summary,
        "indicator": INDICATOR[rec.action if rec.action in INDICATOR else item.action],
        "detail": "\n".join(lines),
        "source": {"label": f"{rec.source} {rec.source_version}".strip()},
    }
    if rec.guideline_url:
        card["source"]["url"] = rec.guideline_url
        card["links"] = [{"label": f"{rec.source} guideline", "url": rec.guideline_url,
                          "type": "absolute"}]
    return _with_uuid(card)


def _missing_card(item: MedicineReview, kb_label: str) -> dict[str, Any]:
    genes = list(item.missing_genes) or ["a required gene"]
    summary = _cut(f"{item.drug}: result incomplete for {', '.join(genes)} – see details")
    lines = [f"No result for {markdown_escape(g)}." for g in item.missing_genes]
    lines += [markdown_escape(m) for m in item.messages]
    if item.basis:
        lines += ["", "**Results on record:**", *_basis_md(item)]
    for rec in item.recommendations:
        lines += ["", f"**{markdown_escape(rec.source)}** ({markdown_escape(rec.source_version)}):",
                  markdown_escape(rec.text)]
    suggestions = [{
        "label": f"Order {g} pharmacogenomic test",
        "uuid": str(uuid.uuid5(_NS, f"suggest|{item.medicine.query}|{item.drug}|{g}")),
        "actions": [{
            "type": "create",
            "description": f"Order {g} genotyping",
            "resource": {"resourceType": "ServiceRequest", "status": "draft",
                         "intent": "proposal", "code": {"text": f"{g} genotyping"}},
        }],
    } for g in item.missing_genes]
    card: dict[str, Any] = {
        "summary": summary,
        "indicator": INDICATOR[Action.RESULT_MISSING],
        "detail": "\n".join(lines),
        "source": {"label": kb_label},
    }
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "any"
    return _with_uuid(card)


def cds_cards(review: ReviewResult) -> list[dict[str, Any]]:
    """CDS Hooks 2.0 cards (JSON-ready dicts), most urgent first."""
    kb = guidance_kb(review).get("version")
    kb_label = f"pgxguard knowledge base {kb}" if kb else "pgxguard"
    cards: list[dict[str, Any]] = []
    for item in sorted_items(review):
        if item.action in ACTIONABLE:
            cards.extend(_rec_card(item, r) for r in item.recommendations
                         if r.action in ACTIONABLE or r.action is item.action)
        elif item.action is Action.RESULT_MISSING:
            cards.append(_missing_card(item, kb_label))
    return cards


__all__ = ["INDICATOR", "SUMMARY_MAX", "cds_cards"]
