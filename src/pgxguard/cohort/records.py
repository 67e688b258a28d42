"""Source-independent records of one gene and one sample block, and their genotypes.

Both cohort inputs (indexed VCF/BCF, VCF Zarr) reduce a (gene, sample block) to `GeneRecords`:
the records that touch a definition position, as plain arrays for the block's samples, plus the
three coverage facts the single-sample reader uses (a record within the 2 kb padded region, a
record within 50 kb, positions outside the records' span). `gene_genotypes` then fills the very
same `GeneArrays` (`pgxguard.io.genotypes`) as `pgxguard.call` and applies the same coverage
rules (`finish_gene`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgxguard.errors import SampleError
from pgxguard.io.genotypes import (
    NEAR,
    PAD,
    GeneArrays,
    GeneGenotypes,
    apply_record,
    finish_gene,
    touched_positions,
)
from pgxguard.kb.model import GeneDefinition


@dataclass(frozen=True, slots=True)
class RecordData:
    """One VCF record as plain values; arrays hold the block's samples (see `apply_record`)."""

    chrom: str
    pos: int
    end: int  # 1-based inclusive (REF length, or INFO/END)
    ref: str
    alts: tuple[str, ...]
    g: np.ndarray  # samples x ploidy, int64: -1 missing, -2 vector end
    phased: np.ndarray  # samples, bool
    ps: np.ndarray | None = None  # samples, negative when absent
    ad: np.ndarray | None = None  # samples x alleles, negative when absent
    cn: np.ndarray | None = None  # samples, FORMAT/CN, negative when absent

    def take(self, rows: np.ndarray) -> RecordData:
        return RecordData(self.chrom, self.pos, self.end, self.ref, self.alts, self.g[rows],
                          self.phased[rows], None if self.ps is None else self.ps[rows],
                          None if self.ad is None else self.ad[rows],
                          None if self.cn is None else self.cn[rows])


@dataclass(frozen=True, slots=True)
class GeneRecords:
    records: list[RecordData]  # file order; only records touching a definition position
    has_records: bool  # some record within the gene region padded by 2 kb
    near: bool  # some record within 50 kb of the gene
    n_outside: int  # positions outside [min POS, max END] of the padded region's records

    def take(self, rows: np.ndarray) -> GeneRecords:
        return GeneRecords([r.take(rows) for r in self.records], self.has_records, self.near,
                           self.n_outside)


def check_unique_samples(samples: list[str], path: str) -> None:
    """Columnar inputs (VCF Zarr, PLINK): a sample named twice, or none at all, is an error."""
    seen: set[str] = set()
    for s in samples:
        if s in seen:
            raise SampleError(f"sample {s!r} appears twice", path=path,
                              hint="rename or remove the duplicate sample")
        seen.add(s)
    if not samples:
        raise SampleError("the input has no samples", path=path)


def count_outside(d: GeneDefinition, lo: int, hi: int) -> int:
    return sum(1 for p in d.positions if p.pos < lo or p.pos > hi)


@dataclass(frozen=True, slots=True)
class RegionFacts:
    touching: np.ndarray  # variant indices touching a definition position, in file order
    has_records: bool
    near: bool
    n_outside: int


def region_facts(d: GeneDefinition, idx: np.ndarray, pos: np.ndarray, end: np.ndarray,
                 pad: int = PAD, near: int = NEAR) -> RegionFacts:
    """The VCF reader's record selection for columnar inputs (VCF Zarr, PLINK): `idx` are the
    variant indices of the gene's contig, `pos`/`end` 1-based spans of every variant."""
    gstart = min(p.pos for p in d.positions)
    gend = max(p.end for p in d.positions)

    def overlapping(lo: int, hi: int) -> np.ndarray:
        out: np.ndarray = idx[(pos[idx] <= hi) & (end[idx] >= max(1, lo))]
        return out

    padded = overlapping(gstart - pad, gend + pad)
    has_records = padded.size > 0
    is_near = has_records or overlapping(gstart - near, gend + near).size > 0
    n_outside = 0
    if has_records:
        n_outside = count_outside(d, int(pos[padded].min()), int(end[padded].max()))
    touching = np.array(sorted(int(v) for v in padded
                               if touched_positions(d, int(pos[v]), int(end[v]))),
                        dtype=np.int64)
    return RegionFacts(touching, has_records, is_near, n_outside)


def gene_genotypes(d: GeneDefinition, samples: list[str], gr: GeneRecords, *,
                   assume_reference: bool) -> GeneGenotypes:
    """The same `GeneGenotypes` `VcfReader.read_genes` gives for these samples."""
    if not d.positions:
        return GeneGenotypes(d.gene, samples, [[]], [[]], np.zeros(len(samples), dtype=np.int64))
    acc = GeneArrays(d, len(samples))
    n_touch = 0
    for r in gr.records:
        touched = touched_positions(d, r.pos, r.end)
        if not touched:
            continue
        apply_record(d, acc, touched, chrom=r.chrom, rpos=r.pos, rref=r.ref, alts=r.alts,
                     g=r.g, phased_col=r.phased, ps=r.ps, ad=r.ad, cn=r.cn)
        n_touch += 1
    return finish_gene(d, samples, acc, n_touch, assume_reference=assume_reference,
                       has_records=gr.has_records, near=lambda: gr.near,
                       outside=lambda: gr.n_outside)


__all__ = ["GeneRecords", "RecordData", "RegionFacts", "check_unique_samples", "count_outside",
           "gene_genotypes", "region_facts"]
