"""Indexed VCF/BCF input for the cohort path: one gene, one sample block per read.

The file is opened with cyvcf2 restricted to the block's samples (htslib drops the other columns
while parsing) and queried only at the gene's definition positions, so the thousands of records
between positions are skipped by the index instead of parsed. The coverage facts the
single-sample reader takes from the whole padded region (any record within 2 kb or 50 kb, the
span of those records) are answered by a few existence queries instead; `tests/test_cohort_*`
prove the result equals `pgxguard.call`.
"""

from __future__ import annotations

import threading
import warnings
from collections import Counter
from typing import Any

import numpy as np

from pgxguard.cohort.records import GeneRecords, RecordData
from pgxguard.errors import VcfError
from pgxguard.io.genotypes import (
    NEAR,
    PAD,
    format_column,
    position_clusters,
    touched_positions,
)
from pgxguard.kb.model import GeneDefinition, canonical_chrom


class _Handle:
    def __init__(self, path: str, samples: list[str]) -> None:
        from cyvcf2 import VCF

        self.path = path
        try:
            self.vcf = VCF(path, gts012=False, lazy=True, strict_gt=False, samples=samples)
        except Exception as e:  # cyvcf2 raises bare Exceptions
            raise VcfError(f"cannot open as VCF/BCF ({e})", path=path) from e
        parsed = list(self.vcf.samples)
        where = {s: k for k, s in enumerate(parsed)}  # list.index per sample is quadratic
        self.idx = np.array([where[s] for s in samples], dtype=np.int64)
        self.seqnames = list(self.vcf.seqnames or [])

    def contig_for(self, chrom: str) -> str | None:
        for name in self.seqnames:
            if canonical_chrom(name) == chrom:
                return str(name)
        return None

    def _region(self, contig: str, lo: int, hi: int, first_only: bool) -> list[Any]:
        region = f"{contig}:{max(1, lo)}-{hi}"
        try:
            with warnings.catch_warnings():
                # "no intervals found" only means no record in the region.
                warnings.simplefilter("ignore", UserWarning)
                it = self.vcf(region)
                if first_only:
                    first = next(it, None)
                    return [] if first is None else [first]
                return list(it)
        except Exception as e:  # cyvcf2 raises bare Exceptions
            raise VcfError(f"cannot read region {region} ({e})", path=self.path,
                           hint="re-index with tabix/bcftools index") from e

    def query(self, contig: str, lo: int, hi: int) -> list[Any]:
        return self._region(contig, lo, hi, first_only=False)

    def any_in(self, contig: str, lo: int, hi: int) -> bool:
        return bool(self._region(contig, lo, hi, first_only=True))

    def close(self) -> None:
        self.vcf.close()


_LOCAL = threading.local()  # per worker thread: one open handle (blocks are large)


def _handle(path: str, samples: list[str]) -> _Handle:
    key = (path, tuple(samples))
    cur: tuple[tuple[str, tuple[str, ...]], _Handle] | None = getattr(_LOCAL, "handle", None)
    if cur is not None and cur[0] == key:
        return cur[1]
    close_handles()
    h = _Handle(path, samples)
    _LOCAL.handle = (key, h)
    return h


def close_handles() -> None:
    cur = getattr(_LOCAL, "handle", None)
    if cur is not None:
        _LOCAL.handle = None
        cur[1].close()


def read_gene_records(path: str, d: GeneDefinition, samples: list[str]) -> GeneRecords:
    """The records touching `d`'s positions, genotypes for `samples`, plus coverage facts."""
    h = _handle(path, samples)
    contig = h.contig_for(d.chrom) if d.positions else None
    if contig is None:
        return GeneRecords([], has_records=False, near=False, n_outside=0)
    start = min(p.pos for p in d.positions)
    end = max(p.end for p in d.positions)
    records: list[RecordData] = []
    seen: Counter[tuple[Any, ...]] = Counter()
    for lo, hi in position_clusters(d):
        here: Counter[tuple[Any, ...]] = Counter()
        for v in h.query(contig, lo, hi):
            rpos, rend = int(v.POS), int(v.end)
            key = (rpos, rend, str(v.REF), tuple(v.ALT))
            here[key] += 1
            if here[key] <= seen[key]:
                continue  # a long record already read with the previous cluster
            if not touched_positions(d, rpos, rend):
                continue
            gt = v.genotype.array() if v.genotype is not None else None
            if gt is None:
                continue
            gt = gt[h.idx]
            ploidy = gt.shape[1] - 1
            records.append(RecordData(
                chrom=str(v.CHROM), pos=rpos, end=rend, ref=str(v.REF).upper(),
                alts=tuple(str(a).upper() for a in v.ALT),
                g=gt[:, :ploidy].astype(np.int64), phased=gt[:, -1].astype(bool),
                ps=format_column(v, "PS", h.idx),
                ad=format_column(v, "AD", h.idx, first_only=False),
                cn=format_column(v, "CN", h.idx)))
        for key, n in here.items():
            seen[key] = max(seen[key], n)
    has_records = bool(records) or h.any_in(contig, start - PAD, end + PAD)
    near = has_records or h.any_in(contig, start - NEAR, end + NEAR)
    n_outside = 0
    if has_records:
        # p.pos < min POS  <=>  no record of the padded region starts at or before p.pos;
        # p.pos > max END  <=>  no record of the padded region ends at or after p.pos.
        # Both are monotone in p.pos, so probing stops at the first position with a record.
        counts = Counter(p.pos for p in d.positions)
        for pos in sorted(counts):
            if h.any_in(contig, start - PAD, pos):
                break
            n_outside += counts[pos]
        for pos in sorted(counts, reverse=True):
            if h.any_in(contig, pos, end + PAD):
                break
            n_outside += counts[pos]
    return GeneRecords(records, has_records=has_records, near=near, n_outside=n_outside)


__all__ = ["close_handles", "read_gene_records"]
