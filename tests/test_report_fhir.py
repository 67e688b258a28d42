"""FHIR R4 Bundles: every resource and the Bundle validate with fhir.resources (R4B models, which
keep R4's Observation, DiagnosticReport, Patient, Task, MedicationStatement and Bundle), all
references resolve inside the Bundle, and uncertainty (no call, ties, missing positions,
structural variants) is visible."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pgxguard.guidance.model import Action
from pgxguard.report import make_report
from pgxguard.report.fhir import PROFILE, report_bundle, review_bundle
from test_report_support import GENES, MISSING_SLCO, SAMPLE, make_calls, make_review

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WHEN = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)


def validate(bundle: dict[str, Any]) -> None:
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)
    for e in bundle["entry"]:
        res = e["resource"]
        get_fhir_model_class(res["resourceType"]).model_validate(res)


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def by_profile(bundle: dict[str, Any], profile: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"]
            if profile in e["resource"].get("meta", {}).get("profile", [])]


def gene_of(obs: dict[str, Any]) -> str:
    comp = next(c for c in obs["component"]
                if any(x.get("code") == "48018-6" for x in c["code"].get("coding", [])))
    return str(comp["valueCodeableConcept"]["text"])


def notes(res: dict[str, Any]) -> str:
    return "\n".join(n["text"] for n in res.get("note", []))


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return report_bundle(make_calls(), make_review(), SAMPLE, generated=WHEN)


def test_bundle_and_resources_validate(bundle: dict[str, Any]) -> None:
    validate(bundle)
    assert bundle["type"] == "collection"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "DiagnosticReport"
    assert {"Patient", "Observation", "Task", "MedicationStatement"} <= set(kinds)


def test_fhir_rules_the_models_do_not_check(bundle: dict[str, Any]) -> None:
    for key, value in walk(bundle):
        assert value is not None and value != [] and value != {} and value != "", key
    for e in bundle["entry"]:
        res = e["resource"]
        assert e["fullUrl"] == f"urn:uuid:{res['id']}"
        if res["resourceType"] == "Observation":
            assert res["status"] == "final"
            # obs-6: dataAbsentReason only when there is no value
            has_value = any(k.startswith("value") for k in res)
            assert not (has_value and "dataAbsentReason" in res)
        if res["resourceType"] == "Task":
            assert res["status"] == "requested" and res["intent"] == "proposal"


def test_references_resolve(bundle: dict[str, Any]) -> None:
    urls = {e["fullUrl"] for e in bundle["entry"]}
    refs = [v for k, v in walk(bundle) if k == "reference"]
    assert refs and all(r in urls for r in refs)
    report = bundle["entry"][0]["resource"]
    observations = {e["fullUrl"] for e in bundle["entry"]
                    if e["resource"]["resourceType"] == "Observation"}
    assert {r["reference"] for r in report["result"]} == observations
    tasks = {e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Task"}
    assert {x["valueReference"]["reference"] for x in report["extension"]} == tasks
    patient = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    assert patient["resource"]["identifier"][0]["value"] == SAMPLE
    assert report["subject"]["reference"] == patient["fullUrl"]


def test_one_genotype_per_gene_and_no_call(bundle: dict[str, Any]) -> None:
    genos = by_profile(bundle, PROFILE["genotype"])
    assert sorted(gene_of(o) for o in genos) == sorted(GENES)
    by_gene = {gene_of(o): o for o in genos}
    for o in genos:
        assert o["code"]["coding"][0]["code"] == "84413-4"
    tpmt = by_gene["TPMT"]
    assert "valueCodeableConcept" not in tpmt
    assert tpmt["dataAbsentReason"]["coding"][0]["code"] == "unknown"
    assert "no data at any TPMT position" in tpmt["dataAbsentReason"]["text"]
    assert "Missing positions (12)" in notes(tpmt)
    assert by_gene["CYP2C19"]["valueCodeableConcept"]["text"] == "CYP2C19 *2/*2"
    hgnc = by_gene["CYP2C19"]["component"][0]["valueCodeableConcept"]["coding"][0]
    assert hgnc == {"system": "http://www.genenames.org/geneId", "code": "HGNC:2621",
                    "display": "CYP2C19"}
    assert "(unphased)" in by_gene["DPYD"]["valueCodeableConcept"]["text"]
    assert "outside call" in by_gene["HLA-B"]["method"]["text"]


def test_ties_missing_and_structural_variants_visible(bundle: dict[str, Any]) -> None:
    by_gene = {gene_of(o): o for o in by_profile(bundle, PROFILE["genotype"])}
    tie = by_gene["CYP2D6"]
    assert tie["valueCodeableConcept"]["text"] == "CYP2D6 *1/*4 | *10/*4"
    assert "Tied: 2 diplotypes" in notes(tie)
    assert "*1/*4: Intermediate Metabolizer; *10/*4: Poor Metabolizer" in notes(tie)
    assert tie["interpretation"][0]["text"].startswith("indeterminate")
    assert "derivedFrom" not in tie  # haplotypes of a tie are not determined
    assert "Structural variants not assessed: *5, *13" in notes(tie)
    slco = notes(by_gene["SLCO1B1"])
    assert "Missing positions (3)" in slco and all(p in slco for p in MISSING_SLCO)
    assert "Missing positions: none" in notes(by_gene["CYP3A5"])


def test_haplotypes_and_phenotypes(bundle: dict[str, Any]) -> None:
    haps = by_profile(bundle, PROFILE["haplotype"])
    texts = sorted(h["valueCodeableConcept"]["text"] for h in haps)
    assert texts.count("CYP2C19 *2") == 2 and "HLA-B *57:01" in texts
    assert not any(t.startswith("CYP2D6") for t in texts)
    assert all(h["code"]["coding"][0]["code"] == "84414-2" for h in haps)
    urls = {e["resource"]["id"]: e["fullUrl"] for e in bundle["entry"]}
    geno = next(o for o in by_profile(bundle, PROFILE["genotype"]) if gene_of(o) == "CYP2C19")
    assert len(geno["derivedFrom"]) == 2
    assert all(d["reference"] in urls.values() for d in geno["derivedFrom"])
    impl = by_profile(bundle, PROFILE["implication"])
    pheno = [o for o in impl if not any(
        x.get("code") == "51963-7" for c in o["component"] for x in c["code"].get("coding", []))]
    assert sorted(gene_of(o) for o in pheno) == ["CYP2C19", "CYP3A5", "DPYD", "SLCO1B1"]
    dpyd = next(o for o in pheno if gene_of(o) == "DPYD")
    codes = {c["code"]["coding"][0].get("code") if "coding" in c["code"] else c["code"]["text"]:
             c for c in dpyd["component"]}
    assert codes["53040-2"]["valueCodeableConcept"]["text"] == "Intermediate Metabolizer"
    assert codes["Activity score"]["valueQuantity"]["value"] == 1.0
    slco = next(o for o in pheno if gene_of(o) == "SLCO1B1")
    assert "53040-2" not in json.dumps(slco)  # not a metaboliser term


def test_medication_recommendations(bundle: dict[str, Any]) -> None:
    review = make_review()
    tasks = by_profile(bundle, PROFILE["medrec"])
    recs = [r for m in review.items if m.action not in (Action.NO_GUIDANCE,
                                                         Action.RESULT_MISSING)
            for r in m.recommendations]
    assert sorted(t["description"] for t in tasks) == sorted(r.text for r in recs)
    urls = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    for t in tasks:
        impl = urls[t["reasonReference"]["reference"]]
        assert PROFILE["implication"] in impl["meta"]["profile"]
        assert urls[t["focus"]["reference"]]["resourceType"] == "MedicationStatement"
        conclusion = next(c["valueString"] for c in impl["component"] if "valueString" in c)
        assert conclusion == t["description"]
        assert "Source: " in notes(impl)
    clop = [t for t in tasks if "clopidogrel" in t["description"]]
    assert len(clop) == 2
    assert clop[0]["code"]["coding"][0] == {"system": "http://loinc.org", "code": "LA26421-0",
                                            "display": "Consider alternative medication"}
    med = urls[clop[0]["focus"]["reference"]]["medicationCodeableConcept"]
    assert {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "32968",
            "display": "clopidogrel"} in med["coding"]
    # derivedFrom of each implication points at the genotype of its gene
    clop_impl = urls[clop[0]["reasonReference"]["reference"]]
    geno = urls[clop_impl["derivedFrom"][0]["reference"]]
    assert gene_of(geno) == "CYP2C19"
    follow = by_profile(bundle, PROFILE["followup"])
    assert len(follow) == 1 and "TPMT" in follow[0]["description"]


def test_deterministic(bundle: dict[str, Any]) -> None:
    again = report_bundle(make_calls(), make_review(), SAMPLE, generated=WHEN)
    assert json.dumps(again, sort_keys=True) == json.dumps(bundle, sort_keys=True)
    other = report_bundle(make_calls("S2"), make_review("S2"), "S2", generated=WHEN)
    assert other["id"] != bundle["id"]


def test_calls_only_bundle() -> None:
    b = report_bundle(make_calls(), None, SAMPLE, generated=WHEN)
    validate(b)
    assert not by_profile(b, PROFILE["medrec"])
    assert "extension" not in b["entry"][0]["resource"]


def test_review_bundle() -> None:
    b = review_bundle(make_review(), generated=WHEN)
    validate(b)
    urls = {e["fullUrl"] for e in b["entry"]}
    assert all(v in urls for k, v in walk(b) if k == "reference")
    genos = by_profile(b, PROFILE["genotype"])
    assert sorted(gene_of(o) for o in genos) == ["CYP2C19", "DPYD", "HLA-B", "SLCO1B1"]
    for impl in by_profile(b, PROFILE["implication"]):
        assert impl["derivedFrom"]  # 1..* in the profile


def test_demo_vcf_fhir() -> None:
    text = make_report(EXAMPLES / "demo.vcf", EXAMPLES / "demo-outside-calls.tsv",
                       sample="PATIENT2", fmt="fhir")
    b = json.loads(text)
    validate(b)
    genos = by_profile(b, PROFILE["genotype"])
    absent = [o for o in genos if "dataAbsentReason" in o]
    assert absent and all("valueCodeableConcept" not in o for o in absent)
