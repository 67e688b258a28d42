"""Load test of the CDS Hooks order-select service against a real `pgxguard serve` process.

Starts `pgxguard serve` on loopback (SQLite in a temporary directory, or `--db URL`), creates an
admin, a prescriber and two laboratory users, a patient and a result (examples/demo.vcf, PATIENT1,
signed off by the second laboratory user),
then for `--seconds` fires order-select calls with 20 draft MedicationRequests (mixed
actionable and non-actionable) from `--clients` client processes, each on one keep-alive
connection, back to back. Prints throughput, latency percentiles, errors and the server's CPU.

    python bench/bench_cds.py                      # 60 s, 4 clients, SQLite
    python bench/bench_cds.py --seconds 20 --clients 2
    python bench/bench_cds.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test
    python bench/bench_cds.py --json cds.json      # also write the numbers as JSON

Pure Python (stdlib http.client): runs anywhere the project does. The clients share the
machine with the server, so on a small machine they take some of its CPU too.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO_VCF = ROOT / "examples" / "demo.vcf"
PASSWORD = "bench-password-long-enough"
TARGET_P99_MS = 50.0
# 20 medicines as an EHR would send them: free text with strengths, some actionable for the
# demo patient, some with guidance but standard, some with no PGx guidance at all.
MEDICINES = (
    "Clopidogrel 75mg tablets", "Codeine phosphate 30mg tablets", "Simvastatin 40mg tablets",
    "Warfarin 1mg tablets", "Omeprazole 20mg gastro-resistant capsules",
    "Amitriptyline 10mg tablets", "Ondansetron 4mg tablets", "Tamoxifen 20mg tablets",
    "Citalopram 20mg tablets", "Sertraline 50mg tablets", "Atorvastatin 20mg tablets",
    "Tramadol 50mg capsules", "Metoprolol 50mg tablets", "Allopurinol 100mg tablets",
    "Paracetamol 500mg tablets", "Amoxicillin 500mg capsules", "Metformin 500mg tablets",
    "Ibuprofen 400mg tablets", "Lansoprazole 30mg capsules", "Azathioprine 50mg tablets",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def request(conn: http.client.HTTPConnection, method: str, path: str,
            body: Any = None, token: str | None = None, files: bytes | None = None,
            ) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data: bytes | None = None
    if files is not None:
        boundary = uuid.uuid4().hex
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"sample\"\r\n\r\n"
                f"PATIENT1\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"demo.vcf\"\r\nContent-Type: text/plain\r\n\r\n").encode()
        data += files + f"\r\n--{boundary}--\r\n".encode()
    elif body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    raw = r.read()
    return r.status, json.loads(raw) if raw else None


def hook_body(patient_id: int) -> dict[str, Any]:
    entries = [{"resource": {"resourceType": "MedicationRequest", "id": f"m{i}",
                             "status": "draft", "intent": "order",
                             "medicationCodeableConcept": {"text": text}}}
               for i, text in enumerate(MEDICINES)]
    return {"hook": "order-select", "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/1", "patientId": str(patient_id),
                        "selections": [f"MedicationRequest/m{i}" for i in range(len(MEDICINES))],
                        "draftOrders": {"resourceType": "Bundle", "type": "collection",
                                        "entry": entries}}}


def wait_up(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"pgxguard serve exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            status, _ = request(conn, "GET", "/health")
            conn.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("pgxguard serve did not start in time")


def setup(port: int) -> tuple[str, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    _, tok = request(conn, "POST", "/auth/token", {"username": "admin", "password": PASSWORD})
    admin = tok["access_token"]
    tokens = {}
    for name, role in (("ehr", "prescriber"), ("lab", "lab_scientist"),
                       ("checker", "lab_scientist")):
        status, out = request(conn, "POST", "/users", {"username": name, "password": PASSWORD,
                                                       "role": role}, admin)
        assert status == 201, out
        _, tok = request(conn, "POST", "/auth/token", {"username": name, "password": PASSWORD})
        tokens[name if name == "checker" else role] = tok["access_token"]
    status, p = request(conn, "POST", "/patients", {
        "nhs_number": "9434765919", "family_name": "Bench", "given_name": "Pat",
        "date_of_birth": "1970-01-02"}, tokens["prescriber"])
    assert status == 201, p
    status, res = request(conn, "POST", f"/patients/{p['id']}/results/vcf",
                          token=tokens["lab_scientist"], files=DEMO_VCF.read_bytes())
    assert status == 201, res
    # a second laboratory scientist signs it off: only signed-off results drive cards
    status, res = request(conn, "POST", f"/results/{res['id']}/versions/1/sign-off", {},
                          tokens["checker"])
    assert status == 200, res
    status, out = request(conn, "POST", "/cds-services/pgxguard-order-select",
                          hook_body(p["id"]), tokens["prescriber"])
    assert status == 200, out
    print(f"one call: {len(out['cards'])} cards, notes: {out.get('extension')}")
    conn.close()
    return tokens["prescriber"], int(p["id"])


def client(port: int, token: str, patient_id: int, until: float, start: float,
           q: mp.Queue[tuple[list[float], int, list[str]]]) -> None:
    body = json.dumps(hook_body(patient_id)).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    lat: list[float] = []
    errors: list[str] = []
    while time.time() < start:
        time.sleep(0.001)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.time() < until:
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/cds-services/pgxguard-order-select", body=body,
                         headers=headers)
            r = conn.getresponse()
            data = r.read()
            dt = time.perf_counter() - t0
            if r.status != 200 or b'"cards"' not in data:
                errors.append(f"{r.status} {data[:200]!r}")
            else:
                lat.append(dt)
        except (OSError, http.client.HTTPException) as e:
            errors.append(f"{type(e).__name__}: {e}")
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.close()
    q.put((lat, len(errors), errors[:5]))


def drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def _proc_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process and its live descendants (uvicorn workers; Linux /proc)."""
    own = _proc_cpu(pid)
    if own is None:
        return None
    return own + sum(cpu_seconds(c) or 0.0 for c in _children(pid))


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))
    return xs[k]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clients", type=int, default=4, help="concurrent client processes")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    ap.add_argument("--db", help="SQLAlchemy URL (default: SQLite in a temporary directory)")
    ap.add_argument("--server-workers", type=int, default=1,
                    help="pgxguard serve --workers (server processes)")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="pgx-bench-cds-"))
    port = free_port()
    env = {**os.environ, "PGXGUARD_DATA_DIR": str(tmp), "PGXGUARD_ADMIN_USER": "admin",
           "PGXGUARD_ADMIN_PASSWORD": PASSWORD}
    schema = f"bench_cds_{uuid.uuid4().hex[:8]}"
    if args.db:
        env["PGXGUARD_DB_URL"] = args.db
        env["PGXGUARD_DB_SCHEMA"] = schema
    exe = shutil.which("pgxguard", path=str(Path(sys.executable).parent)) or "pgxguard"
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(args.server_workers)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_up(port, proc)
        token, pid = setup(port)
        # Warm-up (first-call imports, caches), then measure.
        q0: mp.Queue[tuple[list[float], int, list[str]]] = mp.Queue()
        now = time.time()
        client(port, token, pid, now + args.warmup, now, q0)
        q0.get()
        q: mp.Queue[tuple[list[float], int, list[str]]] = mp.Queue()
        start = time.time() + 0.5
        until = start + args.seconds
        procs = [mp.Process(target=client, args=(port, token, pid, until, start, q))
                 for _ in range(args.clients)]
        for p in procs:
            p.start()
        while time.time() < start:
            time.sleep(0.001)
        cpu0 = cpu_seconds(proc.pid)
        outs = [q.get() for _ in procs]
        cpu1 = cpu_seconds(proc.pid)
        for p in procs:
            p.join()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if args.db:
            drop_schema(args.db, schema)
    lat = [x for o in outs for x in o[0]]
    errors = sum(o[1] for o in outs)
    samples = [e for o in outs for e in o[2]]
    ms = [x * 1000 for x in lat]
    cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    res = {
        "db": "postgresql" if args.db else "sqlite", "seconds": args.seconds,
        "clients": args.clients, "server_workers": args.server_workers,
        "medicines": len(MEDICINES), "requests": len(lat),
        "errors": errors, "throughput_rps": round(len(lat) / args.seconds, 1),
        "p50_ms": round(pct(ms, 50), 2), "p95_ms": round(pct(ms, 95), 2),
        "p99_ms": round(pct(ms, 99), 2), "max_ms": round(max(ms), 2) if ms else None,
        "server_cpu_s": None if cpu is None else round(cpu, 1),
        "server_cpu_pct": None if cpu is None else round(100 * cpu / args.seconds, 1),
        "server_cpu_ms_per_request": None if cpu is None or not lat
        else round(1000 * cpu / len(lat), 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} "
                   f"{platform.release()}, Python {platform.python_version()}",
    }
    print(f"order-select, {len(MEDICINES)} medicines, {args.clients} clients, "
          f"{args.server_workers} server worker(s), {args.seconds:g} s, {res['db']}")
    print(f"  requests {res['requests']}, errors {errors}, throughput {res['throughput_rps']} "
          f"req/s")
    print(f"  latency p50 {res['p50_ms']} ms, p95 {res['p95_ms']} ms, p99 {res['p99_ms']} ms, "
          f"max {res['max_ms']} ms (target p99 < {TARGET_P99_MS:g} ms)")
    print(f"  server CPU {res['server_cpu_s']} s ({res['server_cpu_pct']}% of one core), "
          f"{res['server_cpu_ms_per_request']} ms per request")
    print(f"  machine: {res['machine']}")
    for e in samples:
        print("  error:", e)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
