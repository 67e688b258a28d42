"""SLCO1B1 core names: sub-alleles (`*45.001`) are reported by their core name (`*45`), as
docs/semantics.md states; diplotypes that become identical are listed once."""

from __future__ import annotations

import re
from dataclasses import replace

from pgxguard.alleles import sort_key
from pgxguard.call.rules.base import Draft, GeneContext, RuleResult

GENES = frozenset({"SLCO1B1"})
_SUBALLELE = re.compile(r"^(\*\d+)\.\d+$")


def core_name(allele: str) -> str:
    return _SUBALLELE.sub(r"\1", allele)


def apply(ctx: GeneContext, draft: Draft) -> RuleResult:
    if ctx.gene not in GENES or not draft.diplotypes or draft.lowest_function:
        return RuleResult(draft)
    diplotypes = tuple(dict.fromkeys(tuple(sorted((core_name(a) for a in d), key=sort_key))
                                     for d in draft.diplotypes))
    return RuleResult(replace(draft, diplotypes=diplotypes))


__all__ = ["GENES", "apply", "core_name"]
