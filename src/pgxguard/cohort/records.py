"""Source-independent records of one gene and one sample block, and their genotypes.

Both cohort inputs (indexed VCF/BCF, VCF Zarr) reduce a (gene, sample block) to `GeneRecords`:
the records that touch a definition position, as plain arrays for the block's samples, plus the
three coverage facts the single-sample reader uses (a record within the 2 kb padded region, a
record within 50 kb, positions outside the records' span). `gene_genotypes` then fills the very
same `_GeneArrays` as `pgxguard.call` and applies the same coverage rules (`finish_gene`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pgxguard.io.vcf import GeneGenotypes, _GeneArrays, apply_record, finish_gene, touched_positions
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


def count_outside(d: GeneDefinition, lo: int, hi: int) -> int:
    return sum(1 for p in d.positions if p.pos < lo or p.pos > hi)


def gene_genotypes(d: GeneDefinition, samples: list[str], gr: GeneRecords, *,
                   assume_reference: bool) -> GeneGenotypes:
    """The same `GeneGenotypes` `VcfReader.read_genes` gives for these samples."""
    if not d.positions:
        return GeneGenotypes(d.gene, samples, [[]], [[]], np.zeros(len(samples), dtype=np.int64))
    acc = _GeneArrays(d, len(samples))
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


__all__ = ["GeneRecords", "RecordData", "count_outside", "gene_genotypes"]
