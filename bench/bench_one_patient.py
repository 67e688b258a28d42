"""One patient, all genes: where the wall time of one `pgxguard call` goes, before and after.

Stages, each in a fresh process (start-up included, as a user sees it):
  startup     `pgxguard --help`: interpreter, typer and the modules imported at start
  kb_load     the bundled knowledge base loaded (and checked) in a fresh process; the time is
              measured inside it, around `load_knowledge_base()` alone
  demo        `pgxguard call examples/demo.vcf` (the bundled single-sample VCF)
  one_single  `pgxguard call --assume-reference` of a single-sample indexed VCF holding that
              sample's own variant sites (extracted from the panel as `bench_call.py` does):
              the "one patient, under 1 s" target
  one_1kgp    `pgxguard call` of one sample of the indexed 3,202-sample 1000 Genomes VCF
              (the 1KGP stages are skipped when ../shared/data/1kgp is absent)

With `--compare SRC` every stage also runs with another source tree first on the path (e.g. a
checkout of the previous commit's `src`), interleaved run by run, so both see the same machine
load; the load average is printed before and after. Median and minimum of N runs.

    python bench/bench_one_patient.py [--repeat 7] [--sample HG00096] [--compare OLD/src]
                                      [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
KGP_VCF = ROOT.parent / "shared" / "data" / "1kgp" / "pgx_genes.grch38.vcf.gz"
DEMO_VCF = ROOT / "examples" / "demo.vcf"
CLI = "import sys; sys.argv[0] = 'pgxguard'; from pgxguard.cli import main; main()"
KB_LOAD = ("import time; from pgxguard.kb.load import load_knowledge_base as f; "
           "t = time.perf_counter(); f(); print(time.perf_counter() - t)")


def _run(src: Path, code: str, args: list[str]) -> float:
    """Wall seconds of one fresh interpreter with `src` first on the path (or the time the
    child prints, for the in-process stage)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    wall = time.perf_counter() - t0
    return float(out.decode().strip()) if code == KB_LOAD else wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--sample", default="HG00096", help="1KGP sample of the one_1kgp stage")
    ap.add_argument("--compare", type=Path, help="another source tree (its `src`) to time too")
    ap.add_argument("--json", type=Path, help="also write the numbers as JSON here")
    args = ap.parse_args(argv)

    trees = {"this": ROOT / "src"}
    if args.compare:
        trees = {"compare": args.compare.resolve(), **trees}
    stages: dict[str, tuple[str, list[str]]] = {
        "startup": (CLI, ["--help"]),
        "kb_load": (KB_LOAD, []),
        "demo": (CLI, ["call", str(DEMO_VCF)]),
    }
    tmp = tempfile.TemporaryDirectory()
    if KGP_VCF.exists():
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_call import _extract_sample

        single = Path(tmp.name) / f"{args.sample}.vcf.gz"
        _extract_sample(KGP_VCF, args.sample, single)
        stages["one_single"] = (CLI, ["call", str(single), "--assume-reference"])
        stages["one_1kgp"] = (CLI, ["call", str(KGP_VCF), "--sample", args.sample])
    else:
        print(f"1KGP data not found at {KGP_VCF}: one_single and one_1kgp skipped",
              file=sys.stderr)

    load_before = os.getloadavg()
    times: dict[str, dict[str, list[float]]] = {s: {t: [] for t in trees} for s in stages}
    for stage, (code, stage_args) in stages.items():
        for src in trees.values():  # warm the page cache
            _run(src, code, stage_args)
        for _ in range(args.repeat):
            for name, src in trees.items():
                times[stage][name].append(_run(src, code, stage_args))
    load_after = os.getloadavg()
    tmp.cleanup()

    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {args.repeat} runs each; "
          f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")
    print(f"{'stage':10} {'tree':8} {'median s':>9} {'min s':>7}")
    rows: dict[str, Any] = {}
    for stage, by_tree in times.items():
        for name, ts in by_tree.items():
            med, low = statistics.median(ts), min(ts)
            rows.setdefault(stage, {})[name] = {"median_s": med, "min_s": low, "runs": ts}
            print(f"{stage:10} {name:8} {med:9.3f} {low:7.3f}")
    if args.json:
        args.json.write_text(json.dumps({"load_before": load_before, "load_after": load_after,
                                         "trees": {k: str(v) for k, v in trees.items()},
                                         "stages": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
