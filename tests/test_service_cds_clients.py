"""CDS Hooks as an EHR calls it: the specification's own JSON examples (tests/data/cds-hooks,
copied verbatim), sent over HTTP with `requests` to the service on a real socket; responses
checked against the CDS Hooks 2.0 field tables (written out below from the specification,
not from pgxguard's output) and suggested FHIR resources parsed by an independent FHIR model
library (SMART on FHIR's `fhirclient`, strict R4)."""

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

import test_service_support as support
from live_server import serve
from pgxguard.guidance.medicines import default_index
from test_service_support import VALID_NHS, Svc

requests = pytest.importorskip("requests")

_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc

SPEC = Path(__file__).parent / "data" / "cds-hooks"
PM_TSV = "sample\tgene\tdiplotype\tphenotype\tactivity_score\nP1\tCYP2C19\t*2/*2\t\t\n"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

# CDS Hooks 2.0, "CDS Service Response": field -> (required, JSON type), per object.
CARD = {"uuid": (False, str), "summary": (True, str), "detail": (False, str),
        "indicator": (True, str), "source": (True, dict), "suggestions": (False, list),
        "selectionBehavior": (False, str), "overrideReasons": (False, list),
        "links": (False, list)}
SOURCE = {"label": (True, str), "url": (False, str), "icon": (False, str),
          "topic": (False, dict)}
CODING = {"code": (True, str), "system": (True, str), "display": (False, str)}
SUGGESTION = {"label": (True, str), "uuid": (False, str), "isRecommended": (False, bool),
              "actions": (False, list)}
ACTION = {"type": (True, str), "description": (True, str), "resource": (False, dict),
          "resourceId": (False, list)}
LINK = {"label": (True, str), "url": (True, str), "type": (True, str),
        "appContext": (False, str), "autolaunchable": (False, bool)}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _fields(obj: Any, table: dict[str, tuple[bool, type]], where: str) -> None:
    assert isinstance(obj, dict), where
    assert set(obj) <= set(table), f"{where}: fields the specification does not define: " \
        f"{set(obj) - set(table)}"
    for name, (required, kind) in table.items():
        if required:
            assert name in obj, f"{where}.{name} is required"
        if name in obj:
            assert isinstance(obj[name], kind), f"{where}.{name} must be {kind.__name__}"
            # "JSON elements SHALL NOT be null ... SHALL NOT be empty"
            assert obj[name] not in ("", [], {}), f"{where}.{name} is empty"


def check_response(body: Any) -> list[dict[str, Any]]:
    """A CDS Hooks 2.0 response; returns the resources its suggestions create."""
    assert set(body) <= {"cards", "systemActions", "extension"}
    assert isinstance(body["cards"], list)
    created: list[dict[str, Any]] = []
    for i, card in enumerate(body["cards"]):
        where = f"cards[{i}]"
        _fields(card, CARD, where)
        assert len(card["summary"]) < 140
        assert card["indicator"] in ("info", "warning", "critical")
        if "uuid" in card:
            assert UUID.fullmatch(card["uuid"])
        _fields(card["source"], SOURCE, f"{where}.source")
        if "topic" in card["source"]:
            _fields(card["source"]["topic"], CODING, f"{where}.source.topic")
        if "suggestions" in card:  # selectionBehavior: REQUIRED when suggestions are given
            assert card["selectionBehavior"] in ("at-most-one", "any")
        for j, s in enumerate(card.get("suggestions", [])):
            _fields(s, SUGGESTION, f"{where}.suggestions[{j}]")
            for k, a in enumerate(s.get("actions", [])):
                _fields(a, ACTION, f"{where}.suggestions[{j}].actions[{k}]")
                assert a["type"] in ("create", "update", "delete")
                if a["type"] in ("create", "update"):  # resource: CONDITIONAL
                    assert "resource" in a
                    created.append(a["resource"])
        for j, link in enumerate(card.get("links", [])):
            _fields(link, LINK, f"{where}.links[{j}]")
            assert link["type"] in ("absolute", "smart")
    return created


def _fhirclient_parse(resource: dict[str, Any]) -> Any:
    """Parse with fhirclient's R4 models (strict: unknown or ill-typed elements raise)."""
    pytest.importorskip("fhirclient")
    from fhirclient.models import fhirelementfactory

    return fhirelementfactory.FHIRElementFactory.instantiate(resource["resourceType"],
                                                            resource)


def _spec(name: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads((SPEC / name).read_text(encoding="utf-8"))
    return out


def _post(base: str, svc: Svc, service: str, body: dict[str, Any]) -> Any:
    r = requests.post(f"{base}/cds-services/{service}", json=body, timeout=60,
                      headers={**svc.h("prescriber"), "Accept": "application/json"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def _poor_metaboliser(svc: Svc) -> int:
    pid = svc.new_patient(VALID_NHS)
    r = svc.client.post(f"/patients/{pid}/results/outside-calls", headers=svc.h("lab_scientist"),
                        files={"file": ("cyp2c19.tsv", PM_TSV.encode())})
    assert r.status_code == 201, r.text
    svc.sign_off(r.json()["id"], 1)
    return pid


def test_the_specifications_examples_over_http(svc: Svc) -> None:
    pid = _poor_metaboliser(svc)
    example = _spec("request-example.json")
    order_sign = _spec("order-sign-r4-context.json")
    with serve(svc.app) as base:
        # discovery, as a client reads it
        r = requests.get(f"{base}/cds-services", timeout=60)
        assert r.status_code == 200
        hooks = {s["id"]: s["hook"] for s in r.json()["services"]}
        assert hooks["pgxguard-patient-view"] == "patient-view"

        # 1. the specification's request, exactly: its patient is not known here -> no cards
        body = _post(base, svc, "pgxguard-patient-view", example)
        assert body == {"cards": [], "systemActions": []}
        check_response(body)

        # 2. the same request about our patient: the PGx passport
        ours = copy.deepcopy(example)
        ours["context"]["patientId"] = str(pid)
        body = _post(base, svc, "pgxguard-patient-view", ours)
        check_response(body)
        assert any(c["summary"].startswith("clopidogrel: ") for c in body["cards"])

        # 3. order-sign with the specification's R4 draft orders (a NutritionOrder and an
        # amoxicillin/clavulanate MedicationRequest, no PGx guidance) in its request envelope
        call = {**{k: example[k] for k in ("hookInstance", "fhirServer", "fhirAuthorization")},
                "hook": "order-sign", **copy.deepcopy(order_sign)}
        call["context"]["patientId"] = str(pid)
        body = _post(base, svc, "pgxguard-order-sign", call)
        check_response(body)
        assert not [c for c in body["cards"] if c["indicator"] != "info"]

        # 4. ... and with the MedicationRequest coded as clopidogrel (RxNorm) instead, plus
        # capecitabine (DPYD untested: a test is suggested)
        med = call["context"]["draftOrders"]["entry"][1]["resource"]
        rx = default_index().resolve("clopidogrel").rxnorm
        med["medicationCodeableConcept"] = {"coding": [{"system": RXNORM, "code": rx,
                                                        "display": "clopidogrel"}]}
        cap = copy.deepcopy(med)
        cap["id"] = "capecitabine-1"
        cap["medicationCodeableConcept"] = {"text": "capecitabine 500 mg tablets"}
        call["context"]["draftOrders"]["entry"].append({"resource": cap})
        call["hookInstance"] = str(uuid.uuid4())
        body = _post(base, svc, "pgxguard-order-sign", call)
        created = check_response(body)
        summaries = [c["summary"] for c in body["cards"]]
        assert sum(s.startswith("clopidogrel: ") for s in summaries) == 1  # one card
        assert any(s.startswith("capecitabine: ") for s in summaries)
        assert created
        for resource in created:
            sr = _fhirclient_parse(resource)  # a valid R4 ServiceRequest for fhirclient too
            assert sr.resource_type == "ServiceRequest"
            assert sr.subject.reference == f"Patient/{pid}"
            assert sr.status == "draft" and sr.intent == "proposal"
            assert sr.code.coding[0].system.startswith("https://")
