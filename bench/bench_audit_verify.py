"""The audit-verify check, measured: write N audit rows through the service's own `record()`
(hash chain and lock included), time `pgxguard audit verify` over them as a user would run it,
then tamper as someone who can drop the append-only triggers would (rewrite one row, delete
another) and show that the command reports both breaks (exit 5).

    python bench/bench_audit_verify.py                 # 100,000 rows, SQLite
    python bench/bench_audit_verify.py --rows 20000 --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from pgxguard.service.audit import service as audit_service
from pgxguard.service.db import make_engine, migrate, session_factory
from pgxguard.service.settings import Settings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--db", help="SQLAlchemy URL (default: SQLite in a temporary directory)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="pgx-bench-audit-"))
    schema = f"bench_audit_{uuid.uuid4().hex[:8]}" if args.db else None
    settings = Settings(data_dir=tmp, db_url=args.db, db_schema=schema)
    engine = make_engine(settings)
    env = {**os.environ, "PGXGUARD_DATA_DIR": str(tmp)}
    if args.db:
        env.update(PGXGUARD_DB_URL=args.db, PGXGUARD_DB_SCHEMA=schema or "")
    exe = shutil.which("pgxguard", path=str(Path(sys.executable).parent)) or "pgxguard"
    try:
        migrate(engine, schema)
        sessions = session_factory(engine)
        t0 = time.perf_counter()
        done = 0
        while done < args.rows:
            with sessions() as s:
                for _ in range(min(1000, args.rows - done)):
                    audit_service.record(s, action="patient.read", method="GET",
                                         route="/patients/{patient_id}", user_id=1,
                                         username="bench", patient_id=done % 500 + 1,
                                         detail=f"row {done}")
                    done += 1
                s.commit()
        write_s = time.perf_counter() - t0

        def verify(*extra: str) -> tuple[int, float, str]:
            t = time.perf_counter()
            r = subprocess.run([exe, "audit", "verify", *extra], env=env, capture_output=True,
                               text=True)
            return r.returncode, time.perf_counter() - t, r.stdout + r.stderr

        code, verify_s, out = verify()
        print(f"{args.rows:,} rows ({'PostgreSQL' if args.db else 'SQLite'}): written in "
              f"{write_s:.1f} s ({args.rows / write_s:,.0f} rows/s, 1,000 per transaction); "
              f"`pgxguard audit verify` {verify_s:.2f} s wall, exit {code}")
        print("  " + out.strip().splitlines()[0])
        with engine.begin() as c:
            if c.dialect.name == "postgresql":
                c.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
            else:
                c.execute(text("DROP TRIGGER audit_events_no_update"))
                c.execute(text("DROP TRIGGER audit_events_no_delete"))
            mid = args.rows // 2
            c.execute(text("UPDATE audit_events SET patient_id = 999 WHERE id = :i"),
                      {"i": mid})
            c.execute(text("DELETE FROM audit_events WHERE id = :i"), {"i": mid + 10})
        code2, verify2_s, out2 = verify()
        print(f"after rewriting row {mid} and deleting row {mid + 10}: exit {code2}, "
              f"{verify2_s:.2f} s")
        for line in out2.strip().splitlines()[1:]:
            print("  " + line)
        if args.json:
            args.json.write_text(json.dumps({
                "rows": args.rows, "database": "postgresql" if args.db else "sqlite",
                "write_s": round(write_s, 2), "verify_s": round(verify_s, 2),
                "verify_exit": code, "tampered_exit": code2, "tampered_output": out2}, indent=2))
        return 0 if code == 0 and code2 == 5 else 1
    finally:
        if args.db and schema:
            with engine.begin() as c:
                c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
