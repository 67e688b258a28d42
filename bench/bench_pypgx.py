"""Compare pgxguard with PyPGx on the 1000 Genomes panel: run time and concordance of calls.

PyPGx is not a dependency of pgxguard and must not go into its venv (it needs pandas<3). Make a
throwaway venv first; without it this script exits with a message:

    python3 -m venv /tmp/pypgx-venv
    /tmp/pypgx-venv/bin/pip install pypgx==0.27.0 'pandas<3'

How PyPGx is run: its documented chip pipeline steps through its Python API, in a subprocess of
that venv (one per gene): `import_variants(gene, VCF, assembly='GRCh38', platform='Chip')`, which
returns a `VcfFrame[Consolidated]` archive directly when every genotype of the sliced region is
phased (the 1KGP panel is), so Beagle and the pypgx-bundle reference panel are not needed; then
`predict_alleles`, `genotype.call_genotypes`, `call_phenotypes`, `combine_results`. This is what
`pypgx run-chip-pipeline GENE OUT VCF --assembly GRCh38` does, minus writing the zip archives.
Genes with structural alleles that need read depth (CYP2D6, ...) are not run.

pgxguard: `pgxguard cohort VCF -o OUT --genes G --assume-reference --workers N` once per gene
(start-up included) and once for all genes together; calls read with
`pgxguard.cohort.read_calls`.

Concordance, per gene, over the samples PyPGx called: PyPGx `Genotype` vs pgxguard's diplotype,
order-insensitive. A sample counts as concordant only when pgxguard made exactly one call and it
equals PyPGx's; pgxguard ties (several diplotypes) and no-calls are counted separately (a tie that
contains PyPGx's call is reported as such, not as concordant). The most common discordant pairs
are printed.

PyPGx's allele prediction loops over samples in Python and, for each sample and haplotype,
applies a function row by row to every VCF record of the gene (pandas `apply` over the whole
multi-sample table): about 0.15 CPU s per sample for NUDT15 (389 records; 0.146 s/sample at
both 201 and 801 samples) and about 1 CPU s per sample for CYP2C19 (3,437 records), and more
per sample on the full panel (a 3,202-sample NUDT15 run had used over 13 CPU minutes). The seven
default genes on all 3,202 samples would take over 3 CPU hours, so PyPGx runs on every 16th
sample of the VCF by default (201 samples, all populations, the same subset for every gene);
`--every 1` runs all 3,202. pgxguard always runs on all 3,202 samples; concordance is over
PyPGx's subset.

    python bench/bench_pypgx.py [--genes NUDT15,CYP3A5,UGT1A1,TPMT,CYP2C9,CYP2C19,SLCO1B1]
                                [--every 16] [--subset GENE=N,...] [--venv /tmp/pypgx-venv]
                                [--workers 2] [--keep DIR] [--reuse DIR] [--json out.json]

`--keep DIR` keeps PyPGx's per-gene TSV/JSON and pgxguard's output there; `--reuse DIR` takes
PyPGx results already in DIR (from an earlier `--keep`) instead of re-running PyPGx.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_call import KGP_DIR, KGP_VCF, _maxrss_mb, _pgxguard_cmd, machine  # noqa: E402

DEFAULT_GENES = "NUDT15,CYP3A5,UGT1A1,TPMT,CYP2C9,CYP2C19,SLCO1B1"
DEFAULT_VENV = Path("/tmp/pypgx-venv")

# Runs inside the PyPGx venv: argv = gene vcf out.tsv [samples.txt]; prints one JSON line.
DRIVER = textwrap.dedent('''\
    import json, resource, sys, time, warnings
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    from pypgx.api import genotype, utils
    gene, vcf, out = sys.argv[1], sys.argv[2], sys.argv[3]
    samples = sys.argv[4] if len(sys.argv) > 4 else None
    t1 = time.perf_counter()
    cv = utils.import_variants(gene, vcf, assembly="GRCh38", platform="Chip", samples=samples)
    if cv.type != "VcfFrame[Consolidated]":
        sys.exit(f"{gene}: input not fully phased ({cv.type}); would need Beagle + pypgx-bundle")
    t2 = time.perf_counter()
    al = utils.predict_alleles(cv)
    t3 = time.perf_counter()
    gt = genotype.call_genotypes(alleles=al)
    ph = utils.call_phenotypes(gt)
    res = utils.combine_results(genotypes=gt, phenotypes=ph, alleles=al)
    t4 = time.perf_counter()
    df = res.data[["Genotype", "Phenotype", "Haplotype1", "Haplotype2"]]
    df.to_csv(out, sep="\\t", index_label="sample")
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"gene": gene, "samples": int(len(df)), "records": int(cv.data.shape[0]),
        "wall_s": t4 - t0, "cpu_s": ru.ru_utime + ru.ru_stime, "import_pypgx_s": t1 - t0,
        "import_variants_s": t2 - t1, "predict_alleles_s": t3 - t2, "genotype_phenotype_s": t4 - t3,
        "max_rss_mb": ru.ru_maxrss / 1024}))
''')


def run_timed(args: list[str]) -> tuple[dict[str, float], str]:
    """Run a subprocess; wall seconds and its stdout (exits with stderr on failure)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(args)}\n"
                         f"{err.decode(errors='replace')[-3000:]}")
    return {"wall_s": wall}, out.decode()


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _children_rss() -> float:
    import resource

    return _maxrss_mb(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def timed(args: list[str]) -> tuple[dict[str, float], str]:
    """run_timed plus CPU (user+sys) of the child and the descendants it waited for."""
    c0 = _children_cpu()
    res, out = run_timed(args)
    res["cpu_s"] = _children_cpu() - c0
    return res, out


def parse_subset(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        gene, _, n = part.partition("=")
        out[gene.strip().upper()] = int(n)
    return out


def vcf_samples(vcf: Path) -> list[str]:
    import gzip

    with gzip.open(vcf, "rt") as fh:
        for line in fh:
            if line.startswith("#CHROM"):
                return line.rstrip("\n").split("\t")[9:]
    raise SystemExit(f"no #CHROM line in {vcf}")


def check_venv(venv: Path) -> Path:
    py = venv / "bin" / "python"
    if not py.exists():
        raise SystemExit(
            f"PyPGx venv not found at {venv}. Create it (never in pgxguard's venv):\n"
            f"  python3 -m venv {venv}\n  {venv}/bin/pip install pypgx==0.27.0 'pandas<3'")
    r = subprocess.run([str(py), "-c", "import importlib.metadata as m; "
                        "print(m.version('pypgx'), m.version('pandas'), m.version('fuc'))"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{py} cannot import pypgx:\n{r.stderr[-2000:]}")
    return py


def pypgx_versions(py: Path) -> dict[str, str]:
    r = subprocess.run([str(py), "-c", "import importlib.metadata as m, sys; "
                        "print(sys.version.split()[0]); "
                        "[print(m.version(p)) for p in ('pypgx','fuc','pandas','numpy')]"],
                       capture_output=True, text=True, check=True)
    keys = ["python", "pypgx", "fuc", "pandas", "numpy"]
    return dict(zip(keys, r.stdout.split(), strict=False))


def norm(pair: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(pair))


def read_pypgx(tsv: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with tsv.open() as fh:
        header = fh.readline().rstrip("\n").split("\t")
        i_s, i_g = header.index("sample"), header.index("Genotype")
        for line in fh:
            f = line.rstrip("\n").split("\t")
            out[f[i_s]] = f[i_g]
    return out


def concordance(gene: str, pypgx_calls: dict[str, str], pg: dict[str, list[list[str]]],
                top: int) -> dict[str, Any]:
    c: collections.Counter[str] = collections.Counter()
    pairs: collections.Counter[tuple[str, str]] = collections.Counter()
    for sample, geno in pypgx_calls.items():
        dips = pg.get(sample)
        if dips is None:
            c["missing_in_pgxguard"] += 1
            continue
        if geno == "Indeterminate" or "/" not in geno:
            c["pypgx_indeterminate"] += 1
            continue
        p = norm(geno.split("/"))
        if len(dips) == 0:
            c["pgxguard_no_call"] += 1
            pairs[("/".join(p), "(no call)")] += 1
        elif len(dips) > 1:
            opts = {norm(d) for d in dips}
            c["pgxguard_tie_contains_pypgx" if p in opts else "pgxguard_tie_other"] += 1
            pairs[("/".join(p), " | ".join(sorted("/".join(norm(d)) for d in dips)))] += 1
        elif norm(dips[0]) == p:
            c["concordant"] += 1
        else:
            c["discordant"] += 1
            pairs[("/".join(p), "/".join(norm(dips[0])))] += 1
    n = len(pypgx_calls)
    comparable = n - c["pypgx_indeterminate"] - c["missing_in_pgxguard"]
    single = c["concordant"] + c["discordant"]
    return {"gene": gene, "samples": n, **dict(c),
            "concordance": c["concordant"] / n if n else float("nan"),
            "concordance_single_calls": c["concordant"] / single if single else float("nan"),
            "comparable": comparable,
            "top_pairs": [{"pypgx": a, "pgxguard": b, "n": k}
                          for (a, b), k in pairs.most_common(top)]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--genes", default=DEFAULT_GENES)
    ap.add_argument("--every", type=int, default=16,
                    help="run PyPGx on every N-th sample of the VCF (1 = all; default 16)")
    ap.add_argument("--subset", default="",
                    help="GENE=N,...: per-gene override of --every")
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    ap.add_argument("--kgp-dir", type=Path, default=KGP_DIR)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--top", type=int, default=6, help="discordant pairs listed per gene")
    ap.add_argument("--keep", type=Path, help="keep PyPGx and pgxguard outputs here")
    ap.add_argument("--reuse", type=Path, help="read PyPGx results from an earlier --keep DIR")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    genes = [g.strip().upper() for g in args.genes.split(",") if g.strip()]
    subset = parse_subset(args.subset)
    vcf = args.kgp_dir / KGP_VCF.name
    if not vcf.exists():
        raise SystemExit(f"{vcf} not found (see ../shared/data/1kgp/README.md)")
    py = None if args.reuse else check_venv(args.venv)
    vpy = args.venv / "bin" / "python"
    versions = pypgx_versions(vpy) if vpy.exists() else None
    exe = _pgxguard_cmd()

    with tempfile.TemporaryDirectory(prefix="pgx-bench-pypgx-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        pypgx_dir = args.reuse or work
        results: dict[str, Any] = {"machine": machine(), "vcf": str(vcf), "genes": {},
                                   "pypgx_versions": versions}
        all_samples = vcf_samples(vcf)

        # --- PyPGx, one subprocess per gene -------------------------------------------------
        for gene in genes:
            tsv = pypgx_dir / f"{gene}.pypgx.tsv"
            meta = pypgx_dir / f"{gene}.pypgx.json"
            if args.reuse:
                if not tsv.exists():
                    print(f"[pypgx] {gene}: no {tsv} to reuse, skipped", file=sys.stderr)
                    continue
                info = json.loads(meta.read_text())
            else:
                assert py is not None
                driver = work / "pypgx_driver.py"
                driver.write_text(DRIVER)
                cmd = [str(py), str(driver), gene, str(vcf), str(tsv)]
                n_every = subset.get(gene, args.every)
                if n_every > 1:
                    sfile = work / f"samples_every_{n_every}.txt"
                    sfile.write_text("\n".join(all_samples[::n_every]) + "\n")
                    cmd.append(str(sfile))
                print(f"[pypgx] {gene} ...", file=sys.stderr, flush=True)
                t, out = timed(cmd)
                info = json.loads(out.strip().splitlines()[-1])
                info.update({"outer_wall_s": t["wall_s"], "outer_cpu_s": t["cpu_s"],
                             "every_nth_sample": n_every or 1})
                meta.write_text(json.dumps(info, indent=1))
            results["genes"].setdefault(gene, {})["pypgx"] = info

        run_genes = [g for g in genes if g in results["genes"]]
        if not run_genes:
            raise SystemExit("no PyPGx results")

        # --- pgxguard: per gene, then all genes in one run -----------------------------------
        def pgx_run(gs: list[str], out: Path) -> dict[str, float]:
            cmd = [*exe, "cohort", str(vcf), "-o", str(out), "--genes", ",".join(gs),
                   "--assume-reference", "--workers", str(args.workers), "--overwrite"]
            t, _ = timed(cmd)
            t["command"] = " ".join(cmd[1:])  # type: ignore[assignment]
            return t

        pgx_run(run_genes[:1], work / "pgxguard_warm")  # page cache / knowledge-base cache
        for gene in run_genes:
            print(f"[pgxguard] {gene} ...", file=sys.stderr, flush=True)
            results["genes"][gene]["pgxguard"] = pgx_run([gene], work / f"pgxguard_{gene}")
        print("[pgxguard] all genes ...", file=sys.stderr, flush=True)
        all_out = work / "pgxguard_all"
        results["pgxguard_all_genes"] = pgx_run(run_genes, all_out)

        from pgxguard.cohort.schema import read_calls

        tbl = read_calls(all_out, columns=["sample", "gene", "diplotypes"]).to_pylist()
        by_gene: dict[str, dict[str, list[list[str]]]] = collections.defaultdict(dict)
        for row in tbl:
            by_gene[row["gene"]][row["sample"]] = row["diplotypes"] or []

        for gene in run_genes:
            calls = read_pypgx(pypgx_dir / f"{gene}.pypgx.tsv")
            results["genes"][gene]["concordance"] = concordance(gene, calls, by_gene[gene],
                                                                args.top)

    # --- report -------------------------------------------------------------------------------
    n_all = len(all_samples)
    print(f"\nPyPGx {results['pypgx_versions']} vs pgxguard ({results['machine']})")
    print("\n| gene | records | PyPGx samples | PyPGx wall s | PyPGx CPU s | PyPGx samples/s "
          "| PyPGx CPU ms/sample | pgxguard wall s (3,202) | pgxguard CPU s | pgxguard samples/s "
          "| pgxguard CPU ms/sample | ratio samples/s | ratio CPU/sample |")
    print("| --- " + "| ---: " * 12 + "|")
    for gene in run_genes:
        p, g = results["genes"][gene]["pypgx"], results["genes"][gene]["pgxguard"]
        p_wall = p.get("outer_wall_s", p["wall_s"])
        p_cpu = p.get("outer_cpu_s", p["cpu_s"])
        p_rate = p["samples"] / p_wall
        g_rate = n_all / g["wall_s"]
        p_ms = 1000 * p_cpu / p["samples"]
        g_ms = 1000 * g["cpu_s"] / n_all
        print(f"| {gene} | {p['records']} | {p['samples']} | {p_wall:.1f} | {p_cpu:.1f} | "
              f"{p_rate:.1f} | {p_ms:.0f} | {g['wall_s']:.1f} | {g['cpu_s']:.1f} | {g_rate:.0f} | "
              f"{g_ms:.2f} | {g_rate / p_rate:.0f}x | {p_ms / g_ms:.0f}x |")
    a = results["pgxguard_all_genes"]
    print(f"\npgxguard, all {len(run_genes)} genes in one run: {a['wall_s']:.1f} s wall, "
          f"{a['cpu_s']:.1f} s CPU ({n_all * len(run_genes) / a['wall_s']:.0f} sample-genes/s)")

    print("\n| gene | compared | concordant | discordant | pgxguard tie (incl. PyPGx call) "
          "| pgxguard tie (other) | pgxguard no call | PyPGx Indeterminate | concordance |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for gene in run_genes:
        c = results["genes"][gene]["concordance"]
        print(f"| {gene} | {c['samples']} | {c.get('concordant', 0)} | {c.get('discordant', 0)} | "
              f"{c.get('pgxguard_tie_contains_pypgx', 0)} | {c.get('pgxguard_tie_other', 0)} | "
              f"{c.get('pgxguard_no_call', 0)} | {c.get('pypgx_indeterminate', 0)} | "
              f"{100 * c['concordance']:.1f}% |")
    print("\nMost common differences (PyPGx -> pgxguard):")
    print("\n| gene | PyPGx | pgxguard | samples |")
    print("| --- | --- | --- | ---: |")
    for gene in run_genes:
        for t in results["genes"][gene]["concordance"]["top_pairs"]:
            print(f"| {gene} | {t['pypgx']} | {t['pgxguard']} | {t['n']} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
