"""Medication review by lookup key: guidance that never reassures falsely (issue 10).

Patients are written as outside-call TSVs (the lab's own calls), called with `pgxguard.call`, then
reviewed through the Python API and the CLI. Expected classes come from the published
recommendation the patient's key selects (read from the bundled guidance by its lookup key) and
from the written rules of docs/guidance.md, not from the review's own output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pgxguard
from pgxguard.cli import app
from pgxguard.guidance.load import load_guidance
from pgxguard.guidance.model import Action, MedicineReview
from pgxguard.guidance.review import review

GKB = load_guidance()


def _calls(tmp_path: Path, rows: list[tuple[str, str]]) -> pgxguard.CallResult:
    p = tmp_path / "oc.tsv"
    p.write_text("gene\tdiplotype\n" + "".join(f"{g}\t{d}\n" for g, d in rows))
    return pgxguard.call(None, outside_calls=p)


def _item(tmp_path: Path, rows: list[tuple[str, str]], drug: str) -> MedicineReview:
    res = review(_calls(tmp_path, rows), [drug])
    (item,) = [i for i in res.items if i.drug == drug]
    return item


def _published(drug: str, source: str, **keys: str) -> set[Action]:
    """Classes of the published recommendations filed under exactly these keys."""
    return {e.action for e in GKB.for_drug(drug) if e.source == source
            and {c.gene: c.label for c in e.conditions} == keys}


def test_indeterminate_cyp2d6_is_result_incomplete_not_standard(tmp_path: Path) -> None:
    # *4/*22: *22 has uncertain function, CPIC's table says Indeterminate (key n/a).
    item = _item(tmp_path, [("CYP2D6", "*4/*22")], "codeine")
    assert item.action is Action.RESULT_INCOMPLETE
    assert "CYP2D6" in item.missing_genes
    assert any("Indeterminate" in m for m in item.messages)
    assert _published("codeine", "CPIC", CYP2D6="n/a") == {Action.NO_RECOMMENDATION}


def test_indeterminate_cyp2c19_clopidogrel(tmp_path: Path) -> None:
    item = _item(tmp_path, [("CYP2C19", "*1/*39")], "clopidogrel")
    assert item.action is Action.RESULT_INCOMPLETE


def test_allele_without_published_function_is_result_incomplete(tmp_path: Path) -> None:
    # CYP2C19 *40 is defined (2025-11) but has no function in CPIC's table.
    item = _item(tmp_path, [("CYP2C19", "*1/*40")], "clopidogrel")
    assert item.action is Action.RESULT_INCOMPLETE
    assert any("no function assigned" in m for m in item.messages)


def test_untested_gene_names_the_gene_and_shows_no_result_rows(tmp_path: Path) -> None:
    # Only TPMT tested: CPIC's thiopurine rows keyed "NUDT15: No Result" apply and are shown.
    item = _item(tmp_path, [("TPMT", "*1/*3A")], "azathioprine")
    want = _published("azathioprine", "CPIC", TPMT="Intermediate Metabolizer",
                      NUDT15="No Result")
    assert want == {Action.ADJUST_DOSE}
    assert item.action is Action.ADJUST_DOSE  # more urgent than result incomplete
    assert "NUDT15" in item.missing_genes
    assert "no result for NUDT15: consider testing" in item.messages
    assert any(r.phenotypes.get("NUDT15") == "No Result" for r in item.recommendations)


def test_untested_gene_alone_never_gives_standard(tmp_path: Path) -> None:
    item = _item(tmp_path, [("TPMT", "*1/*1")], "clopidogrel")
    assert item.action is Action.RESULT_INCOMPLETE
    assert "CYP2C19" in item.missing_genes


def test_dpyd_activity_1_capecitabine_is_a_dose_reduction(tmp_path: Path) -> None:
    item = _item(tmp_path, [("DPYD", "Reference/c.1905+1G>A (*2A)")], "capecitabine")
    assert _published("capecitabine", "CPIC", DPYD="1.0") == {Action.ADJUST_DOSE}
    assert item.action is Action.ADJUST_DOSE
    cpic = [r for r in item.recommendations if r.source == "CPIC"]
    assert cpic and cpic[0].text.startswith("Reduce starting dose by 50%")
    assert cpic[0].strength == "Strong"


def test_cftr_non_responsive_ivacaftor_is_avoid(tmp_path: Path) -> None:
    ref = "ivacaftor non-responsive CFTR sequence"
    item = _item(tmp_path, [("CFTR", f"{ref}/{ref}")], "ivacaftor")
    assert item.action is Action.AVOID
    assert item.recommendations[0].text == "Ivacaftor is not recommended"


def test_hla_b_allele_status(tmp_path: Path) -> None:
    pos = _item(tmp_path, [("HLA-B", "*57:01/*08:01")], "abacavir")
    assert pos.action is Action.AVOID
    assert {r.source for r in pos.recommendations} == {"CPIC", "DPWG"}
    neg = _item(tmp_path, [("HLA-B", "*08:01/*44:02")], "abacavir")
    assert _published("abacavir", "CPIC", **{"HLA-B": "*57:01 negative"}) == {Action.STANDARD}
    assert neg.action is Action.STANDARD


def test_multi_gene_key_amitriptyline(tmp_path: Path) -> None:
    item = _item(tmp_path, [("CYP2C19", "*2/*2"), ("CYP2D6", "*1/*1")], "amitriptyline")
    want = _published("amitriptyline", "CPIC", CYP2C19="Poor Metabolizer", CYP2D6="2.0")
    assert item.action in want and item.action is not Action.STANDARD
    assert any(r.phenotypes == {"CYP2C19": "Poor Metabolizer", "CYP2D6": "2.0"}
               for r in item.recommendations)


def test_normal_metabolizer_standard_with_dpwg_no_recommendation(tmp_path: Path) -> None:
    item = _item(tmp_path, [("CYP2D6", "*1/*1")], "codeine")
    assert item.action is Action.STANDARD
    by = {r.source: r.action for r in item.recommendations}
    assert by == {"CPIC": Action.STANDARD, "DPWG": Action.NO_RECOMMENDATION}


def test_ultrarapid_codeine_avoid_and_disagreement_shown(tmp_path: Path) -> None:
    item = _item(tmp_path, [("CYP2D6", "*1/*1x2")], "codeine")
    assert item.action is Action.AVOID
    assert any(m.startswith("CPIC and DPWG differ") for m in item.messages)


def test_populations_are_labelled(tmp_path: Path) -> None:
    item = _item(tmp_path, [("CYP2C19", "*2/*2")], "clopidogrel")
    pops = {r.population for r in item.recommendations if r.source == "CPIC"}
    assert {"CVI ACS PCI", "NVI"} <= pops
    assert item.action is Action.AVOID


def test_ties_that_disagree_are_result_incomplete(tmp_path: Path) -> None:
    calls = _calls(tmp_path, [("CYP2C19", "*1/*1")])
    g = calls.samples[0].genes[0]
    from dataclasses import replace

    tied = replace(g, diplotypes=(("*1", "*1"), ("*2", "*2")), phenotype=None,
                   phenotypes=("Normal Metabolizer", "Poor Metabolizer"), lookup_key=None)
    calls = replace(calls, samples=(replace(calls.samples[0], genes=(tied,)),))
    (item,) = review(calls, ["clopidogrel"]).items
    assert item.action is Action.RESULT_INCOMPLETE
    assert any("different phenotypes" in m for m in item.messages)


def test_currency_flags_and_guidance_newer_than_the_snapshot(tmp_path: Path) -> None:
    item = _item(tmp_path, [("TPMT", "*1/*1"), ("NUDT15", "*1/*1")], "azathioprine")
    assert any("CPIC updated the azathioprine recommendations on 2026-02-04" in m
               for m in item.messages)
    hyd = _item(tmp_path, [("NAT2", "*4/*4")], "hydralazine")
    assert hyd.action is Action.RESULT_INCOMPLETE
    assert any("2025-09-01" in m and "cpicpgx.org" in m for m in hyd.messages)


def test_warfarin_cpic_algorithm_is_pointed_to(tmp_path: Path) -> None:
    vk = "rs9923231 reference (C)/rs9923231 reference (C)"
    item = _item(tmp_path, [("CYP2C9", "*1/*1"), ("VKORC1", vk), ("CYP4F2", "*1/*1")],
                 "warfarin")
    assert any("no structured recommendations" in m for m in item.messages)
    assert item.action is not Action.NO_GUIDANCE


def _unlisted_result() -> tuple[str, str, str]:
    """(drug, gene, diplotype): a single-gene drug whose recommendations list no row for the
    lookup key of a determinate diplotype of CPIC's table (found from the tables themselves)."""
    kb = pgxguard.load_knowledge_base()
    for drug in GKB.drugs:
        entries = GKB.for_drug(drug)
        genes = {c.gene for e in entries for c in e.conditions}
        if len(genes) != 1 or not entries:
            continue
        (gene,) = genes
        rules = kb.phenotypes.get(gene)
        if rules is None or gene == "G6PD":
            continue
        labels = {c.label for e in entries for c in e.conditions}
        for row in rules.rows:
            if row.phenotype != "Indeterminate" and row.lookup_key not in labels and \
                    row.phenotype not in labels and len(row.alleles) == 2 and \
                    not any(c.kind == "diplotype" for e in entries for c in e.conditions):
                return drug, gene, "/".join(row.alleles)
    raise AssertionError("every determinate result has a recommendation row")


def test_no_matching_recommendation_is_never_standard(tmp_path: Path) -> None:
    drug, gene, diplotype = _unlisted_result()
    item = _item(tmp_path, [(gene, diplotype)], drug)
    assert not item.recommendations
    assert item.action is Action.NO_RECOMMENDATION
    assert any("list no recommendation" in m for m in item.messages)


def test_review_cli_json(tmp_path: Path) -> None:
    oc = tmp_path / "oc.tsv"
    oc.write_text("gene\tdiplotype\nCYP2D6\t*4/*22\nDPYD\tReference/c.1905+1G>A (*2A)\n")
    calls = tmp_path / "calls.json"
    r = CliRunner().invoke(app, ["call", "--outside-calls", str(oc), "-o", str(calls)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["review", "--calls", str(calls), "--meds",
                                 "Zydol, Xeloda, suxamethonium", "--format", "json"])
    assert r.exit_code == 0, r.output
    items = {i["drug"]: i for i in json.loads(r.output)["items"]}
    assert items["tramadol"]["action"] == "result incomplete"
    assert items["capecitabine"]["action"] == "adjust dose"
    assert items["succinylcholine"]["action"] == "result incomplete"  # RYR1/CACNA1S untested
    rec = items["capecitabine"]["recommendations"][0]
    assert rec["strength"] and rec["guideline_url"].startswith("https://")
    assert rec["text_html"].startswith("<p>")


@pytest.mark.parametrize(("name", "generic"), [
    ("suxamethonium", "succinylcholine"), ("Zydol", "tramadol"), ("Campto", "irinotecan"),
    ("tioguanine", "thioguanine"), ("methylthioninium chloride", "methylene blue"),
    ("Efudix", "fluorouracil"), ("Kalydeco", "ivacaftor")])
def test_uk_names_resolve(name: str, generic: str) -> None:
    from pgxguard.guidance.medicines import resolve_medicine

    assert generic in resolve_medicine(name).components


def test_saved_calls_without_lookup_keys_still_match_or_are_incomplete(tmp_path: Path) -> None:
    """A call saved before lookup keys existed: matched through its activity score; a
    phenotype-only CYP2D6 result cannot decide score-keyed rows (never 'no recommendation')."""
    from dataclasses import replace

    calls = _calls(tmp_path, [("CYP2D6", "*4/*4")])
    g = calls.samples[0].genes[0]
    assert (g.lookup_key, g.activity_score) == ("0.0", 0.0)
    old = replace(calls, samples=(replace(calls.samples[0],
                                          genes=(replace(g, lookup_key=None),)),))
    (item,) = review(old, ["codeine"]).items
    assert item.action is Action.AVOID
    pheno_only = replace(g, lookup_key=None, activity_score=None, diplotypes=())
    only = replace(calls, samples=(replace(calls.samples[0], genes=(pheno_only,)),))
    (item,) = review(only, ["codeine"]).items
    assert item.action is Action.RESULT_INCOMPLETE


def test_unlisted_copy_form_of_an_uncertain_allele_is_indeterminate(tmp_path: Path) -> None:
    """*65 has activity n/a in CPIC's CYP2D6 table; every published row with an n/a allele is
    Indeterminate (checked at build), so *4/*65x2, which the table does not list, is too."""
    kb = pgxguard.load_knowledge_base()
    rules = kb.phenotypes["CYP2D6"]
    assert rules.activity_values["*65"] == "n/a" and rules.lookup(("*4", "*65x2")) is None
    calls = _calls(tmp_path, [("CYP2D6", "*4/*65x2")])
    g = calls.samples[0].genes[0]
    assert (g.phenotype, g.lookup_key) == ("Indeterminate", "n/a")
    (item,) = review(calls, ["codeine"]).items
    assert item.action is Action.RESULT_INCOMPLETE
