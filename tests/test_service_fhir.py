"""FHIR R4 read API (/fhir): Patient, ServiceRequest, DiagnosticReport and Observation read and
search, every resource and Bundle validated with fhir.resources (R4B models, as in
test_report_fhir.py); errors are OperationOutcomes; reads are audited; roles are enforced.

Expected values come from what the test stored (the patient it registered, the order it placed,
the TSV it uploaded, the calls the service returned), not from earlier output."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

import test_service_support as support
from pgxguard.service.fhir.service import NHS_SYSTEM
from test_service_support import DEMO_OUTSIDE, VALID_NHS, Svc

# Fixtures shared by the service tests (test_service_support.py).
_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc

FHIR_JSON = "application/fhir+json"
# An outside call for CYP2C19 (the genotype Observation must carry exactly this diplotype).
CYP2C19_TSV = "sample\tgene\tdiplotype\tphenotype\tactivity_score\nPATIENT1\tCYP2C19\t*2/*17\t\t\n"


def validate(resource: dict[str, Any]) -> None:
    """Validate a resource, and each entry of a Bundle, against the R4B models."""
    from fhir.resources.R4B import get_fhir_model_class

    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for e in resource.get("entry", []):
        validate(e["resource"])


def get(svc: Svc, url: str, role: str = "prescriber", status: int = 200) -> dict[str, Any]:
    r = svc.client.get(url, headers=svc.h(role) if role else {})
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(FHIR_JSON)
    body: dict[str, Any] = r.json()
    validate(body)
    return body


def matches(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
    found = [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
    assert bundle["total"] == len(found)
    return found


def outcome_text(body: dict[str, Any]) -> str:
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["details"]["text"])


def upload_tsv(svc: Svc, pid: int, text: str, name: str = "calls.tsv",
               sign_off: bool = True) -> dict[str, Any]:
    r = svc.client.post(f"/patients/{pid}/results/outside-calls", headers=svc.h("lab_scientist"),
                        files={"file": (name, text.encode())}, data={"sample": "PATIENT1"})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return svc.sign_off(out["id"], 1) if sign_off else out


def gene_of(obs: dict[str, Any]) -> str:
    comp = next(c for c in obs["component"]
                if any(x.get("code") == "48018-6" for x in c["code"].get("coding", [])))
    return str(comp["valueCodeableConcept"]["text"])


def genotypes(observations: list[dict[str, Any]]) -> dict[str, str]:
    """gene -> genotype value text of the genotype Observations (LOINC 84413-4)."""
    return {gene_of(o): o["valueCodeableConcept"]["text"] for o in observations
            if any(c.get("code") == "84413-4" for c in o["code"].get("coding", []))
            and "valueCodeableConcept" in o}


def test_metadata_is_public(svc: Svc) -> None:
    cap = get(svc, "/fhir/metadata", role="")
    assert cap["resourceType"] == "CapabilityStatement" and cap["fhirVersion"] == "4.0.1"
    types = {r["type"] for r in cap["rest"][0]["resource"]}
    assert types == {"Patient", "ServiceRequest", "DiagnosticReport", "Observation"}


def test_patient_read_and_search(svc: Svc) -> None:
    pid = svc.new_patient()
    stored = svc.client.get(f"/patients/{pid}", headers=svc.h("prescriber")).json()
    p = get(svc, f"/fhir/Patient/{pid}")
    assert p["id"] == str(pid)
    assert p["identifier"] == [{"system": NHS_SYSTEM, "value": stored["nhs_number"]}]
    assert p["name"][0]["family"] == stored["family_name"]
    assert p["name"][0]["given"] == [stored["given_name"]]
    assert p["birthDate"] == stored["date_of_birth"]
    for ident in (f"{NHS_SYSTEM}|{VALID_NHS}", VALID_NHS, f"{NHS_SYSTEM}|943 476 5919"):
        found = matches(get(svc, "/fhir/Patient?identifier=" + ident, role="lab_scientist"))
        assert found == [p], ident
    # another system, or a number failing the modulus 11 check, matches nobody and says why
    for ident, why in ((f"urn:other|{VALID_NHS}", "only identifiers of system"),
                       (f"{NHS_SYSTEM}|9434765918", "check digit")):
        bundle = get(svc, "/fhir/Patient?identifier=" + ident)
        assert matches(bundle) == []
        [oo] = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
        assert why in outcome_text(oo)
    acts = [(a.action, a.patient_id, a.outcome) for a in svc.audit()
            if a.action.startswith("fhir.")]
    assert acts == [("fhir.patient.read", pid, "ok")] + [("fhir.patient.search", pid, "ok")] * 3 \
        + [("fhir.patient.search", None, "no match")] * 2


def test_service_requests_follow_the_order(svc: Svc) -> None:
    pid = svc.new_patient()
    r = svc.client.post(f"/patients/{pid}/orders", headers=svc.h("prescriber"), json={
        "test_code": "PGX-CYP2C19", "reason": "ischaemic stroke", "trigger_drug": "clopidogrel"})
    assert r.status_code == 201, r.text
    order = r.json()
    oid = order["id"]
    sr = get(svc, f"/fhir/ServiceRequest/{oid}")
    assert sr["status"] == "active" and sr["intent"] == "order"
    assert sr["extension"][0]["valueCode"] == "requested"
    assert sr["code"]["coding"][0]["code"] == order["test_code"]
    assert sr["code"]["text"] == order["test_name"]
    assert sr["reasonCode"] == [{"text": "clopidogrel"}]
    assert sr["requester"]["display"] == "user-prescriber"
    assert sr["subject"]["reference"] == f"Patient/{pid}"
    assert sr["authoredOn"].replace("Z", "+00:00")[:19] == order["created_at"][:19]
    assert any("ischaemic stroke" in n["text"] for n in sr["note"])
    lab = svc.h("lab_scientist")
    for step in ("sample_received", "in_analysis"):
        r = svc.client.post(f"/orders/{oid}/status", headers=lab, json={"status": step})
        assert r.status_code == 200, r.text
        sr = get(svc, f"/fhir/ServiceRequest/{oid}")
        assert (sr["status"], sr["extension"][0]["valueCode"]) == ("active", step)
    res = upload_tsv(svc, pid, CYP2C19_TSV)
    r = svc.client.post(f"/orders/{oid}/status", headers=lab,
                        json={"status": "reported", "result_id": res["id"]})
    assert r.status_code == 200, r.text
    assert get(svc, f"/fhir/ServiceRequest/{oid}")["status"] == "completed"
    [report] = matches(get(svc, f"/fhir/DiagnosticReport?patient={pid}"))
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{oid}"}]
    r = svc.client.post(f"/patients/{pid}/orders", headers=svc.h("prescriber"),
                        json={"test_code": "PGX-DPYD"})
    other = r.json()["id"]
    svc.client.post(f"/orders/{other}/cancel", headers=lab, json={"reason": "duplicate"})
    assert get(svc, f"/fhir/ServiceRequest/{other}")["status"] == "revoked"
    for param in (str(pid), f"Patient/{pid}"):
        found = matches(get(svc, f"/fhir/ServiceRequest?patient={param}"))
        assert [(x["id"], x["status"]) for x in found] == [(str(oid), "completed"),
                                                            (str(other), "revoked")]
    assert matches(get(svc, "/fhir/ServiceRequest?patient=999999")) == []
    assert {a.action for a in svc.audit(patient_id=pid)} >= {
        "fhir.servicerequest.read", "fhir.servicerequest.search", "fhir.diagnosticreport.search"}


def test_reports_and_observations_from_stored_results(svc: Svc) -> None:
    pid = svc.new_patient()
    tsv = upload_tsv(svc, pid, CYP2C19_TSV)
    vcf = svc.upload_vcf(pid, "PATIENT1")
    demo = upload_tsv(svc, pid, DEMO_OUTSIDE.read_text(), "demo.tsv")
    found = matches(get(svc, f"/fhir/DiagnosticReport?patient={pid}"))
    # the patient's profile (several results merged) first, then one report per result
    assert [r["id"][0] for r in found] == ["p", "r", "r", "r"]
    reports = [r for r in found if r["id"].startswith("r")]
    assert [r["identifier"][0]["value"] for r in reports] == [
        f"{tsv['id']}/1", f"{vcf['id']}/1", f"{demo['id']}/1"]
    observations = [o for o in matches(get(svc, f"/fhir/Observation?patient=Patient/{pid}"))
                    if o["id"].startswith("r")]
    assert {o["subject"]["reference"] for o in reports + observations} == {f"Patient/{pid}"}
    by_result: dict[int, list[dict[str, Any]]] = {}
    for o in observations:
        by_result.setdefault(int(o["id"].split("-")[0][1:]), []).append(o)
    # the genotype Observations hold exactly what was uploaded / called
    assert genotypes(by_result[tsv["id"]]) == {"CYP2C19": "CYP2C19 *2/*17"}
    rows = [r for r in csv.DictReader(io.StringIO(DEMO_OUTSIDE.read_text()), delimiter="\t")
            if r["sample"] == "PATIENT1"]
    assert genotypes(by_result[demo["id"]]) == {r["gene"]: f"{r['gene']} {r['diplotype']}"
                                                for r in rows}
    called = {g["gene"]: g for g in vcf["latest"]["calls"]["samples"][0]["genes"]}
    vcf_geno = genotypes(by_result[vcf["id"]])
    for gene, g in called.items():
        if g["diplotypes"] and len(g["diplotypes"]) == 1:
            assert vcf_geno[gene] == f"{gene} " + "/".join(g["diplotypes"][0])
    # every reference resolves on the server; reads by id give the searched resource
    for report in reports:
        assert get(svc, f"/fhir/DiagnosticReport/{report['id']}") == report
        for ref in report["result"]:
            kind, rid = ref["reference"].split("/")
            assert kind == "Observation"
            assert get(svc, f"/fhir/Observation/{rid}") in observations
    # stable: the same ids and content on every read
    again = matches(get(svc, f"/fhir/Observation?patient={pid}"))
    assert [o for o in again if o["id"].startswith("r")] == observations
    # reinterpretation: the search shows the new version, the old ids still resolve
    r = svc.client.post(f"/results/{vcf['id']}/reinterpret", headers=svc.h("lab_scientist"))
    assert r.status_code == 200, r.text
    now = matches(get(svc, f"/fhir/DiagnosticReport?patient={pid}"))[1:]
    assert [r["identifier"][0]["value"] for r in now][1] == f"{vcf['id']}/2"
    old = next(r for r in reports if r["identifier"][0]["value"] == f"{vcf['id']}/1")
    assert get(svc, f"/fhir/DiagnosticReport/{old['id']}") == old
    reads = [a for a in svc.audit(patient_id=pid) if a.action == "fhir.observation.read"]
    assert reads and all(a.outcome == "ok" and a.username == "user-prescriber" for a in reads)


def test_errors_are_operation_outcomes(svc: Svc) -> None:
    pid = svc.new_patient()
    res = upload_tsv(svc, pid, CYP2C19_TSV)
    [report] = matches(get(svc, f"/fhir/DiagnosticReport?patient={pid}"))
    for url in ("/fhir/Patient/999999", "/fhir/Patient/abc", f"/fhir/Patient/0{pid}",
                "/fhir/ServiceRequest/42",
                f"/fhir/DiagnosticReport/r{res['id']}-v9-x", "/fhir/DiagnosticReport/nope",
                f"/fhir/Observation/{report['id']}",  # a report is not an Observation
                "/fhir/Medication/1"):
        body = get(svc, url, status=404)
        assert body["issue"][0]["code"] == "not-found", url
    assert "no Patient with id '999999'" in outcome_text(get(svc, "/fhir/Patient/999999",
                                                             status=404))
    assert "patient" in outcome_text(get(svc, "/fhir/Observation", status=422))
    assert "invalid patient" in outcome_text(get(svc, "/fhir/Observation?patient=x/1",
                                                 status=400))
    # other paths keep the service's own error shape
    r = svc.client.get("/patients/999999", headers=svc.h("prescriber"))
    assert r.status_code == 404 and set(r.json()) == {"error", "hint"}


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_roles_without_patient_data_are_refused(svc: Svc, role: str) -> None:
    pid = svc.new_patient()
    for url, perm in ((f"/fhir/Patient/{pid}", "patients:read"),
                      (f"/fhir/ServiceRequest?patient={pid}", "orders:read"),
                      (f"/fhir/DiagnosticReport?patient={pid}", "results:read"),
                      ("/fhir/Observation/r1-v1-x", "results:read")):
        body = get(svc, url, role=role, status=403)
        assert body["issue"][0]["code"] == "forbidden"
        assert outcome_text(body) == f"role {role!r} may not {perm}"
    denied = [(a.action, a.outcome) for a in svc.audit(username=f"user-{role}")
              if a.action != "auth.signin"]
    assert denied == [("patients:read", "denied"), ("orders:read", "denied"),
                      ("results:read", "denied"), ("results:read", "denied")]
    r = svc.client.get(f"/fhir/Patient/{pid}")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.headers["content-type"].startswith(FHIR_JSON)
    assert outcome_text(r.json()).startswith("not signed in")


def test_report_status_follows_the_sign_off(svc: Svc) -> None:
    """A provisional result's DiagnosticReport and Observations are `preliminary`; once a
    second laboratory scientist signs it off they are `final` and the conclusion names who."""
    pid = svc.new_patient()
    res = upload_tsv(svc, pid, CYP2C19_TSV, sign_off=False)
    [report] = matches(get(svc, f"/fhir/DiagnosticReport?patient={pid}"))
    assert report["status"] == "preliminary" and "PROVISIONAL" in report["conclusion"]
    obs = matches(get(svc, f"/fhir/Observation?patient={pid}"))
    assert obs and {o["status"] for o in obs} == {"preliminary"}
    # an order is not reported on a provisional result
    oid = svc.client.post(f"/patients/{pid}/orders", headers=svc.h("prescriber"),
                          json={"test_code": "PGX-CYP2C19"}).json()["id"]
    lab = svc.h("lab_scientist")
    for step in ("sample_received", "in_analysis"):
        assert svc.client.post(f"/orders/{oid}/status", headers=lab,
                               json={"status": step}).status_code == 200
    r = svc.client.post(f"/orders/{oid}/status", headers=lab,
                        json={"status": "reported", "result_id": res["id"]})
    assert r.status_code == 409 and "provisional" in r.json()["error"]
    svc.sign_off(res["id"], 1)
    r = svc.client.post(f"/orders/{oid}/status", headers=lab,
                        json={"status": "reported", "result_id": res["id"]})
    assert r.status_code == 200, r.text
    [report] = matches(get(svc, f"/fhir/DiagnosticReport?patient={pid}"))
    assert report["status"] == "final" and "Authorised by user-checker" in report["conclusion"]
    assert report["resultsInterpreter"] == [{"display": "user-checker"}]
    assert {o["status"] for o in matches(get(svc, f"/fhir/Observation?patient={pid}"))} == {
        "final"}


def test_an_independent_fhir_client_reads_patient_reports_and_observations(svc: Svc) -> None:
    """SMART on FHIR's Python client (`fhirclient`, its own R4 models, which refuse unknown or
    ill-typed elements) reads the CapabilityStatement, the Patient, and searches the
    DiagnosticReports and Observations over HTTP, with a bearer token."""
    pytest.importorskip("fhirclient")
    from fhirclient import client
    from fhirclient.models.diagnosticreport import DiagnosticReport
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient

    from live_server import serve

    pid = svc.new_patient()
    upload_tsv(svc, pid, CYP2C19_TSV)
    with serve(svc.app) as base:
        smart = client.FHIRClient(settings={"app_id": "pgxguard-test", "api_base":
                                            f"{base}/fhir/"})
        smart.server.session.headers["Authorization"] = svc.h("prescriber")["Authorization"]
        smart.prepare()  # reads /fhir/metadata into its CapabilityStatement model
        assert smart.server.capabilityStatement.fhirVersion.startswith("4.0")
        patient = Patient.read(str(pid), smart.server)
        assert [(i.system, i.value) for i in patient.identifier] == [(NHS_SYSTEM, VALID_NHS)]
        assert (patient.name[0].family, patient.name[0].given) == ("Smith", ["Ann"])
        assert patient.birthDate.isostring == "1970-01-02"
        reports = list(DiagnosticReport.where(struct={"patient": str(pid)})
                       .perform_resources_iter(smart.server))
        [report] = reports
        assert report.subject.reference.endswith(f"Patient/{pid}")
        assert report.status == "final"  # signed off
        observations = list(Observation.where(struct={"patient": str(pid)})
                            .perform_resources_iter(smart.server))
        # the genotype Observation carries the diplotype the test uploaded
        assert genotypes([o.as_json() for o in observations]) == {"CYP2C19": "CYP2C19 *2/*17"}
        one = Observation.read(observations[0].id, smart.server)
        assert one.as_json() == observations[0].as_json()
        # without a token the server refuses (401), and the client says so
        del smart.server.session.headers["Authorization"]
        with pytest.raises(Exception, match="401"):
            Patient.read(str(pid), smart.server)
