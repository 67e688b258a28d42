"""Property-based API test: schemathesis generates requests for every operation of the
service's own OpenAPI schema and checks that none is a server error (5xx) and that responses
match the documented schemas.

Runs in-process (ASGI) over SQLite with a few examples per operation, as an administrator, a
prescriber and a laboratory scientist (the roles between them reach every route), against a
database holding a patient, results and an order so that generated ids hit real rows.
A longer run against a live `pgxguard serve` is described in docs/service.md ("Fuzzing").
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import test_service_support as support
from pgxguard.service.app import ROUTERS
from pgxguard.service.ids import MAX_ROW_ID
from pgxguard.service.settings import Settings
from test_service_support import DEMO_OUTSIDE, Svc, make_service

schemathesis = pytest.importorskip("schemathesis")
from fastapi.routing import APIRoute  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error, response_schema_conformance  # noqa: E402

_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc

ROLES = ("admin", "prescriber", "lab_scientist")
MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Svc]:
    """A service with patient 1, a VCF result, an outside-call result and an order."""
    gen = make_service(Settings(data_dir=tmp_path_factory.mktemp("schemathesis")))
    svc = next(gen)
    pid = svc.new_patient()
    svc.upload_vcf(pid)
    with DEMO_OUTSIDE.open("rb") as fh:
        r = svc.client.post(f"/patients/{pid}/results/outside-calls",
                            headers=svc.h("lab_scientist"), files={"file": ("oc.tsv", fh)},
                            data={"sample": "PATIENT1"})
        assert r.status_code == 201, r.text
    r = svc.client.post(f"/patients/{pid}/orders", headers=svc.h("prescriber"),
                        json={"test_code": "PGX-DPYD", "trigger_drug": "capecitabine"})
    assert r.status_code == 201, r.text
    yield svc
    gen.close()


@pytest.fixture(scope="module")
def api_schema(seeded: Svc) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", seeded.app)


# Operations from the routers themselves (as test_service_auth does), so collection needs no
# app; schemathesis' own `from_fixture` does not run under pytest 9 (it reads node._nodeid).
OPERATIONS = sorted([("GET", "/health")] + [
    (m, r.path) for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)
    for m in r.methods])


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_api_has_no_server_errors(api_schema: Any, seeded: Svc, method: str, path: str) -> None:
    if (method, path) == ("DELETE", "/auth/token"):
        pytest.skip("signing out would end the shared sessions (test_service_auth covers it)")
    operation = api_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        for role in ROLES:  # each generated request, as each role
            case.call_and_validate(headers=seeded.h(role),
                                   checks=[not_a_server_error, response_schema_conformance])

    run()


def test_seed_is_in_place(seeded: Svc, tmp_path: Path) -> None:
    r = seeded.client.get("/patients/1/results", headers=seeded.h("prescriber"))
    assert r.status_code == 200 and len(r.json()) == 2


# --- Regression tests for what the schemathesis run found -----------------------------------

@pytest.mark.parametrize("big", [2**31, 2**63, -1, 0])
def test_out_of_range_ids_are_422_not_500(svc: Svc, big: int) -> None:
    """Ids beyond the INTEGER columns reached the database: OverflowError on SQLite (over
    2**63 - 1), DataError on PostgreSQL (over 2**31 - 1); both were 500s."""
    pid = svc.new_patient()
    client = TestClient(svc.app, raise_server_exceptions=False)
    lab, rx, admin = svc.h("lab_scientist"), svc.h("prescriber"), svc.h("admin")
    for method, url, headers, body in [
            ("GET", f"/patients/{big}", rx, None), ("GET", f"/orders/{big}", rx, None),
            ("POST", f"/orders/{big}/status", lab, {"status": "sample_received"}),
            ("GET", f"/results/{big}/versions/{big}", rx, None),
            ("GET", f"/reviews/{big}", rx, None),
            ("PATCH", f"/users/{big}", admin, {"active": True}),
            ("GET", f"/audit?patient_id={big}&before_id={big}", admin, None),
            ("POST", f"/patients/{pid}/reviews", rx, {"medicines": [], "result_id": big})]:
        r = client.request(method, url, headers=headers, json=body)
        assert r.status_code == 422, (method, url, r.status_code, r.text)
        assert set(r.json()) == {"error", "hint"}
    r = client.post(f"/patients/{pid}/orders", headers=rx, json={"test_code": "PGX-DPYD"})
    r = client.post(f"/orders/{r.json()['id']}/status", headers=lab,
                    json={"status": "reported", "result_id": big})
    assert r.status_code == 422, r.text
    # the refusal is audited; an id the column cannot hold is not stored (the audit insert
    # itself failed with it, so the refusal went unrecorded)
    r = client.get(f"/patients/{big}/results", headers=rx)
    assert r.status_code == 422
    last = svc.audit()[-1]
    assert (last.action, last.outcome, last.patient_id) == (
        "results:read", "error 422", big if 0 <= big <= MAX_ROW_ID else None)
    # FHIR ids are strings: an out-of-range one is simply unknown
    for url, status in ((f"/fhir/Patient/{big}", 404), (f"/fhir/ServiceRequest/{big}", 404),
                        (f"/fhir/DiagnosticReport/r{big}-v{big}-x", 404),
                        (f"/fhir/Observation?patient={big}", 200 if big >= 0 else 400)):
        r = client.get(url, headers=rx)
        assert r.status_code == status, (url, r.text)


def test_refusal_audit_is_written_off_the_event_loop(svc: Svc,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit row of a refused request was written from the async error handler, blocking
    the event loop while it waited for SQLite's write lock. A concurrent request that had begun
    its transaction in a dependency then could not reach its endpoint to commit: every request
    stalled for the 30 s busy timeout ("database is locked"; found by `st run` against a live
    `pgxguard serve` with 2 workers)."""
    from pgxguard.service.audit import service as audit_service

    where: list[str] = []
    real = audit_service.record_failure

    def spy(*args: Any, **kw: Any) -> None:
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("worker thread")
        real(*args, **kw)

    monkeypatch.setattr(audit_service, "record_failure", spy)
    pid = svc.new_patient()
    assert svc.client.get(f"/patients/{pid}", headers=svc.h("analyst")).status_code == 403
    assert svc.client.get("/patients/999999", headers=svc.h("prescriber")).status_code == 404
    assert svc.client.get("/patients/x", headers=svc.h("prescriber")).status_code == 422
    assert where == ["worker thread"] * 3
    assert [a.outcome for a in svc.audit()][-3:] == ["denied", "error 404", "error 422"]
