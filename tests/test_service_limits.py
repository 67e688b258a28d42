"""Bounded work per request: upload limits enforced while streaming (decompressed bytes, line
length, header samples, records; a Bundle's size and depth), a multi-sample VCF without
`sample` refused before any calling, the interpretation's time budget and its end when the
client disconnects, and the malformed inputs that were 500s (regression tests)."""

from __future__ import annotations

import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

import pgxguard
import test_service_support as support
from pgxguard import budget
from pgxguard.call import pipeline as call_pipeline
from pgxguard.report.fhir import report_bundle
from pgxguard.service.results import prescan
from pgxguard.service.settings import Settings
from test_service_support import DEMO_VCF, Svc, make_service

_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc

HEADER = b"".join(line + b"\n" for line in DEMO_VCF.read_bytes().splitlines()
                  if line.startswith(b"#"))
ONE_SAMPLE_HEADER = HEADER.replace(b"\tPATIENT1\tPATIENT2", b"\tPATIENT1")
RECORD = b"chr1\t1000\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n"  # far from every pharmacogene


def gz_stream(*parts: tuple[bytes, int]) -> bytes:
    """gzip of each (bytes, repeat) part in turn, compressed as it goes (a bomb in kilobytes)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = []
    for piece, times in parts:
        block = piece * max(1, (1 << 20) // len(piece))
        reps, rest = divmod(times * len(piece), len(block))
        for _ in range(reps):
            out.append(c.compress(block))
        out.append(c.compress(piece * (rest // len(piece))))
    out.append(c.flush())
    return b"".join(out)


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Svc]:
    """SQLite service with small limits, so each can be crossed with a small file."""
    yield from make_service(Settings(
        data_dir=tmp_path / "small", max_decompressed_bytes=4 << 20, max_line_bytes=64 << 10,
        max_vcf_samples=10, max_vcf_records=1000, max_bundle_bytes=256 << 10,
        max_json_depth=32))


def _upload(s: Svc, data: bytes, name: str = "x.vcf", kind: str = "vcf",
            **form: str) -> Any:
    pid = s.__dict__.get("patient_id") or s.__dict__.setdefault("patient_id", s.new_patient())
    client = TestClient(s.app, raise_server_exceptions=False)
    return client.post(f"/patients/{pid}/results/{kind}", headers=s.h("lab_scientist"),
                       files={"file": (name, data)}, data=form)


def _assert_refused(r: Any, status: int, *words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "hint"} and body["hint"]
    for w in words:
        assert w in body["error"], body


def test_decompression_bomb_header_line_is_refused_while_streaming(small: Svc) -> None:
    """A header line inflating to 256 MiB (from about 250 KB): refused when the line passes
    the 64 KiB limit, without inflating the rest."""
    bomb = gz_stream((b"##fileformat=VCFv4.2\n##x=", 1), (b"A", 256 << 20))
    assert len(bomb) < 300_000
    _assert_refused(_upload(small, bomb, "bomb.vcf.gz"), 413, "bomb.vcf.gz, line 2",
                    "line's length", "65,536")


def test_huge_info_field_and_total_size_are_refused(small: Svc) -> None:
    line = b"chr1\t1000\t.\tA\tG\t.\tPASS\tX=" + b"A" * (100 << 10) + b"\tGT\t0/1\n"
    _assert_refused(_upload(small, ONE_SAMPLE_HEADER + line), 413, "line 14", "line's length")
    # many short records: the decompressed size (4 MiB here) is crossed first
    wide = RECORD.replace(b"\n", b"\t" + b"." * 30_000 + b"\n")
    many = gz_stream((ONE_SAMPLE_HEADER, 1), (wide, 200))
    _assert_refused(_upload(small, many, "many.vcf.gz"), 413, "decompressed size")
    plain = ONE_SAMPLE_HEADER + b"#" * (5 << 20)
    _assert_refused(_upload(small, plain), 413)


def test_record_and_sample_limits(small: Svc) -> None:
    _assert_refused(_upload(small, ONE_SAMPLE_HEADER + RECORD * 1001), 413,
                    "number of records", "1,000")
    many = HEADER.replace(b"\tPATIENT1\tPATIENT2",
                          b"".join(b"\tS%d" % i for i in range(11)))
    _assert_refused(_upload(small, many + RECORD.replace(b"0/1\n", b"0/1" * 11 + b"\n"),
                            sample="S1"), 413, "number of samples (11)")


def test_multi_sample_vcf_without_sample_is_refused_before_calling(
        small: Svc, monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[object] = []
    monkeypatch.setattr(call_pipeline, "call", lambda *a, **k: called.append(a))
    _assert_refused(_upload(small, DEMO_VCF.read_bytes()), 422, "holds 2 samples", "'sample'")
    r = _upload(small, DEMO_VCF.read_bytes(), sample="NOBODY")
    _assert_refused(r, 422, "'NOBODY' is not in the VCF")
    assert "PATIENT1, PATIENT2" in r.json()["hint"]
    assert called == []


def test_limits_hold_for_bgzf_and_bcf(small: Svc, tmp_path: Path) -> None:
    pysam = pytest.importorskip("pysam")
    gz = tmp_path / "demo.vcf.gz"
    pysam.tabix_compress(str(DEMO_VCF), str(gz))
    bcf = tmp_path / "demo.bcf"
    with pysam.VariantFile(str(DEMO_VCF)) as src, \
            pysam.VariantFile(str(bcf), "wb", header=src.header) as dst:
        for rec in src:
            dst.write(rec)
    for path in (gz, bcf):
        data = path.read_bytes()
        _assert_refused(_upload(small, data, path.name), 422, "holds 2 samples")
        r = _upload(small, data, path.name, sample="PATIENT2")
        assert r.status_code == 201, r.text
        facts = prescan.scan_vcf(data, path.name, "PATIENT1", prescan.UploadLimits.of(
            small.settings))
        assert facts.samples == ("PATIENT1", "PATIENT2") and facts.records == len(
            [x for x in DEMO_VCF.read_text().splitlines() if not x.startswith("#")])
    tight = prescan.UploadLimits(1 << 30, 1 << 20, 10, facts.records - 1, 1 << 20, 32)
    with pytest.raises(prescan.PayloadTooLargeError, match="number of records"):
        prescan.scan_vcf(bcf.read_bytes(), "demo.bcf", "PATIENT1", tight)


def test_fhir_bundle_size_and_depth_are_checked_before_parsing(small: Svc) -> None:
    deep = b'{"resourceType": "Bundle", "entry": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    _assert_refused(_upload(small, deep, "deep.json", "fhir"), 422, "nested deeper than 32")
    # brackets inside strings are text, not nesting
    fine = json.dumps({"resourceType": "Bundle", "id": "[" * 1000, "entry": []}).encode()
    assert _upload(small, fine, "b.json", "fhir").status_code == 201
    big = json.dumps({"resourceType": "Bundle", "entry": [], "pad": "x" * (300 << 10)})
    _assert_refused(_upload(small, big.encode(), "big.json", "fhir"), 413, "Bundle's size")


TYPE_CONFUSED = [
    {"entry": [{"resource": {"resourceType": "Observation", "meta": {"profile": 5}}}]},
    {"entry": [{"resource": {"resourceType": "Observation", "meta": []}}]},
    {"entry": [{"resource": {"resourceType": "Observation", "code": {"coding": [1, None]}}}]},
    {"entry": [{"resource": {"resourceType": "Observation",
                             "code": {"coding": [{"code": "84413-4"}]}, "component": 5}}]},
    {"entry": [{"resource": {"resourceType": "Patient", "identifier": 5}},
               {"resource": {"resourceType": "Observation",
                             "code": {"coding": [{"code": "84413-4"}]}}}]},
    {"entry": "not a list"},
]


@pytest.mark.parametrize("bundle", TYPE_CONFUSED)
def test_type_confused_bundles_are_4xx_or_stored_never_500(small: Svc,
                                                          bundle: dict[str, Any]) -> None:
    r = _upload(small, json.dumps({"resourceType": "Bundle", **bundle}).encode(), "b.json",
                "fhir")
    assert r.status_code in (201, 422), r.text
    if r.status_code == 201:
        assert r.json()["latest"]["status"] == "stored, not interpreted"


def test_type_confused_values_in_a_report_bundle(small: Svc, kb: Any) -> None:
    """A pgxguard report Bundle with a string activity score, or junk in lists of objects."""
    calls = pgxguard.call(DEMO_VCF, samples=["PATIENT1"], kb=kb)
    good = report_bundle(calls, None, "PATIENT1")
    assert _upload(small, json.dumps(good).encode(), "b.json", "fhir").status_code == 201
    quantities = [c for e in good["entry"] for c in e["resource"].get("component", [])
                  if "valueQuantity" in c]
    assert quantities  # DPYD's activity score
    quantities[0]["valueQuantity"]["value"] = "1.0"
    _assert_refused(_upload(small, json.dumps(good).encode(), "b.json", "fhir"), 422,
                    "activity score is not a number")
    quantities[0]["valueQuantity"]["value"] = 1.0
    for e in good["entry"]:
        res = e["resource"]
        for key in ("derivedFrom", "note", "component", "identifier"):
            if isinstance(res.get(key), list):
                res[key] = [7, "x", None, *res[key]]
        if "valueCodeableConcept" in res:
            res["valueCodeableConcept"] = [res["valueCodeableConcept"]]
    r = _upload(small, json.dumps(good).encode(), "b.json", "fhir")
    assert r.status_code in (201, 422), r.text


def test_non_utf8_sample_name_is_422(svc: Svc) -> None:
    bad = DEMO_VCF.read_bytes().replace(b"PATIENT1", b"PAT\xff\xfeX", 1)
    for form in ({}, {"sample": "PATIENT2"}):
        _assert_refused(_upload(svc, bad, **form), 422, "not UTF-8", "line 13")


def test_ui_paths_and_forms_with_bad_ids_are_422(svc: Svc) -> None:
    """Out-of-range ids in /ui paths reached the database (500), and `int('²')` on the order
    form's result id raised ValueError ('²'.isdigit() is true)."""
    rx = TestClient(svc.app, raise_server_exceptions=False)
    rx.cookies.set("pgx_session", svc.tokens["prescriber"], path="/ui")
    for url in ("/ui/patients/99999999999999999999", "/ui/results/3000000000",
                "/ui/orders/-1", "/ui/reviews/99999999999999999999999"):
        assert rx.get(url).status_code == 422, url
    client = TestClient(svc.app, raise_server_exceptions=False)
    client.cookies.set("pgx_session", svc.tokens["lab_scientist"], path="/ui")
    pid = svc.new_patient()
    r = svc.client.post(f"/patients/{pid}/orders", headers=svc.h("prescriber"),
                        json={"test_code": "PGX-DPYD"})
    oid = r.json()["id"]
    page = client.get(f"/ui/orders/{oid}")
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    for bad in ("²", "1" * 30, "0", "-3", "x"):
        r = client.post(f"/ui/orders/{oid}/status", data={
            "csrf_token": csrf, "status": "sample_received", "result_id": bad})
        assert r.status_code == 422, (bad, r.text[:300])
        assert "is not a number from 1 to" in r.text or len(bad) > 20
    r = client.post(f"/ui/orders/{oid}/status", data={
        "csrf_token": csrf, "status": "sample_received", "result_id": ""},
        follow_redirects=False)
    assert r.status_code == 303


def test_time_budget_stops_calling(small: Svc, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake clock that moves one second per reading: the budget (120 s) runs out during the
    record scan, which stops with a 422 saying so; nothing is stored."""
    ticks = iter(range(10**9))
    monkeypatch.setattr(budget, "_clock", lambda: float(next(ticks)))
    r = _upload(small, ONE_SAMPLE_HEADER + RECORD * 900)
    _assert_refused(r, 422, "took longer than the limit of 120 s")
    assert "PGXGUARD_INTERPRET_SECONDS" in r.json()["hint"]
    last = small.audit()[-1]
    assert (last.action, last.outcome) == ("results:upload", "error 422")


def test_budget_unit() -> None:
    gone = [False]
    now = [0.0]
    b = budget.Budget(10, cancelled=lambda: gone[0], clock=lambda: now[0], poll_seconds=1)
    with budget.within(b):
        budget.checkpoint()
        gone[0] = True
        now[0] = 0.5  # not polled again within poll_seconds
        budget.checkpoint()
        now[0] = 1.5
        with pytest.raises(budget.WorkCancelled):
            budget.checkpoint()
        now[0] = 11
        with pytest.raises(budget.TimeBudgetError):
            budget.checkpoint()
    budget.checkpoint()  # outside: no budget


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_calling_stops_when_the_client_disconnects(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Against a real uvicorn server: the client sends a slow upload's request and leaves; the
    record scan stops at its next poll (audited as 499) instead of running to the end."""
    gen = make_service(Settings(data_dir=tmp_path / "live", max_vcf_records=10**7,
                                max_decompressed_bytes=1 << 30))
    s = next(gen)
    pid = s.new_patient()
    seen = {"records": 0}
    disconnected = threading.Event()
    real = budget.Budget.check

    def check(self: budget.Budget) -> None:
        seen["records"] += 1
        if seen["records"] == 2000:
            disconnected.wait(30)  # the client has gone by the time the scan goes on
            self._next_poll = 0.0  # and the next check asks the connection
        real(self)

    monkeypatch.setattr(budget.Budget, "check", check)
    n_records = 200_000
    body_vcf = gz_stream((ONE_SAMPLE_HEADER, 1), (RECORD, n_records))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(s.app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        boundary = "pgxboundary"
        payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                   f"filename=\"slow.vcf.gz\"\r\nContent-Type: application/gzip\r\n\r\n"
                   ).encode() + body_vcf + f"\r\n--{boundary}--\r\n".encode()
        head = (f"POST /patients/{pid}/results/vcf HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {s.tokens['lab_scientist']}\r\n"
                f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(head + payload)
            while seen["records"] < 2000:
                time.sleep(0.05)
        disconnected.set()
        for _ in range(600):
            if any(a.outcome == "error 499" for a in s.audit()):
                break
            time.sleep(0.1)
        [row] = [a for a in s.audit() if a.outcome == "error 499"]
        assert row.action == "results:upload" and "client disconnected" in (row.detail or "")
        # the pre-scan checks every 4096 records; the record scan every record: stopped early
        assert seen["records"] < n_records
        with s.session() as sess:
            from pgxguard.service.models import Result
            assert sess.query(Result).count() == 0
    finally:
        server.should_exit = True
        thread.join(30)
        gen.close()


@pytest.mark.parametrize("pid", ["2147483648", "99999999999999999", "²"])
def test_cds_patient_id_out_of_range_is_no_match(svc: Svc, pid: str) -> None:
    """An 11-18 digit context.patientId reached PostgreSQL's INTEGER column (DataError, a
    500); it names nobody: no cards, audited as `no match`."""
    client = TestClient(svc.app, raise_server_exceptions=False)
    r = client.post("/cds-services/pgxguard-patient-view", headers=svc.h("prescriber"), json={
        "hook": "patient-view", "hookInstance": "x", "context": {"patientId": pid}})
    assert r.status_code == 200 and r.json()["cards"] == [], r.text
    assert svc.audit()[-1].outcome == "no match"


def test_nul_characters_are_422_on_both_backends(svc: Svc) -> None:
    """PostgreSQL text cannot hold NUL: a username of '\\x00' at sign-in was a 500 there
    (found by the schemathesis run on PostgreSQL)."""
    client = TestClient(svc.app, raise_server_exceptions=False)
    r = client.post("/auth/token", json={"username": "\x00", "password": "x"})
    _assert_refused(r, 422, "NUL")
    r = client.post("/patients", headers=svc.h("prescriber"), json={
        "nhs_number": "9434765919", "family_name": "Sm\x00ith", "given_name": "Ann",
        "date_of_birth": "1970-01-02"})
    _assert_refused(r, 422, "NUL")
    r = client.get("/patients?family_name=%00", headers=svc.h("prescriber"))
    _assert_refused(r, 422, "NUL")
