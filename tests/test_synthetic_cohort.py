"""bench/synthetic_cohort.py: deterministic resampling of whole source haplotypes by group."""

from __future__ import annotations

import csv
import gzip
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pysam = pytest.importorskip("pysam")

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import synthetic_cohort as sc  # noqa: E402

KGP = Path(os.environ.get("PGXGUARD_1KGP_DIR")
           or Path(__file__).resolve().parents[2] / "shared" / "data" / "1kgp")

# Source samples: P1/P2 in population AAA (superpopulation S1), Q1/Q2 in BBB (S2). Every
# sample's strand carries a distinct pattern so the test can tell which strand was copied.
SOURCE = {
    "P1": ("AAA", "S1", "male"), "P2": ("AAA", "S1", "female"),
    "Q1": ("BBB", "S2", "male"), "Q2": ("BBB", "S2", "female"),
}


def _source(tmp_path: Path, kb: Any) -> tuple[Path, Path, list[tuple[str, int, str, str]]]:
    c19 = kb.definition("CYP2C19", "GRCh38")
    g6pd = kb.definition("G6PD", "GRCh38")
    snvs = [p for p in c19.positions if p.is_snv][:3]
    xsnv = next(p for p in g6pd.positions if p.is_snv)
    # autosomal strands (P1.0, P1.1, P2.0, P2.1, Q1.0, Q1.1, Q2.0, Q2.1): bit patterns
    strands = {"P1": ("100", "010"), "P2": ("001", "110"), "Q1": ("011", "101"),
               "Q2": ("111", "000")}
    recs: list[tuple[str, int, str, str]] = []
    lines = ["##fileformat=VCFv4.2", "##reference=GRCh38",
             "##contig=<ID=chr10,length=133797422>", "##contig=<ID=chrX,length=156040895>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                        *SOURCE])]
    for i, p in enumerate(snvs):
        gts = [f"{strands[s][0][i]}|{strands[s][1][i]}" for s in SOURCE]
        lines.append("\t".join(["chr10", str(p.pos), ".", p.ref, p.alts[0], ".", "PASS", ".",
                                "GT", *gts]))
        recs.append(("chr10", p.pos, p.ref, p.alts[0]))
    # chrX: males haploid (P1 -> 1, Q1 -> 0), females diploid
    lines.append("\t".join(["chrX", str(xsnv.pos), ".", xsnv.ref, xsnv.alts[0], ".", "PASS", ".",
                            "GT", "1", "0|1", "0", "1|1"]))
    recs.append(("chrX", xsnv.pos, xsnv.ref, xsnv.alts[0]))
    # a record far from every definition position: must be dropped
    lines.append("\t".join(["chr10", str(snvs[-1].pos + 5000), ".", "A", "G", ".", "PASS", ".",
                            "GT", "1|1", "1|1", "1|1", "1|1"]))
    lines.sort(key=lambda s: (not s.startswith("#"), s.startswith("chrX"),
                              int(s.split("\t")[1]) if not s.startswith("#") else 0))
    vcf = tmp_path / "src.vcf.gz"
    with pysam.BGZFile(str(vcf), "wb", index=None) as fh:
        fh.write(("\n".join(lines) + "\n").encode())
    pysam.tabix_index(str(vcf), preset="vcf", force=True)
    info = tmp_path / "src.tsv"
    with info.open("w") as fh:
        fh.write("sample\tsex\tpopulation\tpopulation_name\tsuperpopulation\textra\n")
        for s, (pop, sp, sex) in SOURCE.items():
            fh.write(f"{s}\t{sex}\t{pop}\t{pop} name\t{sp}\tx\n")
    return vcf, info, recs


def _read_vcf(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    with gzip.open(path, "rt") as fh:
        rows = [line.rstrip("\n").split("\t") for line in fh if not line.startswith("##")]
    samples = rows[0][9:]
    per_sample: dict[str, list[str]] = {s: [] for s in samples}
    for r in rows[1:]:
        for s, gt in zip(samples, r[9:], strict=True):
            per_sample[s].append(gt)
    return [f"{r[0]}:{r[1]}" for r in rows[1:]], per_sample


def _info(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_small_source_resampling(tmp_path: Path, kb: Any) -> None:
    vcf, info, recs = _source(tmp_path, kb)
    panel = sc.load_panel(vcf, ["CYP2C19", "G6PD"])
    assert len(panel.chrom) == len(recs)  # the far record is not kept
    assert panel.x_ploidy.tolist() == [1, 2, 1, 2]
    out = tmp_path / "syn.vcf.gz"
    res = sc.generate(200, out, seed=7, fmt="vcf", source_vcf=vcf, source_info=info,
                      genes=["CYP2C19", "G6PD"])
    assert res["records"] == len(recs)
    sites, gts = _read_vcf(out)
    assert len(gts) == 200 and len(sites) == len(recs)
    strands = {"P1": ("100", "010"), "P2": ("001", "110"), "Q1": ("011", "101"),
               "Q2": ("111", "000")}
    x_alleles = {("P1", 0): "1", ("P2", 0): "0", ("P2", 1): "1", ("Q1", 0): "0",
                 ("Q2", 0): "1", ("Q2", 1): "1"}
    pops = {"AAA": {"P1", "P2"}, "BBB": {"Q1", "Q2"}}
    rows = _info(Path(res["samples_info"]))
    assert [r["sample"] for r in rows] == list(gts)
    for r in rows:
        srcs = [r["hap1_source"].split(":"), r["hap2_source"].split(":")]
        assert {s for s, _h in srcs} <= pops[r["population"]]
        assert r["superpopulation"] == {"AAA": "S1", "BBB": "S2"}[r["population"]]
        g = gts[r["sample"]]
        # autosomal genotypes are exactly the two copied strands, phase kept
        for i in range(3):
            want = f"{strands[srcs[0][0]][int(srcs[0][1])][i]}|" \
                   f"{strands[srcs[1][0]][int(srcs[1][1])][i]}"
            assert g[i] == want
        xs = [x.split(":") for x in r["x_sources"].split(",")]
        assert {s for s, _h in xs} <= pops[r["population"]]
        if r["sex"] == "male":
            assert len(xs) == 1 and g[3] == x_alleles[(xs[0][0], int(xs[0][1]))]
        else:
            assert len(xs) == 2
            assert g[3] == "|".join(x_alleles[(s, int(h))] for s, h in xs)
    assert {r["sex"] for r in rows} == {"male", "female"}
    assert {r["population"] for r in rows} == {"AAA", "BBB"}
    # readable by cyvcf2 through the index
    from cyvcf2 import VCF

    v = VCF(str(out))
    assert len(v.samples) == 200
    assert len(list(v("chr10:1-133797422"))) == 3


def test_deterministic_with_seed(tmp_path: Path, kb: Any) -> None:
    vcf, info, _recs = _source(tmp_path, kb)
    outs = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        out = tmp_path / f"{name}.vcf.gz"
        sc.generate(50, out, seed=seed, fmt="vcf", source_vcf=vcf, source_info=info,
                    genes=["CYP2C19", "G6PD"])
        with gzip.open(out) as fh:
            outs.append((fh.read(), (tmp_path / f"{name}.samples.tsv").read_bytes()))
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_blocks_do_not_change_genotypes(tmp_path: Path, kb: Any) -> None:
    vcf, info, _recs = _source(tmp_path, kb)
    panel = sc.load_panel(vcf, ["CYP2C19", "G6PD"])
    plan = sc.make_plan(panel, sc.read_source_info(info), 37, seed=3)
    whole = sc.genotypes(panel, plan, 0, plan.n)
    blocks = np.concatenate([g for _s, g in sc.iter_blocks(panel, plan, block=8)], axis=1)
    assert np.array_equal(whole, blocks)
    assert whole.shape == (4, 37, 2)
    males = np.array([s == "male" for s in plan.sex])
    assert (whole[3, males, 1] == sc.FILL).all() and (whole[3, ~males, 1] >= 0).all()


def test_within_superpopulation(tmp_path: Path, kb: Any) -> None:
    vcf, info, _recs = _source(tmp_path, kb)
    panel = sc.load_panel(vcf, ["CYP2C19", "G6PD"])
    src = sc.read_source_info(info)
    plan = sc.make_plan(panel, src, 100, seed=1, within="superpopulation")
    for i in range(plan.n):
        for k in range(2):
            assert src[panel.samples[plan.hap_src[i, k]]][1] == plan.superpopulation[i]
        assert plan.population[i].endswith("-mixed")


@pytest.mark.realdata
@pytest.mark.skipif(not (KGP / "pgx_genes.grch38.vcf.gz").exists(), reason="no 1KGP data")
def test_1kgp_superpopulations_kept(tmp_path: Path) -> None:
    panel = sc.load_panel(KGP / "pgx_genes.grch38.vcf.gz", ["CYP2C19", "CYP2D6", "G6PD"])
    src = sc.read_source_info(KGP / "samples.tsv")
    plan = sc.make_plan(panel, src, 2000, seed=11)
    sps = np.array([src[s][1] for s in panel.samples])
    for k in range(2):
        assert (sps[plan.hap_src[:, k]] == np.array(plan.superpopulation)).all()
    # group shares follow the 1KGP sizes (AFR 893/3202 = 0.279)
    share = np.mean(np.array(plan.superpopulation) == "AFR")
    assert 0.22 < share < 0.34
    # the synthetic alternate-allele frequency per superpopulation follows the source
    g = sc.genotypes(panel, plan, 0, plan.n)
    auto = ~panel.is_x
    syn = (g[auto] == 1).sum(axis=(1, 2)) / (2 * plan.n)
    source = (panel.haps[auto] == 1).sum(axis=(1, 2)) / (2 * len(panel.samples))
    assert np.abs(syn - source).max() < 0.06


def test_vcz_store_matches_plan(tmp_path: Path, kb: Any) -> None:
    import zarr

    vcf, info, recs = _source(tmp_path, kb)
    out = tmp_path / "syn.vcz"
    res = sc.generate(30, out, seed=2, fmt="vcz", source_vcf=vcf, source_info=info,
                      genes=["CYP2C19", "G6PD"], block=8)
    assert res["format"] == "vcz"
    root = zarr.open_group(str(out), mode="r")
    panel = sc.load_panel(vcf, ["CYP2C19", "G6PD"])
    plan = sc.make_plan(panel, sc.read_source_info(info), 30, seed=2)
    assert np.array_equal(np.asarray(root["call_genotype"][:]), sc.genotypes(panel, plan, 0, 30))
    assert [str(x) for x in root["sample_id"][:]] == list(plan.sample_ids)
    assert np.asarray(root["variant_position"][:]).tolist() == [p for _c, p, _r, _a in recs]
    assert not list(tmp_path.glob(".*tmp*"))
