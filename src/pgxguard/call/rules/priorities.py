"""Unphased diplotype priorities (PharmCAT's NAT2 rule): one diplotype chosen by frequency data.

Unphased NAT2 genotypes often fit several diplotypes. PharmCAT publishes, per set of diplotypes
that the same unphased genotypes fit, the one to report (chosen from population frequencies).
The rule, as PharmCAT applies it: with unphased data that is not effectively phased, take every
diplotype consistent with the genotypes (whatever its score); when they include every diplotype of
a row, report that row's pick and say so. pgxguard adds two safeguards: the table is used only
with definitions that name every allele it names (it is written for the PharmVar nomenclature,
not older ones), and when the candidates fit more than one row (possible with missing positions)
nothing is picked and the ties stay. The table ships as `kb/data/unphased-priorities.json` with
its source; its SHA-256 is checked on load.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pgxguard.alleles import sort_key
from pgxguard.call.rules.base import Draft, GeneContext, RuleResult
from pgxguard.errors import KnowledgeBaseError
from pgxguard.snapshot import packaged_bytes

DATA_NAME = "unphased-priorities.json"
SHA256 = "1c7dc0041ef568da37f4d6d61c3baebada574b0e8fa35d5af4c03a8de729ae9c"

Diplotype = tuple[str, ...]


def _diplotype(text: str) -> Diplotype:
    return tuple(sorted(text.split("/"), key=sort_key))


@dataclass(frozen=True, slots=True)
class Priority:
    pick: Diplotype
    diplotypes: frozenset[Diplotype]  # the pick and the diplotypes it is chosen over


@dataclass(frozen=True, slots=True)
class PriorityTable:
    gene: str
    rows: tuple[Priority, ...]
    source: dict[str, Any]

    @property
    def alleles(self) -> frozenset[str]:
        return frozenset(a for r in self.rows for d in r.diplotypes for a in d)

    def fits(self, allele_names: Sequence[str]) -> bool:
        """Whether definitions with these allele names use the table's nomenclature."""
        return self.alleles <= set(allele_names)

    def rows_within(self, candidates: Sequence[Diplotype]) -> list[Priority]:
        have = set(candidates)
        return [r for r in self.rows if r.diplotypes <= have]


@functools.lru_cache(maxsize=1)
def load_priorities() -> dict[str, PriorityTable]:
    raw, where = packaged_bytes("pgxguard.kb", DATA_NAME, "unphased-priority table")
    if hashlib.sha256(raw).hexdigest() != SHA256:
        raise KnowledgeBaseError("the unphased-priority table does not match its checksum",
                                 path=where,
                                 hint="restore the file shipped with pgxguard (reinstall)")
    data = json.loads(raw)
    out = {}
    for gene, rows in data["genes"].items():
        out[gene] = PriorityTable(
            gene, tuple(Priority(_diplotype(r[0]), frozenset(_diplotype(x) for x in r))
                        for r in rows), data["source"])
    return out


def provenance() -> list[dict[str, Any]]:
    """For a result's `knowledge_base`: which priority tables were in force."""
    return [{**t.source, "genes": [g], "sha256": SHA256, "rows": len(t.rows)}
            for g, t in sorted(load_priorities().items())]


def table_for(gene: str) -> PriorityTable | None:
    return load_priorities().get(gene)


def apply(ctx: GeneContext, draft: Draft) -> RuleResult:
    """The rule on one gene's matched diplotypes: (one pick, the alternatives it replaced)."""
    m, gene = draft.match, ctx.gene
    table = table_for(gene)
    if (m is None or not draft.diplotypes or draft.lowest_function or table is None or m.phased
            or m.haploid or len(m.candidates) < 2):
        return RuleResult(draft)
    if not table.fits(ctx.defn.allele_names):
        if len(draft.diplotypes) > 1:
            return RuleResult(draft, (ctx.warn(
                "priority.not_applied",
                f"PharmCAT's unphased {gene} priority table was not applied: these {gene} "
                "definitions do not use the nomenclature it is written for (PharmVar)"),))
        return RuleResult(draft)
    rows = table.rows_within(m.candidates)
    if len(rows) > 1:
        return RuleResult(draft, (ctx.warn(
            "priority.ambiguous",
            f"the {gene} genotypes fit {len(rows)} rows of PharmCAT's unphased priority table "
            "(missing positions?): no diplotype chosen"),))
    if not rows:
        return RuleResult(draft)
    pick = rows[0].pick
    others = tuple(d for d in m.candidates if d != pick)
    note = ctx.warn(
        "priority.pick",
        f"unphased {gene} genotypes fit {len(m.candidates)} diplotypes "
        f"({', '.join('/'.join(d) for d in m.candidates)}): {'/'.join(pick)} reported, chosen "
        f"by PharmCAT's unphased priority table (population frequencies; "
        f"{table.source['name']}, PharmCAT commit {table.source['commit'][:10]})")
    return RuleResult(replace(draft, diplotypes=(pick,), alternatives=others,
                              rescored=draft.rescored or bool(others)),
                      (note,), frozenset({"match.tie"}))


__all__ = ["Priority", "PriorityTable", "apply", "load_priorities", "provenance", "table_for"]
