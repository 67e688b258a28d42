"""Phenotyper: diplotype -> allele function -> activity score -> CPIC phenotype term.

Reads only the knowledge base. Ties that disagree on phenotype give no single phenotype (the
per-diplotype phenotypes are kept), so a result is never more certain than its data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pgxguard.alleles import diplotype_key
from pgxguard.kb.model import KnowledgeBase

COPY_SUFFIX = "x"


@dataclass(frozen=True, slots=True)
class Phenotype:
    phenotype: str | None
    activity_score: float | None
    note: str | None = None


def split_copies(name: str) -> tuple[str, int]:
    """`*2x2` -> ('*2', 2); `*2xN` is not a number and stays as written."""
    base, sep, n = name.rpartition(COPY_SUFFIX)
    if sep and base and n.isdigit() and int(n) >= 2:
        return base, int(n)
    return name, 1


def activity_of(kb: KnowledgeBase, gene: str, allele: str) -> float | None:
    base, copies = split_copies(allele)
    value = kb.allele_activity.get(gene, {}).get(base)
    return None if value is None else value * copies


def phenotype_for(kb: KnowledgeBase, gene: str, diplotype: Sequence[str],
                  *, haploid_chrom: str | None = None) -> Phenotype:
    rules = kb.phenotypes.get(gene)
    if rules is None:
        return Phenotype(None, None, f"no phenotype table for {gene} in the knowledge base")
    alleles = list(diplotype)
    if len(alleles) == 1:
        # Haploid call: G6PD in males is looked up as X/MALE, mitochondrial as X/X.
        alleles = [alleles[0], "MALE" if haploid_chrom == "X" else alleles[0]]
    if rules.method == "activity":
        values = [activity_of(kb, gene, a) for a in alleles]
        if any(v is None for v in values):
            unknown = [a for a, v in zip(alleles, values, strict=True) if v is None]
            return Phenotype(None, None, f"no activity value for {', '.join(unknown)}")
        score = float(sum(v for v in values if v is not None))
        for r in rules.activity_ranges:
            if r.contains(score):
                return Phenotype(r.phenotype, score)
        return Phenotype(None, score, f"activity score {score:g} is outside every range")
    key = diplotype_key(alleles[0], alleles[1])
    term = rules.diplotypes.get(key)
    if term is None:
        return Phenotype(None, None, f"{key} is not in the {gene} phenotype table")
    return Phenotype(term, None)


def lowest_function_phenotype(kb: KnowledgeBase, gene: str,
                              variants: Sequence[str]) -> tuple[Phenotype, tuple[str, str]]:
    """DPYD/RYR1 rule: phenotype from the two lowest-function variants (reference fills in)."""
    ref = kb.definitions[gene][next(iter(kb.definitions[gene]))].reference_allele
    rules = kb.phenotypes.get(gene)
    if rules is not None and rules.method == "activity":
        ranked = sorted(variants, key=lambda a: (activity_of(kb, gene, a) or 0.0, a))
    else:
        order = {"No Function": 0, "Malignant Hyperthermia Associated": 0,
                 "Decreased Function": 1, "Uncertain Function": 2, "Unknown Function": 3}
        funcs = kb.allele_functions.get(gene, {})
        ranked = sorted(variants, key=lambda a: (order.get(funcs.get(a, ""), 4), a))
    pair = ([*list(ranked[:2]), ref, ref])[:2]
    return phenotype_for(kb, gene, pair), (pair[0], pair[1])


__all__ = ["Phenotype", "activity_of", "lowest_function_phenotype", "phenotype_for",
           "split_copies"]
