"""The call stage's gene rules (`pgxguard.call.rules`): which rules a gene runs, and how a rule's
result replaces an earlier warning by its code, never by editing the text.

The genotypes come from the definitions (`vcfbuilder.from_definition`): CYP2C19 *1/*2 with the
two positions that tell *2 from *35 absent, so the matcher ties *1/*2 with *1/*35 (the case
`test_vcf_input.TIE_2_35` derives).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

import pgxguard
from kbfacts import index_of, set_site
from pgxguard.call import pipeline as call_pipeline
from pgxguard.call.rules import (
    copy_number,
    core_names,
    lowest_function,
    named_alleles,
    priorities,
    required_positions,
    rules_for,
)
from pgxguard.call.rules.base import Draft, GeneContext, RuleResult
from pgxguard.kb.model import GeneDefinition
from vcfbuilder import from_definition

KB = pgxguard.load_knowledge_base()
C19 = KB.definition("CYP2C19", "GRCh38")
ABSENT = {p.pos for p in C19.positions if p.rsid in ("rs58973490", "rs4244285")}
WriteVcf = Callable[..., Path]


def _tie_vcf(tmp_vcf: WriteVcf) -> Path:
    b = from_definition(C19, {"A": ("*1", "*2")}, phased=True)
    b.records = [r for r in b.records if r.pos not in ABSENT]
    return tmp_vcf(b)


def _defn(gene: str) -> GeneDefinition:
    return KB.definition(gene, "GRCh38")


def test_each_gene_runs_its_own_rules_in_order() -> None:
    common = (copy_number.before_match, named_alleles.apply, named_alleles.missing_note,
              copy_number.after_match)
    assert rules_for(_defn("CYP2C19")) == common
    assert rules_for(_defn("CYP2D6")) == common
    assert rules_for(_defn("DPYD")) == (*common, lowest_function.apply)
    assert rules_for(_defn("RYR1")) == (*common, lowest_function.apply)
    # NAT2: PharmCAT's required positions (right after the match) and unphased priorities
    assert _defn("NAT2").required_positions
    assert rules_for(_defn("NAT2")) == (copy_number.before_match, named_alleles.apply,
                                        required_positions.apply, *common[2:],
                                        priorities.apply)
    assert rules_for(_defn("SLCO1B1")) == (*common, core_names.apply)


def test_matcher_warnings_are_labelled(tmp_vcf: WriteVcf,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Draft] = []

    def spy(ctx: GeneContext, draft: Draft) -> RuleResult:
        seen.append(draft)
        return RuleResult(draft)

    monkeypatch.setattr(call_pipeline, "rules_for", lambda d: (*rules_for(d), spy))
    gc = pgxguard.call(_tie_vcf(tmp_vcf), genes=["CYP2C19"]).samples[0].gene("CYP2C19")
    assert gc.diplotypes == (("*1", "*2"), ("*1", "*35"))
    # the same sites through the named-allele step alone
    ctx = GeneContext(KB, C19, True)
    r = named_alleles.apply(ctx, Draft(sites=seen[0].sites))
    note = named_alleles.missing_note(ctx, r.draft)
    codes = {w.code: w.message for w in (*r.warnings, *note.warnings)}
    assert codes["match.tie"].startswith("2 diplotypes tie at score")
    assert codes["match.missing"] == f"2 of {len(C19.positions)} positions missing"
    assert all(w.gene == "CYP2C19" for w in (*r.warnings, *note.warnings))
    assert codes["match.tie"] in gc.warnings and codes["match.missing"] in gc.warnings


def test_a_rule_supersedes_an_earlier_warning_by_code(tmp_vcf: WriteVcf,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = _tie_vcf(tmp_vcf)
    before = pgxguard.call(path, genes=["CYP2C19"]).samples[0].gene("CYP2C19")
    tie = [w for w in before.warnings if "diplotypes tie at score" in w]
    assert len(tie) == 1

    def keep_first(ctx: GeneContext, draft: Draft) -> RuleResult:
        return RuleResult(replace(draft, diplotypes=draft.diplotypes[:1], rescored=True),
                          (ctx.warn("test.pick", "first tie kept"),), frozenset({"match.tie"}))

    monkeypatch.setattr(call_pipeline, "rules_for", lambda d: (*rules_for(d), keep_first))
    after = pgxguard.call(path, genes=["CYP2C19"]).samples[0].gene("CYP2C19")
    assert after.diplotypes == (("*1", "*2"),) and after.score is None
    # the superseded note is gone, every other warning kept in order, the rule's note added
    assert after.warnings == (*[w for w in before.warnings if w != tie[0]], "first tie kept")


def test_copy_number_zero_is_the_whole_call() -> None:
    """CN 0 (both copies deleted): no matching, no later rule; the deletion allele twice."""
    d6 = _defn("CYP2D6")
    ctx = GeneContext(KB, d6, True)
    start = Draft(sites=tuple(None for _ in d6.positions), copy_number=0,
                  not_assessed=tuple(d6.structural_alleles))
    r = copy_number.before_match(ctx, start)
    assert r.draft.final and r.draft.match is None
    assert r.draft.diplotypes == (("*5", "*5"),)
    assert "*5" not in r.draft.not_assessed
    assert r.warnings[0].code == "copy_number.used"


def test_pgxguard_call_stays_the_function() -> None:
    """`pgxguard.call` is the documented function although `pgxguard/call/` is a package: the
    package's modules are imported with `from pgxguard.call import ...`."""
    assert pgxguard.call is call_pipeline.call
    assert "call" in pgxguard.__all__ and "CallOptions" in pgxguard.__all__


def test_required_position_missing_is_a_no_call_before_the_missing_note(
        tmp_vcf: WriteVcf) -> None:
    """PharmCAT's exemptions: NAT2 is not called without rs1801280; the reason is stated, then
    how many positions are missing (the order the matcher wrote them in before the rule moved
    out of it)."""
    nat2 = _defn("NAT2")
    i = index_of(nat2, "rs1801280")
    b = from_definition(nat2, {"S": ("*1", "*5")}, phased=False)
    set_site(b, nat2, i, {"S": "./."})
    gc = pgxguard.call(tmp_vcf(b), genes=["NAT2"]).samples[0].gene("NAT2")
    assert gc.diplotypes == () and gc.source == "none" and gc.score is None and not gc.phased
    assert gc.warnings[-2].startswith("required NAT2 position(s) ") and "rs1801280" in \
        gc.warnings[-2]
    assert gc.warnings[-1] == f"1 of {len(nat2.positions)} positions missing"
    assert not any("diplotypes tie" in w or "priority" in w for w in gc.warnings)


def test_a_partial_genotype_no_call_stands_before_required_positions(tmp_vcf: WriteVcf) -> None:
    """A partial genotype with a non-reference allele is the matcher's no call, whatever else
    is missing: the required-positions rule leaves it."""
    nat2 = _defn("NAT2")
    req = index_of(nat2, "rs1801280")
    other = next(i for i, p in enumerate(nat2.positions) if p.pos not in nat2.required_positions)
    b = from_definition(nat2, {"S": ("*1", "*5")}, phased=False)
    set_site(b, nat2, req, {"S": "./."})
    set_site(b, nat2, other, {"S": "./1"})
    gc = pgxguard.call(tmp_vcf(b), genes=["NAT2"]).samples[0].gene("NAT2")
    assert gc.diplotypes == ()
    assert any(w.startswith("partial genotype with a non-reference allele") for w in gc.warnings)
    assert not any(w.startswith("required NAT2") for w in gc.warnings)
