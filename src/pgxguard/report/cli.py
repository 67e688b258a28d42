"""`pgxguard report`: one library call (`make_report`); only `PgxError` maps to exit codes.

Register with `app.command("report")(report_cmd)` (or mount `report_app`).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pgxguard import cli_options as opt
from pgxguard.errors import PgxError


class ReportFormat(StrEnum):
    html = "html"
    json = "json"
    fhir = "fhir"
    patient = "patient"


def report_cmd(
    input: Annotated[Path, typer.Argument(help="VCF, VCF.gz or BCF of the patient")],
    outside_calls: opt.OutsideCalls = None,
    outside_format: opt.OutsideFormat = None,
    outside_sample: opt.OutsideSample = None,
    meds: opt.Meds = None,
    sample: opt.OneSample = None,
    genes: opt.Genes = None,
    definitions: opt.Definitions = None,
    assume_reference: opt.AssumeReference = False,
    build: opt.Build = None,
    fmt: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="html (clinician), patient, json or fhir (R4 Bundle)")
    ] = ReportFormat.html,
    output: opt.Output = None,
    patient_name: Annotated[str | None, typer.Option(
        help="Patient's name, printed with the sample on every page of the HTML reports")
    ] = None,
    nhs_number: Annotated[str | None, typer.Option(
        help="Patient's NHS number (10 digits), printed on every page")] = None,
    birth_date: Annotated[str | None, typer.Option(
        help="Patient's date of birth (YYYY-MM-DD), printed on every page")] = None,
) -> None:
    """Call, review the medicines and write one report (HTML, patient summary, JSON, FHIR)."""
    from pgxguard.io.atomic import write_text
    from pgxguard.report import PatientIds, make_report

    try:
        options = opt.call_options(
            genes=genes, build=build, assume_reference=assume_reference,
            definitions=definitions, outside_calls=outside_calls,
            outside_format=outside_format, outside_sample=outside_sample)
        warnings: list[str] = []
        patient = None
        if patient_name or nhs_number or birth_date:
            patient = PatientIds(name=patient_name, nhs_number=nhs_number,
                                 birth_date=birth_date)
        text = make_report(input, meds=meds, sample=sample, fmt=str(fmt), options=options,
                           warnings=warnings, patient=patient)
        if output is None:
            sys.stdout.write(text)
        else:
            write_text(output, text)
        for w in warnings:
            typer.echo(f"warning: {w}", err=True)
    except PgxError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(e.exit_code) from None


report_app = typer.Typer(add_completion=False)
report_app.command("report")(report_cmd)

__all__ = ["ReportFormat", "report_app", "report_cmd"]
