"""An accepted upload is never lost: the server process is killed (SIGKILL) while uploads are in
flight, restarted on the same SQLite file, and every acknowledged write is there, whole."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from test_service_support import DEMO_VCF, PASSWORD

pytestmark = pytest.mark.slow  # starts and kills `pgxguard serve` processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PGXGUARD_DATA_DIR": str(data_dir), "PGXGUARD_ENV": "development",
           "PGXGUARD_ADMIN_USER": "root", "PGXGUARD_ADMIN_PASSWORD": PASSWORD}
    proc = subprocess.Popen([sys.executable, "-m", "pgxguard.cli", "serve", "--port", str(port),
                             *extra],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx2.HTTPError:
            time.sleep(0.2)
    proc.kill()
    proc.wait()
    raise AssertionError("server did not start")


def _token(base: str, user: str) -> dict[str, str]:
    r = httpx2.post(f"{base}/auth/token", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_sigkill_mid_upload_loses_no_acknowledged_write(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(tmp_path, port)
    try:
        admin = _token(base, "root")
        r = httpx2.post(f"{base}/users", headers=admin, json={
            "username": "lab", "password": PASSWORD, "role": "lab_scientist"})
        assert r.status_code == 201
        lab = _token(base, "lab")
        r = httpx2.post(f"{base}/patients", headers=lab, json={
            "nhs_number": "9434765919", "family_name": "Smith", "given_name": "Ann",
            "date_of_birth": "1970-01-02"})
        pid = r.json()["id"]
        data = DEMO_VCF.read_bytes()
        acked: list[int] = []
        errors: list[str] = []
        stop = threading.Event()

        def uploader() -> None:
            with httpx2.Client(timeout=30) as c:
                while not stop.is_set():
                    try:
                        r = c.post(f"{base}/patients/{pid}/results/vcf", headers=lab,
                                   files={"file": ("demo.vcf", data)},
                                   data={"sample": "PATIENT1"})
                    except httpx2.HTTPError:
                        return  # the server died under us: this one was never acknowledged
                    if r.status_code == 201:
                        acked.append(int(r.json()["id"]))
                    else:
                        errors.append(r.text)

        threads = [threading.Thread(target=uploader) for _ in range(3)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < 6 and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # mid-request: uploads are in flight
        proc.wait()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors[:1]
        assert len(acked) >= 6
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    db = tmp_path / "pgxguard.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # consistent: every stored result has its interpretation and its audit row
        orphans = conn.execute("SELECT count(*) FROM results r WHERE NOT EXISTS (SELECT 1 FROM "
                               "result_versions v WHERE v.result_id = r.id)").fetchone()
        assert orphans == (0,)
    conn.close()

    proc = _start(tmp_path, port)
    try:
        lab = _token(base, "lab")
        r = httpx2.get(f"{base}/patients/{pid}/results", headers=lab)
        stored: list[dict[str, Any]] = r.json()
        ids = {x["id"] for x in stored}
        assert set(acked) <= ids, f"lost acknowledged uploads: {set(acked) - ids}"
        for rid in acked:
            res = httpx2.get(f"{base}/results/{rid}", headers=lab).json()
            assert res["latest"]["status"] == "interpreted"
            assert res["latest"]["calls"]["samples"][0]["sample"] == "PATIENT1"
        admin = _token(base, "root")
        audit = httpx2.get(f"{base}/audit", headers=admin,
                           params={"patient_id": pid, "limit": 1000}).json()
        uploads = {a["detail"].split()[1] for a in audit if a["action"] == "result.upload"}
        assert {str(i) for i in ids} == uploads  # audit rows committed with the writes
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_read_first_transactions_do_not_take_the_sqlite_write_lock(tmp_path: Path) -> None:
    """A read-first session (CDS Hooks) holds a WAL snapshot, not the write lock: a writer on
    another connection is not blocked; a default session does take the lock (BEGIN IMMEDIATE)."""
    from sqlalchemy import text

    from pgxguard.service.db import READ_FIRST, make_engine, migrate, session_factory
    from pgxguard.service.settings import Settings

    db = tmp_path / "lock.db"
    engine = make_engine(Settings(db_url=f"sqlite:///{db}", data_dir=tmp_path))
    migrate(engine)
    sessions = session_factory(engine)

    def writer_blocked() -> bool:
        other = sqlite3.connect(db, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as e:
            assert "locked" in str(e)
            return True
        finally:
            other.close()

    with sessions() as reader:
        reader.connection(execution_options={READ_FIRST: True})
        reader.execute(text("SELECT count(*) FROM patients"))
        assert not writer_blocked()
        reader.rollback()
    with sessions() as default:
        default.execute(text("SELECT count(*) FROM patients"))
        assert writer_blocked()
        default.rollback()
    engine.dispose()


def test_serve_with_worker_processes_shares_one_store(tmp_path: Path) -> None:
    """`pgxguard serve --workers 2`: two uvicorn workers built from the environment serve the
    same database (a patient created through one connection is read back through others)."""
    port = _free_port()
    proc = _start(tmp_path, port, "--workers", "2")
    try:
        base = f"http://127.0.0.1:{port}"
        h = _token(base, "root")
        r = httpx2.post(f"{base}/users", headers=h, json={
            "username": "lab1", "password": PASSWORD, "role": "lab_scientist"})
        assert r.status_code in (200, 201), r.text
        lab = _token(base, "lab1")
        r = httpx2.post(f"{base}/patients", headers=lab, json={
            "nhs_number": "9434765919", "family_name": "Worker", "given_name": "Two",
            "date_of_birth": "1970-01-01"})
        assert r.status_code in (200, 201), r.text
        pid = r.json()["id"]
        for _ in range(6):  # new connections: spread over the workers
            got = httpx2.get(f"{base}/patients/{pid}", headers=lab)
            assert got.status_code == 200 and got.json()["family_name"] == "Worker"
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        if children.exists():  # Linux: the supervisor runs two worker processes
            assert len(children.read_text().split()) >= 2
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode is not None
