"""Benchmark `pgxguard call` against the targets in design.md.

Cases:
  one-patient   one sample (default HG00096), all default genes, from the indexed 1KGP VCF,
                through a fresh `pgxguard call` subprocess (start-up included); median of N runs.
  demo          the bundled examples/demo.vcf, same subprocess path; median of N runs.
  cohort        the whole 1KGP panel (3,202 samples) through the same single-sample code path:
                `pgxguard.call` in-process (knowledge-base load timed separately) and once as a
                subprocess writing JSON to a temporary file.

For each: wall seconds, CPU seconds (user+sys of the child from os.wait4, or of this process
from resource.getrusage for the in-process run), peak RSS (ru_maxrss), samples/s and the ratio
to the design target (1 s for one patient, 10 s for the cohort; ratio > 1 means slower than
the target). The 1KGP cases are skipped with a message when ../shared/data/1kgp is absent.

    python bench/bench_call.py [--repeat 5] [--sample HG00096] [--json out.json] [--skip-cohort]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KGP_DIR = ROOT.parent / "shared" / "data" / "1kgp"
KGP_VCF = KGP_DIR / "pgx_genes.grch38.vcf.gz"
DEMO_VCF = ROOT / "examples" / "demo.vcf"
TARGET_ONE = 1.0
TARGET_COHORT = 10.0


def _pgxguard_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("pgxguard")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pgxguard")
    if found:
        return [found]
    return [sys.executable, "-c", "from pgxguard.cli import main; main()"]


def _maxrss_mb(ru_maxrss: int) -> float:
    # Linux reports KiB, macOS bytes.
    return ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru_maxrss / 1024


def run_child(args: list[str]) -> dict[str, float]:
    """Run one subprocess; wall, CPU (user+sys) and peak RSS of that child alone (os.wait4)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(args)}\n{err}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "peak_rss_mb": _maxrss_mb(ru.ru_maxrss)}


def repeat_child(args: list[str], n: int) -> dict[str, Any]:
    runs = [run_child(args) for _ in range(n)]
    return {
        "command": " ".join(args),
        "runs": n,
        "wall_s": statistics.median(r["wall_s"] for r in runs),
        "wall_s_min": min(r["wall_s"] for r in runs),
        "wall_s_max": max(r["wall_s"] for r in runs),
        "cpu_s": statistics.median(r["cpu_s"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
    }


def in_process_cohort(vcf: Path) -> dict[str, Any]:
    import pgxguard
    from pgxguard.kb.load import load_knowledge_base

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    kb = load_knowledge_base()
    t_kb = time.perf_counter() - t0
    result = pgxguard.call(vcf, assume_reference=True, kb=kb)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    n = len(result.samples)
    genes = len(result.samples[0].genes) if n else 0
    return {
        "command": f"pgxguard.call({vcf.name!r}, assume_reference=True) in-process",
        "runs": 1, "samples": n, "genes": genes,
        "wall_s": wall, "kb_load_s": t_kb,
        "cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
        "peak_rss_mb": _maxrss_mb(r1.ru_maxrss),
    }


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"nproc": os.cpu_count(), "python": platform.python_version(),
                            "platform": platform.platform()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    try:
        from pgxguard import __version__

        info["pgxguard"] = __version__
    except ImportError:
        pass
    return info


def _finish(row: dict[str, Any], samples: int, target: float | None) -> dict[str, Any]:
    row["samples"] = samples
    row["samples_per_s"] = samples / row["wall_s"] if row["wall_s"] else None
    row["target_s"] = target
    row["ratio_to_target"] = row["wall_s"] / target if target else None
    return row


def _count_samples(vcf: Path) -> int:
    from cyvcf2 import VCF

    v = VCF(str(vcf), lazy=True)
    try:
        return len(v.samples)
    finally:
        v.close()


def _extract_sample(src: Path, sample: str, dest: Path) -> None:
    import pysam

    with pysam.VariantFile(str(src)) as vin:
        vin.subset_samples([sample])
        plain = dest.with_suffix("")
        with pysam.VariantFile(str(plain), "w", header=vin.header) as vout:
            for rec in vin:
                # A single-sample WGS VCF lists only the patient's own variant sites.
                gt = rec.samples[sample].get("GT") or ()
                if any(a not in (0, None) for a in gt):
                    vout.write(rec)
    pysam.tabix_index(str(plain), preset="vcf", force=True)  # bgzips to dest and indexes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs of the one-patient/demo cases")
    ap.add_argument("--sample", default="HG00096", help="1KGP sample for the one-patient case")
    ap.add_argument("--kgp-dir", type=Path, default=KGP_DIR)
    ap.add_argument("--skip-cohort", action="store_true", help="skip the whole-cohort runs")
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    args = ap.parse_args(argv)

    exe = _pgxguard_cmd()
    kgp_vcf = args.kgp_dir / KGP_VCF.name
    results: dict[str, Any] = {"machine": machine(), "cases": {}, "skipped": []}
    cases = results["cases"]

    # Warm the page cache and any lazily built knowledge-base cache so run 1 is not an outlier.
    run_child([*exe, "call", str(DEMO_VCF)])

    if kgp_vcf.exists():
        cmd = [*exe, "call", str(kgp_vcf), "--sample", args.sample, "--assume-reference"]
        print(f"one patient ({args.sample}), {args.repeat} runs ...", file=sys.stderr)
        cases["one_patient_1kgp"] = _finish(repeat_child(cmd, args.repeat), 1, TARGET_ONE)
    else:
        msg = f"1KGP data not found at {args.kgp_dir}: one-patient and cohort cases skipped"
        print(msg, file=sys.stderr)
        results["skipped"].append(msg)

    if kgp_vcf.exists():
        # The target is "one patient from an indexed WGS VCF": a single-sample file holding the
        # patient's own variant sites. Extract them from the cohort once (pysam), bgzip + index,
        # and time calls on it (absent positions are reference: --assume-reference).
        with tempfile.TemporaryDirectory() as tmp:
            single = Path(tmp) / f"{args.sample}.vcf.gz"
            _extract_sample(kgp_vcf, args.sample, single)
            cmd = [*exe, "call", str(single), "--assume-reference"]
            print(f"one patient, single-sample indexed VCF, {args.repeat} runs ...",
                  file=sys.stderr)
            cases["one_patient_single_sample_vcf"] = _finish(repeat_child(cmd, args.repeat), 1,
                                                             TARGET_ONE)

    print(f"demo ({DEMO_VCF.name}), {args.repeat} runs ...", file=sys.stderr)
    demo_samples = _count_samples(DEMO_VCF)
    cases["demo"] = _finish(repeat_child([*exe, "call", str(DEMO_VCF)], args.repeat),
                            demo_samples, TARGET_ONE)

    if kgp_vcf.exists() and not args.skip_cohort:
        n = _count_samples(kgp_vcf)
        print(f"cohort ({n} samples), subprocess ...", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [*exe, "call", str(kgp_vcf), "--assume-reference", "-o",
                   str(Path(tmp) / "cohort.json")]
            cases["cohort_1kgp_subprocess"] = _finish(repeat_child(cmd, 1), n, TARGET_COHORT)
        print(f"cohort ({n} samples), in-process ...", file=sys.stderr)
        row = in_process_cohort(kgp_vcf)
        cases["cohort_1kgp_in_process"] = _finish(row, row["samples"], TARGET_COHORT)
    elif args.skip_cohort:
        results["skipped"].append("cohort cases skipped (--skip-cohort)")

    m = results["machine"]
    print(f"\nmachine: {m.get('cpu', '?')}, {m['nproc']} CPUs, {m.get('ram_gb', '?')} GB RAM, "
          f"Python {m['python']}")
    header = (f"{'case':26} {'samples':>7} {'wall s':>8} {'cpu s':>8} {'rss MB':>7} "
              f"{'samples/s':>10} {'target s':>8} {'x target':>8}")
    print(header)
    print("-" * len(header))
    for name, r in cases.items():
        print(f"{name:26} {r['samples']:7d} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} "
              f"{r['peak_rss_mb']:7.0f} {r['samples_per_s']:10.1f} {r['target_s']:8.0f} "
              f"{r['ratio_to_target']:8.2f}")
    for s in results["skipped"]:
        print(f"skipped: {s}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
