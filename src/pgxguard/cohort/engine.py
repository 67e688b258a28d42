"""One partition of a cohort run: one gene x one block of samples -> one Parquet part.

The semantics are those of `pgxguard.call`, by construction: records are turned into the same
`GeneArrays` (`pgxguard.io.genotypes`), samples with identical arrays share one genotype pattern,
and each pattern goes through the same kernel, `pgxguard.call.pipeline._gene_call` (matcher,
gene rules, phenotype). Rows are then expanded per sample with Arrow `take`, so a block of
10,000 samples with a few hundred patterns costs a few hundred kernel calls.

A failing pattern (or a failing block, retried sample by sample) does not stop the partition:
the affected samples get rows flagged `error` and are reported as bad samples.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pgxguard.call.results import GeneCall
from pgxguard.cohort.records import GeneRecords, gene_genotypes
from pgxguard.cohort.schema import CALLS_SCHEMA, COLUMNS, call_row, part_path
from pgxguard.errors import KnowledgeBaseError
from pgxguard.io.atomic import write_via
from pgxguard.io.genotypes import GeneGenotypes
from pgxguard.kb.model import GeneDefinition, KnowledgeBase

DONE_DIR = "_partitions"


@dataclass(frozen=True, slots=True)
class PartitionSpec:
    kind: str  # "vcf", "vcz" or "plink"
    path: str
    gene: str
    build: str
    block: int
    start: int  # sample index range in input order
    stop: int
    outdir: str
    assume_reference: bool
    samples: tuple[str, ...] = ()  # VCF: the block's sample names (vcz reads sample_id)
    fail: bool = False  # test hook: raise before doing anything (a killed partition)
    definitions: str | None = None  # a directory of PharmCAT-format definitions, else the KB

    @property
    def key(self) -> str:
        return f"{self.gene}/{self.block}"


@dataclass(frozen=True, slots=True)
class PartitionResult:
    gene: str
    block: int
    samples: int
    patterns: int
    seconds: float
    bad_samples: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_LOCAL = threading.local()


def _kb() -> KnowledgeBase:
    kb: KnowledgeBase | None = getattr(_LOCAL, "kb", None)
    if kb is None:
        from pgxguard.kb.load import load_knowledge_base

        kb = _LOCAL.kb = load_knowledge_base()
    return kb


def _definition(kb: KnowledgeBase, spec: PartitionSpec) -> GeneDefinition:
    """The partition's gene definition: from the knowledge base, or from the run's directory of
    PharmCAT-format files (read once per worker process)."""
    if spec.definitions is None:
        return kb.definitions[spec.gene][spec.build]  # type: ignore[index]
    cache: dict[str, dict[str, GeneDefinition]] = getattr(_LOCAL, "definitions", None) or {}
    _LOCAL.definitions = cache
    if spec.definitions not in cache:
        from pgxguard.kb.pharmcat import load_pharmcat_definitions

        cache[spec.definitions] = load_pharmcat_definitions(spec.definitions)
    d = cache[spec.definitions].get(spec.gene)
    if d is None or d.build != spec.build:
        raise KnowledgeBaseError(f"{spec.gene} ({spec.build}) is no longer in the definitions",
                                 path=spec.definitions,
                                 hint="do not change the definition files during a run")
    return d


def _flags(gc: GeneCall, gg: GeneGenotypes) -> list[str]:
    f = []
    if not gc.diplotypes and not gc.variants:
        f.append("no_call")
    if len(gc.diplotypes) > 1:
        f.append("tie")
    if gc.phenotypes:
        f.append("phenotype_ambiguous")
    if gc.variants:
        f.append("variants_listed")
    if gc.missing_positions:
        f.append("missing_data")
    if gg.assumed_reference:
        f.append("assumed_reference")
    if gg.records == 0 and not gg.assumed_reference:
        f.append("not_covered")
    if gc.not_assessed:
        f.append("sv_not_assessed")
    if gc.copy_number is not None:
        f.append("copy_number")
    if gc.alternatives:
        f.append("priority_pick")
    return f


def call_patterns(kb: KnowledgeBase, d: GeneDefinition,
                  gg: GeneGenotypes) -> list[GeneCall | BaseException]:
    """One `GeneCall` per genotype pattern, by `pgxguard.call`'s own `pattern_call`; a pattern
    that raises is returned as its exception (one bad genotype must not stop the cohort)."""
    from pgxguard.call.pipeline import pattern_call

    out: list[GeneCall | BaseException] = []
    for k in range(len(gg.patterns)):
        try:
            out.append(pattern_call(kb, d, gg, k))
        except Exception as e:
            out.append(e)
    return out


def _pattern_rows(calls: list[GeneCall], flags: list[list[str]]) -> dict[str, Any]:
    """One row per pattern: every `GeneCall` field (`schema.COLUMNS`) and the derived columns."""
    rows = [call_row(c) for c in calls]
    out: dict[str, Any] = {c.name: [r[c.name] for r in rows] for c in COLUMNS
                           if not c.derived and c.name != "gene"}
    out["diplotype_text"] = [c.diplotype_text() for c in calls]
    out["n_missing"] = [len(c.missing_positions) for c in calls]
    out["flags"] = flags
    return out


def _error_call(gene: str) -> GeneCall:
    return GeneCall(gene=gene, source="error")


def calls_table(gene: str, samples: list[str], pattern_of: np.ndarray,
                calls: list[GeneCall], flags: list[list[str]]) -> pa.Table:
    """Rows for every sample: pattern-level columns expanded with `take`."""
    pat = pa.table(_pattern_rows(calls, flags),
                   schema=pa.schema([f for f in CALLS_SCHEMA if f.name not in
                                     ("sample", "gene")]))
    rows = pat.take(pa.array(pattern_of, type=pa.int64()))
    cols = {"sample": pa.array(samples, type=pa.string()),
            "gene": pa.array([gene] * len(samples), type=pa.string())}
    return pa.table({f.name: cols[f.name] if f.name in cols else rows[f.name]
                     for f in CALLS_SCHEMA}, schema=CALLS_SCHEMA)


def compute_partition(kb: KnowledgeBase, d: GeneDefinition, samples: list[str],
                      gr: GeneRecords, assume_reference: bool,
                      ) -> tuple[pa.Table, int, list[dict[str, str]]]:
    """(rows, number of patterns, bad samples) for one gene and one block of samples."""
    bad: list[dict[str, str]] = []
    try:
        gg = gene_genotypes(d, samples, gr, assume_reference=assume_reference)
        pattern_of = gg.sample_pattern
        results = call_patterns(kb, d, gg)
        flags = [_flags(r, gg) if isinstance(r, GeneCall) else ["error"] for r in results]
        calls = [r if isinstance(r, GeneCall) else _error_call(d.gene) for r in results]
        for j, s in enumerate(samples):
            r = results[int(pattern_of[j])]
            if not isinstance(r, GeneCall):
                bad.append({"sample": s, "gene": d.gene, "error": _describe(r)})
        return calls_table(d.gene, samples, pattern_of, calls, flags), len(results), bad
    except Exception:
        pass
    # The block as a whole failed: call each sample on its own so only the culprits fail.
    calls = []
    flags = []
    for j, s in enumerate(samples):
        try:
            gg = gene_genotypes(d, [s], gr.take(np.array([j])),
                                assume_reference=assume_reference)
            (r,) = call_patterns(kb, d, gg)
            if isinstance(r, BaseException):
                raise r
            calls.append(r)
            flags.append(_flags(r, gg))
        except Exception as e:
            bad.append({"sample": s, "gene": d.gene, "error": _describe(e)})
            calls.append(_error_call(d.gene))
            flags.append(["error"])
    idx = np.arange(len(samples), dtype=np.int64)
    return calls_table(d.gene, samples, idx, calls, flags), len(samples), bad


def _describe(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}" if tb else ""
    return f"{type(e).__name__}: {e}{where}"


def done_path(outdir: str | Path, gene: str, block: int) -> Path:
    return Path(outdir) / DONE_DIR / f"{gene}.{block}.json"


def read_partition(kind: str, path: str, d: GeneDefinition, start: int, stop: int,
                   samples: list[str]) -> tuple[list[str], GeneRecords]:
    """(sample ids, records) of one gene and one sample block, whatever the input kind."""
    if kind == "vcz":
        from pgxguard.cohort.io_zarr import read_gene_records as read_vcz
        from pgxguard.cohort.io_zarr import vcz_sample_ids

        return vcz_sample_ids(path, start, stop), read_vcz(path, d, start, stop)
    if kind == "plink":
        from pgxguard.cohort.io_plink import plink_sample_ids
        from pgxguard.cohort.io_plink import read_gene_records as read_plink

        return plink_sample_ids(path, start, stop), read_plink(path, d, start, stop)
    from pgxguard.cohort.io_vcf import read_gene_records as read_vcf

    return samples, read_vcf(path, d, samples)


def run_partition(spec: PartitionSpec) -> PartitionResult:
    """Compute one partition and write its Parquet part, then its completion record."""
    import pyarrow.parquet as pq

    if spec.fail:
        raise RuntimeError(f"injected failure in partition {spec.key} (test hook)")
    t0 = time.perf_counter()
    kb = _kb()
    d = _definition(kb, spec)
    samples, gr = read_partition(spec.kind, spec.path, d, spec.start, spec.stop,
                                 list(spec.samples))
    table, n_patterns, bad = compute_partition(kb, d, samples, gr, spec.assume_reference)
    write_via(part_path(spec.outdir, spec.gene, spec.block),
              lambda tmp: pq.write_table(table, tmp, compression="zstd"), make_dirs=True)
    result = PartitionResult(spec.gene, spec.block, len(samples), n_patterns,
                             round(time.perf_counter() - t0, 4), bad)
    text = json.dumps(result.to_json())

    def write_done(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    write_via(done_path(spec.outdir, spec.gene, spec.block), write_done, make_dirs=True)
    return result


__all__ = ["DONE_DIR", "PartitionResult", "PartitionSpec", "call_patterns", "calls_table",
           "compute_partition", "done_path", "run_partition"]
