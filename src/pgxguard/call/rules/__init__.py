"""Gene rules of the call stage, one module each (PharmCAT's `reporter/caller` split):

* `copy_number`: the input's whole-gene copy number (deletions, duplications) and the structural
  alleles left unassessed; before and after matching.
* `named_alleles`: the named-allele match itself (`pgxguard.match.matcher`), then the note of
  missing positions.
* `required_positions`: PharmCAT's required positions (exemptions): no call without them.
* `lowest_function`: PharmCAT's DPYD/RYR1 rule (per-strand variants, `[a + b]` combinations).
* `priorities`: PharmCAT's unphased NAT2 priority table.
* `core_names`: SLCO1B1 sub-alleles reported by their core name.

Each rule takes the gene's `Draft` and returns a `RuleResult` (the new draft, its own structured
warnings, the warning codes it supersedes); `rules_for` lists the rules of one gene in order.
"""

from __future__ import annotations

from pgxguard.call.rules import (
    copy_number,
    core_names,
    lowest_function,
    named_alleles,
    priorities,
    required_positions,
)
from pgxguard.call.rules.base import GeneRule
from pgxguard.kb.model import GeneDefinition


def rules_for(defn: GeneDefinition) -> tuple[GeneRule, ...]:
    """The gene's rules in the order they run (copy number first, core names last)."""
    rules: list[GeneRule] = [copy_number.before_match, named_alleles.apply]
    if defn.required_positions:
        rules.append(required_positions.apply)
    rules += [named_alleles.missing_note, copy_number.after_match]
    if defn.rule == "lowest_function":
        rules.append(lowest_function.apply)
    if priorities.table_for(defn.gene) is not None:
        rules.append(priorities.apply)
    if defn.gene in core_names.GENES:
        rules.append(core_names.apply)
    return tuple(rules)


__all__ = ["rules_for"]
