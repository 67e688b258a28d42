"""Named-allele matcher for one sample and one gene (PharmCAT Named Allele Matcher semantics).

The sample's heterozygous sites are grouped into *blocks* whose internal phase is known: all
phased genotypes sharing a phase set (or sharing "no PS") form one block; every unphased
heterozygous site is a block of its own. A pair of named alleles (A, B) is consistent with the
data when every homozygous site matches both, and every block can be oriented so that A matches
one strand and B the other. Fully phased data is one block; unphased data is many. This single
rule gives per-haplotype matching for phased data and "every assignment of heterozygous alleles
to strands" for unphased data, without enumerating 2^n permutations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pgxguard.alleles import sort_key
from pgxguard.kb.model import IUPAC, GeneDefinition
from pgxguard.match.types import SiteCall


@dataclass(frozen=True, slots=True)
class MatchResult:
    gene: str
    diplotypes: tuple[tuple[str, ...], ...]
    score: int | None
    missing_positions: tuple[str, ...]
    warnings: tuple[str, ...]
    phased: bool  # phased or effectively phased (at most one heterozygous block)
    haploid: bool = False
    # Per available position: the sample's genotype, kept for gene rules (lowest-function genes).
    available: tuple[int, ...] = ()
    no_call_reason: str | None = None
    het_blocks: int = 0
    uncallable_alleles: tuple[str, ...] = field(default=())
    # Why there is no call: "no_match" (genotypes fit no pair), "partial", "unknown_alt",
    # "no_data", "mixed_ploidy"; None when called.
    reason_code: str | None = None
    # Every diplotype consistent with the genotypes, whatever its score (sorted); the gene rule
    # for NAT2 (PharmCAT's unphased priorities) chooses among these.
    candidates: tuple[tuple[str, ...], ...] = ()


def position_label(defn: GeneDefinition, i: int) -> str:
    p = defn.positions[i]
    label = f"chr{p.chrom}:{p.pos} {p.ref}>{','.join(p.alts)}" if p.chrom != "M" else \
        f"chrM:{p.pos} {p.ref}>{','.join(p.alts)}"
    return f"{label} ({p.rsid})" if p.rsid else label


class _Cells:
    """Per gene: which allele sequences each named allele accepts at each position."""

    def __init__(self, defn: GeneDefinition) -> None:
        self.defn = defn
        ref = defn.alleles[0].cells
        self.accept: list[list[frozenset[str]]] = []
        self.defined = np.zeros((len(defn.alleles), len(defn.positions)), dtype=bool)
        self.iupac = np.zeros_like(self.defined)
        snv = [p.is_snv for p in defn.positions]
        self.refs: list[str] = [p.ref for p in defn.positions]

        def accepted(i: int, value: str) -> frozenset[str]:
            if snv[i] and len(value) == 1 and value in IUPAC:
                return IUPAC[value]
            return frozenset((value,))

        # A blank cell is the reference allele's; most cells of a large definition are blank,
        # so the blank row is built once and each allele only replaces its own cells.
        blank: list[frozenset[str]] = []
        for i, r in enumerate(ref):
            assert r is not None
            blank.append(accepted(i, r))
        # ref_accept[a, i]: allele a accepts the position's REF sequence (the common case).
        self.ref_accept = np.repeat(
            np.array([r in acc for r, acc in zip(self.refs, blank, strict=True)],
                     dtype=bool)[None, :], len(defn.alleles), axis=0)
        for a_idx, allele in enumerate(defn.alleles):
            row = list(blank)
            cells = allele.cells
            for i in [i for i, c in enumerate(cells) if c is not None]:
                value = cells[i]
                assert value is not None
                acc = accepted(i, value)
                if len(acc) > 1 and snv[i] and len(value) == 1 and value in IUPAC:
                    self.iupac[a_idx, i] = True
                row[i] = acc
                self.defined[a_idx, i] = True
                self.ref_accept[a_idx, i] = self.refs[i] in acc
            self.accept.append(row)

        self._vec: dict[tuple[int, str], np.ndarray] = {}
        self.ref_pairs: list[tuple[str, ...]] = [(r, r) for r in self.refs]
        self.ref_singles: list[tuple[str, ...]] = [(r,) for r in self.refs]
        self.names: tuple[str, ...] = defn.allele_names
        self.plain_ref_pairs: list[tuple[str, ...] | None] | None = None
        self.has_iupac: np.ndarray = np.asarray(self.iupac.any(axis=1), dtype=bool)
        # Rank of each allele name in allele-name order (sort_key), computed once per gene.
        order = sorted(range(len(defn.alleles)), key=lambda a: sort_key(defn.alleles[a].name))
        self.rank = np.empty(len(defn.alleles), dtype=np.int64)
        self.rank[order] = np.arange(len(order))

    def vector(self, i: int, seq: str) -> np.ndarray:
        """Boolean vector over alleles: which accept `seq` at position i (cached)."""
        v = self._vec.get((i, seq))
        if v is None:
            v = np.fromiter((seq in row[i] for row in self.accept), dtype=bool,
                            count=len(self.accept))
            self._vec[(i, seq)] = v
        return v


_CACHE: dict[int, _Cells] = {}


def _cells(defn: GeneDefinition) -> _Cells:
    c = _CACHE.get(id(defn))
    if c is None or c.defn is not defn:
        c = _Cells(defn)
        _CACHE[id(defn)] = c
    return c


def allele_names(defn: GeneDefinition) -> tuple[str, ...]:
    """`defn.allele_names`, built once per definition."""
    return _cells(defn).names


def reference_sequences(defn: GeneDefinition) -> list[str]:
    """Each position's REF sequence (cached with the gene's tables; do not modify)."""
    return _cells(defn).refs


def reference_pairs(defn: GeneDefinition) -> list[tuple[str, ...]]:
    """Each position's REF/REF genotype as an allele tuple (cached; do not modify)."""
    return _cells(defn).ref_pairs


def plain_reference_pairs(defn: GeneDefinition) -> list[tuple[str, ...] | None]:
    """Each position's REF/REF genotype as an allele tuple where the reference allele accepts
    REF; None where it does not (a few positions, e.g. where the reference allele carries a
    non-REF cell) (cached; do not modify)."""
    c = _cells(defn)
    if c.plain_ref_pairs is None:
        c.plain_ref_pairs = [pair if pair[0] in c.accept[0][i] else None
                             for i, pair in enumerate(c.ref_pairs)]
    return c.plain_ref_pairs


def reference_acceptance(defn: GeneDefinition) -> list[frozenset[str]]:
    """Per position, the sequences the reference allele (index 0) accepts (IUPAC aware)."""
    return _cells(defn).accept[0]


def allele_known(defn: GeneDefinition, i: int, seq: str) -> bool:
    """Whether the definitions know allele `seq` at position i (REF, a listed ALT, or a cell)."""
    pos = defn.positions[i]
    return seq == pos.ref or seq in pos.alts or bool(_cells(defn).vector(i, seq).any())


def accepts(defn: GeneDefinition, allele: int, i: int, seq: str) -> bool:
    """Whether named allele `allele` (index) accepts sequence `seq` at position i (IUPAC aware;
    a blank cell is the reference allele's)."""
    return seq in _cells(defn).accept[allele][i]


def match_gene(defn: GeneDefinition, sites: Sequence[SiteCall | None]) -> MatchResult:
    """Top-scoring diplotypes of `defn` for one sample's genotypes at its positions."""
    if len(sites) != len(defn.positions):
        raise ValueError("one SiteCall (or None) per definition position is required")
    cells = _cells(defn)
    refs, ref_pairs, ref_singles = cells.refs, cells.ref_pairs, cells.ref_singles
    missing: list[str] = []
    warnings: list[str] = []
    avail: list[int] = []
    ploidies: set[int] = set()
    # Positions with data other than REF on every strand: only these need per-site work below
    # (a large definition's sample is REF/REF at almost every position).
    special: list[int] = []
    diploid_ref = haploid_ref = False
    for i, s in enumerate(sites):
        if s is None:
            missing.append(position_label(defn, i))
            continue
        al = s.alleles
        if al == ref_pairs[i]:
            avail.append(i)
            diploid_ref = True
            continue
        if al == ref_singles[i]:
            avail.append(i)
            haploid_ref = True
            continue
        ref = refs[i]
        called = [a for a in al if a is not None]
        if not called:
            missing.append(position_label(defn, i))
            continue
        if len(called) < len(al):
            if any(a != ref for a in called):
                reason = (f"partial genotype with a non-reference allele at "
                          f"{position_label(defn, i)}: no call for {defn.gene}")
                return MatchResult(defn.gene, (), None, tuple(missing), (reason,), False,
                                   no_call_reason=reason, reason_code="partial")
            missing.append(position_label(defn, i))
            continue
        unknown = [a for a in called if not allele_known(defn, i, a)]
        if unknown:
            where = position_label(defn, i)
            if defn.unknown_alt_as_reference:
                warnings.append(f"allele {'/'.join(unknown)} at {where} is not in the "
                                f"{defn.gene} definitions: treated as reference")
                sites = list(sites)
                sites[i] = SiteCall(tuple(ref if a in unknown else a for a in al),
                                    s.phased, s.phase_set)
            else:
                reason = (f"allele {'/'.join(unknown)} at {where} is not in the {defn.gene} "
                          "definitions: no call")
                return MatchResult(defn.gene, (), None, tuple(missing), (*warnings, reason),
                                   False, no_call_reason=reason, reason_code="unknown_alt")
        avail.append(i)
        ploidies.add(len(al))
        special.append(len(avail) - 1)

    ploidies.update(k for k, seen in ((2, diploid_ref), (1, haploid_ref)) if seen)
    if not avail:
        reason = f"no data at any {defn.gene} position"
        return MatchResult(defn.gene, (), None, tuple(missing), (reason,), False,
                           no_call_reason=reason, reason_code="no_data")
    if len(ploidies) > 1:
        reason = f"{defn.gene}: haploid and diploid genotypes mixed in one gene: no call"
        return MatchResult(defn.gene, (), None, tuple(missing), (reason,), False,
                           no_call_reason=reason, reason_code="mixed_ploidy")
    haploid = ploidies == {1}

    every = len(avail) == len(refs)  # no copy of the per-position tables when all have data
    defined = cells.defined if every else cells.defined[:, avail]
    n_defined = defined.sum(axis=1)
    callable_mask = n_defined > 0
    callable_mask[0] = True  # the reference allele defines every available position
    uncallable = tuple(defn.alleles[a].name for a in np.flatnonzero(~callable_mask).tolist())

    # m[strand][a, k]: allele a accepts that strand's sequence at available position k.
    n_strands = 1 if haploid else 2
    base = cells.ref_accept if every else cells.ref_accept[:, avail]
    m = np.repeat(base[None, :, :], n_strands, axis=0)
    het: list[int] = []  # available positions (k) whose strands differ
    for k in special:
        i = avail[k]
        site = sites[i]
        assert site is not None
        for strand in range(n_strands):
            seq = site.alleles[strand]
            assert seq is not None
            if seq != refs[i]:
                m[strand, :, k] = cells.vector(i, seq)
        if n_strands == 2 and site.alleles[0] != site.alleles[1]:
            het.append(k)
    m &= callable_mask[None, :, None]

    if haploid:
        ok = m[0].all(axis=1)
        strand_seqs: list[str | None] = [
            sites[i].alleles[0] for i in avail]  # type: ignore[union-attr]
        scored: list[tuple[tuple[int, ...], int]] = [
            ((int(a),), _score(cells, int(a), avail, strand_seqs)) for a in np.flatnonzero(ok)]
        return _finish(defn, scored, missing, warnings, True, True, avail, uncallable, 0)

    blocks: dict[object, list[int]] = {}
    for k in het:
        i = avail[k]
        site = sites[i]
        assert site is not None
        key: object = ("ps", site.phase_set) if site.phased else ("u", i)
        blocks.setdefault(key, []).append(k)

    # Alleles that can sit on either strand at every site; prune before the pair test.
    plausible = (m[0] | m[1]).all(axis=1)
    if len(het) < len(avail):
        hom = np.ones(len(avail), dtype=bool)
        hom[het] = False
        plausible &= m[0][:, hom].all(axis=1)
    idx = np.flatnonzero(plausible)
    if idx.size == 0:
        return _finish(defn, [], missing, warnings, len(blocks) <= 1, False, avail, uncallable,
                       len(blocks))
    ok = np.ones((idx.size, idx.size), dtype=bool)
    m0, m1 = m[0][idx], m[1][idx]
    for ks in blocks.values():
        cols = np.asarray(ks, dtype=np.intp)
        a1 = m0[:, cols].astype(np.int32)
        a2 = m1[:, cols].astype(np.int32)
        fwd = (a1 @ a2.T) == len(ks)  # A on strand 1, B on strand 2
        ok &= fwd | fwd.T
    pairs = np.argwhere(np.triu(ok))
    n_def = n_defined
    scored = []
    for x, y in pairs:
        a, b = int(idx[x]), int(idx[y])
        if cells.has_iupac[a] or cells.has_iupac[b]:
            sa = _pair_score(cells, a, b, avail, sites, blocks, m)
        else:
            sa = int(n_def[a] + n_def[b])
        scored.append(((a, b), sa))
    return _finish(defn, scored, missing, warnings, len(blocks) <= 1, False, avail, uncallable,
                   len(blocks))


def _score(cells: _Cells, a: int, avail: list[int], seqs: list[str | None]) -> int:
    """Defined cells at available positions, minus IUPAC cells where the strand is reference."""
    ref = cells.defn.alleles[0].cells
    score = 0
    for k, i in enumerate(avail):
        if not cells.defined[a, i]:
            continue
        score += 1
        if cells.iupac[a, i] and seqs[k] == ref[i]:
            score -= 1
    return score


def _pair_score(cells: _Cells, a: int, b: int, avail: list[int],
                sites: Sequence[SiteCall | None], blocks: dict[object, list[int]],
                m: np.ndarray) -> int:
    base = int(cells.defined[a, avail].sum() + cells.defined[b, avail].sum())
    if not (cells.iupac[a].any() or cells.iupac[b].any()):
        return base
    # IUPAC deductions: an allele loses a point at its own IUPAC cell when every strand it sits on
    # carries the reference sequence there; blocks are oriented to lose as little as possible.
    ref = cells.defn.alleles[0].cells
    seqs = [sites[i].alleles for i in avail]  # type: ignore[union-attr]

    def loss(allele: int, k: int, strand: int) -> int:
        i = avail[k]
        return int(bool(cells.iupac[allele, i]) and seqs[k][strand] == ref[i])

    if a == b:
        return base - 2 * sum(
            1 for k, i in enumerate(avail)
            if cells.iupac[a, i] and all(x == ref[i] for x in seqs[k]))
    in_block = {k for ks in blocks.values() for k in ks}
    total = sum(loss(a, k, 0) + loss(b, k, 0) for k in range(len(avail)) if k not in in_block)
    for ks in blocks.values():
        options = []
        for sa in (0, 1):
            if all(m[sa, a, k] and m[1 - sa, b, k] for k in ks):
                options.append(sum(loss(a, k, sa) + loss(b, k, 1 - sa) for k in ks))
        total += min(options) if options else 0
    return base - total


def _finish(defn: GeneDefinition, scored: list[tuple[tuple[int, ...], int]], missing: list[str],
            warnings: list[str], phased: bool, haploid: bool, avail: list[int],
            uncallable: tuple[str, ...], het_blocks: int) -> MatchResult:
    if not scored:
        reason = (f"the {defn.gene} genotypes match no pair of named alleles"
                  if not haploid else f"the {defn.gene} genotype matches no named allele")
        return MatchResult(defn.gene, (), None, tuple(missing), (*warnings, reason), phased,
                           haploid, tuple(avail), reason, het_blocks, uncallable, "no_match")
    best = max(s for _, s in scored)
    names = _cells(defn).names
    rank = _cells(defn).rank

    def ordered(combos: set[tuple[int, ...]]) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(names[a] for a in c)
                     for c in sorted(combos, key=lambda c: tuple(rank[a] for a in c)))

    def by_name(combo: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(sorted(combo, key=lambda a: rank[a]))

    top = ordered({by_name(c) for c, s in scored if s == best})
    if len(top) > 1:
        warnings.append(f"{len(top)} diplotypes tie at score {best}")
    return MatchResult(defn.gene, top, int(best), tuple(missing), tuple(warnings), phased,
                       haploid, tuple(avail), None, het_blocks, uncallable,
                       candidates=ordered({by_name(c) for c, _ in scored}))


__all__ = ["MatchResult", "accepts", "allele_known", "match_gene", "position_label"]
