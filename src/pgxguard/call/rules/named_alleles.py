"""The named-allele match as a step of the rules: `pgxguard.match.matcher` on the draft's sites,
its warnings labelled (`match.no_call` for the no-call reason, `match.tie` for the tie note) so
later rules can supersede them by code."""

from __future__ import annotations

from dataclasses import replace

from pgxguard.call.rules.base import Draft, GeneContext, RuleResult, RuleWarning
from pgxguard.match.matcher import MatchResult, match_gene


def _code(m: MatchResult, message: str) -> str:
    if message == m.no_call_reason:
        return "match.no_call"
    tie = f"{len(m.diplotypes)} diplotypes tie at score {m.score}"  # as the matcher writes it
    if len(m.diplotypes) > 1 and message == tie:
        return "match.tie"
    return "match.note"


def apply(ctx: GeneContext, draft: Draft) -> RuleResult:
    m = match_gene(ctx.defn, draft.sites)
    warnings: list[RuleWarning] = [ctx.warn(_code(m, w), w) for w in m.warnings]
    if m.missing_positions:
        warnings.append(ctx.warn("match.missing", f"{len(m.missing_positions)} of "
                                 f"{len(ctx.defn.positions)} positions missing"))
    return RuleResult(replace(draft, match=m, diplotypes=m.diplotypes), tuple(warnings))


__all__ = ["apply"]
