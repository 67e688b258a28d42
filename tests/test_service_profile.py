"""One PGx profile per patient: every signed-off result merged per gene (reviews, CDS cards),
conflicts flagged to the laboratory and resolved by it, a VCF and outside calls in one upload.

The scenario of issue 12: a lab uploads a patient's VCF (examples/demo.vcf, PATIENT1: CYP2C19
*2/*17), then the CYP2D6/HLA-B outside-call TSV as a second result; both are signed off. The
expected review is that of `pgxguard call VCF --outside-calls TSV` (the engine's own combined
path, independent of the service's merge), reviewed by `pgxguard.guidance.review`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import test_service_support as support
from pgxguard import call
from pgxguard.call.results import CallResult, GeneCall, SampleCall
from pgxguard.guidance.model import Action
from pgxguard.guidance.review import CONFLICT, review
from pgxguard.report.view import markdown_escape
from pgxguard.service.fhir.service import PROFILE_SYSTEM
from pgxguard.service.models import GeneResolution, MedicationReview
from pgxguard.service.results.profile import call_text, disagree
from test_service_fhir import genotypes, get, matches
from test_service_support import DEMO_VCF, Svc

_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc

# The outside calls of the scenario, as a lab writes them (only PATIENT1's rows of the demo).
SCENARIO_TSV = ("sample\tgene\tdiplotype\tphenotype\tactivity_score\n"
                "PATIENT1\tCYP2D6\t*1/*2x2\t\t\n"
                "PATIENT1\tHLA-B\t*57:01/*08:01\t\t\n")
# A second lab's CYP2C19 call that disagrees with the VCF's *2/*17.
OTHER_CYP2C19 = ("sample\tgene\tdiplotype\tphenotype\tactivity_score\n"
                 "PATIENT1\tCYP2C19\t*1/*1\t\t\n")
MEDS = ["clopidogrel", "abacavir", "codeine"]


def _upload_tsv(svc: Svc, pid: int, text: str, name: str = "outside.tsv",
                sign_off: bool = True) -> dict[str, Any]:
    r = svc.client.post(f"/patients/{pid}/results/outside-calls",
                        headers=svc.h("lab_scientist"), files={"file": (name, text.encode())})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return svc.sign_off(out["id"], 1) if sign_off else out


@pytest.fixture(scope="module")
def combined_review(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """drug -> action of the engine's own combined call (VCF + outside calls)."""
    tsv = tmp_path_factory.mktemp("scenario") / "outside.tsv"
    tsv.write_text(SCENARIO_TSV)
    calls = call(DEMO_VCF, samples=["PATIENT1"], outside_calls=tsv)
    rr = review(calls, MEDS, sample="PATIENT1")
    return {i.drug: str(i.action) for i in rr.items}


def _review(svc: Svc, pid: int, meds: list[str] = MEDS) -> dict[str, Any]:
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"medicines": meds})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _actions(review_out: dict[str, Any]) -> dict[str, str]:
    return {i["drug"]: i["action"] for i in review_out["review"]["items"]}


def _profile(svc: Svc, pid: int, role: str = "prescriber") -> dict[str, Any]:
    r = svc.client.get(f"/patients/{pid}/profile", headers=svc.h(role))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _gene(profile: dict[str, Any], gene: str) -> dict[str, Any]:
    return next(g for g in profile["genes"] if g["gene"] == gene)


def test_vcf_then_outside_calls_both_used(svc: Svc, combined_review: dict[str, str]) -> None:
    pid = svc.new_patient()
    vcf = svc.upload_vcf(pid, "PATIENT1")
    tsv = _upload_tsv(svc, pid, SCENARIO_TSV)
    prof = _profile(svc, pid)
    assert prof["conflicts"] == []
    assert [(s["result_id"], s["version"]) for s in prof["sources"]] == [(tsv["id"], 1),
                                                                        (vcf["id"], 1)]
    cyp2c19 = _gene(prof, "CYP2C19")
    assert (cyp2c19["result_id"], cyp2c19["version"]) == (vcf["id"], 1)
    assert cyp2c19["call"]["diplotypes"] == [["*2", "*17"]]  # the scenario
    for gene in ("CYP2D6", "HLA-B"):
        g = _gene(prof, gene)
        assert (g["result_id"], g["version"], g["call"]["source"]) == (tsv["id"], 1, "outside")
    # the VCF's CYP2D6 (no call: it needs an outside call) does not hide the TSV's call
    assert _gene(prof, "CYP2D6")["call"]["diplotypes"] == [["*1", "*2x2"]]

    out = _review(svc, pid)
    actions = _actions(out)
    assert actions == combined_review  # the engine's combined call, reviewed
    assert actions["abacavir"] == "avoid"
    assert actions["clopidogrel"] not in ("result missing", "result incomplete")
    assert out["result_id"] == tsv["id"]  # the newest version used; all are in the profile
    assert {(s["result_id"], s["version"]) for s in out["profile"]["sources"]} == {
        (vcf["id"], 1), (tsv["id"], 1)}
    with svc.session() as s:
        row = s.get(MedicationReview, out["id"])
        assert row is not None and json.loads(row.profile_json or "{}") == out["profile"]
    assert [a.action for a in svc.audit(patient_id=pid)][-1] == "review.create"


def _order_select(svc: Svc, pid: int, names: list[str]) -> list[dict[str, Any]]:
    meds = [{"fullUrl": f"urn:uuid:{n}", "resource": {
        "resourceType": "MedicationRequest", "id": n, "status": "draft", "intent": "order",
        "medicationCodeableConcept": {"text": n}}} for n in names]
    body = {"hook": "order-select", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "fhirServer": "https://ehr.example/fhir",
            "context": {"userId": "Practitioner/7", "patientId": str(pid),
                        "selections": [f"MedicationRequest/{n}" for n in names],
                        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                        "entry": meds}}}
    r = svc.client.post("/cds-services/pgxguard-order-select", headers=svc.h("prescriber"),
                        json=body)
    assert r.status_code == 200, r.text
    cards: list[dict[str, Any]] = r.json()["cards"]
    return cards


def test_cds_cards_use_the_profile(svc: Svc) -> None:
    """The critical abacavir card (HLA-B from the TSV) and the clopidogrel card (CYP2C19 from
    the VCF) in one order-select call."""
    pid = svc.new_patient()
    svc.upload_vcf(pid, "PATIENT1")
    _upload_tsv(svc, pid, SCENARIO_TSV)
    cards = _order_select(svc, pid, ["abacavir", "clopidogrel"])
    abacavir = [c for c in cards if c["summary"].lower().startswith("abacavir")]
    clopidogrel = [c for c in cards if c["summary"].lower().startswith("clopidogrel")]
    assert any(c["indicator"] == "critical" for c in abacavir)
    assert clopidogrel and not any("consider testing" in c.get("detail", "")
                                   for c in clopidogrel)
    assert not any("order" in c["summary"].lower() and "CYP2C19" in c["summary"]
                   for c in cards)  # no "order a CYP2C19 test" suggestion


def test_disagreeing_results_are_a_conflict_until_resolved(svc: Svc) -> None:
    pid = svc.new_patient()
    vcf = svc.upload_vcf(pid, "PATIENT1")
    vcf_only = _actions(_review(svc, pid, ["clopidogrel"]))
    other = _upload_tsv(svc, pid, OTHER_CYP2C19, "other-lab.tsv")
    prof = _profile(svc, pid)
    assert prof["conflicts"] == ["CYP2C19"]
    g = _gene(prof, "CYP2C19")
    assert g["conflict"] and g["result_id"] is None and g["call"]["source"] == CONFLICT
    assert {(c["result_id"], tuple(c["diplotypes"][0])) for c in g["candidates"]} == {
        (vcf["id"], ("*2", "*17")), (other["id"], ("*1", "*1"))}
    # never standard: result incomplete, naming both results
    out = _review(svc, pid, ["clopidogrel"])
    [item] = out["review"]["items"]
    assert item["action"] == "result incomplete"
    text = " ".join(item["messages"])
    assert f"result {vcf['id']} v1" in text and f"result {other['id']} v1" in text
    assert "disagree" in text
    # the stored review's page names the gene as unusable, not as "no result" (it has two)
    from test_service_web import ui_client
    page = ui_client(svc, "prescriber").get(f"/ui/reviews/{out['id']}").text
    assert "Result on record cannot be used for: CYP2C19" in page
    assert "No result for" not in page
    # CDS: a warning card saying so, never the guidance of either call
    cards = _order_select(svc, pid, ["clopidogrel"])
    assert [c["indicator"] for c in cards] == ["warning"]
    assert "disagree" in cards[0]["detail"]
    # the laboratory's worklist shows it; prescribers cannot see or resolve it
    r = svc.client.get("/results/conflicts", headers=svc.h("lab_scientist"))
    assert r.status_code == 200
    assert [(c["patient_id"], [x["gene"] for x in c["genes"]]) for c in r.json()] == [
        (pid, ["CYP2C19"])]
    assert svc.client.get("/results/conflicts", headers=svc.h("prescriber")).status_code == 403
    resolution = {"gene": "CYP2C19", "result_id": vcf["id"], "version": 1,
                  "reason": "VCF confirmed by a second assay"}
    r = svc.client.post(f"/patients/{pid}/profile/resolutions", headers=svc.h("prescriber"),
                        json=resolution)
    assert r.status_code == 403
    # refusals: no reason, a gene not in conflict, a result that does not call the gene
    r = svc.client.post(f"/patients/{pid}/profile/resolutions",
                        headers=svc.h("lab_scientist"), json={**resolution, "reason": "  "})
    assert r.status_code == 422 and "why" in r.json()["error"]
    r = svc.client.post(f"/patients/{pid}/profile/resolutions", headers=svc.h("lab_scientist"),
                        json={**resolution, "gene": "CYP2C9"})
    assert r.status_code == 409 and "not in conflict" in r.json()["error"]
    r = svc.client.post(f"/patients/{pid}/profile/resolutions", headers=svc.h("lab_scientist"),
                        json={**resolution, "version": 2})
    assert r.status_code == 422 and "choose one of" in r.json()["hint"]
    # resolved: the VCF's call stands, recorded and audited
    r = svc.client.post(f"/patients/{pid}/profile/resolutions",
                        headers=svc.h("lab_scientist"), json=resolution)
    assert r.status_code == 200, r.text
    prof = r.json()
    assert prof["conflicts"] == []
    g = _gene(prof, "CYP2C19")
    assert (g["result_id"], g["version"]) == (vcf["id"], 1)
    assert g["resolution"]["reason"] == "VCF confirmed by a second assay"
    assert _actions(_review(svc, pid, ["clopidogrel"])) == vcf_only
    assert svc.client.get("/results/conflicts", headers=svc.h("lab_scientist")).json() == []
    [audit] = svc.audit(patient_id=pid, action="profile.resolve")
    assert f"result {vcf['id']} v1 stands" in (audit.detail or "")
    with svc.session() as s:
        row = s.query(GeneResolution).one()
        with pytest.raises(RuntimeError, match="immutable"):
            row.reason = "changed"
            s.flush()
    # a later signed-off result that disagrees again reopens it
    third = _upload_tsv(svc, pid, OTHER_CYP2C19, "third-lab.tsv")
    prof = _profile(svc, pid)
    assert prof["conflicts"] == ["CYP2C19"]
    assert f"result {third['id']} v1" in _gene(prof, "CYP2C19")["call"]["warnings"][0]
    assert "does not cover the newer call" in _gene(prof, "CYP2C19")["call"]["warnings"][0]


def _patient_view(svc: Svc, pid: int) -> list[dict[str, Any]]:
    body = {"hook": "patient-view", "hookInstance": "5b1c2a0e-6c39-4b7e-9a55-2f3e2c1d9b10",
            "context": {"userId": "Practitioner/7", "patientId": str(pid)}}
    r = svc.client.post("/cds-services/pgxguard-patient-view", headers=svc.h("prescriber"),
                        json=body)
    assert r.status_code == 200, r.text
    cards: list[dict[str, Any]] = r.json()["cards"]
    return cards


def test_patient_view_warns_of_each_gene_in_conflict(svc: Svc) -> None:
    """patient-view (the PGx passport) shows a gene whose signed-off results disagree before any
    medicine needing it is ordered: one warning card per gene, with the conflict's own message
    (naming both results and calls, as the order hooks' card does) and the medicines whose
    guidance uses the gene; never the guidance of either call. Resolved: the card goes."""
    pid = svc.new_patient()
    first = _upload_tsv(svc, pid, SCENARIO_TSV, "first-lab.tsv")
    cards = _patient_view(svc, pid)
    assert any(c["summary"].startswith("abacavir: avoid") for c in cards)  # HLA-B *57:01
    assert not any("disagree" in c["summary"] for c in cards)
    # a second lab: HLA-B without *57:01, CYP2D6 *4/*4
    other = _upload_tsv(svc, pid, SCENARIO_TSV.replace("*57:01/*08:01", "*08:01/*44:02")
                        .replace("*1/*2x2", "*4/*4"), "second-lab.tsv")
    assert _profile(svc, pid)["conflicts"] == ["CYP2D6", "HLA-B"]
    cards = _patient_view(svc, pid)
    conflict = [c for c in cards if "disagree" in c["summary"]]
    assert [c["summary"] for c in conflict] == [
        "CYP2D6: result incomplete – signed-off results disagree",
        "HLA-B: result incomplete – signed-off results disagree"]
    assert all(c["indicator"] == "warning" and "suggestions" not in c for c in conflict)
    hla = conflict[1]["detail"]  # Markdown: hyphens and stars escaped
    assert hla.startswith(markdown_escape("HLA-B: signed-off results disagree ("))
    assert f"result {first['id']} v1" in hla and f"result {other['id']} v1" in hla
    assert markdown_escape("*57:01/*08:01") in hla and markdown_escape("*08:01/*44:02") in hla
    assert "result incomplete until the laboratory resolves it" in hla
    # the medicines whose CPIC/DPWG guidance is keyed on HLA-B (abacavir: CPIC HLA-B*57:01)
    listed = hla.split("): ")[-1].rstrip(".").split(", ")
    assert "abacavir" in listed and "clopidogrel" not in listed
    # never the guidance of either call: no abacavir (HLA-B) or codeine (CYP2D6) card
    assert not any(c["summary"].startswith(("abacavir", "codeine")) for c in cards)
    # the same message as the order hooks' "result incomplete" card for abacavir
    [order_card] = _order_select(svc, pid, ["abacavir"])
    assert hla.split("\n")[0].removesuffix(".") in order_card["detail"]
    assert "suggestions" not in order_card  # HLA-B has results: no test to order
    assert "No result for" not in order_card["detail"]  # it has two
    audit = svc.audit(patient_id=pid, action="cds.patient-view")[-1].detail or ""
    assert "HLA-B: signed-off results disagree" in audit and "CYP2D6: signed-off" in audit
    # the laboratory resolves HLA-B: its card goes, the first lab's call stands (abacavir)
    r = svc.client.post(f"/patients/{pid}/profile/resolutions", headers=svc.h("lab_scientist"),
                        json={"gene": "HLA-B", "result_id": first["id"], "version": 1,
                              "reason": "confirmed by a second assay"})
    assert r.status_code == 200, r.text
    cards = _patient_view(svc, pid)
    assert [c["summary"] for c in cards if "disagree" in c["summary"]] == [
        "CYP2D6: result incomplete – signed-off results disagree"]
    assert any(c["summary"].startswith("abacavir: avoid") for c in cards)


def test_agreeing_results_and_provisional_ones(svc: Svc) -> None:
    """Two results that agree are no conflict (the newest is used); a result awaiting
    sign-off is listed as pending and not used."""
    pid = svc.new_patient()
    first = _upload_tsv(svc, pid, SCENARIO_TSV, "first.tsv")
    # the same calls, HLA-B alleles in the other order: they agree
    same = SCENARIO_TSV.replace("*57:01/*08:01", "*08:01/*57:01")
    second = _upload_tsv(svc, pid, same, "second.tsv")
    prof = _profile(svc, pid)
    assert prof["conflicts"] == [] and prof["pending"] == []
    hla = _gene(prof, "HLA-B")
    assert hla["result_id"] == second["id"] and len(hla["candidates"]) == 2
    provisional = _upload_tsv(svc, pid, OTHER_CYP2C19, "pending.tsv", sign_off=False)
    prof = _profile(svc, pid)
    assert prof["pending"] == [{"result_id": provisional["id"], "version": 1}]
    assert provisional["id"] not in {s["result_id"] for s in prof["sources"]}
    assert first["id"] in {s["result_id"] for s in prof["sources"]}
    assert [a.action for a in svc.audit(patient_id=pid)][-1] == "profile.read"


def test_combined_upload(svc: Svc, tmp_path: Path, combined_review: dict[str, str]) -> None:
    pid = svc.new_patient()
    with DEMO_VCF.open("rb") as fh:
        r = svc.client.post(f"/patients/{pid}/results/combined",
                            headers=svc.h("lab_scientist"),
                            files={"vcf": (DEMO_VCF.name, fh),
                                   "outside_calls": ("outside.tsv", SCENARIO_TSV.encode())},
                            data={"sample": "PATIENT1"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["vcf"]["kind"], body["outside_calls"]["kind"]) == ("vcf", "outside_calls")
    assert body["vcf"]["sample"] == body["outside_calls"]["sample"] == "PATIENT1"
    for res in (body["vcf"], body["outside_calls"]):
        assert res["in_use_version"] is None  # each is signed off on its own
        svc.sign_off(res["id"], 1)
    assert _actions(_review(svc, pid)) == combined_review
    details = [a.detail for a in svc.audit(patient_id=pid, action="result.upload")]
    assert details == [f"result {body['vcf']['id']} (vcf; uploaded with result "
                       f"{body['outside_calls']['id']})",
                       f"result {body['outside_calls']['id']} (outside_calls; uploaded with "
                       f"result {body['vcf']['id']})"]


def test_combined_upload_refuses_another_persons_calls(svc: Svc) -> None:
    """Outside calls for another sample name are an error naming both, and nothing is stored;
    `outside_sample` maps them when they are this patient's."""
    pid = svc.new_patient()
    other = SCENARIO_TSV.replace("PATIENT1", "LAB-0001")

    def post(data: dict[str, str]) -> Any:
        with DEMO_VCF.open("rb") as fh:
            return svc.client.post(f"/patients/{pid}/results/combined",
                                   headers=svc.h("lab_scientist"),
                                   files={"vcf": (DEMO_VCF.name, fh),
                                          "outside_calls": ("o.tsv", other.encode())},
                                   data=data)
    r = post({"sample": "PATIENT1"})
    assert r.status_code == 422
    err = f"{r.json()['error']} ({r.json()['hint']})"
    assert "'PATIENT1'" in err and "LAB-0001" in err and "outside_sample" in err
    assert svc.client.get(f"/patients/{pid}/results",
                          headers=svc.h("lab_scientist")).json() == []
    r = post({"sample": "PATIENT1", "outside_sample": "LAB-0001"})
    assert r.status_code == 201, r.text
    assert r.json()["outside_calls"]["sample"] == "LAB-0001"


def test_fhir_profile_report(svc: Svc) -> None:
    """The FHIR search gives the profile's DiagnosticReport first (identifier naming the result
    versions it merges), with the genotypes of both results; a conflict is a no call, said in
    the conclusion."""
    pid = svc.new_patient()
    vcf = svc.upload_vcf(pid, "PATIENT1")
    tsv = _upload_tsv(svc, pid, SCENARIO_TSV)
    report = matches(get(svc, f"/fhir/DiagnosticReport?patient={pid}"))[0]
    assert report["identifier"] == [{"system": PROFILE_SYSTEM,
                                     "value": f"{pid}:{tsv['id']}/1,{vcf['id']}/1"}]
    assert report["status"] == "final" and report["subject"]["reference"] == f"Patient/{pid}"
    assert get(svc, f"/fhir/DiagnosticReport/{report['id']}") == report
    observations = [get(svc, f"/fhir/{ref['reference']}") for ref in report["result"]]
    geno = genotypes(observations)
    assert geno["CYP2C19"] == "CYP2C19 *2/*17"
    assert geno["HLA-B"] == "HLA-B *57:01/*08:01" and geno["CYP2D6"] == "CYP2D6 *1/*2x2"
    assert svc.audit(patient_id=pid)[-1].action == "fhir.observation.read"
    other = _upload_tsv(svc, pid, OTHER_CYP2C19, "other.tsv")
    report = matches(get(svc, f"/fhir/DiagnosticReport?patient={pid}"))[0]
    assert report["identifier"][0]["value"] == f"{pid}:{other['id']}/1,{tsv['id']}/1,{vcf['id']}/1"
    assert "CYP2C19: signed-off results disagree" in report["conclusion"]
    observations = [get(svc, f"/fhir/{ref['reference']}") for ref in report["result"]]
    assert "CYP2C19" not in genotypes(observations)


def test_ui_combined_upload_and_profile_page(svc: Svc) -> None:
    """Through the UI (TestClient): outside calls go only with a VCF; the combined upload makes
    two results and lands on the patient's profile; a prescriber sees the profile, not the
    resolve forms; a sample mismatch is a 422 page naming both samples."""
    from test_service_web import csrf_of, ui_client

    lab = ui_client(svc, "lab_scientist")
    pid = svc.new_patient()
    page = lab.get(f"/ui/patients/{pid}")
    csrf = csrf_of(page.text)
    tsv = ("outside.tsv", SCENARIO_TSV.encode())
    r = lab.post(f"/ui/patients/{pid}/results", files={"file": tsv, "outside_file": tsv},
                 data={"kind": "outside_calls", "csrf_token": csrf})
    assert r.status_code == 422 and "outside calls go with a VCF upload" in r.text
    with DEMO_VCF.open("rb") as fh:
        r = lab.post(f"/ui/patients/{pid}/results",
                     files={"file": (DEMO_VCF.name, fh),
                            "outside_file": ("o.tsv", SCENARIO_TSV.replace(
                                "PATIENT1", "LAB-0001").encode())},
                     data={"kind": "vcf", "sample": "PATIENT1", "csrf_token": csrf})
    assert r.status_code == 422 and "LAB-0001" in r.text and "PATIENT1" in r.text
    with DEMO_VCF.open("rb") as fh:
        r = lab.post(f"/ui/patients/{pid}/results",
                     files={"file": (DEMO_VCF.name, fh), "outside_file": tsv},
                     data={"kind": "vcf", "sample": "PATIENT1", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"/ui/patients/{pid}#profile"
    ids = [x["id"] for x in svc.client.get(f"/patients/{pid}/results",
                                           headers=svc.h("lab_scientist")).json()]
    assert len(ids) == 2
    for rid in ids:
        svc.sign_off(rid, 1)
    _upload_tsv(svc, pid, OTHER_CYP2C19)
    page = ui_client(svc, "prescriber").get(f"/ui/patients/{pid}")
    assert 'id="profile-conflicts"' in page.text and 'data-gene="HLA-B"' in page.text
    assert "resolve-form" not in page.text  # prescribers see the conflict, lab resolves it
    assert "resolve-form" in lab.get(f"/ui/patients/{pid}").text


# ---- units ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("a", "b", "differ"), [
    (GeneCall("CYP2C19", (("*2", "*17"),), phenotype="Intermediate Metabolizer"),
     GeneCall("CYP2C19", (("*17", "*2"),), phenotype="intermediate metaboliser"), False),
    (GeneCall("CYP2C19", (("*2", "*17"),)), GeneCall("CYP2C19", (("*1", "*1"),)), True),
    (GeneCall("CYP2D6", (("*1", "*2"),), phenotype="Normal Metabolizer"),
     GeneCall("CYP2D6", (("*1", "*2"),), phenotype="Ultrarapid Metabolizer"), True),
    (GeneCall("DPYD", variants=("c.1905+1G>A (*2A)",)),
     GeneCall("DPYD", variants=("c.1905+1G>A (*2A)",)), False),
    # a tie is not the same result as one of its diplotypes
    (GeneCall("NAT2", (("*5", "*6"), ("*5", "*12"))), GeneCall("NAT2", (("*5", "*6"),)), True),
])
def test_disagree(a: GeneCall, b: GeneCall, differ: bool) -> None:
    assert disagree(a, b) is differ and disagree(b, a) is differ


def test_call_text() -> None:
    assert call_text(GeneCall("CYP2C19", (("*2", "*17"),), phenotype="Intermediate "
                              "Metabolizer")) == "*2/*17 (Intermediate Metabolizer)"
    assert call_text(GeneCall("HLA-B", phenotype="*57:01 positive")) == "*57:01 positive"
    assert call_text(GeneCall("CYP2D6", source="none")) == "no call"


def test_review_of_a_conflicting_gene_is_result_incomplete() -> None:
    """The guidance review never acts on a gene whose results disagree: result incomplete,
    the gene named as missing, the conflict's own message shown, no recommendation matched."""
    why = ("CYP2C19: signed-off results disagree (result 1 v1: *2/*17; result 2 v1: *1/*1); "
           "result incomplete until the laboratory resolves it")
    calls = CallResult(knowledge_base={}, samples=(SampleCall("S", (
        GeneCall("CYP2C19", source=CONFLICT, warnings=(why,)),)),))
    [item] = review(calls, ["clopidogrel"], sample="S").items
    assert item.action is Action.RESULT_INCOMPLETE
    assert item.missing_genes == ("CYP2C19",)
    assert why in item.messages
    assert item.basis["CYP2C19"] == "results disagree (unresolved)"
    assert item.recommendations == ()
