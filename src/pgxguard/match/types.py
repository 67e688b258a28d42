"""Matcher input: one sample's genotype at each position of one gene definition."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SiteCall:
    """Genotype at one definition position, already normalised to that position's representation.

    `alleles` holds allele sequences (two for diploid, one for haploid). A `None` allele means that
    strand has no data (`./.`, `0/.`); `phased` marks `|` genotypes; `phase_set` is FORMAT/PS.
    """

    alleles: tuple[str | None, ...]
    phased: bool = False
    phase_set: int | None = None

    @property
    def complete(self) -> bool:
        return all(a is not None for a in self.alleles)


__all__ = ["SiteCall"]
