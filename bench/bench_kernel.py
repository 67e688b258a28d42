"""Benchmark the matching kernel on the large definition sets (issue 11 item 3).

For each gene (default: the four largest definition sets of the knowledge base, RYR1, G6PD,
CYP2D6 and CFTR) a cohort of N samples with distinct random *unphased* genotypes is written as a
bgzipped, tabix-indexed VCF holding one record per definition position (each sample
heterozygous at 2-6 random positions, one in ten of those homozygous ALT; fixed seed). Then:

  call     `pgxguard.call(vcf, genes=[gene])` in process (reading, genotype assembly, the kernel
           and the gene rules, per distinct pattern), knowledge-base load not included;
  kernel   the kernel alone (`pattern_call` on every pattern of the read genotypes).

Wall and CPU seconds (`time.process_time`) and patterns per CPU second are printed with the
load average, because the machine is usually shared: compare CPU seconds, and compare runs
made at the same time (e.g. `git stash` A/B) rather than across days.

    python bench/bench_kernel.py [--genes RYR1,CYP2D6] [--samples 2000] [--json out.json]
    python bench/bench_kernel.py --genes RYR1 --samples 20000   # the issue's measurement
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GENES = ("RYR1", "G6PD", "CYP2D6", "CFTR")


def write_cohort(defn: Any, n: int, path: Path, seed: int = 7) -> Path:
    """N samples of random unphased genotypes at `defn`'s positions (bgzip + tabix)."""
    import pysam

    rng = random.Random(seed)
    by_pos: dict[int, Any] = {}
    for p in defn.positions:
        if p.alts:
            by_pos.setdefault(p.pos, p)
    pos = sorted(by_pos)
    gts = {q: ["0/0"] * n for q in pos}
    for j in range(n):
        for q in rng.sample(pos, min(len(pos), rng.choice([2, 3, 4, 5, 6]))):
            a = rng.randrange(1, len(by_pos[q].alts) + 1)
            gts[q][j] = f"0/{a}" if rng.random() < 0.9 else f"{a}/{a}"
    chrom = f"chr{defn.chrom}"
    lines = ["##fileformat=VCFv4.2", "##reference=GRCh38",
             f"##contig=<ID={chrom},length=248956422>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
             + "\t".join(f"S{j}" for j in range(n))]
    for q in pos:
        p = by_pos[q]
        lines.append(f"{chrom}\t{q}\t.\t{p.ref}\t{','.join(p.alts)}\t.\tPASS\t.\tGT\t"
                     + "\t".join(gts[q]))
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_index(str(plain), preset="vcf", force=True)  # bgzips to path and indexes
    return path


def _timed(fn: Any) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def bench_gene(kb: Any, gene: str, n: int, tmp: Path) -> dict[str, Any]:
    import pgxguard
    from pgxguard.call.pipeline import pattern_call
    from pgxguard.io.vcf import VcfReader

    defn = kb.definitions[gene]["GRCh38"]
    vcf = write_cohort(defn, n, tmp / f"{gene}.vcf.gz")
    result, wall, cpu = _timed(lambda: pgxguard.call(vcf, genes=[gene], kb=kb))
    assert len(result.samples) == n
    reader = VcfReader(vcf)
    try:
        (gg,) = reader.read_genes([defn])
    finally:
        reader.close()
    n_pat = len(gg.patterns)
    _, k_wall, k_cpu = _timed(lambda: [pattern_call(kb, defn, gg, k) for k in range(n_pat)])
    return {"gene": gene, "alleles": len(defn.alleles), "positions": len(defn.positions),
            "samples": n, "patterns": n_pat, "call_wall_s": wall, "call_cpu_s": cpu,
            "kernel_wall_s": k_wall, "kernel_cpu_s": k_cpu,
            "patterns_per_cpu_s": n_pat / k_cpu if k_cpu else None,
            "samples_per_cpu_s": n / cpu if cpu else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--genes", default=",".join(GENES))
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)

    from pgxguard.kb.load import load_knowledge_base

    kb = load_knowledge_base()
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as d:
        for gene in args.genes.split(","):
            print(f"{gene}: {args.samples} samples ...", file=sys.stderr)
            rows.append(bench_gene(kb, gene, args.samples, Path(d)))
    load_after = os.getloadavg()
    print(f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f} "
          f"({os.cpu_count()} CPUs); knowledge base {kb.version}")
    head = (f"{'gene':8} {'alleles':>7} {'pos':>4} {'samples':>7} {'patterns':>8} "
            f"{'call wall':>9} {'call cpu':>8} {'kernel cpu':>10} {'pat/cpu-s':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['gene']:8} {r['alleles']:7d} {r['positions']:4d} {r['samples']:7d} "
              f"{r['patterns']:8d} {r['call_wall_s']:9.2f} {r['call_cpu_s']:8.2f} "
              f"{r['kernel_cpu_s']:10.2f} {r['patterns_per_cpu_s']:9.0f}")
    if args.json:
        args.json.write_text(json.dumps({"load": [load_before, load_after], "rows": rows},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
