"""Phenotyper: diplotype -> CPIC's published phenotype, activity score and lookup key.

Reads only the knowledge base. A diplotype is looked up in CPIC's diplotype table as published
(PharmCAT's phenotype files); the row gives the phenotype, the activity score and the lookup key
CPIC files its recommendations under. Only two things are computed, both from the same tables:
a copy-number form the table does not list (`*4x3`: three copies of `*4`, activity 3 x its value)
for genes with activity values, where the score's published phenotype is used; and nothing else.
A diplotype the table does not list, or with an allele that has no published function, gets no
phenotype and a note saying why: never a guessed one. Ties that disagree on phenotype give no
single phenotype (the per-diplotype phenotypes are kept), so a result is never more certain than
its data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pgxguard.alleles import sort_key
from pgxguard.kb.model import KnowledgeBase, PhenotypeRules

if TYPE_CHECKING:
    from pgxguard.call.rules.base import Draft, GeneContext, RuleWarning

COPY_SUFFIX = "x"
HAPLOID_MARKER = "MALE"  # pypgx's marker for a hemizygous G6PD call (never in CPIC's table)
_COPIES = re.compile(r"^(?P<base>.+?)x(?P<n>\d+)$")


@dataclass(frozen=True, slots=True)
class Phenotype:
    phenotype: str | None
    activity_score: float | None
    note: str | None = None
    # The key CPIC's recommendations are filed under (phenotype, or activity score as published,
    # e.g. "1.25" or "\u22654.0"); None when there is no phenotype.
    lookup_key: str | None = None


def split_copies(name: str) -> tuple[str, int]:
    """`*2x2` -> ('*2', 2); `*2xN` and `*2x≥3` are not numbers and stay as written."""
    m = _COPIES.match(name)
    if m and int(m.group("n")) >= 2:
        return m.group("base"), int(m.group("n"))
    return name, 1


def _value(rules: PhenotypeRules, allele: str) -> float | str | None:
    """An allele's published activity value: a number, "n/a", or None when unpublished."""
    raw = rules.activity_values.get(allele)
    if raw is None:
        base, copies = split_copies(allele)
        raw_base = rules.activity_values.get(base)
        if raw_base is None or copies == 1:
            return None
        try:
            return float(raw_base) * copies
        except ValueError:
            return "n/a" if raw_base == "n/a" else None
    try:
        return float(raw)
    except ValueError:
        return "n/a" if raw == "n/a" else None


def activity_of(kb: KnowledgeBase, gene: str, allele: str) -> float | None:
    """The published activity value of an allele (copy-number forms multiplied), or None."""
    rules = kb.phenotypes.get(gene)
    if rules is None:
        return None
    v = _value(rules, allele)
    return v if isinstance(v, float) else None


def _score_text(score: float) -> str:
    return str(float(score))


def phenotype_for(kb: KnowledgeBase, gene: str, diplotype: Sequence[str],
                  *, haploid_chrom: str | None = None) -> Phenotype:
    rules = kb.phenotypes.get(gene)
    if rules is None:
        return Phenotype(None, None, f"no phenotype table for {gene} in the knowledge base")
    alleles = tuple(a for a in diplotype if a != HAPLOID_MARKER) or tuple(diplotype)
    row = rules.lookup(alleles)
    if row is not None:
        score = None
        if row.activity_score is not None:
            try:
                score = float(row.activity_score)
            except ValueError:
                score = None  # "n/a", "\u22654.0": not a number, the lookup key says it
        return Phenotype(row.phenotype, score, None, row.lookup_key)
    text = "/".join(alleles)
    unknown = [a for a in alleles if a not in rules.functions
               and split_copies(a)[0] not in rules.functions]
    if unknown:
        return Phenotype(None, None, f"{', '.join(unknown)}: no function assigned in CPIC's "
                                     f"{gene} table ({rules.source}); no phenotype")
    if rules.method == "activity":
        values = [_value(rules, a) for a in alleles]
        if "n/a" in values and all(isinstance(v, float) or v == "n/a" for v in values):
            # CPIC's table: any allele of uncertain function (n/a) makes the diplotype
            # Indeterminate (checked on every published row when the knowledge base is built).
            return Phenotype("Indeterminate", None, None, "n/a")
        if all(isinstance(v, float) for v in values):
            score = float(sum(v for v in values if isinstance(v, float)))
            phen = rules.score_phenotypes().get(_score_text(score))
            if phen is not None:
                return Phenotype(phen, score, None, _score_text(score))
            return Phenotype(None, score, f"{text}: activity score {score:g} is not in CPIC's "
                                          f"{gene} table; no phenotype")
    return Phenotype(None, None, f"{text} is not in CPIC's {gene} table ({rules.source}); "
                                 "no phenotype")


# Lowest-function genes without activity values (RYR1): most severe first.
_FUNCTION_RANK = {"malignant hyperthermia associated": 0, "no function": 0,
                  "decreased function": 1, "uncertain function": 2, "unknown function": 3,
                  "normal function": 4}


_Rank = Callable[[str], tuple[float, tuple[object, ...]]]


def _function_rank(kb: KnowledgeBase, gene: str) -> _Rank:
    """Lowest function first: the DPYD activity value, or the RYR1 function class. A variant
    without a published function ranks lowest, so it is the one looked up and the lookup says
    "no function assigned" instead of giving a reassuring phenotype."""
    rules = kb.phenotypes.get(gene)
    funcs = rules.functions if rules is not None else {}

    def rank(a: str) -> tuple[float, tuple[object, ...]]:
        if a not in funcs:
            return (-1.0, sort_key(a))
        if rules is not None and rules.method == "activity":
            v = activity_of(kb, gene, a)
            return (v if v is not None else -1.0, sort_key(a))
        return (float(_FUNCTION_RANK.get(funcs[a].lower(), -1)), sort_key(a))

    return rank


def _reference(kb: KnowledgeBase, gene: str) -> str:
    return kb.definitions[gene][next(iter(kb.definitions[gene]))].reference_allele


def lowest_function_phenotype(kb: KnowledgeBase, gene: str,
                              variants: Sequence[str]) -> tuple[Phenotype, tuple[str, str]]:
    """DPYD/RYR1 rule, unphased: phenotype from the two lowest-function variants (reference
    fills in)."""
    ref = _reference(kb, gene)
    ranked = sorted(variants, key=_function_rank(kb, gene))
    pair = ([*list(ranked[:2]), ref, ref])[:2]
    return phenotype_for(kb, gene, pair), (pair[0], pair[1])


def strand_phenotype(kb: KnowledgeBase, gene: str, strands: Sequence[Sequence[str]],
                     ) -> tuple[Phenotype, tuple[str, str]]:
    """DPYD/RYR1 rule, phased: the lowest-function variant of each strand (a strand without
    named variants is the reference allele), looked up as a pair in CPIC's table."""
    ref = _reference(kb, gene)
    rank = _function_rank(kb, gene)
    a, b = sorted((min(s, key=rank) if s else ref for s in strands), key=sort_key)
    return phenotype_for(kb, gene, (a, b)), (a, b)


def lowest_of(kb: KnowledgeBase, gene: str, pairs: Sequence[tuple[str, str]]) -> int:
    """Index of the lowest-function pair among tied diplotypes (PharmCAT reports the ties and
    looks up the lowest): the lowest activity score (DPYD), or the most severe functions
    (RYR1); a pair with an allele of no published function counts as lowest."""
    rank = _function_rank(kb, gene)
    rules = kb.phenotypes.get(gene)

    def key(p: tuple[str, str]) -> tuple[float, ...]:
        r = sorted((rank(p[0])[0], rank(p[1])[0]))
        if rules is not None and rules.method == "activity" and min(r) >= 0:
            return (r[0] + r[1], *r)
        return (min(r), *r)

    return min(range(len(pairs)), key=lambda k: key(pairs[k]))


@dataclass(frozen=True, slots=True)
class GenePhenotype:
    """The phenotype step's result for one gene call."""

    phenotype: str | None = None
    activity_score: float | None = None
    lookup_key: str | None = None
    # Per-diplotype phenotypes, kept only when tied diplotypes disagree.
    phenotypes: tuple[str | None, ...] = ()
    warnings: tuple[RuleWarning, ...] = ()


def phenotype_step(ctx: GeneContext, draft: Draft) -> GenePhenotype:
    """The phenotype of a gene's call once its rules have run: from the lowest-function
    variants (DPYD/RYR1 rule) or CPIC's table for the diplotypes; ties that disagree give none."""
    kb, gene = ctx.kb, ctx.gene
    if not ctx.has_phenotypes:
        return GenePhenotype()
    if draft.lowest_function and draft.variants:
        ph, pair = lowest_function_phenotype(kb, gene, draft.variants)
        notes = [ctx.warn("phenotype.lowest_function", f"phenotype from the two lowest-function "
                          f"variants: {'/'.join(pair)} ({gene} rule)")]
        if ph.note:
            notes.append(ctx.warn("phenotype.note", ph.note))
        return GenePhenotype(ph.phenotype, ph.activity_score, ph.lookup_key, (), tuple(notes))
    if draft.lowest_function and draft.diplotypes:
        found = [strand_phenotype(kb, gene, s) for s in draft.strands]
        ph, pair = found[lowest_of(kb, gene, [p for _, p in found])]
        notes = []
        if len(found) > 1 or any(len(x) > 1 for s in draft.strands for x in s):
            how = ("the lowest-function variant on each strand" if len(found) == 1 else
                   "the lowest-function variant on each strand, of the lowest-function "
                   "possible diplotype")
            notes.append(ctx.warn("phenotype.lowest_function",
                                  f"phenotype from {how}: {'/'.join(pair)} ({gene} rule)"))
        if len(found) > 1 and len({f[0].phenotype for f in found}) > 1:
            notes.append(ctx.warn("phenotype.ties", "the possible diplotypes give " + "; ".join(
                f"{'/'.join(p)}: {x.phenotype or 'no phenotype'}" for x, p in found)))
        if ph.note:
            notes.append(ctx.warn("phenotype.note", ph.note))
        return GenePhenotype(ph.phenotype, ph.activity_score, ph.lookup_key, (), tuple(notes))
    if not draft.diplotypes or draft.lowest_function:
        return GenePhenotype()
    results = [phenotype_for(kb, gene, d, haploid_chrom=ctx.defn.haploid_chrom)
               for d in draft.diplotypes]
    phenotypes = tuple(r.phenotype for r in results)
    warnings = []
    phenotype = None
    if len(set(phenotypes)) == 1:
        phenotype = phenotypes[0]
    else:
        warnings.append(ctx.warn("phenotype.ties", "tied diplotypes have different phenotypes: "
                                 "no single phenotype"))
    scores = {r.activity_score for r in results}
    keys = {r.lookup_key for r in results}
    warnings += [ctx.warn("phenotype.note", n) for n in sorted({r.note for r in results
                                                                 if r.note})]
    return GenePhenotype(
        phenotype, results[0].activity_score if len(scores) == 1 else None,
        results[0].lookup_key if len(keys) == 1 else None,
        phenotypes if len(set(phenotypes)) > 1 else (), tuple(warnings))


__all__ = ["GenePhenotype", "Phenotype", "activity_of", "lowest_function_phenotype", "lowest_of",
           "phenotype_for", "phenotype_step", "split_copies", "strand_phenotype"]
