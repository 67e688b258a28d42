"""The tamper-evident audit trail: hash-chained rows, append-only in the database (triggers on
SQLite and PostgreSQL), `pgxguard audit verify` and `GET /audit/verify` reporting every break,
audit reads audited, and administrators seeing audit metadata without patient identifiers."""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

import test_service_support as support
from pgxguard.cli import app as cli_app
from pgxguard.service.audit import chain
from pgxguard.service.audit import service as audit_service
from pgxguard.service.db import MIGRATIONS_DIR, make_engine
from pgxguard.service.settings import Settings
from test_service_support import DEMO_VCF, VALID_NHS, Svc

_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
fresh_db_settings = support.fresh_db_settings
svc = support.svc


def _activity(s: Svc) -> int:
    pid = s.new_patient()
    s.upload_vcf(pid)
    s.client.get(f"/patients/{pid}", headers=s.h("prescriber"))
    s.client.get(f"/patients/{pid}", headers=s.h("analyst"))  # refused: audited
    return pid


def _cli_env(s: Svc) -> dict[str, str]:
    env = {"PGXGUARD_DB_URL": s.settings.database_url}
    if s.settings.db_schema:
        env["PGXGUARD_DB_SCHEMA"] = s.settings.db_schema
    return env


def _verify_cli(s: Svc, *args: str) -> Any:
    return CliRunner().invoke(cli_app, ["audit", "verify", *args], env=_cli_env(s))


def _drop_triggers(s: Svc) -> None:
    with s.app.state.engine.begin() as c:
        if c.dialect.name == "postgresql":
            c.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
        else:
            c.execute(text("DROP TRIGGER audit_events_no_update"))
            c.execute(text("DROP TRIGGER audit_events_no_delete"))


def test_chain_is_intact_after_ordinary_use(svc: Svc) -> None:
    _activity(svc)
    rows = svc.audit()
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == chain.GENESIS
    assert all(b.prev_hash == a.row_hash for a, b in itertools.pairwise(rows))
    r = _verify_cli(svc)
    assert r.exit_code == 0, r.output
    assert f"{len(rows)} audit rows" in r.output and rows[-1].row_hash in r.output
    out = svc.client.get("/audit/verify", headers=svc.h("admin")).json()
    assert out["ok"] and out["rows"] == len(rows) and out["breaks"] == []
    assert out["head"] == rows[-1].row_hash


def test_rows_cannot_be_changed_or_deleted_with_plain_sql(svc: Svc) -> None:
    _activity(svc)
    engine = svc.app.state.engine
    for sql in ("UPDATE audit_events SET detail = 'nothing to see' WHERE id = 2",
                "DELETE FROM audit_events WHERE id = 2", "DELETE FROM audit_events"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as c:
            c.execute(text(sql))
    if engine.dialect.name == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as c:
            c.execute(text("TRUNCATE audit_events"))
    assert _verify_cli(svc).exit_code == 0


def test_verify_reports_every_break(svc: Svc) -> None:
    """Someone with the rights to drop the triggers rewrites one row and deletes another:
    the CLI (exit 5) and the API name both places; an anchor shows removed newest rows."""
    _activity(svc)
    n = len(svc.audit())
    head = _verify_cli(svc, "--json")
    anchor = json.loads(head.output)
    _drop_triggers(svc)
    with svc.app.state.engine.begin() as c:
        c.execute(text("UPDATE audit_events SET outcome = 'tampered' WHERE id = 3"))
        c.execute(text("DELETE FROM audit_events WHERE id = 6"))
    r = _verify_cli(svc)
    assert r.exit_code == 5, r.output
    assert "BREAK at id 3: its content does not match its hash" in r.output
    assert "BREAK at id 4: does not follow" not in r.output  # id 4 links to the stored hash
    assert "BREAK at id 7: does not follow the row before it" in r.output
    api = svc.client.get("/audit/verify", headers=svc.h("admin")).json()
    assert not api["ok"] and [b["id"] for b in api["breaks"]] == [3, 7]
    # removing the newest rows leaves an intact, shorter chain: the anchor shows it
    with svc.app.state.engine.begin() as c:
        c.execute(text(f"DELETE FROM audit_events WHERE id >= {n - 1}"))
    r = _verify_cli(svc, "--anchor", f"{anchor['last_id']}:{anchor['head']}")
    assert r.exit_code == 5 and f"anchor {anchor['last_id']}: MISSING" in r.output
    assert _verify_cli(svc, "--anchor", "x:y").exit_code == 1


def test_concurrent_writers_keep_one_chain(svc: Svc) -> None:
    sessions = svc.app.state.sessions
    barrier = threading.Barrier(8)

    def write(i: int) -> None:
        barrier.wait()
        for k in range(15):
            audit_service.record_failure(sessions, action="test.write", method="POST",
                                         route="/x", outcome="ok", detail=f"{i}/{k}")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = svc.audit()
    assert len([r for r in rows if r.action == "test.write"]) == 120
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))
    with svc.session() as s:
        assert chain.verify(s).ok


def test_administrators_see_no_patient_identifiers(svc: Svc) -> None:
    pid = svc.new_patient()
    name = f"Smith_{VALID_NHS}.vcf"
    with DEMO_VCF.open("rb") as fh:
        assert svc.client.post(f"/patients/{pid}/results/vcf", headers=svc.h("lab_scientist"),
                               files={"file": (name, fh)}, data={"sample": "PATIENT1"}
                               ).status_code == 201
    rx = svc.h("prescriber")
    svc.client.get(f"/patients?nhs_number={VALID_NHS}", headers=rx)
    svc.client.get("/patients?family_name=Smith", headers=rx)
    svc.client.get("/patients?family_name=Jones", headers=rx)
    svc.client.get(f"/fhir/Patient?identifier={VALID_NHS}", headers=rx)
    svc.client.post("/patients", headers=rx, json={  # 409 naming the NHS number
        "nhs_number": VALID_NHS, "family_name": "Smith", "given_name": "Ann",
        "date_of_birth": "1970-01-02"})
    with svc.session() as s:  # a row written before the rule, with identifiers in it
        audit_service.record(s, action="patient.search", method="GET", route="/patients",
                             detail=f"nhs_number={VALID_NHS}; family_name=Smith")
        s.commit()
    r = svc.client.get("/audit?limit=1000", headers=svc.h("admin"))
    text_ = r.text
    assert r.status_code == 200 and len(r.json()) > 8
    for identifier in (VALID_NHS, "943 476 5919", "Smith", "Jones", "Ann"):
        assert identifier not in text_, identifier
    details = [a["detail"] for a in r.json()]
    assert "by NHS number" in details and "by family name" in details
    assert "nhs_number=[redacted]; family_name=[redacted]" in details
    assert any(a["action"] == "result.upload" and a["patient_id"] == pid for a in r.json())


def test_audit_reads_are_audited(svc: Svc) -> None:
    admin = svc.h("admin")
    assert svc.client.get("/audit?limit=5", headers=admin).status_code == 200
    assert svc.client.get("/audit/verify", headers=admin).status_code == 200
    rows = svc.audit()
    assert [(a.action, a.username) for a in rows[-2:]] == [
        ("audit.read", "user-admin"), ("audit.verify", "user-admin")]
    assert rows[-2].detail == "limit=5: 5 rows"
    assert rows[-1].outcome == "ok"
    r = svc.client.get("/audit", headers=svc.h("prescriber"))
    assert r.status_code == 403
    assert (svc.audit()[-1].action, svc.audit()[-1].outcome) == ("audit:read", "denied")


def test_migration_chains_existing_rows(fresh_db_settings: Settings) -> None:
    """A database at 0004 with audit rows: upgrading to head chains them and adds the
    triggers; the trail verifies."""
    engine = make_engine(fresh_db_settings)
    try:
        if fresh_db_settings.db_schema:
            with engine.begin() as c:
                c.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{fresh_db_settings.db_schema}"'))
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004")
        with engine.begin() as c:
            for i in (1, 2, 5):  # ids with a gap, as rolled-back inserts leave on PostgreSQL
                c.execute(text(
                    "INSERT INTO audit_events (id, at, action, method, route, outcome, detail) "
                    "VALUES (:i, :at, 'patient.read', 'GET', '/patients/{patient_id}', 'ok', "
                    ":d)"), {"i": i, "at": f"2026-01-0{i} 10:00:00.123456+00:00",
                             "d": f"row {i}"})
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        with engine.connect() as c:
            from sqlalchemy.orm import Session
            with Session(bind=c) as s:
                rep = chain.verify(s)
        assert rep.ok and rep.rows == 3 and (rep.first_id, rep.last_id) == (1, 5)
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as c:
            c.execute(text("DELETE FROM audit_events WHERE id = 1"))
    finally:
        engine.dispose()
