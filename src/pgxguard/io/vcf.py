"""VCF/BCF input, wrapped at the edge: cyvcf2's silent failures become our errors.

Only the definition positions of the requested genes are read (region queries when the file is
indexed, one streaming pass otherwise). Each record is split per ALT and normalised, then mapped
onto the definition's positions; the result is, per sample and gene, one `SiteCall` (or None for
missing) per definition position, plus warnings such as REF mismatches.
"""

from __future__ import annotations

import gzip
import os
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pgxguard.budget import checkpoint
from pgxguard.errors import PgxError, SampleError, VcfError
from pgxguard.io.builds import detect_build
from pgxguard.io.genotypes import (
    NEAR,
    PAD,
    GeneArrays,
    GeneGenotypes,
    apply_record,
    assemble_gene,
    finish_gene,
    format_column,
    has_index,
    is_structural,
    position_clusters,
    touched_positions,
)
from pgxguard.io.htslog import HtslibLog
from pgxguard.kb.model import GeneDefinition, canonical_chrom

# Position clusters closer than this (bp) are read with one region query. A tabix query starts
# at the first record of the index window (16 kb) holding its start, so on a dense VCF (the
# 1000 Genomes panel: ~27 records per kb, 3,202 samples a line) each query reads and drops ~8 kb
# of records on average; parsing the records between two nearby clusters costs less while
# htslib parses only a few samples' columns (one patient from that panel: 164 queries -> 82,
# the region reads about a third faster; no gain left when all 3,202 columns are parsed, so
# larger sample sets keep one query per cluster). Records that touch no definition position
# change nothing: `_apply_record` skips them.
READ_GAP = 4000
READ_GAP_MAX_SAMPLES = 1000


def _read_regions(d: GeneDefinition, gap: int) -> list[tuple[int, int]]:
    """`position_clusters(d)`, with clusters less than `gap` bp apart read as one region."""
    out: list[list[int]] = []
    for lo, hi in position_clusters(d):
        if out and lo <= out[-1][1] + gap:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def _is_bgzf(head: bytes) -> bool:
    """A gzip member with the extra field `BC` (SAM/BAM specification, BGZF section)."""
    return len(head) >= 18 and head[:4] == b"\x1f\x8b\x08\x04" and head[12:14] == b"BC"


def _check_gzip_integrity(path: str) -> None:
    """Refuse a compressed file that is cut short.

    A BGZF file (bgzip VCF, BCF) must end with the 28-byte end-of-file block; without it the
    file is truncated, even when the cut falls exactly on a block boundary (each block is then
    complete, so gzip readers and htslib, which only warns, read on). Plain gzip has no such
    block: it is read through once, which fails on a cut.
    """
    with open(path, "rb") as fh:
        head = fh.read(18)
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - len(_BGZF_EOF)))
        tail = fh.read()
    if tail == _BGZF_EOF:
        return
    if _is_bgzf(head):
        raise VcfError("bgzip file is truncated: its end-of-file block is missing",
                       path=path, hint="the file was cut short, e.g. by an interrupted copy or "
                       "download: copy it again and compare its size or checksum with the "
                       "original; re-compress with bgzip only if the original is complete")
    if tail != _BGZF_EOF:
        try:
            with gzip.open(path, "rb") as gz:
                while gz.read(1 << 20):
                    pass
        except (EOFError, OSError) as e:
            raise VcfError(f"compressed file is truncated or corrupt ({e})", path=path,
                           hint="re-create it with bgzip, or check the download") from e


def _read_text_header(path: str, compressed: bool) -> str:
    """The header lines as written in the file (htslib's copy adds lines, so its line numbers
    differ); htslib rejects duplicate sample names with a bare error: find them here, with the
    line."""
    opener = gzip.open if compressed else open
    lines: list[str] = []
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, start=1):
                lines.append(line)
                if line.startswith("##"):
                    continue
                if not line.startswith("#CHROM"):
                    raise VcfError("missing '#CHROM' header line before the data", path=path,
                                   line=lineno, hint="a VCF needs the #CHROM column header")
                cols = line.rstrip("\r\n").split("\t")
                seen: set[str] = set()
                for name in cols[9:]:
                    if name in seen:
                        raise SampleError(f"sample {name!r} appears twice in the header",
                                          path=path, line=lineno,
                                          hint="rename or remove the duplicate column")
                    seen.add(name)
                return "".join(lines)
    except (OSError, EOFError) as e:
        raise VcfError(f"cannot read the header ({e})", path=path,
                       hint="check that the file is a complete VCF") from e
    return "".join(lines)


class VcfReader:
    """One open VCF/BCF: header facts, samples and per-gene genotypes."""

    def __init__(self, path: str | Path, *, samples: Sequence[str] | None = None,
                 build: str | None = None, check_integrity: bool = True) -> None:
        from cyvcf2 import VCF  # local import keeps `pgxguard --help` fast

        self.path = str(path)
        if not os.path.exists(self.path):
            raise VcfError("file not found", path=self.path, hint="check the path")
        with open(self.path, "rb") as fh:
            magic = fh.read(4)
        self.compressed = magic[:2] == b"\x1f\x8b"
        if self.compressed and check_integrity:
            _check_gzip_integrity(self.path)
        if not self.compressed and magic[:2] != b"##":
            raise VcfError("not a VCF: the first line must start with '##fileformat=VCF'",
                           path=self.path, line=1, hint="pass a VCF, VCF.gz or BCF file")
        text_header = None
        if not self.path.endswith(".bcf") and magic[:4] != b"BCF\x02":
            text_header = _read_text_header(self.path, self.compressed)
        self.log = HtslibLog(self.path)
        try:
            with self.log.capture():
                self._vcf = VCF(self.path, gts012=False, lazy=True, strict_gt=False)
        except Exception as e:  # cyvcf2 raises bare Exception for unparseable headers
            raise VcfError(f"cannot open as VCF/BCF ({e}{self.log.describe()})", path=self.path,
                           hint="check that it is a valid VCF, bgzipped VCF or BCF") from e
        self._header_lines = len((text_header or "").splitlines())
        self.header: str = self._vcf.raw_header
        if not self.header.startswith("##fileformat=VCF") and "#CHROM" not in self.header:
            raise VcfError("missing VCF header", path=self.path, line=1)
        all_samples = list(self._vcf.samples)
        self.all_samples: list[str] = all_samples  # every sample of the file, selected or not
        seen: set[str] = set()
        for s in all_samples:
            if s in seen:
                raise SampleError(f"sample {s!r} appears twice in the header", path=self.path,
                                  hint="rename or remove the duplicate column")
            seen.add(s)
        if not all_samples:
            raise SampleError("the VCF has no sample columns", path=self.path,
                              hint="pass a VCF with genotypes (FORMAT/GT and sample columns)")
        if samples:
            unknown = [s for s in samples if s not in seen]
            if unknown:
                raise SampleError(
                    f"sample(s) not in the VCF: {', '.join(unknown)}", path=self.path,
                    hint=f"available: {', '.join(all_samples[:10])}"
                         f"{' ...' if len(all_samples) > 10 else ''}")
            self.samples = list(samples)
            if len(set(samples)) != len(samples):
                raise SampleError("a sample was asked for twice", path=self.path)
            try:
                # Parse only the requested samples' columns (htslib does the subsetting).
                with self.log.capture():
                    self._vcf.close()
                    self._vcf = VCF(self.path, gts012=False, lazy=True, strict_gt=False,
                                    samples=list(samples))
            except (OSError, ValueError) as e:
                raise VcfError(f"cannot open as VCF/BCF ({e}{self.log.describe()})",
                               path=self.path) from e
        else:
            self.samples = all_samples
        parsed = list(self._vcf.samples)
        where = {s: k for k, s in enumerate(parsed)}  # list.index per sample is quadratic
        self._sample_idx = np.array([where[s] for s in self.samples])
        detected = detect_build(text_header or self.header, self.path)
        if build and detected and build != detected:
            raise VcfError(f"--build {build} given but the header says {detected}",
                           path=self.path, hint="drop --build or fix the header")
        self.build = build or detected
        self.build_detected = detected is not None
        self.indexed = has_index(self.path) if self.compressed else False
        with self.log.capture():
            # Contig names for region queries: the header's, else the index's.
            self.seqnames = list(self._vcf.seqnames or []) if (
                self.indexed or "##contig" in self.header) else []
        self.log.raise_errors()
        self._records: list[Any] | None = None

    @property
    def warnings(self) -> list[str]:
        """htslib's warnings about this file so far, one line each (see `io.htslog`)."""
        return self.log.warnings()

    def close(self) -> None:
        with self.log.capture():
            self._vcf.close()

    def _contig_for(self, chrom: str) -> str | None:
        for name in self.seqnames:
            if canonical_chrom(name) == chrom:
                return str(name)
        return None

    def _scan_all(self, regions: list[tuple[str, int, int]]) -> list[Any]:
        if self._records is None:
            keep: list[Any] = []
            lineno_guess = 0
            try:
                for v in self._vcf:
                    checkpoint()  # a time budget or a cancelled request stops the scan
                    lineno_guess += 1
                    c = canonical_chrom(v.CHROM)
                    for chrom, start, end in regions:
                        if c == chrom and v.start < end and v.end > start:
                            keep.append(v)
                            break
            except PgxError:
                raise
            except Exception as e:  # cyvcf2 raises bare Exceptions for parse errors
                header_lines = self._header_lines or len(self.header.rstrip("\n").splitlines())
                line = header_lines + lineno_guess + 1
                raise VcfError(f"malformed record ({e})", path=self.path, line=line,
                               hint="fix or remove that line; `bcftools view` shows the "
                                    "problem") from e
            self._records = keep
        return self._records

    def _query(self, chrom: str, start: int, end: int,
               regions: list[tuple[str, int, int]]) -> Iterator[Any]:
        if self.indexed:
            contig = self._contig_for(chrom)
            if contig is None:
                return iter(())
            try:
                with warnings.catch_warnings():
                    # "no intervals found" only means no record in the region.
                    warnings.simplefilter("ignore", UserWarning)
                    return iter(list(self._vcf(f"{contig}:{max(1, start - PAD)}-{end + PAD}")))
            except Exception as e:
                raise VcfError(f"cannot read region {contig}:{start}-{end} ({e})",
                               path=self.path, hint="re-index with tabix/bcftools index") from e
        return (v for v in self._scan_all(regions)
                if canonical_chrom(v.CHROM) == chrom and v.start < end + PAD
                and v.end > start - PAD)

    def read_genes(self, defs: Sequence[GeneDefinition], *,
                   assume_reference: bool = False) -> list[GeneGenotypes]:
        """Each gene's genotypes; htslib's messages while reading become warnings or errors."""
        try:
            with self.log.capture():
                out = self._read_genes(defs, assume_reference)
        except VcfError as e:
            extra = self.log.describe()
            if extra and extra not in e.detail:
                e.detail += extra
                e.args = (e._format(),)
            raise
        self.log.raise_errors("htslib could not read every record")
        return out

    def _read_genes(self, defs: Sequence[GeneDefinition],
                    assume_reference: bool) -> list[GeneGenotypes]:
        regions = [(d.chrom, min(p.pos for p in d.positions) - NEAR,
                    max(p.end for p in d.positions) + NEAR) for d in defs if d.positions]
        out = []
        for d in defs:
            if not d.positions:
                out.append(GeneGenotypes(d.gene, self.samples, [[]], [[]],
                                         np.zeros(len(self.samples), dtype=np.int64)))
                continue
            start = min(p.pos for p in d.positions)
            end = max(p.end for p in d.positions)
            if self.indexed:
                # Only the records near definition positions (clusters of positions): the
                # records between them are skipped by the index instead of parsed.
                records = self._cluster_records(d)
                has_records = bool(records) or self._any_in(d.chrom, start - PAD, end + PAD)
            else:
                records = list(self._query(d.chrom, start, end, regions))
                has_records = bool(records)
            acc = GeneArrays(d, len(self.samples))
            n_touch = 0
            for v in records:
                n_touch += self._apply_record(d, v, acc)

            def near(d: GeneDefinition = d, start: int = start, end: int = end) -> bool:
                return self._any_record_near(d.chrom, start, end)

            def outside(d: GeneDefinition = d, records: list[Any] = records,
                        start: int = start, end: int = end) -> int:
                if self.indexed:
                    # as the cohort reader: no record of the padded span starts at or before
                    # p.pos (or ends at or after it)
                    n = 0
                    for pos in sorted({p.pos for p in d.positions}):
                        if self._any_in(d.chrom, start - PAD, pos):
                            break
                        n += sum(1 for p in d.positions if p.pos == pos)
                    for pos in sorted({p.pos for p in d.positions}, reverse=True):
                        if self._any_in(d.chrom, pos, end + PAD):
                            break
                        n += sum(1 for p in d.positions if p.pos == pos)
                    return n
                lo = min(int(v.POS) for v in records)
                hi = max(int(v.end) for v in records)
                return sum(1 for p in d.positions if p.pos < lo or p.pos > hi)

            out.append(finish_gene(d, self.samples, acc, n_touch,
                                   assume_reference=assume_reference,
                                   has_records=has_records, near=near, outside=outside))
        return out

    def _cluster_records(self, d: GeneDefinition) -> list[Any]:
        contig = self._contig_for(d.chrom)
        if contig is None:
            return []
        out: list[Any] = []
        seen: Counter[tuple[Any, ...]] = Counter()
        gap = READ_GAP if len(self._sample_idx) <= READ_GAP_MAX_SAMPLES else 0
        for lo, hi in _read_regions(d, gap):
            here: Counter[tuple[Any, ...]] = Counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    found = list(self._vcf(f"{contig}:{lo}-{hi}"))
            except Exception as e:
                raise VcfError(f"cannot read region {contig}:{lo}-{hi} ({e})", path=self.path,
                               hint="re-index with tabix/bcftools index") from e
            for v in found:
                key = (int(v.POS), int(v.end), str(v.REF), tuple(v.ALT))
                here[key] += 1
                if here[key] <= seen[key]:
                    continue  # a long record already read with the previous cluster
                out.append(v)
            for key, n in here.items():
                seen[key] = max(seen[key], n)
        return out

    def _any_in(self, chrom: str, lo: int, hi: int) -> bool:
        contig = self._contig_for(chrom)
        if contig is None:
            return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            try:
                return any(True for _ in self._vcf(f"{contig}:{max(1, lo)}-{hi}"))
            except Exception:
                return False

    def _any_record_near(self, chrom: str, start: int, end: int) -> bool:
        if self.indexed:
            contig = self._contig_for(chrom)
            if contig is None:
                return False
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                try:
                    return any(True for _ in self._vcf(
                        f"{contig}:{max(1, start - NEAR)}-{end + NEAR}"))
                except Exception:
                    return False
        return any(canonical_chrom(v.CHROM) == chrom and v.start < end + NEAR
                   and v.end > start - NEAR for v in self._records or ())

    def _apply_record(self, d: GeneDefinition, v: Any, acc: GeneArrays) -> int:
        rpos = int(v.POS)
        rend = int(v.end)  # 0-based exclusive == 1-based inclusive end (INFO/END for gVCF)
        touched = touched_positions(d, rpos, rend)
        if not touched:
            return 0
        gt = v.genotype.array() if v.genotype is not None else None
        if gt is None:
            return 0
        gt = gt[self._sample_idx]
        ploidy = gt.shape[1] - 1
        if ploidy > 2 and (gt[:, 2:ploidy] != -2).any():
            raise VcfError(f"a genotype with more than two alleles at {v.CHROM}:{rpos}",
                           path=self.path, hint="pgxguard calls diploid and haploid "
                           "genotypes only; check the caller's ploidy setting")
        apply_record(d, acc, touched, chrom=str(v.CHROM), rpos=rpos, rref=str(v.REF).upper(),
                     alts=[str(a).upper() for a in v.ALT],
                     g=gt[:, :ploidy].astype(np.int64), phased_col=gt[:, -1].astype(bool),
                     ps=format_column(v, "PS", self._sample_idx),
                     ad=format_column(v, "AD", self._sample_idx, first_only=False),
                     cn=format_column(v, "CN", self._sample_idx))
        return 1


# The genotype-assembly names stay importable from here (pgxguard.call and older callers).
__all__ = ["GeneArrays", "GeneGenotypes", "VcfReader", "apply_record", "assemble_gene",
           "detect_build", "finish_gene", "is_structural", "position_clusters",
           "touched_positions"]
