"""`CallOptions`: what to call and how, declared once for every entry point.

`pgxguard.call`, `run_cohort`, `make_report` and the service's interpretation take one frozen
`CallOptions`; the command line builds it from flags declared once (`pgxguard.cli_options`).
Keyword arguments of those functions that name a field (`call(vcf, genes=["CYP2C19"])`) are the
same as passing `CallOptions(genes=["CYP2C19"])`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pgxguard.errors import InputError

BUILDS = ("GRCh37", "GRCh38")


def _names(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    out = (value,) if isinstance(value, str) else tuple(value)
    return out or None


@dataclass(frozen=True, slots=True)
class CallOptions:
    """Options of the call stage. Sequences are stored as tuples; a single outside-call file
    (or format) may be given as a path (or string) or as a sequence, and the result's
    `options` record keeps the form given."""

    # Genes to call: None for the clinical genes, ("all",) for every defined gene.
    genes: Sequence[str] | None = None
    # Samples to call: None for every sample of the input.
    samples: Sequence[str] | None = None
    # GRCh37 or GRCh38 when the input does not say; None to detect it.
    build: str | None = None
    # Positions absent from the input are homozygous reference (joint-called VCFs).
    assume_reference: bool = False
    # A directory of PharmCAT-format definitions instead of the knowledge base's.
    definitions: str | Path | None = None
    # Outside calls (a caller's output or a pgxguard outside-call TSV), one or several files.
    outside_calls: str | Path | Sequence[str | Path] | None = None
    # Each outside-call file's format (`pgxguard.io.callers.FORMATS`, NAME=VERSION); None: by
    # content.
    outside_format: str | Sequence[str] | None = None
    # The outside-call sample whose rows belong to the (one) called VCF sample.
    outside_sample: str | None = None

    def __post_init__(self) -> None:
        # Sequences become tuples so the options stay hashable and immutable.
        object.__setattr__(self, "genes", _names(self.genes))
        object.__setattr__(self, "samples", _names(self.samples))
        if self.outside_calls is not None and not isinstance(self.outside_calls, str | Path):
            object.__setattr__(self, "outside_calls", tuple(self.outside_calls) or None)
        if self.outside_format is not None and not isinstance(self.outside_format, str):
            object.__setattr__(self, "outside_format", tuple(self.outside_format) or None)
        if self.build is not None and self.build not in BUILDS:
            raise InputError(f"unknown build {self.build!r}", hint="use GRCh37 or GRCh38")
        formats = self.outside_formats()
        n = len(self.outside_paths())
        if self.outside_calls is not None and self.outside_format is not None and \
                len(formats) != n:
            raise InputError(f"{len(formats)} --outside-format values for {n} --outside-calls "
                             "files", hint="give one --outside-format per --outside-calls file, "
                                           "in the same order, or none")

    @classmethod
    def of(cls, options: CallOptions | None = None, **changes: Any) -> CallOptions:
        """`options` (default: all defaults) with the fields named in `changes` replaced; an
        unknown name is a TypeError, as for any keyword argument."""
        base = options if options is not None else cls()
        return replace(base, **changes) if changes else base

    def outside_paths(self) -> list[str | Path]:
        if self.outside_calls is None:
            return []
        if isinstance(self.outside_calls, str | Path):
            return [self.outside_calls]
        return list(self.outside_calls)

    def outside_formats(self) -> list[str | None]:
        """One format per outside-call file (None: recognised by content)."""
        n = len(self.outside_paths())
        if self.outside_format is None:
            return [None] * n
        if isinstance(self.outside_format, str):
            return [self.outside_format]
        return list(self.outside_format)

    def record(self, genes: Sequence[str]) -> dict[str, Any]:
        """The `options` a `CallResult` records, with the genes as resolved."""
        oc = self.outside_calls
        of = self.outside_format
        return {"genes": list(genes), "assume_reference": self.assume_reference,
                "definitions": str(self.definitions) if self.definitions else None,
                "outside_calls": (None if oc is None else str(oc) if isinstance(oc, str | Path)
                                  else [str(p) for p in oc]),
                "outside_sample": self.outside_sample,
                "outside_format": of if of is None or isinstance(of, str) else list(of),
                "samples": list(self.samples) if self.samples else None}


FIELDS = tuple(f.name for f in fields(CallOptions))

__all__ = ["BUILDS", "FIELDS", "CallOptions"]
