"""Property-based API test: schemathesis generates requests for every operation of the
service's own OpenAPI schema and checks that none is a server error (5xx) and that responses
match the documented schemas.

Runs in-process (ASGI) over SQLite and PostgreSQL with a few examples per operation, as an
administrator, a prescriber and a laboratory scientist (the roles between them reach every
route), against a database holding a patient, results and an order so that generated ids hit
real rows.
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
from test_service_support import DATABASES, DEMO_OUTSIDE, Svc, database, make_service

schemathesis = pytest.importorskip("schemathesis")
from fastapi.routing import APIRoute  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error, response_schema_conformance  # noqa: E402

pytestmark = pytest.mark.slow  # fuzzing: about 6 minutes of the suite on 2 loaded cores

_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc

ROLES = ("admin", "prescriber", "lab_scientist")
MAX_EXAMPLES = 25


@pytest.fixture(scope="module", params=DATABASES)
def seeded(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Svc]:
    """A service with patient 1, a VCF result, an outside-call result and an order, on SQLite
    and on PostgreSQL (some malformed ids only failed on PostgreSQL's INTEGER columns)."""
    with database(request.param, tmp_path_factory.mktemp("schemathesis")) as db:
        yield from _seeded(db)


def _seeded(db: Settings) -> Iterator[Svc]:
    gen = make_service(db)
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


# --- Malformed uploads and UI inputs (hypothesis), beyond what the OpenAPI schema describes ---

def _json_values() -> Any:
    from hypothesis import strategies as st

    leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | \
        st.text(max_size=20)
    keys = st.sampled_from(["resourceType", "entry", "resource", "meta", "profile", "code",
                            "coding", "component", "valueCodeableConcept", "text", "note",
                            "derivedFrom", "reference", "identifier", "value", "fullUrl",
                            "valueQuantity", "dataAbsentReason", "conclusion", "id"])
    return st.recursive(leaves, lambda kids: st.lists(kids, max_size=4)
                        | st.dictionaries(keys, kids, max_size=5), max_leaves=40)


def test_fuzzed_fhir_bundles_are_never_a_server_error(seeded: Svc) -> None:
    """Bundles whose every field may hold any JSON type: 201 or 4xx, never 5xx."""
    from hypothesis import strategies as st

    client = TestClient(seeded.app, raise_server_exceptions=False)
    doc = st.fixed_dictionaries({"resourceType": st.just("Bundle")},
                                optional={"entry": _json_values(), "id": _json_values()})

    @given(doc=doc)
    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(doc: dict[str, Any]) -> None:
        import json

        r = client.post("/patients/1/results/fhir", headers=seeded.h("lab_scientist"),
                        files={"file": ("b.json", json.dumps(doc).encode())})
        assert r.status_code < 500, r.text

    run()


def test_fuzzed_vcf_uploads_are_never_a_server_error(seeded: Svc) -> None:
    """Header and record lines with arbitrary bytes (non-UTF-8 included), plain or gzipped."""
    import gzip

    from hypothesis import strategies as st

    client = TestClient(seeded.app, raise_server_exceptions=False)
    header = (b"##fileformat=VCFv4.2\n##reference=GRCh38\n##contig=<ID=chr10,length=133797422>\n"
              b'##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
              b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t")
    line = st.lists(st.binary(max_size=12) | st.sampled_from(
        [b"chr10", b"94781859", b"G", b"A", b".", b"PASS", b"GT", b"0/1", b"1|0", b"./."]),
        min_size=1, max_size=11).map(b"\t".join)

    @given(sample=st.binary(min_size=1, max_size=8), lines=st.lists(line, max_size=5),
           zipped=st.booleans())
    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(sample: bytes, lines: list[bytes], zipped: bool) -> None:
        data = header + sample.replace(b"\n", b"_").replace(b"\t", b"_") + b"\n" + \
            b"\n".join(lines)
        r = client.post("/patients/1/results/vcf", headers=seeded.h("lab_scientist"),
                        files={"file": ("x.vcf.gz" if zipped else "x.vcf",
                                        gzip.compress(data) if zipped else data)})
        assert r.status_code < 500, r.text

    run()


def test_fuzzed_ui_paths_and_forms_are_never_a_server_error(seeded: Svc) -> None:
    """The UI is not in the OpenAPI schema: ids in its paths and numbers in its forms are
    generated here (out-of-range ids and `int('²')` were 500s)."""
    from hypothesis import strategies as st

    client = TestClient(seeded.app, raise_server_exceptions=False, follow_redirects=False)
    client.cookies.set("pgx_session", seeded.tokens["lab_scientist"], path="/ui")
    page = client.get("/ui")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    ids = st.integers(min_value=-(2**70), max_value=2**70).map(str) | st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
        min_size=1, max_size=12)

    @given(a=ids, b=ids, form=st.text(max_size=25))
    @settings(max_examples=60, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(a: str, b: str, form: str) -> None:
        from urllib.parse import quote

        qa, qb = quote(a, safe=""), quote(b, safe="")
        for url in (f"/ui/patients/{qa}", f"/ui/results/{qa}", f"/ui/orders/{qa}",
                    f"/ui/results/{qa}/report"):
            assert client.get(url).status_code < 500, url
        for url, data in ((f"/ui/orders/{qa}/status", {"status": "reported",
                                                       "result_id": form}),
                          ("/ui/orders/1/status", {"status": form, "result_id": b}),
                          (f"/ui/results/{qa}/versions/{qb}/sign-off", {"note": form})):
            r = client.post(url, data={"csrf_token": csrf, **data})
            assert r.status_code < 500, (url, data, r.text[:200])

    run()
