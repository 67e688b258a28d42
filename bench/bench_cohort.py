"""Benchmark `pgxguard cohort` against the targets in design.md / issue 4.

Cases:
  cohort_1kgp        `pgxguard cohort pgx_genes.grch38.vcf.gz -o OUT --workers 2` (3,202 samples)
  analysis_1kgp      `python -m pgxguard.cohort.analysis OUT samples.tsv` on that output
                     (frequency tables, actionable burden for every drug, plots)
  call_1kgp          the single-sample path on the same input: `pgxguard call VCF -o x.json`
                     (the ratio cohort / call is reported)
  cohort_1kgp_pgen   with --pgen: the same panel converted to PLINK 2 .pgen (conversion timed on
                     its own); calls compared with the VCF run (diplotype and phenotype)
  synthetic_N        for each N of --synthetic (default 10000,50000,200000): a cohort resampled
                     from 1KGP haplotypes by bench/synthetic_cohort.py (VCF Zarr when the engine
                     provides the writer, else bgzipped VCF; generation is timed on its own and
                     not counted), then `pgxguard cohort` and the analysis on it.

Measured per case: wall seconds; CPU seconds of the child and all its descendants (os.wait4 of
the child, which includes the children it waited for); peak RSS of the whole process tree
(psutil, sampled every 50 ms; the sum over the live processes of the tree) and the largest
single-process peak (ru_maxrss); samples/s; ratio to the target (1KGP < 10 s; 200k < 600 s and
< 4 GB; ratio > 1 misses it).

Flags added to `pgxguard cohort` when its --help lists them: --assume-reference (absent records
are reference in these joint-called panels), --no-progress. Extra ones with --cohort-arg.

    python bench/bench_cohort.py [--synthetic 10000,50000,200000] [--workers 2] [--json out.json]
    python bench/bench_cohort.py --skip-1kgp --synthetic 200000 --keep /tmp/bench
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_call import KGP_DIR, KGP_VCF, _maxrss_mb, _pgxguard_cmd, machine  # noqa: E402

KGP_INFO = KGP_DIR / "samples.tsv"
TARGET_1KGP_S = 10.0
TARGET_200K_S = 600.0
TARGET_200K_MB = 4096.0


class _TreeRss:
    """Peak of the summed RSS of a process and its descendants (psutil; None without it)."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        try:
            import psutil  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            return
        self.peak_mb = 0.0
        self._proc = psutil.Process(pid)
        self._psutil = psutil
        self._t = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._t.start()

    def _run(self, interval: float) -> None:
        ps = self._psutil
        while not self._stop.is_set():
            try:
                procs = [self._proc, *self._proc.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(ps.NoSuchProcess, ps.AccessDenied):
                        total += p.memory_info().rss
                self.peak_mb = max(self.peak_mb or 0.0, total / 2**20)
            except (ps.NoSuchProcess, ps.AccessDenied):
                return
            self._stop.wait(interval)

    def stop(self) -> None:
        self._stop.set()
        if hasattr(self, "_t"):
            self._t.join()


def run(args: list[str], label: str) -> dict[str, Any]:
    """One subprocess: wall, CPU of the tree (wait4), peak RSS (tree sum and largest process)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tree = _TreeRss(proc.pid)
    err_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: err_chunks.append(
        proc.stderr.read() if proc.stderr else b""), daemon=True)
    reader.start()
    _pid, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    tree.stop()
    reader.join()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if proc.stderr:
        proc.stderr.close()
    err = b"".join(err_chunks).decode(errors="replace")
    if code != 0:
        raise SystemExit(f"{label}: command failed ({code}): {' '.join(args)}\n{err[-4000:]}")
    return {"command": " ".join(args), "wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "peak_rss_mb_tree": tree.peak_mb, "peak_rss_mb_largest": _maxrss_mb(ru.ru_maxrss),
            "stderr_tail": err.strip().splitlines()[-3:]}


def _cohort_flags(exe: list[str], extra: list[str]) -> list[str]:
    helptext = subprocess.run([*exe, "cohort", "--help"], capture_output=True, text=True,
                              env={**os.environ, "COLUMNS": "200"}).stdout
    if "--output" not in helptext and "-o" not in helptext:
        raise SystemExit("`pgxguard cohort` is not available in this installation")
    flags = [f for f in ("--assume-reference", "--no-progress") if f in helptext]
    return flags + extra


def _parquet_rows(outdir: Path) -> dict[str, int]:
    import polars as pl

    files = [f for f in (outdir / "calls").rglob("*.parquet") if not f.name.startswith(".")]
    if not files:
        return {"rows": 0, "samples": 0, "genes": 0}
    df = (pl.scan_parquet(files, hive_partitioning=False)
          .select(rows=pl.len(), samples=pl.col("sample").n_unique(),
                  genes=pl.col("gene").n_unique()).collect())
    return {k: int(df[k][0]) for k in ("rows", "samples", "genes")}


def _finish(row: dict[str, Any], samples: int, target_s: float | None,
            target_mb: float | None = None) -> dict[str, Any]:
    row["samples"] = samples
    row["samples_per_s"] = samples / row["wall_s"] if row["wall_s"] else None
    row["target_s"] = target_s
    row["wall_over_target"] = row["wall_s"] / target_s if target_s else None
    if target_mb:
        peak = row.get("peak_rss_mb_tree") or row.get("peak_rss_mb_largest")
        row["target_mb"] = target_mb
        row["rss_over_target"] = peak / target_mb if peak else None
    return row


def vcf_to_pgen(vcf: Path, prefix: Path, samples_info: Path) -> Path:
    """The panel as a PLINK 2 fileset (sex from samples.tsv; haploid calls written homozygous,
    as PLINK stores them)."""
    import csv

    import numpy as np
    from cyvcf2 import VCF

    from pgxguard.cohort.io_plink import write_pgen

    with samples_info.open() as fh:
        sex = {r["sample"]: r.get("sex", "") for r in csv.DictReader(fh, delimiter="\t")}
    v = VCF(str(vcf), gts012=False, strict_gt=False)
    cols: dict[str, list[Any]] = {k: [] for k in ("chrom", "pos", "ids", "ref", "alts")}
    gts, phased = [], []
    for rec in v:
        arr = rec.genotype.array()
        g = arr[:, :2].astype(np.int64)
        g = np.where(g == -2, g[:, :1], g)
        for k, x in zip(cols, (rec.CHROM, rec.POS, rec.ID or ".", rec.REF, tuple(rec.ALT)),
                        strict=True):
            cols[k].append(x)
        gts.append(g)
        phased.append(arr[:, -1].astype(bool) & (g[:, 0] != g[:, 1]))
    samples = list(v.samples)
    v.close()
    sexes = [1 if sex.get(s, "").lower() in ("1", "male", "m") else
             2 if sex.get(s, "").lower() in ("2", "female", "f") else 0 for s in samples]
    return write_pgen(prefix, samples=samples, sexes=sexes, **cols, alleles=np.stack(gts),
                      phased=np.stack(phased), build="GRCh38")


def _same_calls(a: Path, b: Path) -> str:
    from pgxguard.cohort import read_calls

    def rows(d: Path) -> dict[tuple[str, str], tuple[Any, ...]]:
        return {(r["sample"], r["gene"]): (r["diplotype_text"], r["phenotype"])
                for r in read_calls(d).to_pylist()}

    x, y = rows(a), rows(b)
    return f"{sum(1 for k in x if y.get(k) == x[k]):,} / {len(x):,}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--synthetic", default="10000,50000,200000",
                    help="comma-separated synthetic cohort sizes; '' for none")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("auto", "vcz", "vcf"), default="auto",
                    help="synthetic input format (see bench/synthetic_cohort.py)")
    ap.add_argument("--skip-1kgp", action="store_true")
    ap.add_argument("--skip-call", action="store_true",
                    help="do not time the single-sample path (`pgxguard call`) on 1KGP")
    ap.add_argument("--skip-analysis", action="store_true")
    ap.add_argument("--pgen", action="store_true",
                    help="also convert the 1KGP panel to PLINK 2 .pgen (not timed) and time "
                         "`pgxguard cohort` on it")
    ap.add_argument("--cohort-arg", action="append", default=[],
                    help="extra argument for `pgxguard cohort` (repeatable)")
    ap.add_argument("--keep", type=Path, default=None,
                    help="work in this folder and keep the outputs (default: a temporary one)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    exe = _pgxguard_cmd()
    flags = _cohort_flags(exe, args.cohort_arg)
    work = args.keep or Path(tempfile.mkdtemp(prefix="pgxguard-bench-cohort-"))
    work.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    cases: dict[str, Any] = {}
    have_kgp = KGP_VCF.exists() and KGP_INFO.exists()
    if not have_kgp:
        print(f"skipping 1KGP cases: {KGP_VCF} not found", file=sys.stderr)
    try:
        if have_kgp and not args.skip_1kgp:
            out = work / "cohort_1kgp"
            shutil.rmtree(out, ignore_errors=True)
            cmd = [*exe, "cohort", str(KGP_VCF), "-o", str(out), "--workers",
                   str(args.workers), *flags]
            row = run(cmd, "cohort_1kgp")
            row.update(_parquet_rows(out))
            cases["cohort_1kgp"] = _finish(row, row["samples"], TARGET_1KGP_S)
            print(json.dumps({"cohort_1kgp": cases["cohort_1kgp"]}, indent=1), flush=True)
            if not args.skip_analysis:
                cmd = [py, "-m", "pgxguard.cohort.analysis", str(out), str(KGP_INFO)]
                cases["analysis_1kgp"] = _finish(run(cmd, "analysis_1kgp"), row["samples"],
                                                 None)
            if not args.skip_call:
                cmd = [*exe, "call", str(KGP_VCF), "--assume-reference", "-o",
                       str(work / "call_1kgp.json")]
                c = _finish(run(cmd, "call_1kgp"), row["samples"], TARGET_1KGP_S)
                cases["call_1kgp"] = c
                cases["cohort_1kgp"]["speedup_vs_call"] = c["wall_s"] / row["wall_s"]
                cases["cohort_1kgp"]["cpu_ratio_vs_call"] = c["cpu_s"] / row["cpu_s"]
        if have_kgp and args.pgen:
            # In a child process: converting holds the whole matrix, and a benchmark process
            # that large would inflate its own children's peak RSS (fork copies its pages).
            t0 = time.perf_counter()
            pgen = work / "kgp.pgen"
            subprocess.run([py, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                            "import bench_cohort as b; from pathlib import Path; "
                            "b.vcf_to_pgen(Path(sys.argv[2]), Path(sys.argv[3]), "
                            "Path(sys.argv[4]))", str(ROOT / "bench"), str(KGP_VCF),
                            str(work / "kgp"), str(KGP_INFO)], check=True)
            convert_s = time.perf_counter() - t0
            out = work / "cohort_1kgp_pgen"
            shutil.rmtree(out, ignore_errors=True)
            row = run([*exe, "cohort", str(pgen), "-o", str(out), "--workers",
                       str(args.workers), *flags], "cohort_1kgp_pgen")
            row.update(_parquet_rows(out))
            row = _finish(row, row["samples"], TARGET_1KGP_S)
            row["convert_s"] = round(convert_s, 2)
            if "cohort_1kgp" in cases:
                row["wall_ratio_vs_vcf"] = row["wall_s"] / cases["cohort_1kgp"]["wall_s"]
                row["rows_equal_to_vcf"] = _same_calls(work / "cohort_1kgp", out)
            cases["cohort_1kgp_pgen"] = row
            print(json.dumps({"cohort_1kgp_pgen": row}, indent=1), flush=True)
        sizes = [int(x) for x in args.synthetic.split(",") if x.strip()]
        if sizes and not KGP_VCF.exists():
            print("skipping synthetic cohorts: they resample the 1KGP panel", file=sys.stderr)
            sizes = []
        panel = None
        for n in sizes:
            import synthetic_cohort as sc

            if panel is None:
                panel = sc.load_panel(KGP_VCF)
            fmt = args.format if args.format != "auto" else (
                "vcz" if sc.vcz_available() else "vcf")
            src = work / (f"syn{n}.vcz" if fmt == "vcz" else f"syn{n}.vcf.gz")
            t0 = time.perf_counter()
            gen = sc.generate(n, src, seed=args.seed, fmt=fmt, panel=panel,
                              source_info=KGP_INFO)
            gen["wall_s"] = time.perf_counter() - t0
            out = work / f"cohort_syn{n}"
            shutil.rmtree(out, ignore_errors=True)
            cmd = [*exe, "cohort", str(src), "-o", str(out), "--workers", str(args.workers),
                   *flags]
            row = run(cmd, f"synthetic_{n}")
            row.update(_parquet_rows(out))
            row["generate"] = gen
            big = n >= 200_000
            scaled = TARGET_200K_S * n / 200_000
            row = _finish(row, n, TARGET_200K_S if big else scaled,
                          TARGET_200K_MB)
            row["target_note"] = ("600 s for 200,000" if big else
                                  f"600 s x {n}/200,000 = {scaled:.0f} s (linear share)")
            cases[f"synthetic_{n}"] = row
            print(json.dumps({f"synthetic_{n}": row}, indent=1), flush=True)
            if not args.skip_analysis:
                cmd = [py, "-m", "pgxguard.cohort.analysis", str(out), gen["samples_info"]]
                cases[f"analysis_synthetic_{n}"] = _finish(
                    run(cmd, f"analysis_{n}"), n, None, TARGET_200K_MB)
            if args.keep is None:
                if src.is_dir():
                    shutil.rmtree(src, ignore_errors=True)
                else:
                    src.unlink(missing_ok=True)
                    Path(f"{src}.tbi").unlink(missing_ok=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    report = {"machine": machine(), "cohort_flags": flags, "workers": args.workers,
              "cases": cases}
    print()
    print("| case | samples | wall s | CPU s | peak RSS MB (tree / largest) | samples/s | "
          "target | wall / target |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in cases.items():
        tree = r.get("peak_rss_mb_tree")
        rss = f"{tree:.0f} / {r['peak_rss_mb_largest']:.0f}" if tree else \
            f"- / {r['peak_rss_mb_largest']:.0f}"
        tgt = f"{r['target_s']:.0f} s" if r.get("target_s") else "-"
        ratio = f"{r['wall_over_target']:.2f}" if r.get("wall_over_target") else "-"
        print(f"| {name} | {r['samples']:,} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {rss} | "
              f"{r['samples_per_s']:,.0f} | {tgt} | {ratio} |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
