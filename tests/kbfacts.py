"""Test helpers that read facts from the knowledge base's own definitions (never from calls)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pgxguard
from pgxguard.kb.model import GeneDefinition, PhenotypeRow
from vcfbuilder import VcfBuilder

KB = pgxguard.load_knowledge_base()
WriteVcf = Callable[..., Path]


def defn(gene: str, build: str = "GRCh38") -> GeneDefinition:
    return KB.definition(gene, build)


def index_of(d: GeneDefinition, rsid: str) -> int:
    (i,) = [i for i, p in enumerate(d.positions) if p.rsid == rsid]
    return i


def own_variants(d: GeneDefinition, name: str) -> dict[int, str]:
    """Cells where the named allele differs from the reference named allele."""
    ref = d.alleles[0].cells
    return {i: c for i, c in enumerate(d.allele(name).cells) if c is not None and c != ref[i]}


def single_variant(d: GeneDefinition, name: str) -> int:
    ((i, _cell),) = own_variants(d, name).items()
    return i


def set_site(b: VcfBuilder, d: GeneDefinition, i: int, gts: Mapping[str, str],
             alts: Sequence[str] | None = None, ref: str | None = None,
             ps: Mapping[str, int] | None = None,
             fmt_extra: dict[str, dict[str, str]] | None = None) -> None:
    """Replace the record(s) at definition position i by one record."""
    p = d.positions[i]
    b.records = [r for r in b.records if r.pos != p.pos]
    b.add(p.chrom, p.pos, ref or p.ref, alts if alts is not None else p.alts, dict(gts),
          id=p.rsid or ".", ps=dict(ps) if ps else None, fmt_extra=fmt_extra)


def drop_site(b: VcfBuilder, d: GeneDefinition, i: int) -> None:
    b.records = [r for r in b.records if r.pos != d.positions[i].pos]


# CYP2C19 (GRCh38, PharmCAT's definition file): the reference named allele is *38; *1 defines
# only rs3758581 (G, where *38 has A); *2 = rs12769205 G + rs58973490 R (IUPAC G/A) + rs4244285 A
# + rs3758581 G; *3 = rs4986893 A + rs3758581 G; *11 = rs58973490 A + rs3758581 G;
# *17 = rs12248560 T + rs3758581 G; *35 = rs17882687 M (IUPAC A/C) + rs12769205 G + rs3758581 G.
# (Checked against the definition in test_vcf_input.test_cyp2c19_facts.)
C19 = defn("CYP2C19")
RS_17 = index_of(C19, "rs12248560")
RS_35 = index_of(C19, "rs12769205")
RS_35M = index_of(C19, "rs17882687")
RS_11 = index_of(C19, "rs58973490")
RS_2 = index_of(C19, "rs4244285")
RS_3 = index_of(C19, "rs4986893")
RS_1 = index_of(C19, "rs3758581")


def table_row(gene: str, *alleles: str) -> PhenotypeRow:
    """The row of CPIC's published diplotype table for these alleles (fails if not listed)."""
    row = KB.phenotypes[gene].lookup(alleles)
    assert row is not None, f"{gene} {'/'.join(alleles)} is not in CPIC's table"
    return row
