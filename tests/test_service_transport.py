"""Data and transport: private files (0600 in 0700), access logs without patient identifiers,
the warning for clear text on a network address, trusted proxy headers, HSTS in production,
no-store and nosniff on responses with patient data, API docs off in production, FHIR URLs
from the configured public base URL (not the Host header), and a clear message for sign-in
over plain HTTP in production."""

from __future__ import annotations

import logging
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import test_service_support as support
from pgxguard.call import pipeline as call_pipeline
from pgxguard.service import cli as service_cli
from pgxguard.service import transport
from pgxguard.service.app import create_app
from pgxguard.service.auth import service as auth_service
from pgxguard.service.settings import Settings
from test_service_support import GOOD_SECRET, PASSWORD, VALID_NHS, Svc, make_service

_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc

BASE = "https://pgx.example.nhs.uk"


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_database_and_upload_files_are_private(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)  # an existing data directory readable by others is tightened
    gen = make_service(Settings(data_dir=data))
    s = next(gen)
    try:
        seen: list[tuple[int, int]] = []
        real = call_pipeline.call

        def spy(path: Any, *a: Any, **kw: Any) -> Any:
            p = Path(path if path is not None else kw["outside_calls"])
            seen.append((_mode(p), _mode(p.parent)))
            return real(path, *a, **kw)

        monkeypatch.setattr(call_pipeline, "call", spy)
        s.upload_vcf(s.new_patient())
        assert seen == [(0o600, 0o700)]
        assert _mode(data) == 0o700
        db = data / "pgxguard.db"
        assert _mode(db) == 0o600
        for side in (data / "pgxguard.db-wal", data / "pgxguard.db-shm"):
            assert side.exists() and _mode(side) == 0o600, side
    finally:
        gen.close()


def test_access_log_redacts_query_strings() -> None:
    f = transport.RedactQuery()
    rec = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                            '%s - "%s %s HTTP/%s" %d',
                            ("127.0.0.1:5", "GET", f"/patients?nhs_number={VALID_NHS}&limit=5",
                             "1.1", 200), None)
    assert f.filter(rec)
    line = rec.getMessage()
    assert VALID_NHS not in line
    assert "/patients?nhs_number=[redacted]&limit=[redacted]" in line
    assert transport.redact_query("/ui/patients?q=Smith") == "/ui/patients?q=[redacted]"
    assert transport.redact_query("/fhir/Patient/3") == "/fhir/Patient/3"
    cfg = transport.log_config()
    assert cfg["handlers"]["access"]["filters"] == ["pgx_redact_query"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow  # starts `pgxguard serve`
def test_served_access_log_has_no_patient_identifiers(tmp_path: Path) -> None:
    """A real `pgxguard serve`: a search by NHS number and by name reaches the access log
    only as `[redacted]`."""
    port = _free_port()
    env = {**os.environ, "PGXGUARD_DATA_DIR": str(tmp_path), "PGXGUARD_ENV": "development",
           "PGXGUARD_ADMIN_USER": "root", "PGXGUARD_ADMIN_PASSWORD": PASSWORD}
    proc = subprocess.Popen([sys.executable, "-m", "pgxguard.cli", "serve", "--port",
                             str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        for q in (f"nhs_number={VALID_NHS}", "family_name=Smith"):
            try:
                urllib.request.urlopen(f"{base}/patients?{q}", timeout=5)
            except urllib.error.HTTPError as e:
                assert e.code == 401
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    log = out.decode()
    assert "GET /patients?nhs_number=[redacted] HTTP/1.1" in log, log
    assert "GET /patients?family_name=[redacted] HTTP/1.1" in log
    assert VALID_NHS not in log and "Smith" not in log
    assert "WARNING: serving on" not in log  # loopback: no clear-text warning
    assert _mode(tmp_path) == 0o700 and _mode(tmp_path / "pgxguard.db") == 0o600


def test_serve_warns_on_a_network_address_without_tls(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import uvicorn

    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append(kw))
    monkeypatch.setattr(os, "umask", lambda mask: runs.append({"umask": mask}) or 0)
    settings = Settings(data_dir=tmp_path)
    service_cli.run_server(settings, host="0.0.0.0", port=8080)
    assert "WARNING: serving on 0.0.0.0 without TLS" in capsys.readouterr().err
    assert runs[0] == {"umask": 0o077}
    assert runs[1]["proxy_headers"] is False  # only PGXGUARD_TRUSTED_PROXIES are believed
    assert runs[1]["log_config"]["handlers"]["access"]["filters"] == ["pgx_redact_query"]
    service_cli.run_server(settings, host="127.0.0.1", port=8080)
    service_cli.run_server(settings, host="0.0.0.0", port=8443, ssl_certfile="c.pem",
                           ssl_keyfile="k.pem")
    assert "WARNING" not in capsys.readouterr().err
    assert runs[-1]["ssl_certfile"] == "c.pem"
    assert transport.listen_warning("::1", tls=False, trusted_proxies=()) is None
    warning = transport.listen_warning("10.2.3.4", tls=False, trusted_proxies=("10.0.0.9",))
    assert warning is not None and "PGXGUARD_TRUSTED_PROXIES=10.0.0.9" in warning


@pytest.mark.slow
def test_trusted_proxy_headers(tmp_path: Path) -> None:
    """Behind a trusted proxy the client address (throttle, audit) and scheme come from
    X-Forwarded-For / -Proto; from anyone else those headers are ignored."""
    gen = make_service(Settings(data_dir=tmp_path / "p", trusted_proxies=("10.0.0.0/8",)))
    s = next(gen)
    try:
        fwd = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
        body = {"username": "user-analyst", "password": PASSWORD}
        via_proxy = TestClient(s.app, client=("10.0.0.5", 5000))
        assert via_proxy.post("/auth/token", json=body, headers=fwd).status_code == 200
        direct = TestClient(s.app, client=("192.0.2.1", 5000))
        assert direct.post("/auth/token", json=body, headers=fwd).status_code == 200
        details = [a.detail for a in s.audit(action="auth.signin")][-2:]
        assert details == ["from 203.0.113.9", "from 192.0.2.1"]
    finally:
        gen.close()


def test_patient_data_responses_are_not_cached_and_not_sniffed(svc: Svc) -> None:
    pid = svc.new_patient()
    rx = svc.h("prescriber")
    for url in (f"/patients/{pid}", f"/patients?nhs_number={VALID_NHS}", "/patients/999999",
                f"/fhir/Patient/{pid}", f"/patients/{pid}/results", "/test-directory"):
        r = svc.client.get(url, headers=rx)
        assert r.headers["cache-control"] == "no-store", url
        assert r.headers["x-content-type-options"] == "nosniff", url
        assert "strict-transport-security" not in r.headers  # development
    r = svc.client.post("/cds-services/pgxguard-patient-view", headers=rx, json={
        "hook": "patient-view", "hookInstance": "x", "context": {"patientId": str(pid)}})
    assert r.headers["cache-control"] == "no-store"
    static = svc.client.get("/ui/static/web.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get(
        "cache-control", "")
    assert svc.client.get("/docs").status_code == 200  # development: interactive docs


def _production(tmp_path: Path, **kw: Any) -> Any:
    settings = Settings(data_dir=tmp_path, environment="production", secret=GOOD_SECRET,
                        allow_sqlite_in_production=True, public_base_url=BASE, **kw)
    app = create_app(settings)
    with app.state.sessions() as s:
        auth_service.create_user(s, "rx1", PASSWORD, "prescriber")
        s.commit()
    return app


def test_production_headers_docs_and_fhir_base_url(tmp_path: Path) -> None:
    app = _production(tmp_path)
    try:
        c = TestClient(app, base_url="https://evil.example")
        r = c.get("/health")
        assert r.headers["strict-transport-security"] == transport.HSTS
        assert c.get("/docs").status_code == 404 and c.get("/redoc").status_code == 404
        assert c.get("/openapi.json").status_code == 200
        tok = c.post("/auth/token", json={"username": "rx1", "password": PASSWORD}
                     ).json()["access_token"]
        h = {"Authorization": f"Bearer {tok}", "Host": "evil.example"}
        pid = c.post("/patients", headers=h, json={
            "nhs_number": VALID_NHS, "family_name": "Smith", "given_name": "Ann",
            "date_of_birth": "1970-01-02"}).json()["id"]
        bundle = c.get(f"/fhir/Patient?identifier={VALID_NHS}", headers=h).json()
        assert bundle["entry"][0]["fullUrl"] == f"{BASE}/fhir/Patient/{pid}"
        assert bundle["link"][0]["url"].startswith(f"{BASE}/fhir/Patient?identifier=")
        meta = c.get("/fhir/metadata", headers={"Host": "evil.example"}).json()
        assert meta["implementation"]["url"] == f"{BASE}/fhir"
        assert "evil.example" not in str(bundle) + str(meta)
    finally:
        app.state.engine.dispose()


def test_production_sign_in_over_plain_http_says_so(tmp_path: Path) -> None:
    """The Secure login cookie is dropped over http: the page says to use HTTPS instead of a
    misleading 'form expired'; behind a trusted TLS proxy (X-Forwarded-Proto) it works."""
    app = _production(tmp_path, trusted_proxies=("127.0.0.1",))
    try:
        plain = TestClient(app, base_url="http://pgx.internal", follow_redirects=False)
        page = plain.get("/ui/login")
        assert "must be reached over HTTPS" in page.text
        r = plain.post("/ui/login", data={"username": "rx1", "password": PASSWORD,
                                          "csrf_token": "x"})
        assert r.status_code == 400 and "must be reached over HTTPS" in r.text
        assert "form expired" not in r.text
        proxied = TestClient(app, base_url="http://pgx.internal", follow_redirects=False,
                             client=("127.0.0.1", 4000),
                             headers={"X-Forwarded-Proto": "https"})
        assert "must be reached over HTTPS" not in proxied.get("/ui/login").text
    finally:
        app.state.engine.dispose()
