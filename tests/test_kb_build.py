"""Knowledge-base compiler and loader.

Expectations come from the raw pypgx CSVs (read here with zipfile + csv) or from the conversion
rules, never from the compiler's own code. Tests that rebuild from the wheel use
$PGXGUARD_PYPGX_WHEEL or /tmp/dl/pypgx-0.27.0-py3-none-any.whl and skip when it is absent; the
committed-snapshot tests need no wheel.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from pgxguard.alleles import diplotype_key
from pgxguard.errors import KnowledgeBaseError
from pgxguard.kb import build as kbbuild
from pgxguard.kb.load import SNAPSHOT_NAME, kb_info, load_knowledge_base
from pgxguard.kb.model import ActivityRange, KnowledgeBase

SNAPSHOT = Path(kbbuild.__file__).parent / "data" / SNAPSHOT_NAME
WHEEL = Path(os.environ.get("PGXGUARD_PYPGX_WHEEL", "/tmp/dl/pypgx-0.27.0-py3-none-any.whl"))
needs_wheel = pytest.mark.skipif(not WHEEL.is_file(), reason=f"pypgx wheel not at {WHEEL}")


@pytest.fixture(scope="module")
def snap() -> KnowledgeBase:
    return load_knowledge_base()


def _csv(name: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(WHEEL) as zf:
        text = zf.read(f"pypgx/api/data/{name}.csv").decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _rows(table: str, gene: str) -> list[dict[str, str]]:
    return [r for r in _csv(table) if r["Gene"] == gene]


def _core(row: dict[str, str], build: str) -> list[tuple[int, str, str]]:
    v = row[f"{build}Core"]
    if v == "N/A":
        return []
    out = []
    for item in v.split(","):
        _chrom, pos, ref, alt = item.split("-")
        out.append((int(pos), ref, alt))
    return out


# --- committed snapshot (no wheel needed) -------------------------------------------------------


def test_snapshot_provenance(snap: KnowledgeBase) -> None:
    assert snap.version.startswith("1.") and snap.version.endswith("+pypgx-0.27.0")
    (src,) = snap.sources
    assert (src.name, src.version, src.licence) == ("pypgx", "0.27.0", "MIT")
    assert src.sha256 == kbbuild.PYPGX_WHEEL_SHA256
    assert load_knowledge_base() is snap  # the default snapshot is cached


def test_every_definition_is_a_well_formed_table(snap: KnowledgeBase) -> None:
    assert len(snap.genes) > 50
    for gene, by_build in snap.definitions.items():
        for build, d in by_build.items():
            assert (d.gene, d.build) == (gene, build)
            assert d.source == "pypgx 0.27.0"
            assert [p.pos for p in d.positions] == sorted(p.pos for p in d.positions)
            ref = d.alleles[0]
            assert [c for c in ref.cells] == [p.ref for p in d.positions]  # defines every position
            names = [a.name for a in d.alleles]
            assert len(names) == len(set(names))
            assert not set(names) & set(d.structural_alleles)
            used = [False] * len(d.positions)
            for a in d.alleles[1:]:
                assert any(c is not None for c in a.cells), (gene, build, a.name)
                for i, (c, p) in enumerate(zip(a.cells, d.positions, strict=True)):
                    if c is not None:
                        assert c in p.alts, (gene, build, a.name, p.label)
                        used[i] = True
            assert all(used), (gene, build)  # every position is some allele's variant
            assert all(p.chrom == d.chrom for p in d.positions)


def test_cyp2c19_reference_alleles_and_background(snap: KnowledgeBase) -> None:
    d37 = snap.definition("CYP2C19", "GRCh37")
    d38 = snap.definition("CYP2C19", "GRCh38")
    assert d37.reference_allele == "*1"
    assert d38.reference_allele == "*38"  # gene-table GRCh38Default
    assert set(d38.structural_alleles) == {"*36", "*37"}
    # allele-table: *2 GRCh38Core "10-94775367-A-G,10-94781859-G-A"; *1 GRCh38Core 10-94842866-A-G
    cells = {p.pos: c for p, c in zip(d38.positions, d38.allele("*2").cells, strict=True)
             if c is not None}
    assert cells == {94775367: "G", 94781859: "A", 94842866: "G"}
    one = {p.pos: c for p, c in zip(d38.positions, d38.allele("*1").cells, strict=True)
           if c is not None}
    assert one == {94842866: "G"}
    # GRCh37: *1 is the default, so *2 has exactly its own two variants
    cells37 = {p.pos: c for p, c in zip(d37.positions, d37.allele("*2").cells, strict=True)
               if c is not None}
    assert cells37 == {96535124: "G", 96541616: "A"}
    # *38 on GRCh37 is an ordinary allele (core 10-96602623-G-A)
    assert "*38" in d37.allele_names


def test_ugt1a1_merged_position(snap: KnowledgeBase) -> None:
    d = snap.definition("UGT1A1", "GRCh38")
    (p,) = [p for p in d.positions if p.pos == 233760233]
    # C>CAT, CAT>C and C>CATAT over the longest REF CAT
    assert p.ref == "CAT"
    assert set(p.alts) == {"CATAT", "C", "CATATAT"}
    assert p.rsid == "rs34983651"
    i = d.positions.index(p)
    assert d.allele("*28").cells[i] == "CATAT"
    assert d.allele("*36").cells[i] == "C"
    assert d.allele("*37").cells[i] == "CATATAT"
    assert d.allele("*1").cells[i] == "CAT"
    # variant-table synonym 2-233760233-CAT-CATAT of C>CAT
    assert (233760233, "CAT", "CATAT", "CATAT") in p.synonyms


def test_cyp2b6_synonyms(snap: KnowledgeBase) -> None:
    d = snap.definition("CYP2B6", "GRCh38")
    by_pos = {p.pos: p for p in d.positions}
    # variant-table: 19-40991387-G-GGC synonyms 19-40991388-A-G,19-40991390-C-A
    assert set(by_pos[40991387].synonyms) == {(40991388, "A", "G", "GGC"),
                                              (40991390, "C", "A", "GGC")}
    assert by_pos[40991389].synonyms == ((40991391, "G", "C", "C"),)


def test_gene_flags(snap: KnowledgeBase) -> None:
    g6pd = snap.definition("G6PD", "GRCh38")
    assert (g6pd.chrom, g6pd.haploid_chrom) == ("X", "X")
    assert g6pd.reference_allele == "B (reference)"
    assert "MALE" in g6pd.structural_alleles
    mt = snap.definition("MT-RNR1", "GRCh38")
    assert (mt.chrom, mt.haploid_chrom) == ("M", "M")
    for gene in ("DPYD", "RYR1"):
        assert snap.definition(gene, "GRCh38").rule == "lowest_function"
    assert snap.definition("CACNA1S", "GRCh38").rule is None
    flagged = {g for g, by in snap.definitions.items() if by["GRCh38"].unknown_alt_as_reference}
    assert flagged == {"CACNA1S", "DPYD", "G6PD", "NUDT15", "RYR1", "TPMT"}
    assert snap.definition("CYP2C19", "GRCh38").haploid_chrom is None


def test_phenotypes(snap: KnowledgeBase) -> None:
    cyp2c19 = snap.phenotypes["CYP2C19"]
    assert cyp2c19.method == "diplotype"
    assert cyp2c19.diplotypes[diplotype_key("*2", "*2")] == "Poor Metabolizer"
    dpyd = snap.phenotypes["DPYD"]
    assert dpyd.method == "activity"
    assert dpyd.activity_ranges == (
        ActivityRange("Poor Metabolizer", 0.0, 1.0),
        ActivityRange("Intermediate Metabolizer", 1.0, 2.0),
        ActivityRange("Normal Metabolizer", 2.0, 2.0, inclusive_high=True),
    )
    cyp2d6 = {r.phenotype: r for r in snap.phenotypes["CYP2D6"].activity_ranges}
    assert cyp2d6["Ultrarapid Metabolizer"] == ActivityRange("Ultrarapid Metabolizer", 2.5, None)
    assert cyp2d6["Normal Metabolizer"].contains(1.25)
    assert not cyp2d6["Normal Metabolizer"].contains(2.5)


def test_functions_drugs_outside_genes(snap: KnowledgeBase) -> None:
    assert snap.allele_functions["CYP2D6"]["*5"] == "No Function"  # structural allele
    assert snap.allele_activity["CYP2D6"]["*10"] == 0.25
    assert snap.allele_activity["DPYD"]["c.1905+1G>A (*2A)"] == 0.0
    assert "HLA-B" in snap.allele_functions or "HLA-B" in snap.outside_only_genes
    assert {"HLA-A", "HLA-B"} <= set(snap.outside_only_genes)
    assert not set(snap.outside_only_genes) & set(snap.definitions)
    abacavir = [x for x in snap.gene_drugs if (x.gene, x.drug) == ("HLA-B", "abacavir")]
    assert len(abacavir) == 1
    assert abacavir[0].rxnorm == "190521"
    assert abacavir[0].atc == ("J05AF06", "J05AR02", "J05AR13", "J05AR04")
    assert abacavir[0].cpic_level == "A"


def test_kb_info(snap: KnowledgeBase) -> None:
    info = kb_info(snap)
    json.dumps(info)
    assert info["version"] == snap.version
    c = info["genes"]["CYP2C19"]
    assert c["builds"] == ["GRCh37", "GRCh38"]
    assert c["named_alleles"]["GRCh38"] == len(snap.definition("CYP2C19", "GRCh38").alleles)
    assert c["phenotype_method"] == "diplotype"
    assert info["genes"]["DPYD"]["rule"] == "lowest_function"


# --- snapshot files: determinism, corruption ----------------------------------------------------


def test_write_snapshot_is_deterministic_and_atomic(snap: KnowledgeBase, tmp_path: Path) -> None:
    a = kbbuild.write_snapshot(snap, tmp_path / "a.json.gz")
    b = kbbuild.write_snapshot(snap, tmp_path / "sub" / "b.json.gz")
    assert a.read_bytes() == b.read_bytes() == SNAPSHOT.read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.json.gz", "b.json.gz", "sub"]
    again = load_knowledge_base(a)
    assert again == snap


def _rewrite(path: Path, data: dict[str, Any]) -> None:
    path.write_bytes(gzip.compress(json.dumps(data).encode()))


def test_tampered_snapshot_is_rejected(tmp_path: Path) -> None:
    data = json.loads(gzip.decompress(SNAPSHOT.read_bytes()))
    d = data["definitions"]["CYP2C19"]["GRCh38"]
    d["alleles"][1]["cells"][0] = "T"
    bad = tmp_path / "tampered.json.gz"
    _rewrite(bad, data)
    with pytest.raises(KnowledgeBaseError, match="checksum"):
        load_knowledge_base(bad)


@pytest.mark.parametrize("kind", ["truncated", "not-gzip", "not-json", "list", "missing"])
def test_corrupt_snapshot_is_rejected(tmp_path: Path, kind: str) -> None:
    p = tmp_path / "kb.json.gz"
    raw = SNAPSHOT.read_bytes()
    if kind == "truncated":
        p.write_bytes(raw[: len(raw) // 2])
    elif kind == "not-gzip":
        p.write_bytes(b"hello")
    elif kind == "not-json":
        p.write_bytes(gzip.compress(b"{not json"))
    elif kind == "list":
        p.write_bytes(gzip.compress(b"[]"))
    with pytest.raises(KnowledgeBaseError) as e:
        load_knowledge_base(p)
    assert str(p) in str(e.value)
    assert e.value.hint


# --- equation parser and compile rules on small synthetic tables --------------------------------


def test_parse_equation() -> None:
    assert kbbuild.parse_equation("0 <= score < 1", "P", where="t") == ActivityRange("P", 0, 1)
    assert kbbuild.parse_equation("2 == score", "N", where="t") == ActivityRange(
        "N", 2, 2, inclusive_high=True)
    assert kbbuild.parse_equation("2.5 <= score", "U", where="t") == ActivityRange("U", 2.5, None)
    for bad in ("score < 1", "1 < score <= 2", "0 <= score < x", "2 <= score < 1", ""):
        with pytest.raises(KnowledgeBaseError):
            kbbuild.parse_equation(bad, "P", where="t")


def _tables(alleles: list[tuple[str, str, str, str]], *, ref: str = "*1",
            default37: str = "*1", default38: str = "*1") -> dict[str, list[dict[str, str]]]:
    """A one-gene (GENE1 on chr1) set of pypgx-shaped tables: (name, core37, core38, SV)."""
    variants: dict[tuple[str, str], None] = {}
    for _n, c37, c38, _sv in alleles:
        v37 = c37.split(",") if c37 != "N/A" else []
        v38 = c38.split(",") if c38 != "N/A" else []
        if len(v37) == len(v38):  # same variants, lifted
            variants.update(dict.fromkeys(zip(v37, v38, strict=True)))
        else:  # build-specific spellings
            variants.update(dict.fromkeys((a, "N/A") for a in v37))
            variants.update(dict.fromkeys(("N/A", b) for b in v38))
    return {
        "gene-table": [{"Gene": "GENE1", "PhenotypeMethod": "N/A", "RefAllele": ref,
                        "GRCh37Default": default37, "GRCh38Default": default38,
                        "GRCh37Region": "1:1-1000", "GRCh38Region": "chr1:1-1000"}],
        "allele-table": [{"Gene": "GENE1", "StarAllele": n, "ActivityScore": "N/A",
                          "Function": "Normal Function", "GRCh37Core": c37, "GRCh38Core": c38,
                          "SV": sv} for n, c37, c38, sv in alleles],
        "variant-table": [{"Gene": "GENE1", "GRCh37Name": a, "GRCh38Name": b, "rsID": "N/A",
                           "GRCh37Synonym": "N/A", "GRCh38Synonym": "N/A"} for a, b in variants],
        "diplotype-table": [], "equation-table": [], "cpic-table": [],
    }


def test_compile_merges_same_pos_variants() -> None:
    t = _tables([("*1", "N/A", "N/A", "FALSE"),
                 ("*2", "1-10-C-CAT", "1-10-C-CAT", "FALSE"),
                 ("*3", "1-10-CAT-C", "1-10-CAT-C", "FALSE"),
                 ("*4", "1-12-T-G", "1-12-T-G", "FALSE"),
                 ("*5", "N/A", "N/A", "TRUE"),
                 ("*6", "N/A", "N/A", "FALSE")])
    notes: list[str] = []
    kb = kbbuild.compile_tables(t, notes=notes)
    d = kb.definition("GENE1", "GRCh38")
    assert [(p.pos, p.ref, p.alts) for p in d.positions] == [(10, "CAT", ("C", "CATAT")),
                                                             (12, "T", ("G",))]
    assert [(a.name, a.cells) for a in d.alleles] == [
        ("*1", ("CAT", "T")), ("*2", ("CATAT", None)), ("*3", ("C", None)), ("*4", (None, "G"))]
    assert d.structural_alleles == ("*5",)
    assert any("'*6'" in n for n in notes)  # no core variants: left out, with a note
    assert "*6" in kb.allele_functions["GENE1"] and "*5" in kb.allele_functions["GENE1"]


def test_compile_rejects_non_prefix_refs() -> None:
    t = _tables([("*1", "N/A", "N/A", "FALSE"),
                 ("*2", "1-10-C-CAT", "1-10-C-CAT", "FALSE"),
                 ("*3", "1-10-GA-G", "1-10-GA-G", "FALSE")])
    with pytest.raises(KnowledgeBaseError, match="prefix"):
        kbbuild.compile_tables(t)


def test_compile_background_completion() -> None:
    # GRCh38 reference genome carries *9's base at 20; *1 (the nominal RefAllele) differs there.
    t = _tables([("*1", "N/A", "1-20-A-G", "FALSE"),
                 ("*2", "1-10-C-T", "1-10-C-T", "FALSE"),
                 ("*3", "1-30-G-A", "1-20-A-G,1-30-G-A", "FALSE"),  # re-encoded for GRCh38
                 ("*9", "1-20-G-A", "N/A", "FALSE")],
                default38="*9")
    kb = kbbuild.compile_tables(t)
    d = kb.definition("GENE1", "GRCh38")
    assert d.reference_allele == "*9"
    cells = {a.name: a.cells for a in d.alleles}
    assert [p.pos for p in d.positions] == [10, 20, 30]
    assert cells["*1"] == (None, "G", None)
    assert cells["*2"] == ("T", "G", None)  # *1's core added as background
    assert cells["*3"] == (None, "G", "A")
    d37 = kb.definition("GENE1", "GRCh37")
    assert d37.reference_allele == "*1"
    assert {a.name: a.cells for a in d37.alleles}["*2"] == ("T", None, None)


def test_identical_alleles_are_kept_with_a_note() -> None:
    t = _tables([("*1", "N/A", "N/A", "FALSE"),
                 ("*2", "1-10-C-T", "1-10-C-T", "FALSE"),
                 ("*3", "1-10-C-T", "1-10-C-T", "FALSE")])
    notes: list[str] = []
    d = kbbuild.compile_tables(t, notes=notes).definition("GENE1", "GRCh38")
    assert d.allele_names == ("*1", "*2", "*3")
    assert any("identical" in n for n in notes)


def test_download_failure_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        assert "pypgx==0.27.0" in cmd and "--no-deps" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: network is unreachable")

    monkeypatch.setattr(kbbuild.subprocess, "run", fail)
    with pytest.raises(KnowledgeBaseError, match="network is unreachable") as e:
        kbbuild.build_knowledge_base()
    assert e.value.hint and "--wheel" in e.value.hint


def test_wrong_wheel_hash_is_rejected(tmp_path: Path) -> None:
    fake = tmp_path / kbbuild.PYPGX_WHEEL
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("pypgx/api/data/gene-table.csv", "Gene\n")
    with pytest.raises(KnowledgeBaseError, match="sha256"):
        kbbuild.build_knowledge_base(fake)
    with pytest.raises(KnowledgeBaseError, match="not found"):
        kbbuild.build_knowledge_base(tmp_path / "absent.whl")


# --- rebuilding from the pinned wheel -----------------------------------------------------------


@needs_wheel
def test_rebuild_matches_committed_snapshot(tmp_path: Path) -> None:
    kb = kbbuild.build_knowledge_base(WHEEL)
    out = kbbuild.write_snapshot(kb, tmp_path / "kb.json.gz")
    assert out.read_bytes() == SNAPSHOT.read_bytes(), "snapshot is stale: run pgxguard kb build"


@needs_wheel
def test_main_writes_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "kb.json.gz"
    assert kbbuild.main(["--wheel", str(WHEEL), "-o", str(out)]) == 0
    assert out.read_bytes() == SNAPSHOT.read_bytes()
    assert "note: SULT1A1" in capsys.readouterr().err


@needs_wheel
@pytest.mark.parametrize(("gene", "build"), [("CYP2C9", "GRCh38"), ("TPMT", "GRCh37"),
                                             ("CYP2C19", "GRCh37"), ("SLCO1B1", "GRCh38"),
                                             ("CYP2B6", "GRCh38")])
def test_cells_equal_core_variants(snap: KnowledgeBase, gene: str, build: str) -> None:
    """Genes whose default is RefAllele and without same-POS REF merges: cells == core exactly."""
    gene_row = _rows("gene-table", gene)[0]
    default = gene_row[f"{build}Default"]
    d = snap.definition(gene, build)
    assert d.reference_allele == default
    expected_names = [default]
    for r in _rows("allele-table", gene):
        core = _core(r, build)
        if r["SV"] == "TRUE":
            assert r["StarAllele"] in d.structural_alleles
            continue
        if r["StarAllele"] == default or not core:
            continue
        expected_names.append(r["StarAllele"])
        got = {(p.pos, p.ref, c) for p, c in zip(d.positions, d.allele(r["StarAllele"]).cells,
                                                 strict=True) if c is not None}
        assert got == set(core), r["StarAllele"]
        a = d.allele(r["StarAllele"])
        assert a.function == r["Function"]
        assert a.activity == (None if r["ActivityScore"] == "N/A" else float(r["ActivityScore"]))
    assert sorted(d.allele_names) == sorted(expected_names)


@needs_wheel
def test_diplotype_tables_from_csv(snap: KnowledgeBase) -> None:
    for gene in ("CYP2C19", "TPMT", "G6PD"):
        rows = _rows("diplotype-table", gene)
        table = snap.phenotypes[gene].diplotypes
        assert len(rows) > 0
        for r in rows:
            a, b = r["Diplotype"].split("/")
            assert table[diplotype_key(a, b)] == r["Phenotype"]
    (row,) = [r for r in _rows("diplotype-table", "CYP2C19") if r["Diplotype"] == "*2/*2"]
    assert snap.phenotypes["CYP2C19"].diplotypes["*2/*2"] == row["Phenotype"]


@needs_wheel
def test_equations_and_drugs_from_csv(snap: KnowledgeBase) -> None:
    eq = {(r["Gene"], r["Phenotype"]) for r in _csv("equation-table")}
    got = {(g, r.phenotype) for g, p in snap.phenotypes.items() for r in p.activity_ranges}
    assert got == eq
    cpic = _csv("cpic-table")
    assert len(snap.gene_drugs) == len(cpic)
    assert {(x.gene, x.drug) for x in snap.gene_drugs} == {(r["Gene"], r["Drug"]) for r in cpic}
    methods = {r["Gene"]: r["PhenotypeMethod"] for r in _csv("gene-table")}
    assert set(snap.phenotypes) == {g for g, m in methods.items() if m != "N/A"}
