"""Re-run of the review's hostile uploads against a real `pgxguard serve` (issue 13): each is
posted once, and the script prints the answer, the wall time and the server's peak RSS during
the request (psutil, sampled every 20 ms), so the bounds on memory and time are measured
numbers, not promises.

Cases (generated in memory, a few MB each, by concatenating gzip members):

- `header-4GiB`: a 4.2 MB .vcf.gz whose second header line inflates to 4 GiB (before: past
  8 GB RSS until killed);
- `header-2GiB`: the same at 2 GiB (before: 110 s and 6 GB);
- `info-1GiB`: one record with a 1 GiB INFO field (before: accepted, 201, 2.2 GB RSS);
- `records-1GiB`: 1 GiB of records touching no gene (before: 287 s, then 422);
- `samples-1M`: a header with 1,000,000 samples and no `sample` field (before: called for
  every sample, a core busy for 18+ minutes after the client left);
- `bundle-60MB`: a 60 MB FHIR Bundle (before: 2.2 GB RSS);
- `bundle-deep`: a Bundle nested 100,000 deep (before: 500);
- `bundle-at-limit`: an 8.3 MB Bundle of small Observations, just under the size limit: parsed
  and stored (the most memory a Bundle upload can take);
- `records-at-limit`: 1,999,000 records touching no gene, just under the record limit: the
  largest input the limits let through, so its time is the worst case a request can cost.

    python bench/bench_bombs.py                 # all cases, SQLite
    python bench/bench_bombs.py --only header-4GiB info-1GiB --json bombs.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cds import free_port, request, wait_up

PASSWORD = "bench-password-long-enough"
HEADER = (b"##fileformat=VCFv4.2\n##reference=GRCh38\n##contig=<ID=chr1,length=248956422>\n"
          b'##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
CHROM = b"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"
RECORD = b"chr1\t1000\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n"


def gz(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def gz_repeat(prefix: bytes, unit: bytes, total: int, suffix: bytes = b"") -> bytes:
    """prefix + unit * (total // len(unit)) + suffix as concatenated gzip members: one member
    of 1 MiB of `unit`, repeated (how such bombs are made: tiny on the wire)."""
    block_units = max(1, (1 << 20) // len(unit))
    block = gz(unit * block_units)
    n_blocks, rest = divmod(total // len(unit), block_units)
    return gz(prefix) + block * n_blocks + gz(unit * rest + suffix)


def case_header(size: int) -> tuple[bytes, dict[str, str]]:
    return gz_repeat(HEADER + b"##x=", b"A" * 64, size, b"\n" + CHROM + b"\tS1\n"), {}


def case_info() -> tuple[bytes, dict[str, str]]:
    return gz_repeat(HEADER + CHROM + b"\tS1\nchr1\t1000\t.\tA\tG\t.\tPASS\tX=", b"A" * 64,
                     1 << 30, b"\tGT\t0/1\n"), {}


def case_records(total: int) -> tuple[bytes, dict[str, str]]:
    return gz_repeat(HEADER + CHROM + b"\tS1\n", RECORD, total), {}


def case_samples() -> tuple[bytes, dict[str, str]]:
    names = b"".join(b"\tS%07d" % i for i in range(1_000_000))
    gts = b"\t0/1" * 1_000_000
    return gz(HEADER + CHROM + names + b"\n" + b"chr1\t1000\t.\tA\tG\t.\tPASS\t.\tGT" + gts
              + b"\n"), {}


def case_bundle_big(size: int = 60_000_000) -> tuple[bytes, dict[str, str]]:
    entry = {"resource": {"resourceType": "Observation", "status": "final",
                          "code": {"coding": [{"code": "x"}]}, "note": [{"text": "y"}]}}
    one = json.dumps(entry).encode()
    n = size // (len(one) + 1)
    return (b'{"resourceType": "Bundle", "type": "collection", "entry": ['
            + b",".join([one] * n) + b"]}"), {}


def case_bundle_deep() -> tuple[bytes, dict[str, str]]:
    return (b'{"resourceType": "Bundle", "entry": ' + b"[" * 100_000 + b"]" * 100_000
            + b"}"), {}


CASES: dict[str, tuple[str, str, Callable[[], tuple[bytes, dict[str, str]]]]] = {
    "header-4GiB": ("vcf", "bomb.vcf.gz", lambda: case_header(4 << 30)),
    "header-2GiB": ("vcf", "bomb.vcf.gz", lambda: case_header(2 << 30)),
    "info-1GiB": ("vcf", "info.vcf.gz", case_info),
    "records-1GiB": ("vcf", "records.vcf.gz", lambda: case_records(1 << 30)),
    "samples-1M": ("vcf", "samples.vcf.gz", case_samples),
    "bundle-60MB": ("fhir", "bundle.json", case_bundle_big),
    "bundle-deep": ("fhir", "deep.json", case_bundle_deep),
    "bundle-at-limit": ("fhir", "bundle.json", lambda: case_bundle_big(8_300_000)),
    "records-at-limit": ("vcf", "limit.vcf.gz", lambda: case_records(1_999_000 * len(RECORD))),
}


def multipart(filename: str, data: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
             .encode() for k, v in fields.items()]
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                 f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                 .encode() + data + f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class PeakRss:
    """Peak RSS of a process, sampled in a thread."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def __enter__(self) -> PeakRss:
        self.peak = self.proc.memory_info().rss
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", choices=sorted(CASES), help="run only these cases")
    ap.add_argument("--json", type=Path, help="also write the numbers here")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="pgx-bench-bombs-"))
    port = free_port()
    env = {**os.environ, "PGXGUARD_DATA_DIR": str(tmp), "PGXGUARD_ADMIN_USER": "admin",
           "PGXGUARD_ADMIN_PASSWORD": PASSWORD}
    exe = shutil.which("pgxguard", path=str(Path(sys.executable).parent)) or "pgxguard"
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    results: list[dict[str, Any]] = []
    print(f"{platform.node()}: {os.cpu_count()} cores, {psutil.virtual_memory().total >> 30} "
          "GiB; default limits")
    try:
        wait_up(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        _, tok = request(conn, "POST", "/auth/token", {"username": "admin",
                                                       "password": PASSWORD})
        status, out = request(conn, "POST", "/users", {"username": "lab", "password": PASSWORD,
                                                       "role": "lab_scientist"},
                              tok["access_token"])
        assert status == 201, out
        _, tok = request(conn, "POST", "/auth/token", {"username": "lab", "password": PASSWORD})
        token = tok["access_token"]
        status, p = request(conn, "POST", "/patients", {
            "nhs_number": "9434765919", "family_name": "Bench", "given_name": "Pat",
            "date_of_birth": "1970-01-02"}, token)
        assert status == 201, p
        idle = psutil.Process(proc.pid).memory_info().rss
        print(f"server RSS at rest: {idle / 2**20:.0f} MiB")
        print(f"{'case':18s} {'upload':>9s} {'status':>6s} {'wall s':>7s} {'peak RSS':>9s}  answer")
        for name in args.only or list(CASES):
            kind, filename, make = CASES[name]
            data, fields = make()
            body, ctype = multipart(filename, data, fields)
            with PeakRss(proc.pid) as rss:
                t0 = time.perf_counter()
                conn.request("POST", f"/patients/{p['id']}/results/{kind}", body=body,
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": ctype})
                r = conn.getresponse()
                raw = r.read()
                wall = time.perf_counter() - t0
            answer = json.loads(raw).get("error", "") if raw else ""
            row = {"case": name, "upload_bytes": len(data), "status": r.status,
                   "wall_s": round(wall, 2), "peak_rss_mib": round(rss.peak / 2**20),
                   "answer": answer}
            results.append(row)
            print(f"{name:18s} {len(data) / 2**20:7.1f}MB {r.status:6d} {wall:7.2f} "
                  f"{rss.peak / 2**20:7.0f}MiB  {answer[:90]}")
        conn.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(r["status"] < 500 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
