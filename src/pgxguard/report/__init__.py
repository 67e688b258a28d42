"""Reports: clinician HTML, patient summary, JSON, HL7 FHIR R4 Bundle and CDS Hooks cards.

`make_report()` is the library entry point of `pgxguard report`: it calls the VCF (and outside
calls), runs the medication review when medicines are given, and renders one format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

from pgxguard.errors import InputError
from pgxguard.guidance.model import ReviewResult
from pgxguard.results import CallResult

REPORT_FORMAT = "pgxguard.report/1"
Fmt = Literal["html", "json", "fhir", "patient"]
FORMATS: tuple[str, ...] = ("html", "json", "fhir", "patient")


def parse_meds(meds: str | Path | Sequence[str] | None) -> list[str]:
    """Medicines as given: a file (one a line, '#' comments), a "a, b, c" string, or a list
    whose elements are either."""
    if meds is None:
        return []
    values = [meds] if isinstance(meds, str | Path) else list(meds)
    out: list[str] = []
    for v in values:
        p = Path(v)
        text = str(v)
        if isinstance(v, Path) or (len(text) < 4096 and "\n" not in text and p.is_file()):
            try:
                lines = p.read_text(encoding="utf-8").splitlines()
            except OSError as e:
                raise InputError(f"cannot read the medication list ({e.strerror})",
                                 path=str(p)) from e
            out += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        else:
            out += [x.strip() for x in text.split(",") if x.strip()]
    return out


def run_review(calls: CallResult, medicines: list[str], sample: str) -> ReviewResult:
    """Call the guidance engine (`pgxguard.guidance.review.review`) for one sample."""
    from pgxguard.guidance.review import review

    return review(calls, medicines, sample=sample)


def render(calls: CallResult, review: ReviewResult | None, sample: str, fmt: str = "html", *,
           generated: datetime | None = None) -> str:
    """Render calls (+ review) of one sample in one format."""
    from pgxguard.report.cards import cds_cards
    from pgxguard.report.fhir import report_bundle
    from pgxguard.report.html import clinician_html, patient_html
    from pgxguard.report.view import pick_sample

    s = pick_sample(calls, sample)
    if fmt == "html":
        return clinician_html(calls, review, s.sample, generated=generated)
    if fmt == "patient":
        return patient_html(calls, review, s.sample, generated=generated)
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
                meds: str | Path | Sequence[str] | None = None, sample: str | None = None,
                fmt: str = "html", *, generated: datetime | None = None,
                outside_sample: str | None = None, warnings: list[str] | None = None,
                outside_format: str | Sequence[str] | None = None) -> str:
    """`pgxguard report`: call, review (when medicines are given) and render one sample.

    The call's warnings (refused outside-call rows, htslib's messages...) are appended to
    `warnings` when a list is given, for the command line to print.
    """
    from pgxguard.pipeline import call
    from pgxguard.report.view import pick_sample

    if fmt not in FORMATS:
        raise InputError(f"unknown report format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    medicines = parse_meds(meds)
    if meds is not None and not medicines:
        raise InputError("the medication list is empty",
                         hint='pass --meds "clopidogrel, simvastatin" or a file, one a line')
    calls = call(input_vcf, samples=[sample] if sample else None, outside_calls=outside_calls,
                 outside_sample=outside_sample, outside_format=outside_format)
    if warnings is not None:
        warnings.extend(calls.warnings)
    s = pick_sample(calls, sample)
    review = run_review(calls, medicines, s.sample) if medicines else None
    return render(calls, review, s.sample, fmt, generated=generated)


__all__ = ["FORMATS", "REPORT_FORMAT", "make_report", "parse_meds", "render", "run_review"]
