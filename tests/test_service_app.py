"""Settings (unsafe production defaults refused), database set-up and migrations, durability of
accepted writes, uniform JSON errors, health and OpenAPI, and `pgxguard serve`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

import test_service_support as support
from pgxguard.cli import app as cli_app
from pgxguard.service.app import create_app
from pgxguard.service.db import Base, make_engine
from pgxguard.service.models import Patient
from pgxguard.service.settings import DEFAULT_SECRET, Settings, SettingsError
from test_service_support import PASSWORD, Svc

# Fixtures shared by the service tests (test_service_support.py).
_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
sqlite_svc = support.sqlite_svc
svc = support.svc

GOOD_SECRET = support.GOOD_SECRET
PG = "postgresql+psycopg://pgxguard@db.example/pgx"
BASE = "https://pgx.example.nhs.uk"


@pytest.mark.parametrize(("kw", "message"), [
    ({}, "default secret"),
    ({"secret": "short"}, "shorter than 32"),
    ({"secret": "a" * 32, "db_url": PG, "public_base_url": BASE}, "guessable secret"),
    ({"secret": "pgxguard" * 6, "db_url": PG, "public_base_url": BASE}, "guessable secret"),
    ({"secret": GOOD_SECRET, "public_base_url": BASE}, "on SQLite"),
    ({"secret": GOOD_SECRET, "db_url": PG}, "PGXGUARD_PUBLIC_BASE_URL"),
    ({"secret": GOOD_SECRET, "db_url": PG, "public_base_url": BASE,
      "admin_password": "p" * 20}, "ADMIN_USER"),
    ({"environment": "staging"}, "unknown environment"),
    ({"environment": "development", "public_base_url": "pgx.example"}, "not a base URL"),
    ({"environment": "development", "trusted_proxies": ("10.0.0.0/8", "proxy")},
     "'proxy' is not an IP"),
    ({"environment": "development", "max_line_bytes": 0}, "MAX_LINE_BYTES must be positive"),
])
def test_unsafe_production_settings_refused(kw: dict[str, str], message: str) -> None:
    s = Settings(**{"environment": "production", **kw})  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=message):
        s.check()


def test_create_app_refuses_unsafe_production(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="default secret"):
        create_app(Settings(environment="production", data_dir=tmp_path))
    assert not (tmp_path / "pgxguard.db").exists()  # refused before touching the database


def test_safe_production_settings() -> None:
    Settings(environment="production", secret=GOOD_SECRET, db_url=PG,
             public_base_url=BASE).check()
    Settings(environment="production", secret=GOOD_SECRET, public_base_url=BASE,
             allow_sqlite_in_production=True).check()
    Settings().check()  # development: defaults are fine


def test_settings_from_env(tmp_path: Path) -> None:
    env = {"PGXGUARD_ENV": "Production", "PGXGUARD_SECRET": GOOD_SECRET,
           "PGXGUARD_DB_URL": PG, "PGXGUARD_MAX_UPLOAD_BYTES": "1000",
           "PGXGUARD_PUBLIC_BASE_URL": BASE, "PGXGUARD_TRUSTED_PROXIES": " 10.0.0.5, ::1 ",
           "PGXGUARD_MAX_VCF_RECORDS": "77", "PGXGUARD_API_DOCS": "true",
           "PGXGUARD_ALLOW_SQLITE_IN_PRODUCTION": "false",
           "PGXGUARD_DATA_DIR": str(tmp_path)}
    s = Settings.from_env(env).check()
    assert (s.environment, s.db_url, s.max_upload_bytes, s.data_dir) == (
        "production", PG, 1000, tmp_path)
    assert (s.public_base_url, s.trusted_proxies, s.max_vcf_records, s.docs_enabled) == (
        BASE, ("10.0.0.5", "::1"), 77, True)
    assert Settings(environment="production").docs_enabled is False
    assert Settings().docs_enabled is True
    assert Settings.from_env({}, db_url="sqlite:///x.db").db_url == "sqlite:///x.db"
    assert Settings.from_env({"PGXGUARD_DATA_DIR": str(tmp_path)}).database_url == (
        f"sqlite:///{tmp_path}/pgxguard.db")
    with pytest.raises(SettingsError, match="integer"):
        Settings.from_env({"PGXGUARD_MAX_UPLOAD_BYTES": "lots"})
    with pytest.raises(SettingsError, match="boolean"):
        Settings.from_env({"PGXGUARD_RUN_MIGRATIONS": "maybe"})
    assert Settings().secret == DEFAULT_SECRET


def test_sqlite_is_durable_and_enforces_foreign_keys(sqlite_svc: Svc) -> None:
    engine = sqlite_svc.app.state.engine
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert c.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_migrations_match_the_models(svc: Svc) -> None:
    engine = svc.app.state.engine
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), Base.metadata)
        assert diff == []
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007"


def test_accepted_writes_are_committed_before_the_response(svc: Svc) -> None:
    pid = svc.new_patient()
    # a separate engine (a new connection, as after a restart) sees the write
    other = make_engine(svc.settings)
    try:
        with other.connect() as c:
            nhs = c.execute(text("SELECT nhs_number FROM patients WHERE id = :i"),
                            {"i": pid}).scalar()
            assert nhs == "9434765919"
            audit = c.execute(text("SELECT count(*) FROM audit_events WHERE patient_id = :i "
                                   "AND action = 'patient.create'"), {"i": pid}).scalar()
            assert audit == 1  # in the same transaction as the write
    finally:
        other.dispose()


def test_restart_keeps_data(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, admin_user="root", admin_password=PASSWORD)
    with TestClient(create_app(settings)):
        pass
    app = create_app(settings)  # second start: migrations are a no-op, data is there
    with app.state.sessions() as s:
        assert s.query(Patient).count() == 0
    app.state.engine.dispose()


def test_uniform_json_errors(svc: Svc) -> None:
    r = svc.client.get("/no/such/route")
    assert r.status_code == 404 and set(r.json()) == {"error", "hint"}
    r = svc.client.put("/patients", headers=svc.h("prescriber"))
    assert r.status_code == 405 and set(r.json()) == {"error", "hint"}
    r = svc.client.post("/patients", headers=svc.h("prescriber"), json={"nhs_number": 1})
    assert r.status_code == 422
    body = r.json()
    assert set(body) == {"error", "hint"} and body["error"].startswith("invalid request:")
    assert "family_name" in body["error"]
    r = svc.client.get("/patients/not-a-number", headers=svc.h("prescriber"))
    assert r.status_code == 422 and "patient_id" in r.json()["error"]


def test_unexpected_errors_are_500_without_details(tmp_path: Path) -> None:
    from test_service_support import make_service

    def boom() -> object:
        raise RuntimeError("secret internals")

    gen = make_service(Settings(data_dir=tmp_path))
    svc = next(gen)
    try:
        svc.app.state.kb_provider = boom
        pid = svc.new_patient()
        client = TestClient(svc.app, raise_server_exceptions=False)
        with open(Path(__file__).resolve().parents[1] / "examples" / "demo.vcf", "rb") as fh:
            r = client.post(f"/patients/{pid}/results/vcf", headers=svc.h("lab_scientist"),
                            files={"file": ("demo.vcf", fh)}, data={"sample": "PATIENT1"})
        assert r.status_code == 500
        assert r.json()["error"] == "internal server error"
        assert "secret internals" not in r.text
        assert [(a.action, a.outcome) for a in svc.audit(patient_id=pid)][-1] == (
            "results:upload", "error 500")
    finally:
        gen.close()


def test_health_and_openapi(svc: Svc) -> None:
    r = svc.client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    spec = svc.client.get("/openapi.json").json()
    assert "/patients/{patient_id}/results/vcf" in spec["paths"]
    assert "/results/{result_id}/reinterpret" in spec["paths"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_cli_create_admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGXGUARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PGXGUARD_ADMIN_PASSWORD", PASSWORD)
    runner = CliRunner()
    r = runner.invoke(cli_app, ["serve", "--create-admin", "root"])
    assert r.exit_code == 0, r.output
    assert "created admin user 'root'" in r.output
    r = runner.invoke(cli_app, ["serve", "--create-admin", "root"])
    assert r.exit_code == 0 and "already exists" in r.output
    monkeypatch.setenv("PGXGUARD_ENV", "production")
    r = runner.invoke(cli_app, ["serve", "--create-admin", "root"])
    assert r.exit_code == 4 and "default secret" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_starts_with_embedded_sqlite(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PGXGUARD_DATA_DIR": str(tmp_path), "PGXGUARD_ENV": "development"}
    proc = subprocess.Popen([sys.executable, "-m", "pgxguard.cli", "serve", "--port",
                             str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        body = b""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    body = r.read()
                    break
            except OSError:
                time.sleep(0.2)
        assert b'"status":"ok"' in body
        assert (tmp_path / "pgxguard.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        assert proc.stdout is not None
        proc.stdout.close()


def test_immutable_rows_cannot_be_changed_in_sql_session(svc: Svc) -> None:
    pid = svc.new_patient()
    svc.upload_vcf(pid)
    from pgxguard.service.models import AuditEvent, ResultVersion

    with svc.session() as s:
        for model in (ResultVersion, AuditEvent):
            row = s.query(model).first()
            assert row is not None
            s.delete(row)
            with pytest.raises(RuntimeError, match="immutable"):
                s.flush()
            s.rollback()


def test_unsupported_database_url_is_a_clear_error() -> None:
    with pytest.raises(SettingsError, match="unsupported database URL"):
        make_engine(Settings(db_url="mysql://x/y"))
    with pytest.raises(SettingsError, match="invalid schema name"):
        make_engine(Settings(db_url="postgresql+psycopg://x/y", db_schema="a; drop"))
