"""What every gene rule reads and returns: the gene's draft call and structured warnings.

A rule never edits another's text: it returns a new `Draft`, its own `RuleWarning`s, and the
codes of earlier warnings its result makes obsolete (`supersedes`), e.g. PharmCAT's NAT2 pick
supersedes the matcher's tie note. The pipeline drops superseded warnings when it writes the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pgxguard.kb.model import GeneDefinition, KnowledgeBase
from pgxguard.match.matcher import MatchResult
from pgxguard.match.types import SiteCall

Diplotypes = tuple[tuple[str, ...], ...]
# Per possible diplotype, the named variants on each strand (lowest-function genes).
Strands = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class RuleWarning:
    """One warning of a gene call: a stable `code` (what kind), the gene, the text shown."""

    code: str
    gene: str
    message: str


@dataclass(frozen=True, slots=True)
class GeneContext:
    """What a rule may consult: the knowledge base and the gene's definitions."""

    kb: KnowledgeBase
    defn: GeneDefinition
    has_phenotypes: bool

    @property
    def gene(self) -> str:
        return self.defn.gene

    def warn(self, code: str, message: str) -> RuleWarning:
        return RuleWarning(code, self.defn.gene, message)


@dataclass(frozen=True, slots=True)
class Draft:
    """One gene's call as the rules build it (the phenotype step turns it into a `GeneCall`)."""

    sites: tuple[SiteCall | None, ...]
    # Named alleles the input cannot show (structural, or without a usable definition).
    not_assessed: tuple[str, ...] = ()
    # The input's whole-gene copy number; None once a rule finds it is not used.
    copy_number: int | None = None
    match: MatchResult | None = None
    diplotypes: Diplotypes = ()
    alternatives: Diplotypes = ()
    # Lowest-function genes: the variants found (unphased) or each diplotype's strands.
    variants: tuple[str, ...] = ()
    strands: Strands = ()
    free_blocks: int = 0
    # The lowest-function rule ran: the phenotype comes from the lowest-function variants.
    lowest_function: bool = False
    # A rule chose diplotypes other than the matcher's top-scoring ones: no score reported.
    rescored: bool = False
    # A rule made the whole call (copy number 0): no matching, no later rule.
    final: bool = False


@dataclass(frozen=True, slots=True)
class RuleResult:
    draft: Draft
    warnings: tuple[RuleWarning, ...] = ()
    supersedes: frozenset[str] = field(default_factory=frozenset)


class GeneRule(Protocol):
    """A gene rule: applies to some genes; returns the draft unchanged when it does not."""

    def __call__(self, ctx: GeneContext, draft: Draft) -> RuleResult: ...


__all__ = ["Diplotypes", "Draft", "GeneContext", "GeneRule", "RuleResult", "RuleWarning",
           "Strands"]
