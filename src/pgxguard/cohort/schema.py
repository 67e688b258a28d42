"""The cohort output contract: `OUTDIR/calls/gene=G/part-K.parquet`, one row per sample x gene.

Columns (`CALLS_SCHEMA`):

| column | type | meaning |
| --- | --- | --- |
| sample | string | sample id as in the input |
| gene | string | gene symbol |
| diplotypes | list<list<string>> | two allele names each (one if haploid); ties best first |
| diplotype_text | string | `*1/*2`, ties joined by ` \\| ` (as in the TSV); "" for no call |
| variants | list<string> | DPYD/RYR1 unphased: named variants found (homozygous twice) |
| phenotype | string, null | phenotype, null when none or ties disagree |
| activity_score | float64, null | activity score where the gene has one |
| lookup_key | string, null | CPIC's recommendation key: phenotype, or score as published (`≥4.0`) |
| n_missing | int32 | number of missing definition positions |
| missing_positions | list<string> | the missing positions, as in `pgxguard call` |
| not_assessed | list<string> | structural alleles this input cannot show |
| flags | list<string> | see `FLAGS` |
| warnings | list<string> | every warning of the call, as in `pgxguard call` |
| source | string | "vcf" (called), "none" (no call) or "error" (this sample failed) |
| copy_number | int32, null | whole-gene copy number from the input's FORMAT/CN, when used |

A row with flag `error` belongs to a sample whose calling raised for that gene (its error is in
`manifest.json` under `bad_samples`); its other columns are empty.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

CALLS_SCHEMA: pa.Schema = pa.schema([
    pa.field("sample", pa.string(), nullable=False),
    pa.field("gene", pa.string(), nullable=False),
    pa.field("diplotypes", pa.list_(pa.list_(pa.string()))),
    pa.field("diplotype_text", pa.string(), nullable=False),
    pa.field("variants", pa.list_(pa.string())),
    pa.field("phenotype", pa.string()),
    pa.field("activity_score", pa.float64()),
    pa.field("lookup_key", pa.string()),
    pa.field("n_missing", pa.int32(), nullable=False),
    pa.field("missing_positions", pa.list_(pa.string())),
    pa.field("not_assessed", pa.list_(pa.string())),
    pa.field("flags", pa.list_(pa.string())),
    pa.field("warnings", pa.list_(pa.string())),
    pa.field("source", pa.string(), nullable=False),
    pa.field("copy_number", pa.int32()),
])

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


__all__ = ["CALLS_DIR", "CALLS_SCHEMA", "FLAGS", "part_path", "read_calls"]
