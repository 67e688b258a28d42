"""What building a patient's PGx profile costs, in process (no HTTP), on SQLite in a temp dir.

A patient with examples/demo.vcf (PATIENT1) and, for the two-result case, the CYP2D6/HLA-B
outside calls of issue 12's scenario, both signed off. Times per call, `--n` calls each:

- `before`: what reviews used to read: the newest signed-off version of the newest result and
  its calls JSON parsed (`results.latest_interpreted` + `CallResult.from_json`);
- `profile`: `profile.patient_profile` with its default loader (reads and parses each version's
  calls JSON every time: the review and report path);
- `cds snapshot`: `cdshooks.service.snapshot` with a warm `HookCache` (parsed calls kept per
  version: the CDS Hooks hot path).

    python bench/bench_profile.py --n 300
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from pgxguard.call.results import CallResult
from pgxguard.kb.load import load_knowledge_base
from pgxguard.service.auth import service as auth_service
from pgxguard.service.cdshooks.service import HookCache, PatientRef, snapshot
from pgxguard.service.db import make_engine, migrate, session_factory
from pgxguard.service.patients import service as patients
from pgxguard.service.results import profile as profiles
from pgxguard.service.results import service as results
from pgxguard.service.results.service import Kind
from pgxguard.service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEMO_VCF = ROOT / "examples" / "demo.vcf"
TSV = (b"sample\tgene\tdiplotype\tphenotype\tactivity_score\n"
       b"PATIENT1\tCYP2D6\t*1/*2x2\t\t\nPATIENT1\tHLA-B\t*57:01/*08:01\t\t\n")


def timed(fn: Callable[[], object], n: int) -> tuple[float, float]:
    fn()  # warm-up
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    kb = load_knowledge_base()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(Settings(data_dir=Path(tmp)))
        migrate(engine)
        sessions = session_factory(engine)
        with sessions() as s:
            lab = auth_service.create_user(s, "lab", "bench-password-long-enough",
                                           "lab_scientist")
            check = auth_service.create_user(s, "check", "bench-password-long-enough",
                                             "lab_scientist")
            pats = []
            for nhs, files in (("9434765919", [(Kind.VCF, DEMO_VCF.read_bytes(), "demo.vcf")]),
                               ("4010232137", [(Kind.VCF, DEMO_VCF.read_bytes(), "demo.vcf"),
                                               (Kind.OUTSIDE_CALLS, TSV, "o.tsv")])):
                p = patients.create_patient(s, nhs_number=nhs, family_name="Bench",
                                            given_name="P", date_of_birth=date(1970, 1, 1),
                                            created_by=lab.id)
                for kind, data, name in files:
                    nm, interp = results.prepare_upload(
                        kind, data, name, results.upload_options("PATIENT1"), kb=kb,
                        max_bytes=10**8)
                    r = results.store_upload(s, p.id, kind, data, nm, interp, build=None,
                                             user_id=lab.id)
                    results.sign_off(s, r, 1, user_id=check.id, username="check", note=None,
                                     second_person=True)
                pats.append(p)
            s.commit()
            for p in pats:
                n_res = len(results.for_patient(s, p.id))
                cache = HookCache()
                ref = PatientRef(p.id, p.nhs_number)

                def before(pid: int = p.id) -> object:
                    v = results.latest_interpreted(s, pid)
                    assert v is not None
                    return CallResult.from_json(json.loads(v.calls_json or "{}"))

                rows = {
                    "before (newest result only)": timed(before, args.n),
                    "profile": timed(lambda pid=p.id: profiles.patient_profile(s, pid),
                                     args.n),
                    "cds snapshot (warm cache)": timed(
                        lambda r=ref, c=cache: snapshot(s, r, orders=True, cache=c), args.n),
                }
                for what, (med, p95) in rows.items():
                    print(f"{n_res} result(s)  {what:30s} median {med:7.3f} ms  "
                          f"p95 {p95:7.3f} ms")
        engine.dispose()


if __name__ == "__main__":
    main()
