"""The named-allele match as a step of the rules: `pgxguard.match.matcher` on the draft's sites,
its warnings labelled (`match.no_call` for the no-call reason, `match.tie` for the tie note) so
later rules can supersede them by code."""

from __future__ import annotations

from dataclasses import replace

from pgxguard.call.rules.base import Draft, GeneContext, RuleResult
from pgxguard.match.matcher import MatchResult, match_gene


def warning_code(m: MatchResult, message: str) -> str:
    """The code of one of the matcher's warnings: `match.no_call`, `match.tie` or `match.note`."""
    if message == m.no_call_reason:
        return "match.no_call"
    tie = f"{len(m.diplotypes)} diplotypes tie at score {m.score}"  # as the matcher writes it
    if len(m.diplotypes) > 1 and message == tie:
        return "match.tie"
    return "match.note"


def apply(ctx: GeneContext, draft: Draft) -> RuleResult:
    m = match_gene(ctx.defn, draft.sites)
    warnings = tuple(ctx.warn(warning_code(m, w), w) for w in m.warnings)
    return RuleResult(replace(draft, match=m, diplotypes=m.diplotypes), warnings)


def missing_note(ctx: GeneContext, draft: Draft) -> RuleResult:
    """How many of the gene's positions the input did not cover (after the required-positions
    rule, so its no-call reason comes first)."""
    m = draft.match
    if m is None or not m.missing_positions:
        return RuleResult(draft)
    return RuleResult(draft, (ctx.warn("match.missing", f"{len(m.missing_positions)} of "
                                       f"{len(ctx.defn.positions)} positions missing"),))


__all__ = ["apply", "missing_note", "warning_code"]
