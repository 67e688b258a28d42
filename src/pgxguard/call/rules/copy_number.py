"""Whole-gene copy number from the input (FORMAT/CN): deletions and duplications, never guessed.

Only genes whose whole-gene deletion allele is named here are interpreted; for any other gene an
input copy number other than 2 is reported, not used. The copy number says how many gene copies
there are, not which haplotype carries the extra ones, so a duplication in a heterozygote gives
one tied diplotype per way of sharing the copies (`*1x2/*4` and `*1/*4x2` for 3 copies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pgxguard.alleles import sort_key
from pgxguard.call.rules.base import Draft, GeneContext, RuleResult, RuleWarning
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


def before_match(ctx: GeneContext, draft: Draft) -> RuleResult:
    """The input copy number (or its absence) before matching: which structural alleles stay
    unassessed; copy number 0 is the whole call; copy number 1 makes the sites haploid."""
    defn, copy_number, not_assessed = ctx.defn, draft.copy_number, draft.not_assessed
    sites = draft.sites
    warnings: list[RuleWarning] = []
    use_cn = copy_number is not None and interprets(defn.gene)
    if copy_number is not None and not use_cn:
        if copy_number != 2:
            warnings.append(ctx.warn("copy_number.ignored",
                                     f"input copy number {copy_number} is not interpreted for "
                                     f"{defn.gene}: the call assumes two copies"))
        copy_number = None
    if use_cn:
        assert copy_number is not None
        deletion = DELETION_ALLELE[defn.gene]
        # Whole-gene deletions and duplications are now assessed; hybrids still are not.
        not_assessed = tuple(a for a in not_assessed if a != deletion)
        warnings.append(ctx.warn("copy_number.used",
                                 f"copy number {copy_number} from the input (FORMAT/CN)"))
        if not_assessed:
            warnings.append(ctx.warn(
                "structural.not_assessed",
                f"hybrid and partial structural alleles not assessed ({', '.join(not_assessed)})"
                ": the input copy number shows whole-gene deletions and duplications only"))
        if copy_number == 0:
            # Both copies deleted; anything the input calls inside contradicts it.
            contradicting = variant_sites(defn, sites)
            if contradicting:
                warnings.append(ctx.warn(
                    "copy_number.contradiction",
                    f"copy number 0 from the input but variant calls at "
                    f"{', '.join(contradicting)}: no call; check the copy-number and variant "
                    "calls"))
                done = replace(draft, not_assessed=not_assessed, copy_number=0, final=True)
            else:
                done = replace(draft, not_assessed=not_assessed, copy_number=0, final=True,
                               diplotypes=((deletion, deletion),))
            return RuleResult(done, tuple(warnings))
        if copy_number == 1:
            hemi, hemi_warnings = hemizygous_sites(defn, sites)
            sites = tuple(hemi)
            warnings += [ctx.warn("copy_number.heterozygous", w) for w in hemi_warnings]
    elif not_assessed:
        how = " or input copy number (FORMAT/CN)" if interprets(defn.gene) else ""
        warnings.append(ctx.warn(
            "structural.not_assessed",
            f"alleles not assessed ({', '.join(not_assessed)}): structural variants "
            f"(deletions, duplications, hybrids) and alleles without an SNV/indel definition "
            f"need an outside call (--outside-calls){how}"))
    return RuleResult(replace(draft, sites=sites, not_assessed=not_assessed,
                              copy_number=copy_number), tuple(warnings))


def after_match(ctx: GeneContext, draft: Draft) -> RuleResult:
    """The matched alleles with the copy number: one copy pairs with the deletion allele;
    three or more give every way of placing the copies."""
    cn = draft.copy_number
    if cn == 1:
        deletion = DELETION_ALLELE[ctx.gene]
        return RuleResult(replace(draft, diplotypes=tuple(
            tuple(sorted((d[0], deletion), key=sort_key)) for d in draft.diplotypes)))
    if cn is not None and cn >= 3:
        return RuleResult(replace(draft, diplotypes=with_copies(draft.diplotypes, cn)))
    return RuleResult(draft)


__all__ = ["DELETION_ALLELE", "after_match", "before_match", "hemizygous_sites", "interprets",
           "variant_sites", "with_copies"]
