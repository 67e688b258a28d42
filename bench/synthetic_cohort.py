"""Synthetic cohorts resampled from 1000 Genomes haplotypes, for the cohort benchmarks.

Each synthetic person takes two random haplotypes (whole haplotypes: every gene of a haplotype
comes from the same source strand, so the star alleles and their linkage are real) from random
1KGP samples of the same population (``--within population``, the default; this keeps both the
population and the superpopulation frequencies) or of the same superpopulation
(``--within superpopulation``). Populations are drawn in proportion to their 1KGP sizes. Sex is
drawn 50/50; a synthetic male gets one chrX haplotype (haploid GT), a female two, drawn from the
chrX strands of the same group (1KGP males carry one).

Only records touching a knowledge-base definition position are kept (GRCh38 positions of
`pgxguard.load_knowledge_base().definition(gene, 'GRCh38').positions`); other records cannot
change a call. Genotypes are written phased (``a|b``), as in the source.

Outputs:

* ``--format vcz``: a VCF Zarr store through the cohort engine's `pgxguard.cohort.io_zarr`
  writer (`create_vcz`, then `write_vcz_block` per sample block), so 200,000 samples never
  need the whole genotype matrix in memory;
* ``--format vcf``: a bgzipped, tabix-indexed multi-sample VCF (pysam), written record chunk by
  record chunk (memory: one chunk of records x all samples);
* always a samples-info TSV next to it (``sample, population, superpopulation, sex,
  hap1_source, hap2_source, x_sources``) usable as ``pgxguard cohort --samples-info``.

The plan (who takes which haplotypes) is drawn up front from ``--seed`` (a few integers per
person), so the output does not depend on block sizes; the same seed gives the same bytes.

    python bench/synthetic_cohort.py -n 10000 -o /tmp/syn10k.vcf.gz --format vcf --seed 1
"""

from __future__ import annotations

import argparse
import bisect
import csv
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "1kgp"
DEFAULT_VCF = DATA / "pgx_genes.grch38.vcf.gz"
DEFAULT_INFO = DATA / "samples.tsv"

# sgkit / VCF Zarr conventions: -1 missing allele, -2 fill (no such allele: haploid call)
MISSING = -1
FILL = -2


@dataclass(frozen=True)
class SourcePanel:
    """Records of the source VCF that touch definition positions, with their haplotypes."""

    path: Path
    contigs: tuple[tuple[str, int | None], ...]  # header order, with lengths
    chrom: tuple[str, ...]
    pos: np.ndarray[Any, np.dtype[np.int64]]
    vid: tuple[str, ...]
    ref: tuple[str, ...]
    alt: tuple[tuple[str, ...], ...]
    haps: np.ndarray[Any, np.dtype[np.int8]]  # (records, source samples, 2)
    samples: tuple[str, ...]
    x_ploidy: np.ndarray[Any, np.dtype[np.int8]]  # per source sample: 1 or 2 on chrX
    genes: tuple[str, ...]

    @property
    def is_x(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        return np.array([c.lower().removeprefix("chr") == "x" for c in self.chrom], dtype=bool)


@dataclass(frozen=True)
class Plan:
    """Who takes which haplotypes. Indices point into `SourcePanel.samples`."""

    sample_ids: tuple[str, ...]
    population: tuple[str, ...]
    superpopulation: tuple[str, ...]
    sex: tuple[str, ...]
    hap_src: np.ndarray[Any, np.dtype[np.int32]]  # (N, 2) source sample
    hap_which: np.ndarray[Any, np.dtype[np.int8]]  # (N, 2) strand 0/1
    x_src: np.ndarray[Any, np.dtype[np.int32]]  # (N, 2); -1 for a male's second
    x_which: np.ndarray[Any, np.dtype[np.int8]]

    @property
    def n(self) -> int:
        return len(self.sample_ids)


def read_source_info(path: Path) -> dict[str, tuple[str, str, str]]:
    """1KGP samples.tsv -> sample -> (population, superpopulation, sex)."""
    out: dict[str, tuple[str, str, str]] = {}
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            out[r["sample"]] = (r["population"], r["superpopulation"], r.get("sex") or "")
    return out


def _definition_intervals(genes: Sequence[str] | None) -> dict[str, list[tuple[int, int, str]]]:
    """canonical chrom -> sorted (start, end, gene) of every GRCh38 definition position."""
    from pgxguard import load_knowledge_base
    from pgxguard.errors import KnowledgeBaseError

    kb = load_knowledge_base()
    out: dict[str, list[tuple[int, int, str]]] = {}
    for g in genes or kb.genes:
        try:
            d = kb.definition(g, "GRCh38")
        except KnowledgeBaseError:
            continue
        for p in d.positions:
            out.setdefault(p.chrom, []).append((p.pos, p.end, g))
    for v in out.values():
        v.sort()
    return out


def load_panel(vcf: Path = DEFAULT_VCF, genes: Sequence[str] | None = None) -> SourcePanel:
    """Read the records of `vcf` touching definition positions (cyvcf2, indexed queries)."""
    from cyvcf2 import VCF

    intervals = _definition_intervals(genes)
    reader = VCF(str(vcf), gts012=False, lazy=True)
    names = list(reader.seqnames)
    lengths: dict[str, int | None] = {}
    for h in reader.header_iter():
        info = h.info()
        if info.get("HeaderType") == "CONTIG" and "ID" in info:
            ln = info.get("length")
            lengths[info["ID"]] = int(ln) if ln and ln.isdigit() else None
    samples = tuple(reader.samples)
    seen: set[tuple[str, int, str, tuple[str, ...]]] = set()
    chrom: list[str] = []
    pos: list[int] = []
    vid: list[str] = []
    ref: list[str] = []
    alt: list[tuple[str, ...]] = []
    haps: list[np.ndarray[Any, np.dtype[np.int8]]] = []
    found_genes: set[str] = set()
    x_haploid = np.zeros(len(samples), dtype=bool)
    for canon, ivs in sorted(intervals.items()):
        contig = next((c for c in (f"chr{canon}", canon) if c in names), None)
        if contig is None:
            continue
        starts = [s for s, _e, _g in ivs]
        # One query per cluster of nearby positions (genes), not one per position.
        clusters: list[list[int]] = []
        for i, (s, _e, _g) in enumerate(ivs):
            if clusters and s - ivs[clusters[-1][-1]][1] < 50_000:
                clusters[-1].append(i)
            else:
                clusters.append([i])
        for cl in clusters:
            lo = max(1, ivs[cl[0]][0] - 1)
            hi = max(ivs[i][1] for i in cl)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                records = list(reader(f"{contig}:{lo}-{hi}"))
            for r in records:
                r_start, r_end = r.POS, r.POS + len(r.REF) - 1
                # definition positions overlapping the record; an indel also when adjacent
                # (its anchor base or representation may sit one base off the definition's)
                pad = 0 if all(len(a) == len(r.REF) for a in r.ALT) else 1
                j = bisect.bisect_right(starts, r_end + pad)
                hit = [ivs[k][2] for k in range(max(0, j - 256), j)
                       if ivs[k][1] >= r_start - pad]
                if not hit:
                    continue
                key = (r.CHROM, int(r.POS), str(r.REF), tuple(r.ALT))
                if key in seen:
                    continue
                seen.add(key)
                found_genes.update(hit)
                a = r.genotype.array()  # (samples, ploidy + 1) int16, last column = phased
                h = np.full((len(samples), 2), FILL, dtype=np.int8)
                h[:, 0] = a[:, 0]
                if a.shape[1] > 2:
                    h[:, 1] = a[:, 1]
                if canon == "X":
                    x_haploid |= h[:, 1] == FILL
                chrom.append(r.CHROM)
                pos.append(int(r.POS))
                vid.append(r.ID or ".")
                ref.append(str(r.REF))
                alt.append(tuple(r.ALT))
                haps.append(h)
    reader.close()
    order = sorted(range(len(pos)), key=lambda i: (names.index(chrom[i]), pos[i], ref[i], alt[i]))
    return SourcePanel(
        path=vcf, contigs=tuple((c, lengths.get(c)) for c in names),
        chrom=tuple(chrom[i] for i in order), pos=np.array([pos[i] for i in order], np.int64),
        vid=tuple(vid[i] for i in order), ref=tuple(ref[i] for i in order),
        alt=tuple(alt[i] for i in order),
        haps=(np.stack([haps[i] for i in order]) if haps
              else np.zeros((0, len(samples), 2), np.int8)),
        samples=samples, x_ploidy=np.where(x_haploid, 1, 2).astype(np.int8),
        genes=tuple(sorted(found_genes)))


def make_plan(panel: SourcePanel, info: dict[str, tuple[str, str, str]], n: int, seed: int,
              within: str = "population", prefix: str = "SYN") -> Plan:
    """Draw the resampling plan for `n` synthetic samples (deterministic for `seed`)."""
    if within not in ("population", "superpopulation"):
        raise ValueError(f"within must be population or superpopulation, not {within!r}")
    rng = np.random.default_rng(seed)
    src_idx = [i for i, s in enumerate(panel.samples) if s in info]
    if not src_idx:
        raise ValueError("no source sample has a samples-info row")
    key_of = {i: info[panel.samples[i]][0 if within == "population" else 1] for i in src_idx}
    sp_of = {i: info[panel.samples[i]][1] for i in src_idx}
    groups = sorted(set(key_of.values()))
    members = {g: np.array([i for i in src_idx if key_of[i] == g], dtype=np.int32)
               for g in groups}
    sizes = np.array([len(members[g]) for g in groups], dtype=np.float64)
    group_of = rng.choice(len(groups), size=n, p=sizes / sizes.sum())
    male = rng.random(n) < 0.5
    hap_src = np.empty((n, 2), np.int32)
    hap_which = np.empty((n, 2), np.int8)
    x_src = np.full((n, 2), -1, np.int32)
    x_which = np.zeros((n, 2), np.int8)
    pop: list[str] = [""] * n
    sup: list[str] = [""] * n
    for gi, g in enumerate(groups):
        rows = np.flatnonzero(group_of == gi)
        if rows.size == 0:
            continue
        mem = members[g]
        hap_src[rows] = mem[rng.integers(0, mem.size, size=(rows.size, 2))]
        hap_which[rows] = rng.integers(0, 2, size=(rows.size, 2))
        # chrX strands of the group: two per diploid-X source, one per haploid-X source
        x_pool_s = np.concatenate([mem, mem[panel.x_ploidy[mem] == 2]])
        x_pool_w = np.concatenate([np.zeros(mem.size, np.int8),
                                   np.ones(int((panel.x_ploidy[mem] == 2).sum()), np.int8)])
        pick = rng.integers(0, x_pool_s.size, size=(rows.size, 2))
        x_src[rows] = x_pool_s[pick]
        x_which[rows] = x_pool_w[pick]
        sp = sp_of[int(mem[0])]
        for r in rows:
            pop[r] = g if within == "population" else f"{g}-mixed"
            sup[r] = sp
    x_src[male, 1] = -1
    x_which[male, 1] = 0
    width = max(6, len(str(n)))
    return Plan(sample_ids=tuple(f"{prefix}{i + 1:0{width}d}" for i in range(n)),
                population=tuple(pop), superpopulation=tuple(sup),
                sex=tuple("male" if m else "female" for m in male),
                hap_src=hap_src, hap_which=hap_which, x_src=x_src, x_which=x_which)


def genotypes(panel: SourcePanel, plan: Plan, start: int,
              stop: int) -> np.ndarray[Any, np.dtype[np.int8]]:
    """Genotypes (records, stop - start, 2) of synthetic samples [start, stop); -2 = haploid."""
    b = stop - start
    out = np.empty((len(panel.chrom), b, 2), np.int8)
    is_x = panel.is_x
    auto = np.flatnonzero(~is_x)
    xs = np.flatnonzero(is_x)
    for k in range(2):
        src = plan.hap_src[start:stop, k]
        which = plan.hap_which[start:stop, k]
        out[auto[:, None], np.arange(b)[None, :], k] = panel.haps[auto][:, src, which]
        if xs.size:
            xsrc = plan.x_src[start:stop, k]
            xw = plan.x_which[start:stop, k]
            vals = panel.haps[xs][:, np.maximum(xsrc, 0), xw]
            vals[:, xsrc < 0] = FILL
            out[xs[:, None], np.arange(b)[None, :], k] = vals
    return out


def iter_blocks(panel: SourcePanel, plan: Plan,
                block: int = 10_000) -> Iterator[tuple[int, np.ndarray[Any, np.dtype[np.int8]]]]:
    """(first sample index, genotypes of the block) for consecutive sample blocks."""
    for start in range(0, plan.n, block):
        yield start, genotypes(panel, plan, start, min(plan.n, start + block))


# --- writers ---------------------------------------------------------------------------------


def write_samples_info(path: Path, panel: SourcePanel, plan: Plan) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["sample", "population", "superpopulation", "sex", "hap1_source",
                    "hap2_source", "x_sources"])
        for i in range(plan.n):
            hs = [f"{panel.samples[plan.hap_src[i, k]]}:{plan.hap_which[i, k]}" for k in (0, 1)]
            xs = ",".join(f"{panel.samples[plan.x_src[i, k]]}:{plan.x_which[i, k]}"
                          for k in (0, 1) if plan.x_src[i, k] >= 0)
            w.writerow([plan.sample_ids[i], plan.population[i], plan.superpopulation[i],
                        plan.sex[i], hs[0], hs[1], xs])
    os.replace(tmp, path)


_GT_TABLE = np.array(["0|0", "0|1", "1|0", "1|1", "0", "1", "."])


def _gt_strings(gt: np.ndarray[Any, np.dtype[np.int8]]) -> list[str]:
    """(samples, 2) alleles 0/1 (-2 second = haploid) -> VCF GT strings."""
    a, b = gt[:, 0].astype(np.int16), gt[:, 1].astype(np.int16)
    if (a > 1).any() or (b > 1).any() or (a < 0).any():
        return [f"{x}|{y}" if y != FILL else f"{x}" for x, y in zip(a.tolist(), b.tolist(),
                                                                     strict=True)]
    code = np.where(b == FILL, 4 + a, a * 2 + np.maximum(b, 0))
    return list(_GT_TABLE[code].tolist())


def write_vcf(path: Path, panel: SourcePanel, plan: Plan, chunk_records: int = 16) -> None:
    """bgzipped + tabix-indexed multi-sample VCF (atomic: temporary names, then os.replace)."""
    import pysam

    tmp = path.with_name(f".{path.name}.tmp.vcf.gz")
    header = ["##fileformat=VCFv4.2", "##reference=GRCh38",
              f"##source=pgxguard bench/synthetic_cohort.py (resampled from {panel.path.name})",
              '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">']
    header += [f"##contig=<ID={c},length={ln}>" if ln else f"##contig=<ID={c}>"
               for c, ln in panel.contigs]
    header.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                             "FORMAT", *plan.sample_ids]))
    with pysam.BGZFile(str(tmp), "wb", index=None) as fh:
        fh.write(("\n".join(header) + "\n").encode())
        n_rec = len(panel.chrom)
        for r0 in range(0, n_rec, chunk_records):
            r1 = min(n_rec, r0 + chunk_records)
            sub = SourcePanel(
                path=panel.path, contigs=panel.contigs, chrom=panel.chrom[r0:r1],
                pos=panel.pos[r0:r1], vid=panel.vid[r0:r1], ref=panel.ref[r0:r1],
                alt=panel.alt[r0:r1], haps=panel.haps[r0:r1], samples=panel.samples,
                x_ploidy=panel.x_ploidy, genes=panel.genes)
            gt = genotypes(sub, plan, 0, plan.n)
            lines = []
            for j in range(r1 - r0):
                i = r0 + j
                fixed = [panel.chrom[i], str(int(panel.pos[i])), panel.vid[i], panel.ref[i],
                         ",".join(panel.alt[i]) or ".", ".", "PASS", ".", "GT"]
                lines.append("\t".join(fixed + _gt_strings(gt[j])))
            fh.write(("\n".join(lines) + "\n").encode())
    pysam.tabix_index(str(tmp), preset="vcf", force=True)
    os.replace(f"{tmp}.tbi", f"{path}.tbi")
    os.replace(tmp, path)


def write_vcz_store(path: Path, panel: SourcePanel, plan: Plan, block: int = 10_000) -> None:
    """VCF Zarr store through the cohort engine's `create_vcz` + `write_vcz_block`, one sample
    block at a time (memory: records x block x 2 bytes). Written under a temporary name, then
    moved into place."""
    import shutil

    from pgxguard.cohort.io_zarr import create_vcz, write_vcz_block

    names = [c for c, _ln in panel.contigs]
    lengths = [ln for _c, ln in panel.contigs]
    tmp = path.with_name(f".{path.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    create_vcz(
        tmp, sample_id=list(plan.sample_ids), contig_id=names,
        variant_contig=np.array([names.index(c) for c in panel.chrom], dtype=np.int64),
        variant_position=panel.pos,
        variant_allele=[(r, *a) for r, a in zip(panel.ref, panel.alt, strict=True)],
        ploidy=2, contig_length=None if any(ln is None for ln in lengths) else
        [int(ln) for ln in lengths if ln is not None],
        build="GRCh38", phased=True, samples_chunk=block)
    for start, g in iter_blocks(panel, plan, block):
        write_vcz_block(tmp, start, g)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)


def vcz_available() -> bool:
    try:
        from pgxguard.cohort import io_zarr
    except ImportError:
        return False
    return hasattr(io_zarr, "create_vcz") and hasattr(io_zarr, "write_vcz_block")


def generate(n: int, out: Path, *, seed: int = 1, fmt: str = "auto",
             samples_info: Path | None = None, source_vcf: Path = DEFAULT_VCF,
             source_info: Path = DEFAULT_INFO, within: str = "population",
             block: int = 10_000, genes: Sequence[str] | None = None,
             panel: SourcePanel | None = None) -> dict[str, Any]:
    """Write a synthetic cohort of `n` samples to `out`; returns what was written and timings."""
    t0 = time.perf_counter()
    panel = panel or load_panel(source_vcf, genes)
    t_panel = time.perf_counter() - t0
    info = read_source_info(source_info)
    plan = make_plan(panel, info, n, seed, within)
    if fmt == "auto":
        fmt = "vcz" if vcz_available() else "vcf"
    out.parent.mkdir(parents=True, exist_ok=True)
    t1 = time.perf_counter()
    if fmt == "vcz":
        write_vcz_store(out, panel, plan, block)
    elif fmt == "vcf":
        write_vcf(out, panel, plan)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    info_path = samples_info or out.with_name(
        out.name.removesuffix(".vcf.gz").removesuffix(".vcz") + ".samples.tsv")
    write_samples_info(info_path, panel, plan)
    return {"n": n, "format": fmt, "output": str(out), "samples_info": str(info_path),
            "records": len(panel.chrom), "genes": list(panel.genes), "seed": seed,
            "panel_s": round(t_panel, 3), "write_s": round(time.perf_counter() - t1, 3)}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("-n", type=int, required=True, help="number of synthetic samples")
    ap.add_argument("-o", "--output", type=Path, required=True,
                    help="output .vcz store or .vcf.gz file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("auto", "vcz", "vcf"), default="auto",
                    help="vcz (VCF Zarr via pgxguard.cohort.io_zarr) or vcf (bgzipped VCF); "
                         "auto: vcz when the cohort engine provides write_vcz")
    ap.add_argument("--samples-info", type=Path, default=None,
                    help="where to write the samples-info TSV (default: next to the output)")
    ap.add_argument("--source-vcf", type=Path, default=DEFAULT_VCF)
    ap.add_argument("--source-info", type=Path, default=DEFAULT_INFO)
    ap.add_argument("--within", choices=("population", "superpopulation"), default="population")
    ap.add_argument("--block", type=int, default=10_000, help="samples per block (vcz)")
    ap.add_argument("--genes", default=None, help="comma-separated genes (default: all)")
    ns = ap.parse_args(argv)
    if not ns.source_vcf.exists():
        print(f"source VCF not found: {ns.source_vcf}", file=sys.stderr)
        return 2
    res = generate(ns.n, ns.output, seed=ns.seed, fmt=ns.format, samples_info=ns.samples_info,
                   source_vcf=ns.source_vcf, source_info=ns.source_info, within=ns.within,
                   block=ns.block, genes=ns.genes.split(",") if ns.genes else None)
    import json

    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
