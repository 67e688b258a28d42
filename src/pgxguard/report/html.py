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
from markupsafe import Markup

from pgxguard.call.results import CallResult
from pgxguard.guidance.model import Action, MedicineReview, Recommendation, ReviewResult
from pgxguard.report.view import (
    ACTION_SLUG,
    ACTIONABLE,
    PatientIds,
    basis_text,
    first_sentence,
    gene_row,
    phenotype_text,
    pick_sample,
    positions_span,
    provenance,
    result_text,
    sorted_items,
    source_label,
)
from pgxguard.report.vocabulary import vocabulary

# Where the report was not made by the laboratory service, nobody has signed it off: say so on
# every page rather than print nothing (a blank reads as "authorised").
NOT_SIGNED = "Not signed off: made with the pgxguard command line, not authorised by a laboratory"
# A list of missing positions up to this long prints in full; longer ones print as a span
# (count and chromosome range) and stay listed in full on screen and in the JSON report.
PRINT_POSITIONS_MAX = 4

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
                       result_text=result_text, first_sentence=first_sentence,
                       positions_span=positions_span, css_string=css_string,
                       print_positions_max=PRINT_POSITIONS_MAX)
    return env


def css_string(text: str) -> Markup:
    """A CSS string literal (for `@page` running headers): every character that is not a
    letter, digit or plain punctuation is a CSS escape, so no text can end the string or the
    `<style>` element (inside which HTML entities are not decoded)."""
    safe = " .,:;-/()*+_'"
    body = "".join(c if (c.isascii() and c.isalnum()) or c in safe else f"\\{ord(c):x} "
                   for c in text)
    return Markup(f'"{body}"')


def headline(item: MedicineReview) -> Recommendation | None:
    """The recommendation the summary quotes for a medicine: the first whose action class is
    the medicine's (the one that decided it), else the first."""
    for r in item.recommendations:
        if r.action is item.action:
            return r
    return item.recommendations[0] if item.recommendations else None


def differing(item: MedicineReview) -> list[tuple[str, str]]:
    """Sources none of whose recommendations has the medicine's action class, with the classes
    they do give ("DPWG", "adjust dose"): a disagreement the summary must not hide."""
    by_source: dict[str, list[str]] = {}
    for r in item.recommendations:
        by_source.setdefault(r.source, []).append(r.action.value)
    return [(src, ", ".join(dict.fromkeys(acts))) for src, acts in by_source.items()
            if item.action.value not in acts]


def patient_line(patient: PatientIds | None, sample: str) -> list[tuple[str, str]]:
    """The identifiers printed on every page, labelled; the sample always."""
    out: list[tuple[str, str]] = []
    if patient is not None:
        if patient.name:
            out.append(("Name", patient.name))
        nhs = patient.nhs_display()
        if nhs:
            out.append(("NHS number", nhs))
        if patient.birth_date:
            out.append(("Date of birth", patient.birth_date))
    out.append(("Sample", sample))
    return out


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
                   generated: datetime | None = None, status: str | None = None,
                   patient: PatientIds | None = None) -> str:
    """The laboratory / clinician report: a one-page summary, then the medication review,
    calls and uncertainty, and an appendix of position-level evidence and sources.
    `status`: the service's sign-off state ("Authorised by ..." or a provisional notice);
    None for a report made outside the service, which then says it is not signed off.
    `patient`: name, NHS number and date of birth where known; with the sample and the status
    they head every printed page."""
    ctx = _context(calls, review, sample, generated)
    items = ctx["items"]
    ids = patient_line(patient, sample)
    ctx.update({
        "status": status,
        "status_text": status or NOT_SIGNED,
        "ids": ids,
        "running_left": "  |  ".join(f"{k}: {v}" for k, v in ids),
        "act_items": [m for m in items if m.action in ACTIONABLE],
        "incomplete": [m for m in items if m.action is Action.RESULT_INCOMPLETE],
        "no_rec": [m for m in items if m.action is Action.NO_RECOMMENDATION],
        "unchanged": [m for m in items if m.action is Action.STANDARD],
        "no_guidance": [m for m in items if m.action is Action.NO_GUIDANCE],
        "headline": headline,
        "differing": differing,
        "with_missing": [r for r in ctx["rows"] if r.missing_positions],
    })
    return _env().get_template("clinician.html.j2").render(ctx)


def review_html(review: ReviewResult, *, generated: datetime | None = None) -> str:
    """The medication review alone (for `pgxguard review --format html`)."""
    return _env().get_template("review.html.j2").render(
        _context(None, review, review.sample, generated))


def _item_genes(item: MedicineReview) -> list[str]:
    genes = list(item.basis) + list(item.missing_genes)
    for r in item.recommendations:
        genes += [g for g in r.genes if g not in genes]
    return genes


def patient_html(calls: CallResult, review: ReviewResult | None, sample: str, *,
                 generated: datetime | None = None, patient: PatientIds | None = None,
                 clinician_report: str | None = None) -> str:
    """Plain-English summary for the patient: every gene with a result, and each medicine,
    most urgent first, with one sentence from the reviewed vocabulary for its action class
    (`data/patient-vocabulary.tsv`). No guideline text: that is in the clinician report,
    linked when `clinician_report` (an address) is given."""
    ctx = _context(calls, review, sample, generated)
    vocab = vocabulary()
    groups: list[dict[str, Any]] = []
    for action in Action:
        members = [m for m in ctx["items"] if m.action is action]
        if members:
            groups.append({"action": action, "items": [
                {"item": m, "sentence": vocab.sentence(action, _item_genes(m))}
                for m in members]})
    ctx.update({
        "groups": groups,
        "vocab_version": vocab.version,
        "ids": patient_line(patient, sample),
        "clinician_report": clinician_report,
        "sv_genes": [r for r in ctx["rows"] if r.not_assessed],
    })
    return _env().get_template("patient.html.j2").render(ctx)


__all__ = ["DISCLAIMER", "NOT_SIGNED", "clinician_html", "css_string", "differing", "headline",
           "patient_html", "review_html"]
