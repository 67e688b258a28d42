"""Medication reviews: run on the patient's latest result, stored verbatim and immutable."""

from __future__ import annotations

import json

import pytest

import pgxguard
import test_service_support as support
from pgxguard.call.results import CallResult
from pgxguard.guidance.review import review
from pgxguard.service.models import MedicationReview
from test_service_support import DEMO_VCF, Svc

# Fixtures shared by the service tests (test_service_support.py).
_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc

MEDS = ["clopidogrel", "capecitabine", "azathioprine", "paracetamol"]


def test_review_stored_verbatim(svc: Svc) -> None:
    pid = svc.new_patient()
    uploaded = svc.upload_vcf(pid, "PATIENT1")
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"medicines": MEDS})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["result_id"] == uploaded["id"] and body["result_version"] == 1
    assert body["medicines"] == MEDS
    shown = body["review"]
    # what was shown is exactly what is stored ...
    with svc.session() as s:
        row = s.get(MedicationReview, body["id"])
        assert row is not None
        assert json.loads(row.review_json) == shown
        # ... and exactly what the guidance engine says for the stored calls
        calls = CallResult.from_json(uploaded["latest"]["calls"])
        assert row.review_json == json.dumps(review(calls, MEDS, sample="PATIENT1").to_json(),
                                             indent=2)
    actions = {i["drug"]: i["action"] for i in shown["items"]}
    assert actions["clopidogrel"] != "standard"
    assert actions["paracetamol"] == "no PGx guidance"
    r = svc.client.get(f"/reviews/{body['id']}", headers=svc.h("prescriber"))
    assert r.json() == body
    r = svc.client.get(f"/patients/{pid}/reviews", headers=svc.h("prescriber"))
    assert r.json() == [body]
    actions_log = [a.action for a in svc.audit(patient_id=pid)]
    assert actions_log[-3:] == ["review.create", "review.read", "review.list"]


def test_review_uses_the_latest_signed_off_version(svc: Svc) -> None:
    """A re-interpretation awaiting sign-off is not used; once signed off, it is."""
    pid = svc.new_patient()
    rid = svc.upload_vcf(pid, "PATIENT1")["id"]
    svc.client.post(f"/results/{rid}/reinterpret", headers=svc.h("lab_scientist"))
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"medicines": ["codeine"]})
    assert r.json()["result_version"] == 1
    svc.sign_off(rid, 2)
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"medicines": ["codeine"]})
    assert r.json()["result_version"] == 2


def test_stored_reviews_are_immutable(svc: Svc) -> None:
    pid = svc.new_patient()
    svc.upload_vcf(pid, "PATIENT2")
    rid = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                          json={"medicines": ["warfarin"]}).json()["id"]
    with svc.session() as s:
        row = s.get(MedicationReview, rid)
        assert row is not None
        row.review_json = "{}"
        with pytest.raises(RuntimeError, match="immutable"):
            s.commit()
        s.rollback()
    routes = {(m, r.path) for r in svc.app.routes for m in getattr(r, "methods", ())}
    assert not any(p.startswith("/reviews") and m in ("PUT", "PATCH", "DELETE")
                   for m, p in routes)


def test_review_errors(svc: Svc) -> None:
    pid = svc.new_patient()
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"medicines": ["codeine"]})
    assert r.status_code == 409 and "no signed-off PGx result" in r.json()["error"]
    assert "upload a result" in r.json()["hint"]
    out = svc.upload_vcf(pid, "PATIENT1", sign_off=False)
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"medicines": ["codeine"]})
    assert r.status_code == 409 and "provisional" in r.json()["error"]
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"medicines": ["codeine"], "result_id": out["id"]})
    assert r.status_code == 409 and "is provisional" in r.json()["error"]
    svc.sign_off(out["id"], 1)
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"medicines": ["notadrugatall"]})
    assert r.status_code == 422 and "notadrugatall" in r.json()["error"]
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"medicines": []})
    assert r.status_code == 422 and "empty" in r.json()["error"]


def test_all_drugs_passport(svc: Svc) -> None:
    pid = svc.new_patient()
    svc.upload_vcf(pid, "PATIENT2")
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"all_drugs": True})
    assert r.status_code == 201
    expected = review(pgxguard.call(DEMO_VCF, samples=["PATIENT2"]), [], all_drugs=True)
    assert [i["drug"] for i in r.json()["review"]["items"]] == [i.drug for i in expected.items]
