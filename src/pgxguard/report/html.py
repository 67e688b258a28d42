"""Self-contained HTML reports (Jinja2, autoescaped): clinician report, review, patient summary.

The pages carry their CSS inline and load nothing from anywhere, so a saved file opens and prints
(A4) the same on any machine. All text is structured fields, verbatim source text or fixed
labels; the templates never compose clinical statements of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import jinja2

from pgxguard.call.results import CallResult
from pgxguard.guidance.model import Action, ReviewResult
from pgxguard.report.view import (
    ACTION_SLUG,
    ACTIONABLE,
    basis_text,
    gene_row,
    phenotype_text,
    pick_sample,
    provenance,
    result_text,
    sorted_items,
    source_label,
)

DISCLAIMER = (
    "This report was produced by software from the genotype data and knowledge-base versions "
    "listed below. It shows only the positions and named alleles in those definitions: an "
    "allele not defined there, a position listed as missing, or a structural variant listed as "
    "not assessed cannot be detected, and the true diplotype may differ. Guideline text is "
    "reproduced verbatim from the source named beside it; pgxguard adds no clinical advice. "
    "Results must be interpreted by a qualified professional together with the patient's "
    "clinical picture, other medicines and the current version of the guideline."
)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pgxguard.report", "templates"),
        autoescape=True,  # every template, whatever its name: allele names can hold '<'
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(action_slug=lambda a: ACTION_SLUG[Action(a)], source_label=source_label,
                       phenotype_text=phenotype_text, basis_text=basis_text,
                       result_text=result_text)
    return env


def _now(generated: datetime | None) -> str:
    return (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")


def _context(calls: CallResult | None, review: ReviewResult | None, sample: str,
             generated: datetime | None) -> dict[str, Any]:
    rows = []
    if calls is not None:
        rows = [gene_row(g) for g in pick_sample(calls, sample).genes]
    items = sorted_items(review) if review is not None else []
    return {
        "sample": sample,
        "generated": _now(generated),
        "called": [r for r in rows if r.called],
        "uncalled": [r for r in rows if not r.called],
        "rows": rows,
        "items": items,
        "review": review,
        "prov": provenance(calls, review),
        "disclaimer": DISCLAIMER,
        "Action": Action,
        "actionable": ACTIONABLE,
    }


def clinician_html(calls: CallResult, review: ReviewResult | None, sample: str, *,
                   generated: datetime | None = None, status: str | None = None) -> str:
    """The laboratory / clinician report: calls, uncertainty, medication review, provenance.
    `status`: the service's sign-off state ("Authorised by ..." or a provisional notice),
    printed at the top; None for a report made outside the service."""
    return _env().get_template("clinician.html.j2").render(
        {**_context(calls, review, sample, generated), "status": status})


def review_html(review: ReviewResult, *, generated: datetime | None = None) -> str:
    """The medication review alone (for `pgxguard review --format html`)."""
    return _env().get_template("review.html.j2").render(
        _context(None, review, review.sample, generated))


def patient_html(calls: CallResult, review: ReviewResult | None, sample: str, *,
                 generated: datetime | None = None) -> str:
    """Plain-English summary built from fixed sentences, structured fields and source text."""
    ctx = _context(calls, review, sample, generated)
    items = ctx["items"]
    ctx["affecting"] = [m for m in items if m.action in ACTIONABLE]
    ctx["missing"] = [m for m in items if m.action is Action.RESULT_MISSING]
    ctx["unchanged"] = [m for m in items if m.action is Action.STANDARD]
    ctx["no_guidance"] = [m for m in items if m.action is Action.NO_GUIDANCE]
    ctx["with_phenotype"] = [r for r in ctx["called"] if r.phenotype]
    ctx["sv_genes"] = [r for r in ctx["rows"] if r.not_assessed]
    return _env().get_template("patient.html.j2").render(ctx)


__all__ = ["DISCLAIMER", "clinician_html", "patient_html", "review_html"]
