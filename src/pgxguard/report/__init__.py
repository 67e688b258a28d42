"""Reports: clinician HTML, patient summary, JSON, HL7 FHIR R4 Bundle and CDS Hooks cards.

`make_report()` is the library entry point of `pgxguard report`: it calls the VCF (and outside
calls), runs the medication review when medicines are given, and renders one format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pgxguard.call.options import CallOptions
from pgxguard.call.results import CallResult
from pgxguard.errors import InputError

if TYPE_CHECKING:
    from pgxguard.guidance.medicines import parse_medicine_list as parse_meds
    from pgxguard.guidance.model import ReviewResult
    from pgxguard.report.view import PatientIds


def __getattr__(name: str) -> Any:
    """`parse_meds` and `PatientIds`, imported on first use: the CLI registers `pgxguard
    report` from this package, and `pgxguard call` should not load the guidance code for it."""
    if name == "parse_meds":
        from pgxguard.guidance.medicines import parse_medicine_list

        return parse_medicine_list
    if name == "PatientIds":
        from pgxguard.report.view import PatientIds

        return PatientIds
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


REPORT_FORMAT = "pgxguard.report/1"
Fmt = Literal["html", "json", "fhir", "patient"]
FORMATS: tuple[str, ...] = ("html", "json", "fhir", "patient")


def run_review(calls: CallResult, medicines: list[str], sample: str) -> ReviewResult:
    """Call the guidance engine (`pgxguard.guidance.review.review`) for one sample."""
    from pgxguard.guidance.review import review

    return review(calls, medicines, sample=sample)


def render(calls: CallResult, review: ReviewResult | None, sample: str, fmt: str = "html", *,
           generated: datetime | None = None, patient: PatientIds | None = None) -> str:
    """Render calls (+ review) of one sample in one format. `patient` (name, NHS number, date
    of birth) heads every page of the HTML reports; the JSON and FHIR outputs carry the sample
    only (the service's FHIR API links the patient itself)."""
    from pgxguard.report.cards import cds_cards
    from pgxguard.report.fhir import report_bundle
    from pgxguard.report.html import clinician_html, patient_html
    from pgxguard.report.view import pick_sample

    s = pick_sample(calls, sample)
    if fmt == "html":
        return clinician_html(calls, review, s.sample, generated=generated, patient=patient)
    if fmt == "patient":
        return patient_html(calls, review, s.sample, generated=generated, patient=patient)
    if fmt == "fhir":
        return json.dumps(report_bundle(calls, review, s.sample, generated=generated),
                          indent=2, ensure_ascii=False) + "\n"
    if fmt == "json":
        one = CallResult(knowledge_base=calls.knowledge_base, samples=(s,), tool=calls.tool,
                         build=calls.build, options=calls.options, input=calls.input,
                         warnings=calls.warnings)
        doc = {"format": REPORT_FORMAT, "sample": s.sample, "calls": one.to_json(),
               "review": review.to_json() if review is not None else None,
               "cds_cards": cds_cards(review) if review is not None else []}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    raise InputError(f"unknown report format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")


def make_report(input_vcf: str | Path | None,
                outside_calls: str | Path | Sequence[str | Path] | None = None,
                meds: str | Path | Sequence[str | Path] | None = None, sample: str | None = None,
                fmt: str = "html", *, options: CallOptions | None = None,
                generated: datetime | None = None, warnings: list[str] | None = None,
                patient: PatientIds | None = None, **option_fields: Any) -> str:
    """`pgxguard report`: call, review (when medicines are given) and render one sample.

    `options` (and keyword arguments naming its fields: genes, build, assume_reference,
    definitions, outside_format...) as for `pgxguard.call`; `outside_calls` and `sample`, when
    given, replace the options' outside calls and samples. The call's warnings (refused
    outside-call rows, htslib's messages...) are appended to `warnings` when a list is given,
    for the command line to print. `patient`: identifiers printed on every page.
    """
    from pgxguard.call.pipeline import call
    from pgxguard.guidance.medicines import parse_medicine_list as parse_meds
    from pgxguard.report.view import pick_sample

    opts = CallOptions.of(options, **option_fields)
    if outside_calls is not None:
        opts = CallOptions.of(opts, outside_calls=outside_calls)
    if sample:
        opts = CallOptions.of(opts, samples=(sample,))
    if fmt not in FORMATS:
        raise InputError(f"unknown report format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    medicines = parse_meds(meds)
    if meds is not None and not medicines:
        raise InputError("the medication list is empty",
                         hint='pass --meds "clopidogrel, simvastatin" or a file, one a line')
    calls = call(input_vcf, opts)
    if warnings is not None:
        warnings.extend(calls.warnings)
    s = pick_sample(calls, sample)
    review = run_review(calls, medicines, s.sample) if medicines else None
    return render(calls, review, s.sample, fmt, generated=generated, patient=patient)


__all__ = ["FORMATS", "REPORT_FORMAT", "PatientIds", "make_report", "parse_meds", "render",
           "run_review"]
