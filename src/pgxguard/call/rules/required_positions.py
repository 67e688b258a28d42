"""Required positions (PharmCAT's exemptions, `requiredPositions`): a gene is not called when
one of them has no data, whatever the other positions show (NAT2's key SNPs).

Runs right after the match. A partial genotype with a non-reference allele, or an allele the
definitions do not know, is the matcher's no call and stands; otherwise a required position
without a complete genotype replaces the match with a no call saying which positions.
"""

from __future__ import annotations

from dataclasses import replace

from pgxguard.call.rules.base import Draft, GeneContext, RuleResult
from pgxguard.call.rules.named_alleles import warning_code
from pgxguard.match.matcher import MatchResult, position_label


def apply(ctx: GeneContext, draft: Draft) -> RuleResult:
    defn, m = ctx.defn, draft.match
    if not defn.required_positions or m is None or m.reason_code in ("partial", "unknown_alt"):
        return RuleResult(draft)
    # As the matcher reads them: a position has data when its genotype is complete.
    have = [s is not None and s.complete for s in draft.sites]
    req = [position_label(defn, i) for i, p in enumerate(defn.positions)
           if p.pos in defn.required_positions and not have[i]]
    if not req:
        return RuleResult(draft)
    reason = (f"required {defn.gene} position(s) {', '.join(req)} missing (PharmCAT's "
              "exemptions: the gene cannot be called without them): no call")
    kept = tuple(w for w in m.warnings if warning_code(m, w) == "match.note")
    no_call = MatchResult(defn.gene, (), None, m.missing_positions, (*kept, reason), False,
                          no_call_reason=reason, reason_code="required")
    return RuleResult(replace(draft, match=no_call, diplotypes=()),
                      (ctx.warn("required_positions.missing", reason),),
                      frozenset({"match.no_call", "match.tie"}))


__all__ = ["apply"]
