"""Plain renderings of a `ReviewResult` (JSON, text) and the CLI's single library call."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pgxguard.errors import InputError
from pgxguard.guidance.model import ReviewResult


def review_json(result: ReviewResult) -> str:
    return json.dumps(result.to_json(), indent=2, ensure_ascii=False) + "\n"


def review_text(result: ReviewResult) -> str:
    """A short, prioritised plain-text list; recommendation text verbatim with its source."""
    lines = [f"Medication review for {result.sample}",
             f"guidance: {result.knowledge_base.get('guidance', {}).get('version', '?')}", ""]
    for item in result.items:
        med = item.medicine
        name = med.name if med.name == item.drug else f"{med.name} ({item.drug})"
        lines.append(f"[{item.action.value.upper()}] {name}   (as written: {med.query})")
        for gene, fact in item.basis.items():
            lines.append(f"    {gene}: {fact}")
        for m in item.messages:
            lines.append(f"    ! {m}")
        for r in item.recommendations:
            keys = ", ".join(f"{g} {p}" for g, p in r.phenotypes.items())
            ref = f" {r.guideline_url}" if r.guideline_url else ""
            lines.append(f"    {r.source} [{r.action.value}] for {keys}:{ref}")
            lines.extend(f"      {t}" for t in r.text.splitlines())
        lines.append("")
    return "\n".join(lines)


def render_review(result: ReviewResult, fmt: str) -> str:
    if fmt == "json":
        return review_json(result)
    if fmt == "text":
        return review_text(result)
    if fmt == "html":
        from pgxguard.report.html import review_html

        return review_html(result)
    if fmt == "fhir":
        from pgxguard.report.fhir import review_bundle

        return json.dumps(review_bundle(result), indent=2) + "\n"
    raise InputError(f"unknown format {fmt!r}", hint="use json, text, html or fhir")


def review_from_cli(calls: Path, meds: str | Sequence[str] | None, *, sample: str | None,
                    all_drugs: bool, fmt: str) -> str:
    from pgxguard.call.results import CallResult
    from pgxguard.guidance.medicines import parse_medicine_list
    from pgxguard.guidance.review import review

    result = review(CallResult.load(calls), parse_medicine_list(meds), sample=sample,
                    all_drugs=all_drugs)
    return render_review(result, fmt)


__all__ = ["render_review", "review_from_cli", "review_json", "review_text"]
