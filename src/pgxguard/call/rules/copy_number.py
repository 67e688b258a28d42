"""Whole-gene copy number from the input (FORMAT/CN): deletions and duplications, never guessed.

Only genes whose whole-gene deletion allele is named here are interpreted; for any other gene an
input copy number other than 2 is reported, not used. The copy number says how many gene copies
there are, not which haplotype carries the extra ones, so a duplication in a heterozygote gives
one tied diplotype per way of sharing the copies (`*1x2/*4` and `*1/*4x2` for 3 copies).
"""

from __future__ import annotations

from collections.abc import Sequence

from pgxguard.alleles import sort_key
from pgxguard.kb.model import GeneDefinition
from pgxguard.match.types import SiteCall

# PharmVar names the whole-gene deletion CYP2D6*5.
DELETION_ALLELE: dict[str, str] = {"CYP2D6": "*5"}


def interprets(gene: str) -> bool:
    return gene in DELETION_ALLELE


def variant_sites(defn: GeneDefinition, sites: Sequence[SiteCall | None]) -> list[str]:
    """Positions where a sample shows a non-reference allele."""
    return [f"{defn.positions[i].chrom}:{defn.positions[i].pos}"
            for i, s in enumerate(sites)
            if s is not None and any(a is not None and a != defn.positions[i].ref
                                     for a in s.alleles)]


def hemizygous_sites(defn: GeneDefinition, sites: Sequence[SiteCall | None],
                     ) -> tuple[list[SiteCall | None], list[str]]:
    """One gene copy: each site becomes haploid; a heterozygous call contradicts it (missing)."""
    out: list[SiteCall | None] = []
    warnings: list[str] = []
    for i, s in enumerate(sites):
        if s is None:
            out.append(None)
            continue
        called = {a for a in s.alleles if a is not None}
        if len(called) == 1 and all(a is not None for a in s.alleles):
            out.append(SiteCall((called.pop(),), True, None))
            continue
        out.append(None)
        p = defn.positions[i]
        if len(called) > 1:
            warnings.append(f"heterozygous genotype at {p.chrom}:{p.pos} with copy number 1: "
                            "position treated as missing")
    return out, warnings


def _named(allele: str, copies: int) -> str:
    return allele if copies == 1 else f"{allele}x{copies}"


def with_copies(diplotypes: Sequence[Sequence[str]], copies: int) -> tuple[tuple[str, ...], ...]:
    """Every way `copies` gene copies can sit on the two haplotypes of each diplotype."""
    out: dict[tuple[str, ...], None] = {}
    for d in diplotypes:
        a, b = d[0], d[-1]
        for k in range(1, copies):
            pair = tuple(sorted((_named(a, k), _named(b, copies - k)), key=sort_key))
            out[pair] = None
    return tuple(out)


__all__ = ["DELETION_ALLELE", "hemizygous_sites", "interprets", "variant_sites", "with_copies"]
