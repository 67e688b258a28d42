"""Medication review: known clinical cases, expectations copied from the published sources.

Expected recommendation texts and ids below are copied from the guideline annotations as published
(kb-sources `pharmcat/guidelines/{CPIC,DPWG}_<drug>_and_<gene>.json`: `text.html` with the tags
removed, `id`, `lookupKey`, `population`), not from pgxguard output; action classes are the
written rules of docs/guidance.md (R1-R9) applied by hand to those texts; phenotypes come from
CPIC's published tables (`kbfacts.table_row`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kbfacts import table_row
from pgxguard import call
from pgxguard.call.results import CallResult, GeneCall, SampleCall
from pgxguard.cli import app
from pgxguard.errors import InputError, SampleError, UnknownMedicineError
from pgxguard.guidance.load import load_guidance
from pgxguard.guidance.model import Action, MedicineReview, ReviewResult
from pgxguard.guidance.review import review


def calls(*genes: GeneCall, sample: str = "P1") -> CallResult:
    return CallResult(knowledge_base={"version": "test"},
                      samples=(SampleCall(sample=sample, genes=tuple(genes)),))


def one(result: ReviewResult, drug: str) -> MedicineReview:
    items = [i for i in result.items if i.drug == drug]
    assert len(items) == 1, items
    return items[0]


def texts(item: MedicineReview, source: str) -> list[str]:
    return [r.text for r in item.recommendations if r.source == source]


def ids(item: MedicineReview, source: str) -> set[str | None]:
    return {r.recommendation_id for r in item.recommendations if r.source == source}


CYP2C19_PM = GeneCall("CYP2C19", (("*2", "*2"),), phenotype="Poor Metabolizer")
TPMT_PM = GeneCall("TPMT", (("*3A", "*3A"),), phenotype="Poor Metabolizer")
NUDT15_NM = GeneCall("NUDT15", (("*1", "*1"),), phenotype="Normal Metabolizer")


@pytest.fixture
def outside_tsv(tmp_path: Path) -> Path:
    p = tmp_path / "outside.tsv"
    p.write_text("sample\tgene\tdiplotype\tphenotype\tactivity_score\n"
                 "P1\tCYP2D6\t*1/*2x2\tUltrarapid Metabolizer\t3.0\n"
                 "P1\tHLA-B\t*57:01/*08:01\t\t\n")
    return p


def test_clopidogrel_cyp2c19_poor_metaboliser() -> None:
    item = one(review(calls(CYP2C19_PM), "Clopidogrel 75mg tablets"), "clopidogrel")
    # CPIC (PA166104948) files three Poor Metabolizer rows, one per population; each begins
    # "Avoid clopidogrel if possible." (R2: avoid). DPWG (PA166104956) likewise says avoid.
    assert item.action is Action.AVOID
    assert ids(item, "CPIC") == {"PA166297572", "PA166297582", "PA166297590"}
    cpic = [r for r in item.recommendations if r.source == "CPIC"]
    assert {r.population for r in cpic} == {"CVI ACS PCI", "CVI non-ACS non-PCI", "NVI"}
    assert all(r.text.startswith("Avoid clopidogrel if possible.") for r in cpic)
    assert all(r.action is Action.AVOID and r.strength for r in cpic)
    acs = next(r for r in cpic if r.population == "CVI ACS PCI")
    assert acs.text.startswith("Avoid clopidogrel if possible. Use prasugrel or ticagrelor at "
                               "standard dose if no contraindication.")
    assert acs.strength == "Strong"
    assert acs.text_html is not None and acs.text_html.startswith(
        "<p>Avoid clopidogrel if possible. Use prasugrel or ticagrelor")
    assert ids(item, "DPWG") == {"PA166299211"}
    assert texts(item, "DPWG")[0].startswith(
        "PERCUTANEOUS CORONARY INTERVENTION, STROKE or TIA: avoid clopidogrel.")
    assert item.basis == {"CYP2C19": "*2/*2 (Poor Metabolizer)"}
    assert item.medicine.matched_by == "free text"
    assert all(r.phenotypes == {"CYP2C19": "Poor Metabolizer"} for r in item.recommendations)
    assert acs.guideline_id == "PA166104948"
    assert acs.guideline_url == "https://www.pharmgkb.org/guidelineAnnotation/PA166104948"
    assert "CPIC_clopidogrel_and_CYP2C19.json" in acs.source_version


def test_capecitabine_dpyd_activity_one() -> None:
    dpyd = GeneCall("DPYD", (("Reference", "c.1905+1G>A (*2A)"),),
                    phenotype="Intermediate Metabolizer", activity_score=1.0, lookup_key="1.0")
    item = one(review(calls(dpyd), ["Xeloda"]), "capecitabine")
    # CPIC PA166297901 (activity score 1.0): "Reduce starting dose by 50% ..." (R4).
    assert ids(item, "CPIC") == {"PA166297901"}
    (cpic,) = [r for r in item.recommendations if r.source == "CPIC"]
    assert cpic.text.startswith(
        "Reduce starting dose by 50% followed by titration of dose based on toxicity or "
        "therapeutic drug monitoring (if available). Patients with the c.2846A>T/c.2846A>T "
        "genotype may require >50% reduction in starting dose.")
    assert cpic.action is Action.ADJUST_DOSE and cpic.strength == "Strong"
    # DPWG keys "1.0 (Intermediate Metabolizer)" (PA166299238) and "1.0 (Phenotyping)"; the
    # latter needs a DPD activity measurement, so it is listed as not evaluated, never matched.
    assert ids(item, "DPWG") == {"PA166299238"}
    (dpwg,) = [r for r in item.recommendations if r.source == "DPWG"]
    assert dpwg.text.startswith("Start with 50% of the standard dose or avoid fluorouracil "
                                "and capecitabine.")
    assert dpwg.phenotypes == {"DPYD": "1.0 (Intermediate Metabolizer)"}
    assert any("not evaluated from genotypes" in m and "1.0 (Phenotyping)" in m
               for m in item.messages)
    # Both change the dose or avoid the drug: the badge is one of those, never standard.
    assert item.action in (Action.AVOID, Action.USE_ALTERNATIVE, Action.ADJUST_DOSE)


def test_azathioprine_tpmt_poor_metaboliser() -> None:
    item = one(review(calls(TPMT_PM, NUDT15_NM), "Imuran"), "azathioprine")
    cpic = texts(item, "CPIC")
    assert len(cpic) == 1 and cpic[0].startswith(
        "For non-malignant conditions, consider alternative non-thiopurine immunosuppressant "
        "therapy. For malignancy, start with drastically reduced doses")
    assert item.action in (Action.AVOID, Action.USE_ALTERNATIVE)
    assert set(item.basis) == {"TPMT", "NUDT15"}


def test_azathioprine_without_nudt15_uses_cpic_row_for_missing_gene() -> None:
    item = one(review(calls(TPMT_PM), "azathioprine"), "azathioprine")
    assert "no result for NUDT15: consider testing" in item.messages
    assert item.missing_genes == ("NUDT15",)
    assert texts(item, "CPIC")[0].startswith("Based on TPMT status, for non-malignant conditions")
    assert item.action in (Action.AVOID, Action.USE_ALTERNATIVE)


def test_simvastatin_slco1b1_decreased_function() -> None:
    slco = GeneCall("SLCO1B1", (("*1", "*5"),), phenotype="Decreased Function")
    item = one(review(calls(slco), "Simvastatin 40 mg"), "simvastatin")
    assert ids(item, "CPIC") == {"PA166298504"}
    assert texts(item, "CPIC")[0].startswith(
        "Prescribe an alternative statin depending on the desired potency (see Figure 1 of "
        "PMID: 35152405 for recommendations for alternative statins). If simvastatin therapy "
        "is warranted, limit dose to <20mg/day.")
    assert ids(item, "DPWG") == {"PA166299083"}
    assert texts(item, "DPWG")[0].startswith("Choose an alternative.")
    # Both first instructions name an alternative (R5).
    assert item.action is Action.USE_ALTERNATIVE


def test_codeine_cyp2d6_ultrarapid_outside_call(outside_tsv: Path) -> None:
    c = call(None, outside_calls=outside_tsv)
    result = review(c, ["codeine phosphate 30mg", "co-codamol 30/500"])
    items = [i for i in result.items if i.drug == "codeine"]
    assert len(items) == 2
    for item in items:
        assert item.action is Action.AVOID
        assert texts(item, "CPIC") == [
            "Avoid codeine use because of potential for serious toxicity. If opioid use is "
            "warranted, consider a non-tramadol opioid."]
        assert item.basis["CYP2D6"].startswith("*1/*2x2 (Ultrarapid Metabolizer")
    cocodamol = next(i for i in items if i.medicine.query == "co-codamol 30/500")
    assert cocodamol.medicine.components == ("codeine", "paracetamol")
    assert cocodamol.medicine.name == "co-codamol"
    # paracetamol has no PGx guidance: no separate entry for it
    assert all(i.drug != "paracetamol" for i in result.items)


def test_abacavir_hla_b5701_positive(outside_tsv: Path) -> None:
    c = call(None, outside_calls=outside_tsv)
    item = one(review(c, "Ziagen"), "abacavir")
    assert item.action is Action.AVOID
    assert ids(item, "DPWG") == {"PA166299245"}
    assert texts(item, "DPWG")[0].startswith(
        "Abacavir is contra-indicated for HLA-B*57:01-positive patients.")
    assert ids(item, "CPIC") == {"PA166296759"}
    assert texts(item, "CPIC") == ["Abacavir is not recommended"]
    assert all(r.phenotypes == {"HLA-B": "*57:01 positive"} for r in item.recommendations)


def test_abacavir_hla_b5701_negative() -> None:
    hla = GeneCall("HLA-B", (("*08:01", "*44:02"),), source="outside")
    item = one(review(calls(hla), "abacavir"), "abacavir")
    assert item.action is Action.STANDARD
    assert texts(item, "CPIC") == ["Use abacavir per standard dosing guidelines"]


VKORC1_AG = GeneCall("VKORC1", (("rs9923231 reference (C)", "rs9923231 variant (T)"),),
                     phenotype=table_row("VKORC1", "rs9923231 reference (C)",
                                         "rs9923231 variant (T)").phenotype)


def test_warfarin_cyp2c9_vkorc1() -> None:
    # CPIC's warfarin annotation has no structured recommendations (a dosing flow chart);
    # DPWG keys CYP2C9 on phenotype and on diplotype, VKORC1 on rs9923231 genotype.
    assert VKORC1_AG.phenotype == "-1639 AG"
    cyp2c9 = GeneCall("CYP2C9", (("*1", "*3"),), phenotype="Intermediate Metabolizer",
                      activity_score=1.0, lookup_key="1.0")
    item = one(review(calls(cyp2c9, VKORC1_AG), "Marevan"), "warfarin")
    assert texts(item, "CPIC") == []
    assert any("no structured recommendations" in m for m in item.messages)
    # PharmCAT's curated note for warfarin (messages.json, pcat-cpic-warfarin-1-flowchart).
    assert any("flow chart in figure 2" in m for m in item.messages)
    # DPWG: the Intermediate Metabolizer row (PA166299069) and the *1/*3 row (PA166299070)
    # both apply, "use 65% of the standard initial dose" (R4); VKORC1 -1639 AG: "NO action is
    # required" (PA166299076, R6).
    assert ids(item, "DPWG") == {"PA166299069", "PA166299070", "PA166299076"}
    dose = [r for r in item.recommendations if r.genes == ("CYP2C9",)]
    assert len(dose) == 2
    assert all(r.text.startswith("use 65% of the standard initial dose.") for r in dose)
    assert item.action is Action.ADJUST_DOSE


def test_warfarin_called_cyp4f2_is_a_complete_result() -> None:
    """CYP4F2 (named by CPIC's warfarin guideline) has no CPIC phenotype table, so its call never
    has a phenotype; that is not an incomplete result (a confirmatory test would not change it).
    CYP2C9 Normal Metabolizer and VKORC1 -1639 GG: DPWG gives no recommendation for either
    (PA166299075, PA166299077), CPIC has no structured rows."""
    from kbfacts import KB

    assert "CYP4F2" not in KB.phenotypes
    cyp2c9 = GeneCall("CYP2C9", (("*1", "*1"),), phenotype="Normal Metabolizer",
                      activity_score=2.0, lookup_key="2.0")
    ref = "rs9923231 reference (C)"
    vkorc1 = GeneCall("VKORC1", ((ref, ref),), phenotype=table_row("VKORC1", ref, ref).phenotype)
    cyp4f2 = GeneCall("CYP4F2", (("*1", "*1"),))
    item = one(review(calls(cyp2c9, vkorc1, cyp4f2), "warfarin"), "warfarin")
    assert vkorc1.phenotype == "-1639 GG"
    assert item.missing_genes == ()
    assert not any(m.startswith("CYP4F2") for m in item.messages)
    assert ids(item, "DPWG") == {"PA166299075", "PA166299077"}
    assert item.action is Action.NO_RECOMMENDATION
    # Without CYP4F2 the same result is incomplete: the guideline names it.
    item = one(review(calls(cyp2c9, vkorc1), "warfarin"), "warfarin")
    assert item.action is Action.RESULT_INCOMPLETE
    assert "no result for CYP4F2: consider testing" in item.messages


def test_peginterferon_called_ifnl3_is_a_complete_result() -> None:
    """CPIC's IFNL3 diplotype table has no rows and its peginterferon annotation no structured
    recommendations: a called IFNL3 result is complete, nothing is recommended from it."""
    from kbfacts import KB

    assert not KB.phenotypes["IFNL3"].rows
    ref = "rs12979860 reference (C)"
    ifnl3 = GeneCall("IFNL3", ((ref, ref),))
    item = one(review(calls(ifnl3), "peginterferon alfa-2a"), "peginterferon alfa-2a")
    assert item.missing_genes == ()
    assert item.action is Action.NO_RECOMMENDATION
    assert any("no structured recommendations" in m for m in item.messages)
    item = one(review(calls(), "peginterferon alfa-2a"), "peginterferon alfa-2a")
    assert item.action is Action.RESULT_INCOMPLETE
    assert "no result for IFNL3: consider testing" in item.messages


def test_warfarin_without_vkorc1_is_result_missing_not_standard() -> None:
    cyp2c9 = GeneCall("CYP2C9", (("*1", "*1"),), phenotype="Normal Metabolizer")
    item = one(review(calls(cyp2c9), "warfarin"), "warfarin")
    assert item.action is Action.RESULT_MISSING
    assert "no result for VKORC1: consider testing" in item.messages


def test_tie_with_different_phenotypes_is_result_missing() -> None:
    tied = GeneCall("CYP2C19", (("*1", "*2"), ("*17", "*2")), phenotype=None,
                    phenotypes=("Intermediate Metabolizer", "Rapid Metabolizer"))
    item = one(review(calls(tied), "omeprazole"), "omeprazole")
    assert item.action is Action.RESULT_MISSING
    assert any("tied diplotypes" in m for m in item.messages)


def test_no_call_is_result_missing() -> None:
    nocall = GeneCall("CYP2C19", (), source="vcf")
    item = one(review(calls(nocall), "clopidogrel"), "clopidogrel")
    assert item.action is Action.RESULT_MISSING
    assert item.messages[0] == "no result for CYP2C19: consider testing"


def test_cpic_and_dpwg_both_labelled() -> None:
    item = one(review(calls(CYP2C19_PM), "Plavix"), "clopidogrel")
    assert {r.source for r in item.recommendations} == {"CPIC", "DPWG"}


def test_every_action_class_and_sorting() -> None:
    c = calls(
        CYP2C19_PM,
        GeneCall("CYP2D6", (("*1", "*1"),), phenotype="Normal Metabolizer",
                 activity_score=2.0, lookup_key="2.0"),
        GeneCall("DPYD", (("Reference", "Reference"),), phenotype="Normal Metabolizer",
                 activity_score=2.0, lookup_key="2.0"),
        GeneCall("CYP3A5", (("*1", "*3"),), phenotype="Intermediate Metabolizer"),
        GeneCall("MT-RNR1", (("Reference",),),
                 phenotype=table_row("MT-RNR1", "Reference").phenotype),
    )
    meds = ["amikacin", "clopidogrel", "voriconazole", "Prograf", "aripiprazole",
            "capecitabine", "Ventolin", "azathioprine"]
    result = review(c, meds)
    seen = {i.action for i in result.items}
    assert seen == set(Action), seen
    prios = [i.action.priority for i in result.items]
    assert prios == sorted(prios)
    # CYP2C19 PM: CPIC "Avoid clopidogrel if possible" (R2).
    assert one(result, "clopidogrel").action is Action.AVOID
    # CPIC "Choose an alternative agent" (R5) beats DPWG "Use 50% of the standard dose" (R4).
    vori = one(result, "voriconazole")
    assert vori.action is Action.USE_ALTERNATIVE
    assert any("CPIC and DPWG differ" in m for m in vori.messages)
    # CYP3A5 IM: "Increase starting dose 1.5 to 2 times recommended starting dose" (R4).
    assert one(result, "tacrolimus").action is Action.ADJUST_DOSE
    # MT-RNR1 normal risk: "Use aminoglycoside antibiotics at standard doses ... with
    # therapeutic dose monitoring" (R3).
    assert one(result, "amikacin").action is Action.MONITOR
    # TPMT and NUDT15 untested.
    assert one(result, "azathioprine").action is Action.RESULT_INCOMPLETE
    # DPWG only; CYP2D6 activity score 2.0: "does not provide a recommendation" (R1).
    assert one(result, "aripiprazole").action is Action.NO_RECOMMENDATION
    # DPYD 2.0: CPIC "no indication to change dose or therapy. Use label-recommended dosage"
    # (R6); DPWG's 2.0 row gives no recommendation and does not vote.
    assert one(result, "capecitabine").action is Action.STANDARD
    assert one(result, "salbutamol").action is Action.NO_GUIDANCE


def test_all_drugs_passport() -> None:
    result = review(calls(CYP2C19_PM), [], all_drugs=True)
    drugs = {i.drug for i in result.items}
    assert {"clopidogrel", "citalopram", "voriconazole"} <= drugs
    assert all(i.action in (Action.AVOID, Action.USE_ALTERNATIVE, Action.ADJUST_DOSE,
                            Action.MONITOR) for i in result.items)


def test_every_guidance_drug_resolves_and_reviews() -> None:
    g = load_guidance()
    result = review(calls(), list(g.drugs))
    assert {i.drug for i in result.items} == set(g.drugs)
    assert all(i.action is not Action.STANDARD for i in result.items)


def test_unknown_medicine_lists_closest_matches() -> None:
    with pytest.raises(UnknownMedicineError, match="clopidogrel"):
        review(calls(CYP2C19_PM), "clopidogrl")


def test_empty_medication_list() -> None:
    with pytest.raises(InputError, match="medication list is empty"):
        review(calls(CYP2C19_PM), " , ")


def test_sample_choice() -> None:
    two = CallResult(knowledge_base={}, samples=(SampleCall("A", ()), SampleCall("B", ())))
    with pytest.raises(SampleError, match="2 samples"):
        review(two, "codeine")
    assert review(two, "codeine", sample="B").sample == "B"


def test_calls_from_another_version(tmp_path: Path) -> None:
    p = tmp_path / "calls.json"
    p.write_text(json.dumps({"format": "pgxguard.call/0", "samples": []}))
    with pytest.raises(InputError, match="format"):
        review(CallResult.load(p), "codeine")


def test_review_json_round_trip() -> None:
    result = review(calls(CYP2C19_PM), "Plavix, Ventolin")
    again = ReviewResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again == result
    assert result.knowledge_base["guidance"]["version"] == load_guidance().version


def _write_calls(tmp_path: Path, c: CallResult) -> Path:
    p = tmp_path / "calls.json"
    p.write_text(json.dumps(c.to_json()))
    return p


def test_cli_review_json_and_text(tmp_path: Path) -> None:
    cp = _write_calls(tmp_path, calls(CYP2C19_PM))
    meds = tmp_path / "meds.txt"
    meds.write_text("Clopidogrel 75mg tablets\n# comment\nVentolin\n")
    runner = CliRunner()
    out = tmp_path / "review.json"
    r = runner.invoke(app, ["review", "--calls", str(cp), "--meds", str(meds), "-o", str(out)])
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert [i["action"] for i in data["items"]] == ["avoid", "no PGx guidance"]
    r = runner.invoke(app, ["review", "--calls", str(cp), "--meds", "plavix, zocor",
                            "--format", "text"])
    assert r.exit_code == 0, r.output
    assert "[AVOID] clopidogrel" in r.output
    assert "no result for SLCO1B1: consider testing" in r.output


def test_cli_review_primary_care_list(tmp_path: Path) -> None:
    """Medicines without PGx guidance review as such, beside those with guidance."""
    cp = _write_calls(tmp_path, calls(CYP2C19_PM))
    out = tmp_path / "review.json"
    r = CliRunner().invoke(app, ["review", "--calls", str(cp), "--meds",
                                 "amoxicillin 500mg capsules, ramipril, clopidogrel", "-o",
                                 str(out)])
    assert r.exit_code == 0, r.output
    items = {i["drug"]: i for i in json.loads(out.read_text())["items"]}
    assert items["clopidogrel"]["action"] == "avoid"
    for d in ("amoxicillin", "ramipril"):
        assert items[d]["action"] == "no PGx guidance"
        assert any("no CPIC or DPWG guidance" in m for m in items[d]["messages"])


def test_cli_review_errors(tmp_path: Path) -> None:
    cp = _write_calls(tmp_path, calls(CYP2C19_PM))
    runner = CliRunner()
    r = runner.invoke(app, ["review", "--calls", str(cp), "--meds", "clopidogrl"])
    assert r.exit_code == 2
    assert "closest matches: clopidogrel" in r.output
    r = runner.invoke(app, ["review", "--calls", str(cp)])
    assert r.exit_code == 2 and "empty" in r.output


def test_cli_review_html_and_fhir(tmp_path: Path) -> None:
    """`review --format html|fhir` render through the report modules (no import guard)."""
    cp = _write_calls(tmp_path, calls(CYP2C19_PM))
    runner = CliRunner()
    r = runner.invoke(app, ["review", "--calls", str(cp), "--meds", "clopidogrel",
                            "--format", "html"])
    assert r.exit_code == 0, r.output
    assert "<html" in r.output.lower() and 'data-drug="clopidogrel"' in r.output
    r = runner.invoke(app, ["review", "--calls", str(cp), "--meds", "clopidogrel",
                            "--format", "fhir"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["resourceType"] == "Bundle"
