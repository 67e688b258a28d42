"""Test directory (data) and test orders: the state machine, who and when, invalid transitions."""

from __future__ import annotations

import pytest

import test_service_support as support
from pgxguard.guidance.load import load_guidance
from pgxguard.service.orders.directory import (
    directory,
    for_missing_genes,
    parse_directory,
    prompted_by_drug,
)
from pgxguard.service.orders.service import TRANSITIONS, Status
from test_service_support import Svc

# Fixtures shared by the service tests (test_service_support.py).
_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc


def test_directory_is_data_with_the_expected_tests() -> None:
    tests = {t.code: t for t in directory()}
    assert {t.genes for t in tests.values() if t.trigger_drugs} == {
        ("DPYD",), ("TPMT", "NUDT15"), ("CYP2C19",), ("MT-RNR1",), ("HLA-B",)}
    assert all("not an official extract" in t.source_note for t in tests.values())
    # every gene a guideline of the guidance knowledge base names is orderable
    gkb = load_guidance()
    needed = {g for gl in gkb.guidelines for g in gl.genes}
    needed |= {c.gene for e in gkb.entries for c in e.conditions}
    assert "CYP2D6" in needed
    assert needed <= {g for t in tests.values() for g in t.genes}
    assert [t.code for t in for_missing_genes("codeine", ["CYP2D6"])] == ["PGX-CYP2D6"]
    # the drug's own indication first, else the general test, one per gene
    assert [t.code for t in for_missing_genes("clopidogrel", ["CYP2C19"])] == ["PGX-CYP2C19"]
    assert [t.code for t in for_missing_genes("citalopram", ["CYP2C19"])] == [
        "PGX-CYP2C19-GENO"]
    assert [t.code for t in for_missing_genes("warfarin", ["CYP2C9", "VKORC1"])] == [
        "PGX-CYP2C9", "PGX-VKORC1"]
    assert [t.code for t in for_missing_genes("mercaptopurine", ["TPMT", "NUDT15"])] == [
        "PGX-TPMT-NUDT15"]
    # nothing lacking (a gene with results that disagree, or no usable call): nothing to order
    assert for_missing_genes("abacavir", []) == for_missing_genes("clopidogrel", []) == []
    assert [t.code for t in prompted_by_drug("Capecitabine")] == ["PGX-DPYD"]
    assert [t.code for t in prompted_by_drug("mercaptopurine")] == ["PGX-TPMT-NUDT15"]
    assert [t.code for t in prompted_by_drug("clopidogrel")] == ["PGX-CYP2C19"]
    assert [t.code for t in prompted_by_drug("gentamicin")] == ["PGX-MT-RNR1"]
    assert [t.code for t in prompted_by_drug("abacavir")] == ["PGX-HLA-B5701"]
    assert prompted_by_drug("paracetamol") == []


def test_directory_parser_rejects_bad_files() -> None:
    from pgxguard.errors import KnowledgeBaseError

    with pytest.raises(KnowledgeBaseError, match="header"):
        parse_directory("code\tname\n")
    header = "code\tname\tgenes\ttrigger_drugs\tclinical_context\tsource_note\n"
    with pytest.raises(KnowledgeBaseError, match="line 2"):
        parse_directory(header + "X\tY\n")


def test_directory_route(svc: Svc) -> None:
    for role in ("prescriber", "lab_scientist", "analyst", "admin"):
        r = svc.client.get("/test-directory", headers=svc.h(role))
        assert r.status_code == 200
        assert len(r.json()) == len(directory())


def test_order_lifecycle_records_who_and_when(svc: Svc) -> None:
    pid = svc.new_patient()
    r = svc.client.post(f"/patients/{pid}/orders", headers=svc.h("prescriber"), json={
        "test_code": "pgx-dpyd", "reason": "starting capecitabine", "trigger_drug":
        "capecitabine"})
    assert r.status_code == 201, r.text
    order = r.json()
    oid = order["id"]
    assert order["status"] == "requested" and order["test_code"] == "PGX-DPYD"
    assert order["genes"] == ["DPYD"]
    result_id = svc.upload_vcf(pid, "PATIENT1")["id"]
    for status in ("sample_received", "in_analysis"):
        r = svc.client.post(f"/orders/{oid}/status", headers=svc.h("lab_scientist"),
                            json={"status": status, "note": f"now {status}"})
        assert r.status_code == 200, r.text
    r = svc.client.post(f"/orders/{oid}/status", headers=svc.h("lab_scientist"),
                        json={"status": "reported", "result_id": result_id})
    assert r.status_code == 200
    order = r.json()
    assert order["status"] == "reported" and order["result_id"] == result_id
    steps = [(e["from_status"], e["to_status"], e["username"]) for e in order["events"]]
    assert steps == [(None, "requested", "user-prescriber"),
                     ("requested", "sample_received", "user-lab-scientist"),
                     ("sample_received", "in_analysis", "user-lab-scientist"),
                     ("in_analysis", "reported", "user-lab-scientist")]
    times = [e["at"] for e in order["events"]]
    assert times == sorted(times)
    # final: nothing more, not even cancelling
    r = svc.client.post(f"/orders/{oid}/cancel", headers=svc.h("prescriber"),
                        json={"reason": "too late"})
    assert r.status_code == 409
    assert r.json() == {"error": f"test order {oid} cannot move from 'reported' to "
                                 "'cancelled'", "hint": "allowed from 'reported': none (final "
                                                        "state)"}
    r = svc.client.get(f"/patients/{pid}/orders", headers=svc.h("lab_scientist"))
    assert [o["status"] for o in r.json()] == ["reported"]
    actions = [a.action for a in svc.audit(patient_id=pid, outcome="ok")
               if a.action.startswith("order")]
    assert actions == ["order.create", "order.status", "order.status", "order.status",
                       "order.list"]
    refused = svc.audit(outcome="error 409")
    assert [(a.action, a.patient_id) for a in refused] == [("orders:cancel", pid)]


@pytest.mark.parametrize("start", [s for s in Status])
def test_invalid_transitions_are_409(svc: Svc, start: Status) -> None:
    pid = svc.new_patient()
    oid = svc.client.post(f"/patients/{pid}/orders", headers=svc.h("prescriber"),
                          json={"test_code": "PGX-CYP2C19"}).json()["id"]
    path = {Status.REQUESTED: [], Status.SAMPLE_RECEIVED: ["sample_received"],
            Status.IN_ANALYSIS: ["sample_received", "in_analysis"],
            Status.REPORTED: ["sample_received", "in_analysis", "reported"],
            Status.CANCELLED: ["cancel"]}[start]
    for step in path:
        if step == "cancel":
            r = svc.client.post(f"/orders/{oid}/cancel", headers=svc.h("lab_scientist"),
                                json={"reason": "duplicate"})
        else:
            r = svc.client.post(f"/orders/{oid}/status", headers=svc.h("lab_scientist"),
                                json={"status": step})
        assert r.status_code == 200, r.text
    for target in ("sample_received", "in_analysis", "reported"):
        r = svc.client.post(f"/orders/{oid}/status", headers=svc.h("lab_scientist"),
                            json={"status": target})
        if Status(target) in TRANSITIONS[start]:
            assert r.status_code == 200
            return
        assert r.status_code == 409, (start, target)
        assert f"cannot move from {start.value!r} to {target!r}" in r.json()["error"]


def test_order_validation(svc: Svc) -> None:
    pid = svc.new_patient()
    r = svc.client.post(f"/patients/{pid}/orders", headers=svc.h("prescriber"),
                        json={"test_code": "NOPE"})
    assert r.status_code == 422 and "unknown test code 'NOPE'" in r.json()["error"]
    oid = svc.client.post(f"/patients/{pid}/orders", headers=svc.h("prescriber"),
                          json={"test_code": "PGX-DPYD"}).json()["id"]
    r = svc.client.post(f"/orders/{oid}/status", headers=svc.h("lab_scientist"),
                        json={"status": "cancelled"})
    assert r.status_code == 422  # cancelling has its own route and permission
    r = svc.client.post(f"/orders/{oid}/cancel", headers=svc.h("prescriber"), json={})
    assert r.status_code == 422 and "reason" in r.json()["error"]
    r = svc.client.get("/orders/4242", headers=svc.h("prescriber"))
    assert r.status_code == 404
