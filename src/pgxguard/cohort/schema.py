"""The cohort output contract: `OUTDIR/calls/gene=G/part-K.parquet`, one row per sample x gene.

A row carries every field of the sample's `GeneCall` (the very object `pgxguard.call` returns),
plus a few derived columns for querying. `COLUMNS` is the one registry: the Arrow schema
(`CALLS_SCHEMA`), the writer (`call_row`) and the reader (`row_call`, which rebuilds the
`GeneCall` with `GeneCall.from_json`) all follow it, so a field added to `GeneCall` and not here
fails `tests/test_cohort_schema.py` instead of being dropped silently.

| column | type | meaning |
| --- | --- | --- |
| sample | string | sample id as in the input |
| gene | string | gene symbol |
| diplotypes | list<list<string>> | two allele names each (one if haploid); ties best first |
| diplotype_text | string | `*1/*2`, ties joined by ` \\| ` (TSV form); "" for no call (derived) |
| variants | list<string> | DPYD/RYR1 unphased: named variants found (homozygous twice) |
| phenotype | string, null | phenotype, null when none or ties disagree |
| activity_score | float64, null | activity score where the gene has one |
| lookup_key | string, null | CPIC's recommendation key: phenotype, or score as published (`≥4.0`) |
| n_missing | int32 | number of missing definition positions (derived) |
| missing_positions | list<string> | the missing positions, as in `pgxguard call` |
| not_assessed | list<string> | structural alleles this input cannot show |
| flags | list<string> | see `FLAGS` (derived) |
| warnings | list<string> | every warning of the call, as in `pgxguard call` |
| source | string | "vcf" (called), "none" (no call) or "error" (this sample failed) |
| copy_number | int32, null | whole-gene copy number from the input's FORMAT/CN, when used |
| phased | bool | the genotypes were phased, or effectively phased (one heterozygous block) |
| score | int64, null | matcher score of the diplotypes; null when a gene rule chose them |
| phenotypes | list<string> | per-diplotype phenotypes when tied diplotypes disagree |
| alternatives | list<list<string>> | NAT2 unphased: the other diplotypes the genotypes fit |
| origin | string, null | outside calls only: the caller's provenance as a JSON object |

A row with flag `error` belongs to a sample whose calling raised for that gene (its error is in
`manifest.json` under `bad_samples`); its other columns are empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from pgxguard.call.results import GeneCall


def _same(v: Any) -> Any:
    return v


def _origin_out(v: Any) -> Any:
    return None if v is None else json.dumps(v, sort_keys=True, ensure_ascii=False)


def _origin_in(v: Any) -> Any:
    return None if v is None else json.loads(v)


@dataclass(frozen=True, slots=True)
class Column:
    """One Parquet column: a `GeneCall` field (its `to_json` value, encoded if need be) or a
    value derived from the call for querying (`derived`, not read back)."""

    name: str
    type: pa.DataType
    nullable: bool = True
    derived: bool = False
    encode: Callable[[Any], Any] = _same  # GeneCall.to_json value -> Arrow value
    decode: Callable[[Any], Any] = _same  # Arrow value -> GeneCall.from_json value


_STRINGS = pa.list_(pa.string())
_PAIRS = pa.list_(pa.list_(pa.string()))

# Order is the file's column order: new columns go at the end (readers select by name).
COLUMNS: tuple[Column, ...] = (
    Column("sample", pa.string(), nullable=False, derived=True),
    Column("gene", pa.string(), nullable=False),
    Column("diplotypes", _PAIRS),
    Column("diplotype_text", pa.string(), nullable=False, derived=True),
    Column("variants", _STRINGS),
    Column("phenotype", pa.string()),
    Column("activity_score", pa.float64()),
    Column("lookup_key", pa.string()),
    Column("n_missing", pa.int32(), nullable=False, derived=True),
    Column("missing_positions", _STRINGS),
    Column("not_assessed", _STRINGS),
    Column("flags", _STRINGS, derived=True),
    Column("warnings", _STRINGS),
    Column("source", pa.string(), nullable=False),
    Column("copy_number", pa.int32()),
    Column("phased", pa.bool_(), nullable=False),
    Column("score", pa.int64()),
    Column("phenotypes", _STRINGS),
    Column("alternatives", _PAIRS),
    Column("origin", pa.string(), encode=_origin_out, decode=_origin_in),
)

CALLS_SCHEMA: pa.Schema = pa.schema(
    [pa.field(c.name, c.type, nullable=c.nullable) for c in COLUMNS])

# The columns that hold a GeneCall field (everything `row_call` reads).
CALL_FIELDS: tuple[str, ...] = tuple(c.name for c in COLUMNS if not c.derived)


def call_row(gc: GeneCall) -> dict[str, Any]:
    """The `GeneCall` columns of one row (derived columns are added by the writer)."""
    values = gc.to_json()
    return {c.name: c.encode(values[c.name]) for c in COLUMNS if not c.derived}


def row_call(row: Mapping[str, Any]) -> GeneCall:
    """The `GeneCall` a row was written from (columns absent from an older file take
    `GeneCall`'s defaults)."""
    return GeneCall.from_json({c.name: c.decode(row[c.name]) for c in COLUMNS
                               if not c.derived and c.name in row and row[c.name] is not None})


# Values of the `flags` column.
FLAGS: dict[str, str] = {
    "no_call": "no diplotype and no variant list",
    "tie": "more than one top-scoring diplotype",
    "phenotype_ambiguous": "tied diplotypes have different phenotypes",
    "variants_listed": "DPYD/RYR1 unphased: variants listed instead of a diplotype",
    "missing_data": "one or more definition positions missing",
    "assumed_reference": "--assume-reference filled positions absent from the input",
    "not_covered": "no input record near the gene (not in the callset)",
    "sv_not_assessed": "structural alleles exist that this input cannot show",
    "copy_number": "whole-gene copy number from the input (FORMAT/CN) was used",
    "priority_pick": "unphased NAT2: one diplotype chosen by PharmCAT's priority table",
    "error": "calling this sample failed (see manifest.json bad_samples)",
}

CALLS_DIR = "calls"


def part_path(outdir: str | Path, gene: str, block: int) -> Path:
    return Path(outdir) / CALLS_DIR / f"gene={gene}" / f"part-{block}.parquet"


def read_calls(outdir: str | Path, *, genes: list[str] | None = None,
               columns: list[str] | None = None) -> pa.Table:
    """Every call row of a cohort run, ordered by gene and sample block (input sample order)."""
    import pyarrow.parquet as pq

    base = Path(outdir) / CALLS_DIR
    parts: list[tuple[str, int, Path]] = []
    for gdir in base.glob("gene=*"):
        gene = gdir.name.split("=", 1)[1]
        if genes is not None and gene not in genes:
            continue
        for f in gdir.glob("part-*.parquet"):
            parts.append((gene, int(f.stem.split("-", 1)[1]), f))
    parts.sort(key=lambda t: (t[0], t[1]))
    schema = CALLS_SCHEMA if columns is None else pa.schema(
        [CALLS_SCHEMA.field(c) for c in columns])
    tables = [pq.read_table(f, columns=columns, schema=CALLS_SCHEMA).select(schema.names)
              for _, _, f in parts]
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


__all__ = ["CALLS_DIR", "CALLS_SCHEMA", "CALL_FIELDS", "COLUMNS", "FLAGS", "Column", "call_row",
           "part_path", "read_calls", "row_call"]
