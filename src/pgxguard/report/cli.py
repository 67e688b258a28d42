"""`pgxguard report`: one library call (`make_report`); only `PgxError` maps to exit codes.

Register with `app.command("report")(report_cmd)` (or mount `report_app`).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pgxguard.errors import PgxError


class ReportFormat(StrEnum):
    html = "html"
    json = "json"
    fhir = "fhir"
    patient = "patient"


def report_cmd(
    input: Annotated[Path, typer.Argument(help="VCF, VCF.gz or BCF of the patient")],
    outside_calls: Annotated[list[Path] | None, typer.Option(
        help="Outside calls (CYP2D6, HLA...) merged into the calls: a pgxguard outside-call "
             "TSV or a caller's own output, recognised by content (docs/outside-calls.md); "
             "repeatable")
    ] = None,
    outside_format: Annotated[list[str] | None, typer.Option(
        help="Force the --outside-calls format (see `pgxguard call --help`); NAME=VERSION "
             "also states the caller's version; one per --outside-calls file")] = None,
    outside_sample: Annotated[str | None, typer.Option(
        help="Sample of the outside-call TSV whose rows belong to the reported VCF sample "
             "(when the two name the patient differently)")] = None,
    meds: Annotated[list[str] | None, typer.Option(
        "--meds", "-m", help='Medicines: a file (one a line) or "a, b, c"; repeatable')] = None,
    sample: Annotated[str | None, typer.Option(
        "--sample", "-s", help="Sample to report (needed when the VCF holds several)")] = None,
    fmt: Annotated[ReportFormat, typer.Option(
        "--format", "-f", help="html (clinician), patient, json or fhir (R4 Bundle)")
    ] = ReportFormat.html,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write here (atomically) instead of stdout")] = None,
) -> None:
    """Call, review the medicines and write one report (HTML, patient summary, JSON, FHIR)."""
    from pgxguard.io.atomic import write_text
    from pgxguard.report import make_report

    try:
        warnings: list[str] = []
        text = make_report(input, outside_calls=outside_calls or None, meds=meds, sample=sample,
                           fmt=str(fmt), outside_sample=outside_sample, warnings=warnings,
                           outside_format=outside_format or None)
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
