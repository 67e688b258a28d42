"""Test oracle: an independent, brute-force reading of design.md "Matching semantics".

It imports nothing from `pgxguard.match` or `pgxguard.call`, only the knowledge-base model
types, so it can judge the real matcher. Two entry points:

* `call_literal` enumerates literally: every combination of phase-block orientations -> the two
  strand sequences -> the named alleles matching each strand -> candidate diplotypes -> the best
  score. Obviously correct, exponential; refuses more than `max_orientations` combinations.
* `call_factorised` gives the same answer by checking each candidate pair of alleles block by
  block (blocks are independent, so "some orientation of all blocks works" is "every block has an
  orientation that works", and the best score is the sum of per-block bests). It is fast enough for
  the exhaustive suite; `tests/test_reference_matcher.py` checks it against `call_literal`.

Input: per definition position, `None` (no data: absent, `./.`, `0/.`, REF mismatch, ...) or a
`Genotype` holding allele sequences (two for diploid, one for haploid), a phased flag and a
phase set (FORMAT/PS).

Semantics implemented (see design.md and PharmCAT's NamedAlleleMatcher-101/201):

* missing positions are dropped from every allele; an allele with no defined (non-None) cell left
  is not callable; structural alleles (`GeneDefinition.structural_alleles`) are never called;
* an allele matches a strand when, at every non-missing position, its cell (or the reference
  allele's cell where it has None) matches the strand's sequence: a one-letter IUPAC cell matches
  any of its bases, anything else compares as exact strings;
* score(allele) = its defined cells at non-missing positions, minus one for each of its own IUPAC
  (ambiguity) cells at which every strand sequence it was matched to *in that candidate diplotype*
  carries the reference allele's base (for X/X that is both strands); diplotype score = sum;
* all top-scoring diplotypes are reported; each pair sorted by `pgxguard.alleles.sort_key`;
* phased data: each distinct PS value is one block, phased GTs without PS form one block, each
  unphased heterozygous position is its own block; a block may flip as a whole; a strand that
  matches no allele yields nothing for that orientation (no combinations are invented);
* haploid data (every genotype has one allele): one strand, one-allele calls;
* an allele sequence that no cell of the position matches is an unknown ALT: it is turned into the
  reference sequence when the definition says `unknown_alt_as_reference`, otherwise it simply
  matches nothing (so no call).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from pgxguard.alleles import sort_key
from pgxguard.kb.model import IUPAC, GeneDefinition


@dataclass(frozen=True, slots=True)
class Genotype:
    alleles: tuple[str, ...]
    phased: bool = False
    phase_set: int | None = None

    @property
    def het(self) -> bool:
        return len(set(self.alleles)) > 1


@dataclass(frozen=True, slots=True)
class OracleCall:
    # Top-scoring diplotypes (one-allele tuples for haploid data), best first; empty: no call.
    diplotypes: tuple[tuple[str, ...], ...]
    score: int | None
    # Indices of dropped (missing) positions.
    missing: tuple[int, ...] = ()
    # Every candidate diplotype with its best score (for debugging failing cases).
    candidates: dict[tuple[str, ...], int] = field(default_factory=dict, compare=False)

    @property
    def diplotype_set(self) -> frozenset[tuple[str, ...]]:
        return frozenset(self.diplotypes)


class TooManyOrientations(Exception):
    """The literal enumeration would exceed its cap; the caller should skip the case."""


# --- primitives shared by both implementations --------------------------------------------------

def _is_ambiguity(cell: str) -> bool:
    return len(cell) == 1 and cell in IUPAC and cell not in "ACGT"


def cell_matches(cell: str, seq: str) -> bool:
    """A definition cell against one strand's sequence."""
    if len(cell) == 1 and cell in IUPAC and len(seq) == 1:
        return seq in IUPAC[cell]
    return cell == seq


def effective_cell(defn: GeneDefinition, allele_index: int, pos_index: int) -> str:
    cell = defn.alleles[allele_index].cells[pos_index]
    if cell is None:
        cell = defn.alleles[0].cells[pos_index]
    assert cell is not None
    return cell


@dataclass(frozen=True, slots=True)
class _Prepared:
    present: tuple[int, ...]
    missing: tuple[int, ...]
    genotypes: dict[int, tuple[str, ...]]  # present position -> strand sequences (GT order)
    ploidy: int
    callable: tuple[int, ...]  # allele indices
    # Block key of each heterozygous present position (phased: ("PS", ps); unphased: ("U", i)).
    blocks: dict[tuple[str, int | None], tuple[int, ...]]


def _prepare(defn: GeneDefinition, genotypes: Sequence[Genotype | None],
             masks: _Masks | None = None) -> _Prepared:
    if len(genotypes) != len(defn.positions):
        raise ValueError(f"{len(genotypes)} genotypes for {len(defn.positions)} positions")
    ploidies = {len(g.alleles) for g in genotypes if g is not None}
    if len(ploidies) > 1 or ploidies - {1, 2}:
        raise ValueError(f"mixed or unsupported ploidy {sorted(ploidies)}")
    ploidy = ploidies.pop() if ploidies else 2
    present, missing, gts = [], [], {}
    for i, g in enumerate(genotypes):
        if g is None or any(a is None for a in g.alleles):
            missing.append(i)
            continue
        seqs = list(g.alleles)
        if defn.unknown_alt_as_reference:
            for k, s in enumerate(seqs):
                if masks is not None:
                    known = masks.get(i, s) != 0
                else:
                    known = any(cell_matches(effective_cell(defn, a, i), s)
                                for a in range(len(defn.alleles)))
                if not known:
                    seqs[k] = effective_cell(defn, 0, i)
        present.append(i)
        gts[i] = tuple(seqs)
    if masks is not None:
        callable_mask = 0
        for i in present:
            callable_mask |= masks.defined[i]
        callable_ = tuple(a for a in _bits(callable_mask & ~masks.structural))
    else:
        structural = set(defn.structural_alleles)
        callable_ = tuple(
            a for a, allele in enumerate(defn.alleles)
            if allele.name not in structural
            and any(allele.cells[i] is not None for i in present))
    blocks: dict[tuple[str, int | None], list[int]] = {}
    for i in present:
        g = genotypes[i]
        assert g is not None
        if len(set(gts[i])) < 2:
            continue
        key: tuple[str, int | None] = ("PS", g.phase_set) if g.phased else ("U", i)
        blocks.setdefault(key, []).append(i)
    return _Prepared(tuple(present), tuple(missing), gts, ploidy, callable_,
                     {k: tuple(v) for k, v in blocks.items()})


def _allele_score(defn: GeneDefinition, a: int, present: Sequence[int],
                  strands: Sequence[dict[int, str]]) -> int:
    """Defined cells at present positions, minus IUPAC cells where every matched strand is ref."""
    cells = defn.alleles[a].cells
    ref = defn.alleles[0].cells
    score = 0
    for i in present:
        cell = cells[i]
        if cell is None:
            continue
        score += 1
        if _is_ambiguity(cell) and all(s[i] == ref[i] for s in strands):
            score -= 1
    return score


def _result(defn: GeneDefinition, prep: _Prepared,
            candidates: dict[tuple[str, ...], int]) -> OracleCall:
    if not candidates:
        return OracleCall((), None, prep.missing, candidates)
    top = max(candidates.values())
    best = sorted((d for d, s in candidates.items() if s == top),
                  key=lambda d: tuple(sort_key(n) for n in d))
    return OracleCall(tuple(best), top, prep.missing, candidates)


def _pair(x: str, y: str) -> tuple[str, str]:
    a, b = sorted((x, y), key=sort_key)
    return (a, b)


# --- literal enumeration --------------------------------------------------------------------------

def _matches(defn: GeneDefinition, a: int, present: Sequence[int], strand: dict[int, str]) -> bool:
    return all(cell_matches(effective_cell(defn, a, i), strand[i]) for i in present)


def orientation_count(defn: GeneDefinition, genotypes: Sequence[Genotype | None]) -> int:
    """Orientation combinations `call_literal` enumerates (the first block is held fixed)."""
    n = len(_prepare(defn, genotypes).blocks)
    return 2 ** max(n - 1, 0)


def call_literal(defn: GeneDefinition, genotypes: Sequence[Genotype | None], *,
                 max_orientations: int = 2 ** 16) -> OracleCall:
    """Literal enumeration over block orientations (see module docstring)."""
    prep = _prepare(defn, genotypes)
    candidates: dict[tuple[str, ...], int] = {}
    names = [a.name for a in defn.alleles]
    if prep.ploidy == 1:
        strand = {i: prep.genotypes[i][0] for i in prep.present}
        for a in prep.callable:
            if _matches(defn, a, prep.present, strand):
                candidates[(names[a],)] = _allele_score(defn, a, prep.present, [strand])
        return _result(defn, prep, candidates)

    block_keys = list(prep.blocks)
    # Flipping every block swaps the two strands and gives the same unordered diplotypes, so the
    # first block is held in GT order.
    n_free = max(len(block_keys) - 1, 0)
    if 2 ** n_free > max_orientations:
        raise TooManyOrientations(f"{defn.gene}: 2^{n_free} orientation combinations")
    for free in itertools.product((0, 1), repeat=n_free):
        flips = dict(zip(block_keys, (0, *free), strict=False)) if block_keys else {}
        flip_of = {i: flips[k] for k, idx in prep.blocks.items() for i in idx}
        s0: dict[int, str] = {}
        s1: dict[int, str] = {}
        for i in prep.present:
            g = prep.genotypes[i]
            if flip_of.get(i, 0):
                s0[i], s1[i] = g[1], g[0]
            else:
                s0[i], s1[i] = g[0], g[1]
        m0 = [a for a in prep.callable if _matches(defn, a, prep.present, s0)]
        m1 = [a for a in prep.callable if _matches(defn, a, prep.present, s1)]
        for x in m0:
            for y in m1:
                if x == y:
                    score = 2 * _allele_score(defn, x, prep.present, [s0, s1])
                else:
                    score = (_allele_score(defn, x, prep.present, [s0])
                             + _allele_score(defn, y, prep.present, [s1]))
                key = _pair(names[x], names[y])
                if score > candidates.get(key, -(10 ** 9)):
                    candidates[key] = score
    return _result(defn, prep, candidates)


# --- factorised (fast) version ------------------------------------------------------------------

class _Masks:
    """Per position: strand sequence -> bitmask of alleles whose effective cell matches it."""

    def __init__(self, defn: GeneDefinition) -> None:
        self.defn = defn
        self.cache: list[dict[str, int]] = [{} for _ in defn.positions]
        # Per position: alleles with a defined (non-None) cell there.
        self.defined = [
            sum(1 << a for a, allele in enumerate(defn.alleles) if allele.cells[i] is not None)
            for i in range(len(defn.positions))]
        structural = set(defn.structural_alleles)
        self.structural = sum(
            1 << a for a, allele in enumerate(defn.alleles) if allele.name in structural)
        # Per allele: positions of its own IUPAC ambiguity cells (the only ones with a penalty).
        self.wobble = [frozenset(i for i, c in enumerate(allele.cells)
                                 if c is not None and _is_ambiguity(c))
                       for allele in defn.alleles]

    def get(self, i: int, seq: str) -> int:
        c = self.cache[i]
        m = c.get(seq)
        if m is None:
            m = 0
            for a in range(len(self.defn.alleles)):
                if cell_matches(effective_cell(self.defn, a, i), seq):
                    m |= 1 << a
            c[seq] = m
        return m


_MASKS: dict[int, tuple[GeneDefinition, _Masks]] = {}


def _masks(defn: GeneDefinition) -> _Masks:
    hit = _MASKS.get(id(defn))
    if hit is None or hit[0] is not defn:
        hit = (defn, _Masks(defn))
        _MASKS[id(defn)] = hit
    return hit[1]


def _bits(mask: int) -> Iterator[int]:
    a = 0
    while mask:
        if mask & 1:
            yield a
        mask >>= 1
        a += 1


def _penalty_at(defn: GeneDefinition, a: int, i: int, seqs: Sequence[str]) -> int:
    cell = defn.alleles[a].cells[i]
    ref = defn.alleles[0].cells[i]
    return int(cell is not None and _is_ambiguity(cell) and all(s == ref for s in seqs))


def call_factorised(defn: GeneDefinition, genotypes: Sequence[Genotype | None]) -> OracleCall:
    """Same answer as `call_literal`, block by block (see module docstring)."""
    masks = _masks(defn)
    prep = _prepare(defn, genotypes, masks)
    names = [a.name for a in defn.alleles]
    callable_mask = 0
    for a in prep.callable:
        callable_mask |= 1 << a
    candidates: dict[tuple[str, ...], int] = {}

    def defined(a: int) -> int:
        return sum(defn.alleles[a].cells[i] is not None for i in prep.present)

    if prep.ploidy == 1:
        possible = callable_mask
        for i in prep.present:
            possible &= masks.get(i, prep.genotypes[i][0])
        for a in _bits(possible):
            pen = sum(_penalty_at(defn, a, i, prep.genotypes[i]) for i in prep.present)
            candidates[(names[a],)] = defined(a) - pen
        return _result(defn, prep, candidates)

    # Alleles that can sit on some strand under some orientation.
    possible = callable_mask
    for i in prep.present:
        g = prep.genotypes[i]
        possible &= masks.get(i, g[0]) | masks.get(i, g[1])
    alleles = list(_bits(possible))
    n_defined = {a: defined(a) for a in alleles}
    het_positions = {i for idx in prep.blocks.values() for i in idx}
    hom_positions = frozenset(i for i in prep.present if i not in het_positions)
    wobble = masks.wobble

    def on(a: int, i: int, seq: str) -> bool:
        return bool(masks.get(i, seq) >> a & 1)

    for ix, x in enumerate(alleles):
        for y in alleles[ix:]:
            # x on strand 0, y on strand 1; both flips of every block are tried, which covers
            # y on strand 0 as well.
            score = n_defined[x] + n_defined[y]
            ok = True
            wob = wobble[x] | wobble[y]
            for i in wob & hom_positions:  # elsewhere the penalty is 0
                seq = prep.genotypes[i][0]
                if x == y:
                    score -= 2 * _penalty_at(defn, x, i, [seq, seq])
                else:
                    score -= _penalty_at(defn, x, i, [seq]) + _penalty_at(defn, y, i, [seq])
            for idx in prep.blocks.values():
                best: int | None = None
                for flip in (0, 1):
                    pen = 0
                    good = True
                    for i in idx:
                        g = prep.genotypes[i]
                        s0, s1 = (g[1], g[0]) if flip else (g[0], g[1])
                        if not (on(x, i, s0) and on(y, i, s1)):
                            good = False
                            break
                        if i not in wob:
                            continue
                        if x == y:
                            pen += 2 * _penalty_at(defn, x, i, [s0, s1])
                        else:
                            pen += _penalty_at(defn, x, i, [s0]) + _penalty_at(defn, y, i, [s1])
                    if good and (best is None or pen < best):
                        best = pen
                if best is None:
                    ok = False
                    break
                score -= best
            if ok:
                key = _pair(names[x], names[y])
                candidates[key] = max(score, candidates.get(key, score))
    return _result(defn, prep, candidates)


def effectively_phased(defn: GeneDefinition, genotypes: Sequence[Genotype | None]) -> bool:
    """At most two distinct strand sequences: no more than one heterozygous block."""
    return len(_prepare(defn, genotypes).blocks) <= 1


def het_positions(defn: GeneDefinition, genotypes: Sequence[Genotype | None]) -> tuple[int, ...]:
    prep = _prepare(defn, genotypes)
    return tuple(sorted(i for idx in prep.blocks.values() for i in idx))


__all__ = ["Genotype", "OracleCall", "TooManyOrientations", "call_factorised", "call_literal",
           "cell_matches", "effective_cell", "effectively_phased", "het_positions",
           "orientation_count"]
