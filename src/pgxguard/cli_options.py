"""Command-line options declared once (as bio2zarr's `cli.py` does), so every command that reads
a VCF (`call`, `report`, `cohort`) has the same flags with the same help, and `call_options`
turns them into the one `CallOptions` the library takes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from pgxguard.call.options import CallOptions

# The parameter names give the flag names (`assume_reference` -> --assume-reference/
# --no-assume-reference), so each command names its parameters as here.
Genes = Annotated[list[str] | None, typer.Option(
    "--genes", "-g", help="Comma-separated genes, or 'all'; default: clinical genes")]
Samples = Annotated[list[str] | None, typer.Option(
    "--sample", "-s", help="Sample name(s), comma-separated or repeated; default all")]
OneSample = Annotated[str | None, typer.Option(
    "--sample", "-s", help="The one sample to use (needed when the input holds several)")]
Build = Annotated[str | None, typer.Option(
    help="GRCh37 or GRCh38 when the input does not say")]
AssumeReference = Annotated[bool, typer.Option(
    help="Treat positions absent from the input as homozygous reference (joint-called VCFs)")]
Definitions = Annotated[Path | None, typer.Option(
    help="Directory of PharmCAT-format *_translation.json definitions to match against "
         "instead of the built-in knowledge base")]
OutsideCalls = Annotated[list[Path] | None, typer.Option(
    help="Outside calls: a pgxguard outside-call TSV, or the output of Cyrius, DRAGEN's "
         "CYP2D6 caller, Aldy, StellarPGx, PyPGx, PharmCAT (outside-call file), OptiType, "
         "HLA*LA or arcasHLA, recognised by content (docs/outside-calls.md); repeatable, "
         "e.g. a CYP2D6 caller's and an HLA typer's output")]
OutsideFormat = Annotated[list[str] | None, typer.Option(
    help="Force the --outside-calls format (pgxguard, pharmcat, cyrius, dragen-cyp2d6, "
         "aldy, stellarpgx, pypgx, optitype, hla-la, arcashla); NAME=VERSION also states "
         "the caller's version when its output does not; one per --outside-calls file")]
OutsideSample = Annotated[str | None, typer.Option(
    help="Sample of the outside-call file whose rows belong to the called VCF sample "
         "(when the two name the patient differently)")]
Meds = Annotated[list[str] | None, typer.Option(
    "--meds", "-m", help='Medicines: a file (one a line) or "a, b; c"; repeatable')]
Output = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write here (atomically) instead of stdout")]


def split_list(values: Sequence[str] | None) -> list[str] | None:
    """`-g CYP2C19,CYP2D6 -g TPMT` -> the three names; None when none is given."""
    if not values:
        return None
    out = [x.strip() for v in values for x in v.split(",") if x.strip()]
    return out or None


def call_options(*, genes: Sequence[str] | None = None, samples: Sequence[str] | None = None,
                 build: str | None = None, assume_reference: bool = False,
                 definitions: Path | None = None, outside_calls: Sequence[Path] | None = None,
                 outside_format: Sequence[str] | None = None,
                 outside_sample: str | None = None) -> CallOptions:
    """The `CallOptions` of a command's flags (an unknown --build is an InputError, exit 2)."""
    return CallOptions(genes=split_list(genes), samples=split_list(samples), build=build,
                       assume_reference=assume_reference, definitions=definitions,
                       outside_calls=list(outside_calls) if outside_calls else None,
                       outside_format=list(outside_format) if outside_format else None,
                       outside_sample=outside_sample)


__all__ = ["AssumeReference", "Build", "Definitions", "Genes", "Meds", "OneSample", "Output",
           "OutsideCalls", "OutsideFormat", "OutsideSample", "Samples", "call_options",
           "split_list"]
