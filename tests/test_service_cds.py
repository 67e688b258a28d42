"""CDS Hooks 2.0: discovery, order-select / order-sign / patient-view cards from the patient's
latest result, test suggestions from the test directory, patient matching, refusals, audit."""

from __future__ import annotations

from typing import Any

import test_service_support as support
from pgxguard.guidance.load import load_guidance
from pgxguard.guidance.medicines import default_index
from pgxguard.report.cards import INDICATOR
from pgxguard.report.view import markdown_escape
from pgxguard.service.cdshooks.service import NHS_NUMBER_SYSTEM, RXNORM
from pgxguard.service.orders.directory import DIRECTORY_SYSTEM, get_test
from test_service_support import VALID_NHS, Svc

# Fixtures shared by the service tests (test_service_support.py).
_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc

GKB = load_guidance()
PM_TSV = "sample\tgene\tdiplotype\tphenotype\tactivity_score\nP1\tCYP2C19\t*2/*2\t\t\n"
OTHER_NHS = "4010232137"  # valid modulus 11, never registered here


def _kb_texts(drug: str, source: str, phenotype: str) -> list[str]:
    """The verbatim recommendations of the guidance knowledge base (its source data) filed
    under this CYP2C19 phenotype, one per population."""
    return [e.text for e in GKB.for_drug(drug) if e.source == source
            and [(c.gene, c.kind, c.value) for c in e.conditions]
            == [("CYP2C19", "lookup", phenotype)]]


def _poor_metaboliser(svc: Svc, nhs: str = VALID_NHS, sign_off: bool = True) -> int:
    """A patient with a CYP2C19 poor-metaboliser result, signed off by a second scientist."""
    pid = svc.new_patient(nhs)
    r = svc.client.post(f"/patients/{pid}/results/outside-calls", headers=svc.h("lab_scientist"),
                        files={"file": ("cyp2c19.tsv", PM_TSV.encode())})
    assert r.status_code == 201, r.text
    if sign_off:
        svc.sign_off(r.json()["id"], 1)
    return pid


def _med(rid: str, text: str | None = None, **coding: str) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if text:
        concept["text"] = text
    if coding:
        concept["coding"] = [coding]
    return {"fullUrl": f"urn:uuid:{rid}", "resource": {
        "resourceType": "MedicationRequest", "id": rid, "status": "draft", "intent": "order",
        "medicationCodeableConcept": concept}}


def _hook(hook: str, patient: str | None, meds: list[dict[str, Any]] | None = None,
          selections: list[str] | None = None, prefetch: dict[str, Any] | None = None,
          ) -> dict[str, Any]:
    ctx: dict[str, Any] = {"userId": "Practitioner/77"}
    if patient is not None:
        ctx["patientId"] = patient
    if meds is not None:
        ctx["draftOrders"] = {"resourceType": "Bundle", "type": "collection", "entry": meds}
    if selections is not None:
        ctx["selections"] = selections
    body: dict[str, Any] = {"hook": hook, "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
                            "fhirServer": "https://ehr.example/fhir", "context": ctx}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def _call(svc: Svc, service: str, body: dict[str, Any], role: str = "prescriber") -> Any:
    return svc.client.post(f"/cds-services/{service}", headers=svc.h(role), json=body)


def _check_cards(cards: list[dict[str, Any]]) -> None:
    """Every card has the CDS Hooks 2.0 required fields."""
    for c in cards:
        assert set(c) >= {"uuid", "summary", "indicator", "source"}
        assert len(c["summary"]) < 140
        assert c["indicator"] in ("info", "warning", "critical")
        assert c["source"]["label"]
        if "suggestions" in c:
            assert c["selectionBehavior"] in ("at-most-one", "any")
            for s in c["suggestions"]:
                assert s["label"] and s["uuid"]
                for a in s["actions"]:
                    assert a["type"] in ("create", "update", "delete") and a["description"]


def test_discovery_is_public(svc: Svc) -> None:
    r = svc.client.get("/cds-services")
    assert r.status_code == 200
    services = {s["id"]: s for s in r.json()["services"]}
    assert {k: s["hook"] for k, s in services.items()} == {
        "pgxguard-order-select": "order-select", "pgxguard-order-sign": "order-sign",
        "pgxguard-patient-view": "patient-view"}
    for s in services.values():
        assert s["title"] and s["description"]
        assert s["prefetch"] == {"patient": "Patient/{{context.patientId}}"}
    assert not [a for a in svc.audit() if a.action.startswith("cds")]


def test_order_select_poor_metaboliser_clopidogrel(svc: Svc) -> None:
    pid = _poor_metaboliser(svc)
    meds = [_med("a1", "Clopidogrel 75mg tablets"), _med("a2", "capecitabine 500mg tablets")]
    r = _call(svc, "pgxguard-order-select",
              _hook("order-select", str(pid), meds, ["MedicationRequest/a1"]))
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    _check_cards(cards)
    # Only the selection is considered: capecitabine (no DPYD result) gives no card here.
    # One card for the medicine, with CPIC (its Poor Metabolizer recommendation filed once per
    # population: CVI ACS PCI, CVI non-ACS non-PCI, NVI) and DPWG inside it, verbatim.
    [card] = cards
    assert card["summary"].startswith("clopidogrel: ")
    texts = _kb_texts("clopidogrel", "CPIC", "Poor Metabolizer")
    [dpwg_text] = _kb_texts("clopidogrel", "DPWG", "Poor Metabolizer")
    assert len(texts) == 3
    for text in [*texts, dpwg_text]:
        assert markdown_escape(text) in card["detail"]
    label = card["source"]["label"]
    assert label.startswith("CPIC ") and "; DPWG " in label and GKB.version in label
    # The indicator follows the more cautious source; a difference between them is stated.
    acts = {src: min((e.action for e in GKB.for_drug("clopidogrel") if e.source == src
                      and [(c.gene, c.value) for c in e.conditions]
                      == [("CYP2C19", "Poor Metabolizer")]), key=lambda a: a.priority)
            for src in ("CPIC", "DPWG")}
    cautious = min(acts.values(), key=lambda a: a.priority)
    assert card["summary"].startswith(f"clopidogrel: {cautious}")
    assert card["indicator"] == INDICATOR[cautious]
    stated = f"CPIC: {acts['CPIC']}; DPWG: {acts['DPWG']}"
    assert (stated in card["detail"]) == (acts["CPIC"] != acts["DPWG"])
    [row] = svc.audit(action="cds.order-select")
    assert (row.patient_id, row.outcome, row.username) == (pid, "ok", "user-prescriber")
    assert row.route == "/cds-services/{service_id}" and "clopidogrel" in (row.detail or "")
    # A look-up, not a stored medication review.
    r = svc.client.get(f"/patients/{pid}/reviews", headers=svc.h("prescriber"))
    assert r.json() == []


def test_provisional_result_gives_no_guidance_until_signed_off(svc: Svc) -> None:
    """A result the laboratory has not signed off drives no card and no test suggestion: one
    info card says it is awaiting sign-off. After sign-off the guidance shows; a newer
    re-interpretation awaiting sign-off leaves the signed-off version in use."""
    pid = _poor_metaboliser(svc, sign_off=False)
    meds = [_med("a1", "Clopidogrel 75mg tablets")]
    body = _hook("order-select", str(pid), meds, ["MedicationRequest/a1"])
    cards = _call(svc, "pgxguard-order-select", body).json()["cards"]
    _check_cards(cards)
    assert [c["indicator"] for c in cards] == ["info"]
    assert "awaiting laboratory sign-off" in cards[0]["summary"]
    assert "no test is suggested" in cards[0]["detail"]
    view = _call(svc, "pgxguard-patient-view", _hook("patient-view", str(pid))).json()["cards"]
    assert [c["summary"] for c in view] == [cards[0]["summary"]]
    [rid] = [r["id"] for r in svc.client.get(f"/patients/{pid}/results",
                                             headers=svc.h("prescriber")).json()]
    # the scientist who uploaded it cannot sign it off; a second one can
    r = svc.client.post(f"/results/{rid}/versions/1/sign-off", headers=svc.h("lab_scientist"))
    assert r.status_code == 403 and "second laboratory scientist" in r.json()["error"]
    svc.sign_off(rid, 1)
    cards = _call(svc, "pgxguard-order-select", body).json()["cards"]
    assert cards and all(c["summary"].startswith("clopidogrel") for c in cards)
    assert any(c["indicator"] == "critical" for c in cards)
    r = svc.client.post(f"/results/{rid}/reinterpret", headers=svc.h("lab_scientist"))
    assert r.status_code == 200 and r.json()["result"]["in_use_version"] == 1
    cards = _call(svc, "pgxguard-order-select", body).json()["cards"]
    assert any(c["indicator"] == "critical" for c in cards)
    pending = [c for c in cards if "awaiting laboratory sign-off" in c["summary"]]
    assert len(pending) == 1 and f"result {rid} version 1, the last one signed off" in \
        pending[0]["detail"]


def test_no_result_suggests_the_directory_test(svc: Svc) -> None:
    pid = svc.new_patient()
    r = _call(svc, "pgxguard-order-sign",
              _hook("order-sign", str(pid), [_med("c1", display="Capecitabine")]))
    assert r.status_code == 200, r.text
    [card] = r.json()["cards"]
    _check_cards([card])
    assert card["indicator"] == "warning" and "DPYD" in card["summary"]
    [suggestion] = card["suggestions"]
    [action] = suggestion["actions"]
    assert action["type"] == "create"
    res = action["resource"]
    assert res["resourceType"] == "ServiceRequest"
    assert res["code"]["coding"][0]["code"] == "PGX-DPYD"
    assert res["code"]["text"] == "DPYD genotyping before fluoropyrimidines"
    assert res["subject"]["reference"] == f"Patient/{pid}"
    assert res["subject"]["identifier"] == {"system": NHS_NUMBER_SYSTEM, "value": VALID_NHS}
    assert res["reasonCode"][0]["text"] == "capecitabine"
    # A drug whose result is on record but whose test gene is not: the test card replaces the
    # review's own "result missing" card (one card per fact).
    pm = _poor_metaboliser(svc, OTHER_NHS)
    r = _call(svc, "pgxguard-order-sign",
              _hook("order-sign", str(pm), [_med("c1", "capecitabine")]))
    assert [c["summary"].split(":")[0] for c in r.json()["cards"]] == ["capecitabine"]
    assert "suggestions" in r.json()["cards"][0]


def test_open_order_gives_an_in_progress_card(svc: Svc) -> None:
    pid = svc.new_patient()
    r = svc.client.post(f"/patients/{pid}/orders", headers=svc.h("prescriber"),
                        json={"test_code": "PGX-DPYD", "reason": "before capecitabine",
                              "trigger_drug": "capecitabine"})
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    r = svc.client.post(f"/orders/{oid}/status", headers=svc.h("lab_scientist"),
                        json={"status": "sample_received"})
    assert r.status_code == 200, r.text
    r = _call(svc, "pgxguard-order-select", _hook("order-select", str(pid),
              [_med("x", "fluorouracil")], ["MedicationRequest/x"]))
    [card] = r.json()["cards"]
    _check_cards([card])
    assert card["indicator"] == "info" and "suggestions" not in card
    assert "sample received" in card["summary"] and f"order {oid}" in card["detail"]


def test_order_sign_codes_and_unknown_medicine_skipped(svc: Svc) -> None:
    pid = _poor_metaboliser(svc)
    rx = default_index().resolve("clopidogrel").rxnorm
    assert rx
    meds = [_med("m1", system=RXNORM, code=rx), _med("m2", "Frobnicol 10mg tablets"),
            _med("m3", "paracetamol 500mg tablets"),
            {"resource": {"resourceType": "MedicationRequest", "id": "m4"}}]
    r = _call(svc, "pgxguard-order-sign", _hook("order-sign", str(pid), meds))
    assert r.status_code == 200, r.text
    body = r.json()
    _check_cards(body["cards"])
    # paracetamol was checked (no PGx guidance: no card); the others say they were not
    assert [c["summary"] for c in body["cards"] if c["indicator"] == "info"] == [
        "Could not check Frobnicol 10mg tablets against the PGx result",
        "Could not check MedicationRequest/m4 against the PGx result"]
    assert {c["summary"].split(":")[0] for c in body["cards"]
            if c["indicator"] != "info"} == {"clopidogrel"}
    notes = body["extension"]["org.pgxguard.notes"]
    assert any("MedicationRequest/m2" in n and "Frobnicol" in n for n in notes)
    assert any("MedicationRequest/m4" in n for n in notes)
    [row] = svc.audit(action="cds.order-sign")
    assert "Frobnicol" in (row.detail or "") and row.outcome == "ok"


def test_patient_view_passport(svc: Svc) -> None:
    pid = _poor_metaboliser(svc)
    r = _call(svc, "pgxguard-patient-view", _hook("patient-view", str(pid)))
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    _check_cards(cards)
    drugs = {c["summary"].split(":")[0] for c in cards}
    assert "clopidogrel" in drugs
    assert all(c["indicator"] in ("critical", "warning") and "suggestions" not in c
               for c in cards)
    # Only avoid / use alternative / adjust dose.
    assert all(c["summary"].split(": ")[1].startswith(("avoid", "use alternative",
                                                       "adjust dose")) for c in cards)
    empty = svc.new_patient(OTHER_NHS)
    r = _call(svc, "pgxguard-patient-view", _hook("patient-view", str(empty)))
    assert r.json()["cards"] == []
    assert [a.outcome for a in svc.audit(action="cds.patient-view")] == ["ok", "ok"]


def test_patient_found_by_nhs_number_in_prefetch(svc: Svc) -> None:
    pid = _poor_metaboliser(svc)
    prefetch = {"patient": {"resourceType": "Patient", "id": "ehr-123", "identifier": [
        {"system": "urn:oid:1.2.3", "value": "X1"},
        {"system": NHS_NUMBER_SYSTEM, "value": "943 476 5919"}]}}
    r = _call(svc, "pgxguard-order-sign", _hook("order-sign", "ehr-123", [
        _med("n1", "clopidogrel"), _med("n2", "azathioprine")], prefetch=prefetch))
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    assert {c["summary"].split(":")[0] for c in cards} == {"clopidogrel", "azathioprine"}
    [suggest] = [c for c in cards if "suggestions" in c]
    res = suggest["suggestions"][0]["actions"][0]["resource"]
    assert res["subject"]["reference"] == "Patient/ehr-123"
    assert res["code"]["coding"][0]["code"] == "PGX-TPMT-NUDT15"
    [row] = svc.audit(action="cds.order-sign")
    assert row.patient_id == pid


def test_unknown_patient_gets_no_cards(svc: Svc) -> None:
    _poor_metaboliser(svc)
    meds = [_med("u1", "clopidogrel")]
    for body in (_hook("order-sign", "999999", meds),
                 _hook("order-sign", "ehr-abc", meds),
                 _hook("order-sign", "1", meds, prefetch={"patient": {
                     "resourceType": "Patient",
                     "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": OTHER_NHS}]}})):
        r = _call(svc, "pgxguard-order-sign", body)
        assert r.status_code == 200, r.text
        assert r.json() == {"cards": [], "systemActions": []}
    rows = svc.audit(action="cds.order-sign")
    assert [(a.outcome, a.patient_id) for a in rows] == [("no match", None)] * 3


def test_malformed_requests_are_422(svc: Svc) -> None:
    pid = _poor_metaboliser(svc)
    meds = [_med("a", "clopidogrel")]
    cases = [
        ({"hook": "order-sign", "hookInstance": "x"}, "context: Field required"),
        ({**_hook("order-sign", str(pid)), "context": {
            "patientId": str(pid), "draftOrders": {"resourceType": "Patient"}}},
         "context.draftOrders.resourceType"),
        (_hook("order-select", str(pid), meds, ["MedicationRequest/a"]),
         "hook 'order-select' sent to service 'pgxguard-order-sign'"),
        (_hook("order-sign", str(pid)), "context.draftOrders (a FHIR Bundle) is required"),
        (_hook("order-sign", None, meds), "no patient"),
    ]
    for body, message in cases:
        r = _call(svc, "pgxguard-order-sign", body)
        assert r.status_code == 422, r.text
        assert message in r.json()["error"], r.json()
    r = _call(svc, "pgxguard-order-select", _hook("order-select", str(pid), meds))
    assert r.status_code == 422 and "context.selections is required" in r.json()["error"]
    r = _call(svc, "pgxguard-nope", _hook("order-sign", str(pid), meds))
    assert r.status_code == 404 and "pgxguard-order-sign" in r.json()["hint"]
    assert {a.outcome for a in svc.audit(action="cds:invoke")} == {"error 422", "error 404"}


def test_roles_and_tokens(svc: Svc) -> None:
    pid = _poor_metaboliser(svc)
    body = _hook("order-sign", str(pid), [_med("a", "clopidogrel")])
    for role in ("analyst", "lab_scientist", "admin"):
        r = _call(svc, "pgxguard-order-sign", body, role=role)
        assert r.status_code == 403, r.text
        assert r.json()["error"] == f"role {role!r} may not cds:invoke"
    r = svc.client.post("/cds-services/pgxguard-order-sign", json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    denied = svc.audit(action="cds:invoke")
    assert [(a.outcome, a.username) for a in denied] == [
        ("denied", "user-analyst"), ("denied", "user-lab-scientist"), ("denied", "user-admin"),
        ("denied", None)]
    assert svc.audit(action="cds.order-sign") == []


def test_odd_fhir_shapes_never_fail(svc: Svc) -> None:
    """FHIR content the EHR may send in odd shapes is skipped with a note, never a 500."""
    pid = _poor_metaboliser(svc)
    odd: list[dict[str, Any]] = [
        {"resource": {"resourceType": "MedicationRequest", "id": "o1",
                      "medicationCodeableConcept": {"coding": 5, "text": 7}}},
        {"resource": {"resourceType": "MedicationRequest", "id": "o2",
                      "medicationCodeableConcept": {"coding": ["x", {"code": 3}]}}},
        {"resource": {"resourceType": "MedicationRequest", "id": "o3",
                      "medicationReference": {"reference": "Medication/9"}}},
        {"resource": {"resourceType": "ServiceRequest", "id": "s1"}},
        {"fullUrl": "urn:uuid:empty"},
        _med("o4", "clopidogrel\x00 75mg"),
        {"resource": {"resourceType": "MedicationRequest", "id": "o5",
                      "medication": {"concept": {"coding": [
                          {"system": RXNORM, "code": "not-a-code", "display": "Clopidogrel"}]}}}},
    ]
    prefetch = {"patient": {"resourceType": "Patient", "identifier": 12}}
    body = _hook("order-sign", str(pid), odd, prefetch=prefetch)
    body["hookInstance"] = "odd\x00instance"
    r = _call(svc, "pgxguard-order-sign", body)
    assert r.status_code == 200, r.text
    out = r.json()
    # o5 (FHIR R5 shape) resolves through the coding's display.
    assert {c["summary"].split(":")[0] for c in out["cards"]
            if not c["summary"].startswith("Could not check")} == {"clopidogrel"}
    notes = " ".join(out["extension"]["org.pgxguard.notes"])
    unchecked = " ".join(c["summary"] for c in out["cards"])
    for ref in ("MedicationRequest/o1", "MedicationRequest/o2", "MedicationRequest/o3"):
        assert ref in notes and f"Could not check {ref} " in unchecked
    [row] = svc.audit(action="cds.order-sign")
    assert "\x00" not in (row.detail or "")
    # The same call again gives the same cards (the cache changes nothing but the cost).
    again = _call(svc, "pgxguard-order-sign", body).json()
    assert again == out


def _validate_service_request(res: dict[str, Any]) -> None:
    """A suggested ServiceRequest is a valid FHIR R4 resource with what an EHR needs to file
    it: subject, status, intent and a coded test from the directory's CodeSystem."""
    from fhir.resources.R4B.servicerequest import ServiceRequest

    sr = ServiceRequest.model_validate(res)
    assert sr.subject is not None and (sr.subject.reference or sr.subject.identifier)
    assert sr.status == "draft" and sr.intent == "proposal"
    [coding] = sr.code.coding
    assert coding.system == DIRECTORY_SYSTEM and coding.system.startswith("https://")
    assert get_test(coding.code).name == coding.display


def test_suggestions_are_valid_fhir_service_requests(svc: Svc) -> None:
    # no result at all: the directory test the medicine prompts (NHS-style indication)
    pid = svc.new_patient()
    r = _call(svc, "pgxguard-order-sign",
              _hook("order-sign", str(pid), [_med("c1", display="Capecitabine")]))
    [card] = r.json()["cards"]
    _validate_service_request(card["suggestions"][0]["actions"][0]["resource"])
    # a result on record without CYP2D6: codeine's card says the result is incomplete and
    # suggests the CYP2D6 test, as a FHIR ServiceRequest for the EHR's patient id
    pm = _poor_metaboliser(svc, OTHER_NHS)
    r = _call(svc, "pgxguard-order-sign",
              _hook("order-sign", "ehr-77", [_med("d1", "codeine 30mg tablets")],
                    prefetch={"patient": {"resourceType": "Patient", "identifier": [
                        {"system": NHS_NUMBER_SYSTEM, "value": OTHER_NHS}]}}))
    assert r.status_code == 200, r.text
    [card] = r.json()["cards"]
    _check_cards([card])
    assert card["summary"] == "codeine: result incomplete for CYP2D6 – see details"
    [suggestion] = card["suggestions"]
    res = suggestion["actions"][0]["resource"]
    _validate_service_request(res)
    assert res["code"]["coding"][0]["code"] == "PGX-CYP2D6"
    assert res["subject"] == {"reference": "Patient/ehr-77", "identifier": {
        "system": NHS_NUMBER_SYSTEM, "value": OTHER_NHS}}
    assert res["reasonCode"][0]["text"] == "codeine"
    # with an order for it open, the card no longer suggests ordering it again
    r = svc.client.post(f"/patients/{pm}/orders", headers=svc.h("prescriber"),
                        json={"test_code": "PGX-CYP2D6"})
    assert r.status_code == 201, r.text
    r = _call(svc, "pgxguard-order-sign",
              _hook("order-sign", str(pm), [_med("d1", "codeine 30mg tablets")]))
    [card] = r.json()["cards"]
    assert "result incomplete" in card["summary"] and "suggestions" not in card


def test_subject_is_the_ehrs_patient() -> None:
    """The suggested ServiceRequest's subject is the patient as the EHR knows them."""
    from pgxguard.service.cdshooks.schemas import HookRequest
    from pgxguard.service.cdshooks.service import Snapshot, subject_of

    snap = Snapshot(patient_id=7, nhs_number=VALID_NHS)
    ident = {"system": NHS_NUMBER_SYSTEM, "value": VALID_NHS}
    pat = {"resourceType": "Patient", "id": "ehr-9",
           "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": VALID_NHS}]}
    cases = [
        (_hook("patient-view", "Patient/ehr-1"), {"reference": "Patient/ehr-1",
                                                  "identifier": ident}),
        (_hook("patient-view", None, prefetch={"patient": pat}),
         {"reference": "Patient/ehr-9", "identifier": ident}),
        # no id at all: the NHS number alone (never this service's own row id)
        (_hook("patient-view", None, prefetch={"patient": {**pat, "id": None}}),
         {"identifier": ident}),
    ]
    for body, want in cases:
        assert subject_of(HookRequest.model_validate(body), snap) == want
