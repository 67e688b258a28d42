"""VCF/BCF input, wrapped at the edge: cyvcf2's silent failures become our errors.

Only the definition positions of the requested genes are read (region queries when the file is
indexed, one streaming pass otherwise). Each record is split per ALT and normalised, then mapped
onto the definition's positions; the result is, per sample and gene, one `SiteCall` (or None for
missing) per definition position, plus warnings such as REF mismatches.
"""

from __future__ import annotations

import bisect
import gzip
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pgxguard.budget import checkpoint
from pgxguard.errors import PgxError, SampleError, VcfError
from pgxguard.io.builds import detect_build
from pgxguard.io.htslog import HtslibLog
from pgxguard.kb.model import GeneDefinition, canonical_chrom
from pgxguard.match.types import SiteCall
from pgxguard.normalise import expand_to, normalise

# Bases read around a gene's positions: catches records spanning a position, and shows whether
# the input's records surround the positions (stated when --assume-reference fills them).
_PAD = 2000
_NEAR = 50_000  # a gene with no record this close is taken as absent from the input


def _format_column(v: Any, key: str, idx: np.ndarray, *,
                   first_only: bool = True) -> np.ndarray | None:
    """A FORMAT field as an integer array for the selected samples, or None when absent."""
    if key not in v.FORMAT:
        return None
    try:
        arr = v.format(key)
    except Exception:  # cyvcf2 raises bare Exceptions for odd FORMAT types
        return None
    if arr is None:
        return None
    out: np.ndarray = np.asarray(arr)[idx]
    return out[:, 0] if first_only else out


class _GeneArrays:
    """One gene's genotypes for every sample as arrays, filled record by record.

    Per position i and sample j: the code of the sequence on each strand (-1: no non-reference
    allele placed), missing strands, coverage, ploidy, phase and phase set, conflicts (two
    different alleles on one strand) and AD contradictions. Samples with identical arrays share
    one pattern, so the matcher runs once per distinct genotype, not once per sample.
    """

    def __init__(self, d: GeneDefinition, n: int) -> None:
        self.d = d
        npos = len(d.positions)
        self.seqs: list[list[str]] = [[p.ref] for p in d.positions]
        self.strand = np.full((npos, n, 2), -1, dtype=np.int64)
        self.missing = np.zeros((npos, n, 2), dtype=bool)
        self.covered = np.zeros((npos, n), dtype=bool)
        self.ploidy = np.zeros((npos, n), dtype=np.int64)
        self.unphased = np.zeros((npos, n), dtype=bool)
        self.ps = np.full((npos, n), -1, dtype=np.int64)
        self.conflict = np.zeros((npos, n), dtype=bool)
        self.contradicted = np.zeros((npos, n), dtype=bool)
        self.ref_mismatch = np.zeros(npos, dtype=bool)
        # Whole-gene copy number from FORMAT/CN of structural-variant records (-1: none);
        # cn_bad: records disagree, or a non-2 copy number covers only part of the gene.
        self.cn = np.full(n, -1, dtype=np.int64)
        self.cn_bad = np.zeros(n, dtype=bool)
        self.gene_warnings: list[str] = []

    def code(self, i: int, seq: str) -> int:
        table = self.seqs[i]
        if seq not in table:
            table.append(seq)
        return table.index(seq)

    def add(self, i: int, g: np.ndarray, phased_col: np.ndarray, ps: np.ndarray | None,
            ad: np.ndarray | None, codes: np.ndarray, *, covers_start: bool) -> None:
        real = g != -2  # -2: vector end (haploid sample in a diploid record)
        nreal = real.sum(axis=1)
        has = nreal > 0
        placed = (g > 0) & (codes[np.clip(g, 0, len(codes) - 1)] >= 0) & (g < len(codes))
        self.covered[i] |= has if covers_start else placed.any(axis=1)
        self.ploidy[i] = np.where(has, nreal, self.ploidy[i])
        self.unphased[i] |= (nreal > 1) & ~phased_col
        if ps is not None:
            self.ps[i] = np.where(phased_col & (ps >= 0), ps, self.ps[i])
        for k in range(min(g.shape[1], 2)):
            c = g[:, k]
            self.missing[i, :, k] |= c == -1
            new = np.where(placed[:, k], codes[np.clip(c, 0, len(codes) - 1)], -1)
            old = self.strand[i, :, k]
            self.conflict[i] |= (new >= 0) & (old >= 0) & (new != old)
            self.strand[i, :, k] = np.where((new >= 0) & (old < 0), new, old)
        if ad is not None and g.shape[1] == 2 and ad.ndim == 2:
            g0, g1 = g[:, 0], g[:, 1]
            ok = (g0 != g1) & (np.minimum(g0, g1) >= 0) & (np.maximum(g0, g1) < ad.shape[1])
            rows = np.arange(g.shape[0])
            a0 = np.where(ok, ad[rows, np.clip(g0, 0, ad.shape[1] - 1)], -1)
            a1 = np.where(ok, ad[rows, np.clip(g1, 0, ad.shape[1] - 1)], -1)
            self.contradicted[i] |= ok & (a0 >= 0) & (a1 >= 0) & (a0 + a1 > 0) & \
                ((a0 == 0) | (a1 == 0))

    def add_copy_number(self, cn: np.ndarray, *, whole: bool) -> None:
        """FORMAT/CN of one structural-variant record (negative: absent for that sample)."""
        has = cn >= 0
        if whole:
            self.cn_bad |= has & (self.cn >= 0) & (self.cn != cn)
            self.cn = np.where(has & (self.cn < 0), cn, self.cn)
        else:
            self.cn_bad |= has & (cn != 2)

    def copy_number(self, j: int) -> int | None:
        """The sample's whole-gene copy number, None when absent or not consistent."""
        c = int(self.cn[j])
        return None if c < 0 or self.cn_bad[j] else c

    def patterns(self) -> tuple[np.ndarray, np.ndarray]:
        """Per sample, the index of its distinct genotype pattern; and one sample per pattern."""
        n = self.strand.shape[1]
        ps = self.ps.T.copy()
        if (ps >= 0).any():  # phase-set ids only matter up to renaming within a sample
            for j in np.flatnonzero((ps >= 0).any(axis=1)):
                row = ps[j]
                _, ranks = np.unique(row, return_inverse=True)
                ps[j] = np.where(row >= 0, ranks, -1)
        key = np.concatenate([
            self.strand.transpose(1, 0, 2).reshape(n, -1),
            self.missing.transpose(1, 0, 2).reshape(n, -1).astype(np.int64),
            self.covered.T, self.ploidy.T, self.unphased.T, ps, self.conflict.T,
            self.contradicted.T, self.cn[:, None], self.cn_bad[:, None]],
            axis=1).astype(np.int64)
        if n == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        # Columns equal in every sample change neither the grouping nor the (lexicographic)
        # order of the patterns: drop them, so np.unique sorts narrow rows (most are constant).
        key = key[:, (key != key[0]).any(axis=0)]
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        return inverse.reshape(-1), first

    def site_calls(self, j: int,
                   assume_reference: bool) -> tuple[list[SiteCall | None], list[str]]:
        d = self.d
        row: list[SiteCall | None] = []
        warn: list[str] = []
        if self.cn_bad[j]:
            warn.append(f"copy-number records over {d.gene} disagree, or a copy number other "
                        "than 2 covers only part of the gene (a hybrid or partial deletion?): "
                        "copy number not used; an outside call can give it")
        # Assumed-reference positions take the ploidy the sample shows elsewhere in the gene
        # (haploid chrX in males); mitochondrial ones are haploid.
        seen = {int(self.ploidy[i, j]) for i in range(len(d.positions)) if self.covered[i, j]}
        assumed_ploidy = 1 if d.haploid_chrom == "M" or seen == {1} else 2
        for i, p in enumerate(d.positions):
            if self.ref_mismatch[i]:
                row.append(None)
                continue
            if not self.covered[i, j]:
                if assume_reference and p.ref_confirmed:
                    row.append(SiteCall((p.ref,) * assumed_ploidy, True, None))
                else:
                    row.append(None)
                continue
            if self.contradicted[i, j]:
                warn.append(f"heterozygous genotype at {p.chrom}:{p.pos} contradicted by its "
                            "allele depths (AD): position treated as missing")
                row.append(None)
                continue
            if self.conflict[i, j]:
                warn.append(f"two different alleles on one strand at {p.chrom}:{p.pos}: "
                            "position treated as missing")
                row.append(None)
                continue
            alleles: list[str | None] = []
            for k in range(int(self.ploidy[i, j])):
                code = int(self.strand[i, j, k])
                if code >= 0:
                    alleles.append(self.seqs[i][code])
                elif self.missing[i, j, k]:
                    alleles.append(None)
                else:
                    alleles.append(p.ref)
            if d.haploid_chrom == "M" and len(alleles) == 2:
                if alleles[0] == alleles[1]:
                    alleles = alleles[:1]
                else:
                    warn.append(f"heteroplasmic genotype at chrM:{p.pos}: position treated as "
                                "missing")
                    row.append(None)
                    continue
            ps = int(self.ps[i, j])
            row.append(SiteCall(tuple(alleles), not bool(self.unphased[i, j]),
                                ps if ps >= 0 else None))
        return row, warn


@dataclass(frozen=True, slots=True)
class GeneGenotypes:
    """One gene's genotypes: distinct patterns, and which pattern each sample has."""

    gene: str
    samples: list[str]
    patterns: list[list[SiteCall | None]]  # one SiteCall (or None) per definition position
    pattern_warnings: list[list[str]]  # per pattern: AD contradictions, conflicts, ...
    sample_pattern: np.ndarray  # sample index -> pattern index
    gene_warnings: tuple[str, ...] = ()
    records: int = 0  # VCF records touching the gene's positions
    assumed_reference: bool = False  # --assume-reference was applied to this gene
    # Per pattern: whole-gene copy number from the input's FORMAT/CN, None when not given.
    pattern_cn: tuple[int | None, ...] = ()

    def copy_number(self, k: int) -> int | None:
        return self.pattern_cn[k] if self.pattern_cn else None

    def sites(self, sample: str) -> list[SiteCall | None]:
        return self.patterns[int(self.sample_pattern[self.samples.index(sample)])]


def _has_index(path: str) -> bool:
    return any(os.path.exists(path + ext) for ext in (".tbi", ".csi"))


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


_INDEX: dict[int, tuple[GeneDefinition, list[int], int]] = {}


def _position_index(d: GeneDefinition) -> tuple[list[int], int]:
    """Sorted start positions and the longest span, for bisecting records onto positions."""
    hit = _INDEX.get(id(d))
    if hit is None or hit[0] is not d:
        hit = (d, [p.pos for p in d.positions], max((len(p.ref) for p in d.positions), default=1))
        _INDEX[id(d)] = hit
    return hit[1], hit[2]


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
        self._sample_idx = np.array([parsed.index(s) for s in self.samples])
        detected = detect_build(text_header or self.header, self.path)
        if build and detected and build != detected:
            raise VcfError(f"--build {build} given but the header says {detected}",
                           path=self.path, hint="drop --build or fix the header")
        self.build = build or detected
        self.build_detected = detected is not None
        self.indexed = _has_index(self.path) if self.compressed else False
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
                    return iter(list(self._vcf(f"{contig}:{max(1, start - _PAD)}-{end + _PAD}")))
            except Exception as e:
                raise VcfError(f"cannot read region {contig}:{start}-{end} ({e})",
                               path=self.path, hint="re-index with tabix/bcftools index") from e
        return (v for v in self._scan_all(regions)
                if canonical_chrom(v.CHROM) == chrom and v.start < end + _PAD
                and v.end > start - _PAD)

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
        regions = [(d.chrom, min(p.pos for p in d.positions) - _NEAR,
                    max(p.end for p in d.positions) + _NEAR) for d in defs if d.positions]
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
                has_records = bool(records) or self._any_in(d.chrom, start - _PAD, end + _PAD)
            else:
                records = list(self._query(d.chrom, start, end, regions))
                has_records = bool(records)
            acc = _GeneArrays(d, len(self.samples))
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
                        if self._any_in(d.chrom, start - _PAD, pos):
                            break
                        n += sum(1 for p in d.positions if p.pos == pos)
                    for pos in sorted({p.pos for p in d.positions}, reverse=True):
                        if self._any_in(d.chrom, pos, end + _PAD):
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
        for lo, hi in position_clusters(d):
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
                        f"{contig}:{max(1, start - _NEAR)}-{end + _NEAR}"))
                except Exception:
                    return False
        return any(canonical_chrom(v.CHROM) == chrom and v.start < end + _NEAR
                   and v.end > start - _NEAR for v in self._records or ())

    def _apply_record(self, d: GeneDefinition, v: Any, acc: _GeneArrays) -> int:
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
                     ps=_format_column(v, "PS", self._sample_idx),
                     ad=_format_column(v, "AD", self._sample_idx, first_only=False),
                     cn=_format_column(v, "CN", self._sample_idx))
        return 1


def _alt_at(p: Any, rpos: int, rref: str, alt: str) -> str | None:
    """The sequence this ALT gives at definition position p, or None if unknowable."""
    if alt in ("*", ".") or alt.startswith("<"):
        return None
    nv = normalise(rpos, rref, alt)
    is_ins = len(nv.ref) == 1 and len(nv.alt) > 1 and nv.alt[0] == nv.ref
    first = nv.pos + 1 if is_ins or (len(nv.alt) == 1 < len(nv.ref)) else nv.pos
    last = nv.pos + len(nv.ref) - 1
    if not is_ins and (last < p.pos or first > p.end):
        return str(p.ref)  # the change lies outside this position: reference here
    for syn_pos, syn_ref, syn_alt, here in p.synonyms:
        if normalise(syn_pos, syn_ref, syn_alt) == nv:
            return str(here)
    seq = expand_to(nv, p.pos, p.ref)
    if seq is not None:
        return seq
    # A known ALT of p written differently (e.g. with extra flanking bases).
    for a in p.alts:
        if normalise(p.pos, p.ref, a) == nv:
            return str(a)
    return None



MERGE = 1000  # definition positions this close (bp) are read with one region query


def position_clusters(d: GeneDefinition) -> list[tuple[int, int]]:
    """The definition's positions merged into regions (positions within MERGE bp share one)."""
    spans = sorted((p.pos, p.end) for p in d.positions)
    out: list[list[int]] = []
    for lo, hi in spans:
        if out and lo <= out[-1][1] + MERGE:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(a, b) for a, b in out]


def touched_positions(d: GeneDefinition, rpos: int, rend: int) -> list[int]:
    """Indices of the definition positions a record spanning rpos..rend (1-based) overlaps."""
    starts, max_span = _position_index(d)
    lo = bisect.bisect_left(starts, rpos - max_span)
    hi = bisect.bisect_right(starts, rend)
    return [i for i in range(lo, hi)
            if d.positions[i].pos <= rend and d.positions[i].end >= rpos]


# Symbolic ALTs that still describe the bases (gVCF reference blocks), unlike <DEL>, <DUP>, <CNV>.
_BLOCK_ALTS = frozenset({"<NON_REF>", "<*>", "<X>"})


def is_structural(alts: Sequence[str], cn: np.ndarray | None) -> bool:
    """A structural-variant / copy-number record: a symbolic SV ALT, or no ALT with FORMAT/CN."""
    if any(a.startswith("<") and a not in _BLOCK_ALTS for a in alts):
        return True
    return not [a for a in alts if a not in (".", "")] and cn is not None


def apply_record(d: GeneDefinition, acc: _GeneArrays, touched: Sequence[int], *, chrom: str,
                 rpos: int, rref: str, alts: Sequence[str], g: np.ndarray,
                 phased_col: np.ndarray, ps: np.ndarray | None, ad: np.ndarray | None,
                 cn: np.ndarray | None = None) -> None:
    """Place one record's genotypes on the positions it touches.

    Plain arrays, whatever the source (cyvcf2 record, VCF Zarr slice): `g` is samples x ploidy
    allele indices (-1 missing, -2 vector end), `phased_col` per sample, `ps` per sample (negative
    when absent), `ad` samples x alleles and `cn` per sample (negative when absent); REF/ALTs
    upper case. A structural-variant record says nothing about the bases it spans: only its
    FORMAT/CN is kept (whole-gene when it spans every definition position).
    """
    if is_structural(alts, cn):
        if cn is None:
            acc.gene_warnings.append(
                f"structural-variant record at {chrom}:{rpos} ({', '.join(alts) or '.'}) has no "
                f"FORMAT/CN: not interpreted for {d.gene}")
            return
        values = np.asarray(cn, dtype=np.float64)
        given = np.isfinite(values) & (values >= 0)
        fractional = given & (values != np.round(values))
        if fractional.any():
            acc.gene_warnings.append(
                f"non-integer FORMAT/CN at {chrom}:{rpos} for {int(fractional.sum())} sample(s): "
                "not used (a whole-gene copy number is a whole number)")
        whole = np.where(given & ~fractional, values, -1).astype(np.int64)
        acc.add_copy_number(whole, whole=len(touched) == len(d.positions))
        return
    for i in touched:
        p = d.positions[i]
        if rpos == p.pos and not rref.startswith(p.ref[: len(rref)]) and \
                not p.ref.startswith(rref[: len(p.ref)]):
            acc.gene_warnings.append(
                f"VCF REF {rref} at {chrom}:{rpos} disagrees with the definition's "
                f"{p.ref}: position treated as missing (wrong build or reference?)")
            acc.ref_mismatch[i] = True
            continue
        # Code of the sequence each record allele puts at p; -1: says nothing about p.
        codes = np.full(len(alts) + 1, -1, dtype=np.int64)
        for c, alt in enumerate(alts, start=1):
            seq = _alt_at(p, rpos, rref, alt)
            if rpos != p.pos and seq not in p.alts:
                seq = None  # only a record at p, or a known spelling of p's ALT, places p
            if seq is None and rpos == p.pos:
                seq = f"<{alt}>"  # an ALT the definitions do not know
            if seq is not None:
                codes[c] = acc.code(i, seq)
        acc.add(i, g, phased_col, ps, ad, codes, covers_start=rpos <= p.pos)


def assemble_gene(d: GeneDefinition, samples: list[str], acc: _GeneArrays, n_touch: int,
                  assume_reference: bool) -> GeneGenotypes:
    """Distinct genotype patterns of a filled `_GeneArrays`, as site calls."""
    pattern_of, reps = acc.patterns()
    patterns: list[list[SiteCall | None]] = []
    pattern_warnings: list[list[str]] = []
    for j in reps:
        row, w = acc.site_calls(int(j), assume_reference)
        patterns.append(row)
        pattern_warnings.append(w)
    return GeneGenotypes(d.gene, samples, patterns, pattern_warnings, pattern_of,
                         tuple(dict.fromkeys(acc.gene_warnings)), n_touch,
                         pattern_cn=tuple(acc.copy_number(int(j)) for j in reps))


def finish_gene(d: GeneDefinition, samples: list[str], acc: _GeneArrays, n_touch: int, *,
                assume_reference: bool, has_records: bool, near: Callable[[], bool],
                outside: Callable[[], int]) -> GeneGenotypes:
    """A gene's genotypes once its records are applied, with the coverage rules.

    has_records: some record lies within the padded gene region; near(): some record within
    50 kb (asked only when needed); outside(): how many positions lie outside the span of the
    records of the padded region (asked only with assume_reference and records).
    """
    # A gene with no record within 50 kb was not in the callset at all: assuming reference
    # there would invent a result.
    covered = has_records or (assume_reference and near())
    gg = assemble_gene(d, samples, acc, n_touch, assume_reference and covered)
    gg = replace(gg, assumed_reference=assume_reference and covered)
    if assume_reference and not covered:
        gg = replace(gg, gene_warnings=(*gg.gene_warnings,
                     f"no VCF record within {_NEAR // 1000} kb of {d.gene}: the gene is "
                     "not covered by this input, so --assume-reference was not applied"))
    elif assume_reference and has_records:
        n_out = outside()
        if n_out:
            gg = replace(gg, gene_warnings=(*gg.gene_warnings,
                         f"{n_out} {d.gene} position(s) lie outside the span of "
                         "the input's records near the gene and were assumed reference: "
                         "check that the input covers them"))
    return gg


__all__ = ["GeneGenotypes", "VcfReader", "apply_record", "assemble_gene", "detect_build",
           "finish_gene", "is_structural", "position_clusters", "touched_positions"]
