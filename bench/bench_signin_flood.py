"""Sign-in flood: 16 concurrent anonymous sign-ins with random usernames against a real
`pgxguard serve`, while a signed-in prescriber reads and writes. Before issue 13 this gave
35 x 500 ("database is locked") on SQLite and a prescriber's write failed after 32 s: the
sign-in transaction held the write lock across the argon2 check.

Two scenarios, each on a fresh server (SQLite in a temporary directory, or `--db URL`):

- `default`: the shipped throttle settings, every attempt from 127.0.0.1 (the per-address
  limit soon answers 429 without checking a password);
- `unthrottled`: address and global limits raised out of reach, so every attempt runs argon2
  at its production cost (the worst case for the server's CPU and locks).

For the prescriber: requests, errors (anything but 2xx), latency p50/p99/max; for the flood:
attempts by status. Stdlib only (http.client, threads).

    python bench/bench_signin_flood.py                    # 30 s per scenario, SQLite
    python bench/bench_signin_flood.py --seconds 10 --db postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cds import drop_schema, free_port, pct, request, wait_up

PASSWORD = "bench-password-long-enough"


def _start(args: argparse.Namespace, extra_env: dict[str, str]
           ) -> tuple[subprocess.Popen[bytes], int, Path, str]:
    tmp = Path(tempfile.mkdtemp(prefix="pgx-bench-flood-"))
    port = free_port()
    schema = f"bench_flood_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PGXGUARD_DATA_DIR": str(tmp), "PGXGUARD_ADMIN_USER": "admin",
           "PGXGUARD_ADMIN_PASSWORD": PASSWORD, **extra_env}
    if args.db:
        env["PGXGUARD_DB_URL"] = args.db
        env["PGXGUARD_DB_SCHEMA"] = schema
    exe = shutil.which("pgxguard", path=str(Path(sys.executable).parent)) or "pgxguard"
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_up(port, proc)
    return proc, port, tmp, schema


def _setup(port: int) -> tuple[str, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    _, tok = request(conn, "POST", "/auth/token", {"username": "admin", "password": PASSWORD})
    status, out = request(conn, "POST", "/users", {"username": "rx", "password": PASSWORD,
                                                   "role": "prescriber"}, tok["access_token"])
    assert status == 201, out
    _, tok = request(conn, "POST", "/auth/token", {"username": "rx", "password": PASSWORD})
    token = tok["access_token"]
    status, p = request(conn, "POST", "/patients", {
        "nhs_number": "9434765919", "family_name": "Bench", "given_name": "Pat",
        "date_of_birth": "1970-01-02"}, token)
    assert status == 201, p
    conn.close()
    return token, int(p["id"])


def _user(port: int, token: str, pid: int, stop: threading.Event,
          out: dict[str, Any]) -> None:
    """The signed-in prescriber: read the patient, list orders, place an order, in turn."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    lat: list[float] = []
    errors: list[str] = []
    steps = [("GET", f"/patients/{pid}", None), ("GET", f"/patients/{pid}/orders", None),
             ("POST", f"/patients/{pid}/orders", {"test_code": "PGX-DPYD",
                                                 "reason": "flood benchmark"})]
    i = 0
    while not stop.is_set():
        method, path, body = steps[i % len(steps)]
        i += 1
        t0 = time.perf_counter()
        try:
            status, data = request(conn, method, path, body, token)
            if not 200 <= status < 300:
                errors.append(f"{method} {path}: {status} {str(data)[:200]}")
        except (OSError, http.client.HTTPException) as e:
            errors.append(f"{method} {path}: {type(e).__name__}: {e}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        lat.append(time.perf_counter() - t0)
    conn.close()
    out.update(latencies=lat, errors=errors, writes=i // 3)


def _attacker(port: int, stop: threading.Event, counts: collections.Counter[int],
              lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while not stop.is_set():
        body = {"username": f"u{secrets.token_hex(6)}", "password": secrets.token_hex(8)}
        try:
            status, _ = request(conn, "POST", "/auth/token", body)
        except (OSError, http.client.HTTPException):
            status = -1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        with lock:
            counts[status] += 1
    conn.close()


def scenario(name: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    proc, port, tmp, schema = _start(args, env)
    try:
        token, pid = _setup(port)
        stop = threading.Event()
        counts: collections.Counter[int] = collections.Counter()
        lock = threading.Lock()
        user_out: dict[str, Any] = {}
        attackers = [threading.Thread(target=_attacker, args=(port, stop, counts, lock))
                     for _ in range(args.attackers)]
        for t in attackers:
            t.start()
        time.sleep(1.0)  # the flood is under way before the user starts
        user = threading.Thread(target=_user, args=(port, token, pid, stop, user_out))
        user.start()
        time.sleep(args.seconds)
        stop.set()
        user.join()
        for t in attackers:
            t.join()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if args.db:
            drop_schema(args.db, schema)
        shutil.rmtree(tmp, ignore_errors=True)
    lat = [x * 1000 for x in user_out["latencies"]]
    res = {"scenario": name, "seconds": args.seconds, "attackers": args.attackers,
           "signin_attempts": dict(sorted(counts.items())),
           "signin_server_errors": sum(v for k, v in counts.items() if k >= 500 or k < 0),
           "user_requests": len(lat), "user_errors": len(user_out["errors"]),
           "user_error_examples": user_out["errors"][:5],
           "user_p50_ms": round(pct(lat, 50), 1), "user_p99_ms": round(pct(lat, 99), 1),
           "user_max_ms": round(max(lat), 1) if lat else None}
    print(f"{name:12s} sign-ins {sum(counts.values()):6d} by status {dict(sorted(counts.items()))}"
          f" | signed-in user: {res['user_requests']} requests, {res['user_errors']} errors, "
          f"p50 {res['user_p50_ms']} ms, p99 {res['user_p99_ms']} ms, max {res['user_max_ms']} ms")
    for e in res["user_error_examples"]:
        print("   ", e)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="per scenario")
    ap.add_argument("--attackers", type=int, default=16, help="concurrent sign-in clients")
    ap.add_argument("--db", help="SQLAlchemy URL (default: SQLite in a temporary directory)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)
    print(f"{platform.node()}: {os.cpu_count()} cores; database "
          f"{'PostgreSQL' if args.db else 'SQLite'}; {args.attackers} attackers, "
          f"{args.seconds:g} s per scenario")
    results = [
        scenario("default", args, {}),
        scenario("unthrottled", args, {"PGXGUARD_LOGIN_ADDRESS_MAX_FAILURES": "1000000000",
                                       "PGXGUARD_LOGIN_GLOBAL_MAX_FAILURES": "1000000000"}),
    ]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    bad = sum(r["user_errors"] + r["signin_server_errors"] for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
