"""Whole-cohort calling: the single-sample semantics over (gene, sample block) partitions.

`run_cohort(input, outdir, ...)` writes `OUTDIR/calls/gene=G/part-K.parquet` (schema in
`pgxguard.cohort.schema`) and `OUTDIR/manifest.json`; `read_calls(outdir)` reads the rows back.
Inputs: an indexed multi-sample VCF/BCF, a VCF Zarr store (`write_vcz` makes small ones), or a
PLINK 2 .pgen / PLINK 1 .bed fileset (`io_plink.write_pgen` makes small ones).
"""

from __future__ import annotations

from pgxguard.cohort.io_zarr import create_vcz, write_vcz, write_vcz_block
from pgxguard.cohort.runner import CohortError, CohortSummary, run_cohort
from pgxguard.cohort.schema import CALLS_SCHEMA, FLAGS, read_calls

__all__ = ["CALLS_SCHEMA", "FLAGS", "CohortError", "CohortSummary", "create_vcz", "read_calls",
           "run_cohort", "write_vcz", "write_vcz_block"]
