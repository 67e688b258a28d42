"""Genotype assembly: VCF-like records of one gene -> per-sample site calls, whatever the source.

Every reader (`pgxguard.io.vcf.VcfReader` for `pgxguard call`, and the cohort readers of indexed
VCF/BCF, VCF Zarr and PLINK 2 in `pgxguard.cohort`) reduces its input to plain arrays per record
and hands them to `apply_record`, which places each allele on the definition positions it
touches in a `GeneArrays`; `finish_gene` then applies the coverage rules and groups samples into
distinct genotype patterns (`GeneGenotypes`). One module, so the single-sample and cohort paths
cannot drift apart: the cohort/single-sample equality tests rely on it.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from pgxguard.kb.model import GeneDefinition
from pgxguard.match.types import SiteCall
from pgxguard.normalise import expand_to, normalise

# Bases read around a gene's positions: catches records spanning a position, and shows whether
# the input's records surround the positions (stated when --assume-reference fills them).
PAD = 2000
NEAR = 50_000  # a gene with no record this close is taken as absent from the input


def format_column(v: Any, key: str, idx: np.ndarray, *,
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



class GeneArrays:
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
        self._const: dict[object, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

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

    def _constant_calls(self, assumed_ploidy: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per position, the shared SiteCall of REF/REF phased, REF/REF unphased (no phase set)
        and of an assumed-reference position (None where the REF is not confirmed)."""
        key = ("const", assumed_ploidy)
        hit = self._const.get(key)
        if hit is None:
            n = len(self.d.positions)
            phased, unphased, assumed = (np.empty(n, dtype=object) for _ in range(3))
            for i, p in enumerate(self.d.positions):
                phased[i] = SiteCall((p.ref, p.ref), True, None)
                unphased[i] = SiteCall((p.ref, p.ref), False, None)
                assumed[i] = SiteCall((p.ref,) * assumed_ploidy, True, None) \
                    if p.ref_confirmed else None
            hit = self._const[key] = (phased, unphased, assumed)
        return hit

    def site_calls(self, j: int,
                   assume_reference: bool) -> tuple[list[SiteCall | None], list[str]]:
        d = self.d
        warn: list[str] = []
        if self.cn_bad[j]:
            warn.append(f"copy-number records over {d.gene} disagree, or a copy number other "
                        "than 2 covers only part of the gene (a hybrid or partial deletion?): "
                        "copy number not used; an outside call can give it")
        covered = self.covered[:, j]
        # Assumed-reference positions take the ploidy the sample shows elsewhere in the gene
        # (haploid chrX in males); mitochondrial ones are haploid.
        seen = set(np.unique(self.ploidy[covered, j]).tolist())
        assumed_ploidy = 1 if d.haploid_chrom == "M" or seen == {1} else 2
        # Most positions of a large definition are REF/REF or not in the input: those take
        # shared SiteCalls in one vectorised step; only the others go through the loop below
        # (in position order, so warnings keep their order).
        phased, unphased, assumed = self._constant_calls(assumed_ploidy)
        usable = ~self.ref_mismatch
        ref_ref = (covered & usable & ~self.contradicted[:, j] & ~self.conflict[:, j]
                   & (self.ploidy[:, j] == 2) & (self.strand[:, j, 0] < 0)
                   & (self.strand[:, j, 1] < 0) & ~self.missing[:, j, 0]
                   & ~self.missing[:, j, 1] & (self.ps[:, j] < 0))
        if d.haploid_chrom == "M":
            ref_ref[:] = False
        out = np.full(len(d.positions), None, dtype=object)
        out[ref_ref] = np.where(self.unphased[ref_ref, j], unphased[ref_ref], phased[ref_ref])
        if assume_reference:
            fill = ~covered & usable
            out[fill] = assumed[fill]
        row: list[SiteCall | None] = out.tolist()
        for i in np.flatnonzero(covered & usable & ~ref_ref).tolist():
            p = d.positions[i]
            if self.contradicted[i, j]:
                warn.append(f"heterozygous genotype at {p.chrom}:{p.pos} contradicted by its "
                            "allele depths (AD): position treated as missing")
                continue
            if self.conflict[i, j]:
                warn.append(f"two different alleles on one strand at {p.chrom}:{p.pos}: "
                            "position treated as missing")
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
                    continue
            ps = int(self.ps[i, j])
            row[i] = SiteCall(tuple(alleles), not bool(self.unphased[i, j]),
                              ps if ps >= 0 else None)
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

def has_index(path: str) -> bool:
    """A tabix (.tbi) or CSI (.csi) index next to the file."""
    return any(os.path.exists(path + ext) for ext in (".tbi", ".csi"))


_INDEX: dict[int, tuple[GeneDefinition, list[int], int]] = {}


def _position_index(d: GeneDefinition) -> tuple[list[int], int]:
    """Sorted start positions and the longest span, for bisecting records onto positions."""
    hit = _INDEX.get(id(d))
    if hit is None or hit[0] is not d:
        hit = (d, [p.pos for p in d.positions], max((len(p.ref) for p in d.positions), default=1))
        _INDEX[id(d)] = hit
    return hit[1], hit[2]



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


def apply_record(d: GeneDefinition, acc: GeneArrays, touched: Sequence[int], *, chrom: str,
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


def assemble_gene(d: GeneDefinition, samples: list[str], acc: GeneArrays, n_touch: int,
                  assume_reference: bool) -> GeneGenotypes:
    """Distinct genotype patterns of a filled `GeneArrays`, as site calls."""
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


def finish_gene(d: GeneDefinition, samples: list[str], acc: GeneArrays, n_touch: int, *,
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
                     f"no VCF record within {NEAR // 1000} kb of {d.gene}: the gene is "
                     "not covered by this input, so --assume-reference was not applied"))
    elif assume_reference and has_records:
        n_out = outside()
        if n_out:
            gg = replace(gg, gene_warnings=(*gg.gene_warnings,
                         f"{n_out} {d.gene} position(s) lie outside the span of "
                         "the input's records near the gene and were assumed reference: "
                         "check that the input covers them"))
    return gg




__all__ = ["NEAR", "PAD", "GeneArrays", "GeneGenotypes", "apply_record", "assemble_gene",
           "finish_gene", "format_column", "has_index", "is_structural", "position_clusters",
           "touched_positions"]
