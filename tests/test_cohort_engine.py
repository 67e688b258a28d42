"""Cohort path (`pgxguard.cohort`): identical calls to `pgxguard.call`, restartability, bad samples.

Every run goes through a real dask.distributed LocalCluster of 2 worker processes (one per
module, closed at the end), as `pgxguard cohort --scheduler ADDRESS` would use it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pgxguard
from pgxguard.call.results import GeneCall
from pgxguard.cohort import CALLS_SCHEMA, CohortError, read_calls, run_cohort, write_vcz
from pgxguard.cohort.schema import row_call
from pgxguard.errors import InputError, VcfError
from vcfbuilder import VcfBuilder, from_definition

GENES = ["CYP2C19", "CYP2C9", "TPMT", "NUDT15", "SLCO1B1", "DPYD", "G6PD"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as c:
        yield str(c.scheduler_address)


# --- a generated cohort --------------------------------------------------------------------------


def _cohort_vcf(kb: Any, n: int, seed: int = 7) -> VcfBuilder:
    """n samples x GENES: random named alleles, some samples unphased, some genotypes missing,
    G6PD haploid in every third sample."""
    rng = random.Random(seed)
    samples = [f"S{i:03d}" for i in range(n)]
    builder = VcfBuilder(samples)
    for gene in GENES:
        d = kb.definitions[gene]["GRCh38"]
        names = [a.name for a in d.alleles]
        haps: dict[str, tuple[str, ...]] = {}
        for i, s in enumerate(samples):
            if gene == "G6PD" and i % 3 == 0:
                haps[s] = (rng.choice(names),)
            else:
                # Mostly the reference allele, so patterns repeat as in real cohorts.
                haps[s] = tuple(names[0] if rng.random() < 0.6 else rng.choice(names)
                                for _ in range(2))
        from_definition(d, haps, builder=builder)
    unphased = set(rng.sample(samples, n // 3))
    for r in builder.records:
        for s in samples:
            gt = r.genotypes[s]
            if s in unphased and "|" in gt:
                gt = "/".join(sorted(gt.split("|")))
            if rng.random() < 0.01:
                gt = rng.choice(["./.", "0/.", "."]) if "/" in gt or "|" in gt else "."
            r.genotypes[s] = gt
    return builder


def _vcf_to_vcz(vcf: Path, out: Path) -> Path:
    """A VCF Zarr store of the VCF's GT (test helper; vcf2zarr does this for real data)."""
    from cyvcf2 import VCF

    v = VCF(str(vcf), gts012=False, strict_gt=False)
    contigs = list(v.seqnames)
    pos, cont, alleles, gts, phased = [], [], [], [], []
    for rec in v:
        arr = rec.genotype.array()
        pos.append(rec.POS)
        cont.append(contigs.index(rec.CHROM))
        alleles.append([rec.REF, *rec.ALT])
        g = np.full((arr.shape[0], 2), -2, dtype=np.int8)
        g[:, : arr.shape[1] - 1] = arr[:, :-1]
        gts.append(g)
        phased.append(arr[:, -1].astype(bool))
    samples = list(v.samples)
    v.close()
    write_vcz(out, sample_id=samples, contig_id=contigs, variant_contig=cont,
              variant_position=pos, variant_allele=alleles, call_genotype=np.stack(gts),
              call_genotype_phased=np.stack(phased), build="GRCh38", samples_chunk=16,
              variants_chunk=64)
    return out


def _vcf_to_pgen(vcf: Path, prefix: Path, males: set[str]) -> Path:
    """A PLINK 2 fileset of the VCF's GT (haploid calls written as PLINK does: homozygous)."""
    from cyvcf2 import VCF

    from pgxguard.cohort.io_plink import write_pgen

    v = VCF(str(vcf), gts012=False, strict_gt=False)
    chrom, pos, ids, ref, alts, gts, phased = [], [], [], [], [], [], []
    for rec in v:
        arr = rec.genotype.array()
        g = arr[:, :2].astype(np.int64)
        if arr.shape[1] == 2:  # all haploid
            g = np.stack([arr[:, 0], arr[:, 0]], axis=1)
        g = np.where(g == -2, g[:, :1], g)  # haploid in a diploid record: written homozygous
        chrom.append(rec.CHROM)
        pos.append(rec.POS)
        ids.append(rec.ID or ".")
        ref.append(rec.REF)
        alts.append(tuple(rec.ALT))
        gts.append(g)
        phased.append(arr[:, -1].astype(bool) & (g[:, 0] != g[:, 1]))
    samples = list(v.samples)
    v.close()
    return write_pgen(prefix, samples=samples, sexes=[1 if s in males else 2 for s in samples],
                      chrom=chrom, pos=pos, ids=ids, ref=ref, alts=alts,
                      alleles=np.stack(gts), phased=np.stack(phased), build="GRCh38")


def _expected(result: Any) -> dict[tuple[str, str], GeneCall]:
    return {(s.sample, g.gene): g for s in result.samples for g in s.genes}


def _observed(outdir: Path) -> dict[tuple[str, str], GeneCall]:
    """Each row read back as the whole `GeneCall` it was written from; the derived columns
    checked against that call."""
    t = read_calls(outdir)
    assert t.schema.equals(CALLS_SCHEMA)
    rows = t.to_pylist()
    out = {}
    for r in rows:
        gc = row_call(r)
        assert r["diplotype_text"] == gc.diplotype_text(), r
        assert r["n_missing"] == len(gc.missing_positions), r
        out[(r["sample"], r["gene"])] = gc
    assert len(out) == len(rows), "one row per sample x gene"
    return out


def _assert_same(expected: dict[Any, Any], observed: dict[Any, Any]) -> None:
    assert observed.keys() == expected.keys()
    diffs = [k for k in expected if expected[k] != observed[k]]
    assert not diffs, f"{len(diffs)} differ, first {diffs[0]}: " \
                      f"{expected[diffs[0]]} != {observed[diffs[0]]}"


@pytest.fixture(scope="module")
def cohort_vcf(kb: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "cohort.vcf.gz"
    return _cohort_vcf(kb, 60).write(path, compress="bgzip", index=True)


@pytest.mark.parametrize("assume_reference", [False, True])
@pytest.mark.parametrize("kind", ["vcf", "vcz"])
def test_generated_cohort_identical_to_call(kb: Any, cluster: str, cohort_vcf: Path,
                                            tmp_path: Path, kind: str,
                                            assume_reference: bool) -> None:
    genes = [*GENES, "CYP2D6"]  # CYP2D6 has no record: not covered
    source = cohort_vcf if kind == "vcf" else _vcf_to_vcz(cohort_vcf, tmp_path / "c.vcz")
    # Small sample blocks: several partitions per gene, blocks of uneven size.
    summary = run_cohort(source, tmp_path / "out", genes=genes, scheduler=cluster,
                         chunk_samples=25, assume_reference=assume_reference)
    assert summary.partitions == len(genes) * 3 and summary.computed == summary.partitions
    expected = _expected(pgxguard.call(cohort_vcf, genes=genes, kb=kb,
                                       assume_reference=assume_reference))
    _assert_same(expected, _observed(tmp_path / "out"))
    rows = read_calls(tmp_path / "out", genes=["CYP2D6"]).to_pylist()
    assert all("no_call" in r["flags"] and "sv_not_assessed" in r["flags"] for r in rows)
    if assume_reference:
        flagged = read_calls(tmp_path / "out", genes=["TPMT"]).to_pylist()
        assert all("assumed_reference" in r["flags"] for r in flagged)


def test_vcz_written_by_bio2zarr(kb: Any, cluster: str, cohort_vcf: Path,
                                 tmp_path: Path) -> None:
    """The reader follows bio2zarr's real layout (zarr format 2, vlen strings, fill values)."""
    pytest.importorskip("bio2zarr")
    from bio2zarr import vcf as v2z

    store = tmp_path / "b2z.vcz"
    v2z.convert([str(cohort_vcf)], str(store), worker_processes=0, show_progress=False)
    run_cohort(store, tmp_path / "out", genes=GENES, scheduler=cluster, chunk_samples=40)
    _assert_same(_expected(pgxguard.call(cohort_vcf, genes=GENES, kb=kb)),
                 _observed(tmp_path / "out"))


@pytest.mark.parametrize("kind", ["vcf", "bio2zarr"])
def test_copy_number_identical_to_call(kb: Any, cluster: str, tmp_path: Path,
                                       kind: str) -> None:
    """FORMAT/CN reaches the cohort kernel exactly as it reaches `pgxguard.call`."""
    d = kb.definitions["CYP2D6"]["GRCh38"]
    rng = random.Random(11)
    names = ["*1", "*2", "*4", "*10", "*17", "*41"]
    samples = [f"S{i:02d}" for i in range(30)]
    haps = {s: (rng.choice(names), rng.choice(names)) for s in samples}
    b = from_definition(d, haps, phased=False)
    cn = {s: rng.choice([0, 1, 2, 2, 3, 4]) for s in samples[:-3]}  # 3 samples without CN
    lo, hi = min(p.pos for p in d.positions), max(p.end for p in d.positions)
    b.add("22", lo - 500, "N", ["<CNV>"], {s: "0/1" for s in cn},
          fmt_extra={"CN": {s: str(c) for s, c in cn.items()}},
          info={"SVTYPE": "CNV", "END": str(hi + 500)})
    vcf = b.write(tmp_path / "cn.vcf.gz", compress="bgzip", index=True)
    source: Path = vcf
    if kind == "bio2zarr":
        pytest.importorskip("bio2zarr")
        from bio2zarr import vcf as v2z

        source = tmp_path / "cn.vcz"
        v2z.convert([str(vcf)], str(source), worker_processes=0, show_progress=False)
    run_cohort(source, tmp_path / "out", genes=["CYP2D6"], scheduler=cluster, chunk_samples=16)
    expected = _expected(pgxguard.call(vcf, genes=["CYP2D6"], kb=kb))
    _assert_same(expected, _observed(tmp_path / "out"))
    used = [r for r in read_calls(tmp_path / "out").to_pylist() if r["copy_number"] is not None]
    assert len(used) == len(cn) and all("copy_number" in r["flags"] for r in used)


def test_pharmcat_definitions_identical_to_call(cluster: str, tmp_path: Path) -> None:
    """`--definitions` reaches the workers: PharmCAT's NAT2 file, unphased samples, so the NAT2
    priority table applies; identical to `pgxguard.call(definitions=...)`."""
    from pgxguard.kb.pharmcat import load_pharmcat_definition

    defs = Path(__file__).parent / "data" / "pharmcat" / "nat2"
    d = load_pharmcat_definition(defs / "NAT2_translation.json")
    rng = random.Random(5)
    names = [a.name for a in d.alleles]
    samples = [f"N{i:02d}" for i in range(40)]
    b = from_definition(d, {s: (rng.choice(names[:12]), rng.choice(names[:12]))
                            for s in samples}, phased=False)
    vcf = b.write(tmp_path / "nat2.vcf.gz", compress="bgzip", index=True)
    summary = run_cohort(vcf, tmp_path / "out", genes=["NAT2"], scheduler=cluster,
                         chunk_samples=15, definitions=defs)
    assert summary.partitions == 3
    expected = _expected(pgxguard.call(vcf, genes=["NAT2"], definitions=defs))
    _assert_same(expected, _observed(tmp_path / "out"))
    rows = read_calls(tmp_path / "out").to_pylist()
    assert any("priority_pick" in r["flags"] for r in rows)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["knowledge_base"]["version"].startswith("definitions:nat2:")
    assert manifest["knowledge_base"]["gene_rules"][0]["genes"] == ["NAT2"]


def test_lowest_function_rules_identical_to_call(cluster: str, tmp_path: Path) -> None:
    """DPYD and RYR1 with PharmCAT's own test cases as samples (combinations, phase-set ties,
    the HapB3 rule, unphased variant lists): the cohort kernel gives `pgxguard.call`'s calls."""
    from kbfacts import KB
    from pharmcat_lowest_function_cases import CASES, hapb3_cases
    from pharmcat_style import Sample, pharmcat_samples

    cases = [c for c in CASES + hapb3_cases() if c.gene == "DPYD" and c.known is None]
    samples = {f"P{k:03d}": Sample(c.variations, c.phased, c.missing)
               for k, c in enumerate(cases)}
    vcf = pharmcat_samples(KB.definition("DPYD", "GRCh38"), samples).write(
        tmp_path / "dpyd.vcf.gz", compress="bgzip", index=True)
    run_cohort(vcf, tmp_path / "out", genes=["DPYD"], scheduler=cluster, chunk_samples=50)
    expected = _expected(pgxguard.call(vcf, genes=["DPYD"], kb=KB))
    _assert_same(expected, _observed(tmp_path / "out"))
    rows = read_calls(tmp_path / "out").to_pylist()
    assert any("tie" in r["flags"] for r in rows)
    assert any(x.startswith("[") for r in rows for d in r["diplotypes"] for x in d)
    assert any("variants_listed" in r["flags"] for r in rows)

    ryr1 = [c for c in CASES if c.gene == "RYR1"]
    samples = {f"R{k:02d}": Sample(c.variations, c.phased, c.missing) for k, c in enumerate(ryr1)}
    vcf = pharmcat_samples(KB.definition("RYR1", "GRCh38"), samples).write(
        tmp_path / "ryr1.vcf.gz", compress="bgzip", index=True)
    run_cohort(vcf, tmp_path / "out1", genes=["RYR1"], scheduler=cluster, chunk_samples=8)
    _assert_same(_expected(pgxguard.call(vcf, genes=["RYR1"], kb=KB)),
                 _observed(tmp_path / "out1"))


def test_plink2_pgen_identical_to_call(kb: Any, cluster: str, tmp_path: Path) -> None:
    """A PLINK 2 fileset of the same genotypes gives the calls `pgxguard.call` gives on the VCF:
    phase, multi-allelic records, missing calls and male chrX (G6PD) included. PLINK cannot hold
    half-missing calls ('0/.'), so the VCF here has whole missing calls only."""
    builder = _cohort_vcf(kb, 45, seed=3)
    males = set()
    for r in builder.records:
        for smp, gt in r.genotypes.items():
            if "." in gt and gt not in ("./.", ".|.", "."):
                r.genotypes[smp] = "./."
            if r.chrom == "X" and gt.isdigit():
                males.add(smp)
    vcf = builder.write(tmp_path / "c.vcf.gz", compress="bgzip", index=True)
    pgen = _vcf_to_pgen(vcf, tmp_path / "c", males)
    summary = run_cohort(pgen, tmp_path / "out", genes=GENES, scheduler=cluster,
                         chunk_samples=20)
    assert summary.partitions == len(GENES) * 3
    _assert_same(_expected(pgxguard.call(vcf, genes=GENES, kb=kb)), _observed(tmp_path / "out"))
    g6pd = {r["sample"]: r for r in read_calls(tmp_path / "out", genes=["G6PD"]).to_pylist()}
    assert males and all(len(g6pd[m]["diplotypes"][0]) == 1 for m in males
                         if g6pd[m]["diplotypes"])


def test_plink_input_errors(tmp_path: Path) -> None:
    from pgxguard.cohort.io_plink import plink_info

    pgen = tmp_path / "x.pgen"
    pgen.write_bytes(b"")
    with pytest.raises(InputError, match=r"x\.pvar is missing"):
        run_cohort(pgen, tmp_path / "out")
    (tmp_path / "x.pvar").write_text("#CHROM\tPOS\tID\tREF\tALT\n22\t1\t.\tA\tG\n")
    (tmp_path / "x.psam").write_text("#IID\nA\nA\n")
    with pytest.raises(pgxguard.errors.SampleError, match="appears twice"):
        plink_info(pgen)
    (tmp_path / "x.psam").write_text("#IID\nA\nB\n")
    with pytest.raises(InputError, match="cannot tell the genome build"):
        run_cohort(pgen, tmp_path / "out")


# --- restartability ----------------------------------------------------------------------------


def test_rerun_recomputes_only_missing_partition(cluster: str, cohort_vcf: Path,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_cohort(cohort_vcf, out, genes=GENES, scheduler=cluster, chunk_samples=30)
    assert (first.computed, first.skipped) == (len(GENES) * 2, 0)
    before = _observed(out)
    (out / "calls" / "gene=TPMT" / "part-1.parquet").unlink()
    again = run_cohort(cohort_vcf, out, genes=GENES, scheduler=cluster, chunk_samples=30)
    assert (again.computed, again.skipped) == (1, len(GENES) * 2 - 1)
    assert _observed(out) == before
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["partitions_done"] == len(GENES) * 2
    assert manifest["partitions"]["TPMT/1"]["samples"] == 30
    assert manifest["knowledge_base"]["version"] and manifest["tool"]["version"]
    assert manifest["options"]["chunk_samples"] == 30 and manifest["build"] == "GRCh38"


def test_killed_run_resumes(cluster: str, cohort_vcf: Path, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    from pgxguard.cohort import runner

    out = tmp_path / "out"
    monkeypatch.setattr(runner, "_partitions_to_fail", lambda: {"CYP2C19/0", "DPYD/1"})
    with pytest.raises(CohortError, match="rerun"):
        run_cohort(cohort_vcf, out, genes=GENES, scheduler=cluster, chunk_samples=30)
    monkeypatch.undo()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    assert set(manifest["failed_partitions"]) == {"CYP2C19/0", "DPYD/1"}
    assert not (out / "calls" / "gene=CYP2C19" / "part-0.parquet").exists()
    resumed = run_cohort(cohort_vcf, out, genes=GENES, scheduler=cluster, chunk_samples=30)
    assert (resumed.computed, resumed.skipped) == (2, len(GENES) * 2 - 2)
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
    assert read_calls(out).num_rows == 60 * len(GENES)


def test_other_input_or_options_in_same_outdir(cluster: str, cohort_vcf: Path,
                                               tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_cohort(cohort_vcf, out, genes=["TPMT"], scheduler=cluster)
    with pytest.raises(InputError, match="--overwrite"):
        run_cohort(cohort_vcf, out, genes=["TPMT"], scheduler=cluster, assume_reference=True)
    s = run_cohort(cohort_vcf, out, genes=["TPMT"], scheduler=cluster, assume_reference=True,
                   overwrite=True)
    assert s.computed == 1
    assert json.loads((out / "manifest.json").read_text())["options"]["assume_reference"]


# --- bad input ---------------------------------------------------------------------------------


def test_bad_sample_is_reported_not_fatal(kb: Any, cluster: str, tmp_vcf: Callable[..., Path],
                                          tmp_path: Path) -> None:
    d = kb.definitions["TPMT"]["GRCh38"]
    names = [a.name for a in d.alleles]
    b = from_definition(d, {"A": (names[0], names[1]), "B": (names[1], names[2]),
                            "C": (names[0], names[0])})
    for r in b.records:
        r.genotypes["B"] = "0/1/1"  # triploid: the single-sample path raises on it
    vcf = tmp_vcf(b, compress=True, index=True)
    s = run_cohort(vcf, tmp_path / "out", genes=["TPMT"], scheduler=cluster)
    assert [(x["sample"], x["gene"]) for x in s.bad_samples] == [("B", "TPMT")]
    assert "IndexError" in s.bad_samples[0]["error"]
    rows = {r["sample"]: r for r in read_calls(tmp_path / "out").to_pylist()}
    assert rows["B"]["flags"] == ["error"] and rows["B"]["source"] == "error"
    assert rows["A"]["diplotype_text"] == f"{names[0]}/{names[1]}"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["bad_samples"][0]["sample"] == "B"


def test_unindexed_vcf_is_refused(kb: Any, tmp_vcf: Callable[..., Path], tmp_path: Path) -> None:
    d = kb.definitions["TPMT"]["GRCh38"]
    vcf = tmp_vcf(from_definition(d, {"A": (d.alleles[0].name,) * 2}), compress=True)
    with pytest.raises(VcfError, match="indexed"):
        run_cohort(vcf, tmp_path / "out", genes=["TPMT"])
    plain = tmp_vcf(from_definition(d, {"A": (d.alleles[0].name,) * 2}))
    with pytest.raises(VcfError, match="indexed"):
        run_cohort(plain, tmp_path / "out", genes=["TPMT"])


def test_no_record_near_any_gene_is_an_error(kb: Any, cluster: str,
                                             tmp_vcf: Callable[..., Path],
                                             tmp_path: Path) -> None:
    d = kb.definitions["TPMT"]["GRCh38"]
    vcf = tmp_vcf(from_definition(d, {"A": (d.alleles[0].name,) * 2}), compress=True,
                  index=True)
    with pytest.raises(VcfError, match="no record overlaps"):
        run_cohort(vcf, tmp_path / "out", genes=["CYP2C19"], scheduler=cluster)


def test_samples_info_runs_the_analysis(cluster: str, cohort_vcf: Path,
                                        tmp_path: Path) -> None:
    """--samples-info: the run ends with the frequency analysis (imported, not guarded)."""
    info = tmp_path / "samples.tsv"
    info.write_text("sample\tpopulation\tsuperpopulation\nS000\tX\tY\n")
    s = run_cohort(cohort_vcf, tmp_path / "out", genes=["TPMT"], scheduler=cluster,
                   samples_info=info)
    assert s.analysis is not None
    assert all(Path(f).is_file() for f in s.analysis.files.values())


def test_cli_cohort(cluster: str, cohort_vcf: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pgxguard.cli import app

    res = CliRunner().invoke(app, ["cohort", str(cohort_vcf), "-o", str(tmp_path / "out"),
                                   "--genes", "TPMT,NUDT15", "--scheduler", cluster,
                                   "--chunk-samples", "50"])
    assert res.exit_code == 0, res.output
    assert "4 partitions" in res.output
    assert read_calls(tmp_path / "out").num_rows == 120
    res = CliRunner().invoke(app, ["cohort", str(cohort_vcf), "-o", str(tmp_path / "out"),
                                   "--genes", "TPMT", "--scheduler", cluster])
    assert res.exit_code == 2 and "--overwrite" in res.output
    # --definitions: PharmCAT-format files instead of the knowledge base (here a gene the
    # input does not cover: the run says so and stops)
    defs = Path(__file__).parent / "data" / "pharmcat" / "nat2"
    res = CliRunner().invoke(app, ["cohort", str(cohort_vcf), "-o", str(tmp_path / "o2"),
                                   "--definitions", str(defs), "--scheduler", cluster])
    assert res.exit_code != 0 and "NAT2" in res.output
    res = CliRunner().invoke(app, ["cohort", str(cohort_vcf), "-o", str(tmp_path / "o3"),
                                   "--definitions", str(tmp_path), "--scheduler", cluster])
    assert res.exit_code == 3 and "no PharmCAT definition files" in res.output


@pytest.mark.slow  # starts its own local Dask cluster
def test_embedded_local_cluster(kb: Any, cohort_vcf: Path, tmp_path: Path) -> None:
    """No --scheduler: pgxguard starts (and closes) its own LocalCluster."""
    s = run_cohort(cohort_vcf, tmp_path / "out", genes=["TPMT", "NUDT15"], workers=2)
    assert s.computed == 2
    _assert_same(_expected(pgxguard.call(cohort_vcf, genes=["TPMT", "NUDT15"], kb=kb)),
                 _observed(tmp_path / "out"))


# --- 1000 Genomes --------------------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.slow
def test_1kgp_cohort_identical_to_call(kgp_dir: Path, kb: Any, cluster: str,
                                       tmp_path: Path) -> None:
    vcf = kgp_dir / "pgx_genes.grch38.vcf.gz"
    summary = run_cohort(vcf, tmp_path / "out", scheduler=cluster, assume_reference=True)
    expected = _expected(pgxguard.call(vcf, assume_reference=True, kb=kb))
    assert summary.samples == 3202
    _assert_same(expected, _observed(tmp_path / "out"))


def _write_bed(prefix: Path, samples: list[str], records: list[tuple[str, int, str, str]],
               genos: list[list[int]]) -> Path:
    """A PLINK 1 fileset written by hand from the format description: `genos[v][s]` is the
    ALT allele count (-1 missing); .bim column 5 is A1 (ALT), column 6 A2 (REF)."""
    code = {0: 0b11, 1: 0b10, 2: 0b00, -1: 0b01}  # hom A2, het, hom A1, missing
    body = bytearray(b"\x6c\x1b\x01")
    for row in genos:
        for i in range(0, len(row), 4):
            byte = 0
            for j, gt in enumerate(row[i:i + 4]):
                byte |= code[gt] << (2 * j)
            body.append(byte)
    prefix.with_suffix(".bed").write_bytes(bytes(body))
    prefix.with_suffix(".bim").write_text("".join(
        f"{c}\t{c}:{p}\t0\t{p}\t{alt}\t{ref}\n" for c, p, ref, alt in records))
    prefix.with_suffix(".fam").write_text("".join(f"F\t{s}\t0\t0\t0\t-9\n" for s in samples))
    return prefix.with_suffix(".bed")


def test_plink1_bed_identical_to_call(kb: Any, cluster: str, tmp_path: Path) -> None:
    """A PLINK 1 .bed (unphased biallelic calls; no header, so --build) gives the calls the
    equivalent unphased VCF gives."""
    d = kb.definitions["CYP2C19"]["GRCh38"]
    rng = random.Random(9)
    names = [a.name for a in d.alleles]
    samples = [f"P{i}" for i in range(11)]
    b = from_definition(d, {s: (rng.choice(names), rng.choice(names)) for s in samples},
                        phased=False)
    b.records = [r for r in b.records if len(r.alts) == 1 and len(r.ref) == len(r.alts[0]) == 1]
    for r in b.records:
        if rng.random() < 0.1:
            r.genotypes[samples[0]] = "./."
    vcf = b.write(tmp_path / "c.vcf.gz", compress="bgzip", index=True)
    genos = [[-1 if "." in r.genotypes[s] else sum(int(x) for x in r.genotypes[s].split("/"))
              for s in samples] for r in b.records]
    bed = _write_bed(tmp_path / "c", samples,
                     [("chr10", r.pos, r.ref, r.alts[0]) for r in b.records], genos)
    run_cohort(bed, tmp_path / "out", genes=["CYP2C19"], scheduler=cluster, build="GRCh38",
               assume_reference=True)
    expected = _expected(pgxguard.call(vcf, genes=["CYP2C19"], kb=kb, assume_reference=True))
    _assert_same(expected, _observed(tmp_path / "out"))
