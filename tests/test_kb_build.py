"""Knowledge base compiled from CPIC's and DPWG's published sources (kb-sources), and its loader.

Expectations come from the published files themselves (read here with json/csv), never from the
compiler's own code. Tests that read the kb-sources tree skip when it is absent
($PGXGUARD_KB_SOURCES or ../shared/kb-sources beside the checkout); tests that rebuild also need
the pinned pypgx wheel (in $PGXGUARD_SOURCES, default /tmp/dl, fetched by `make sources`).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import pgxguard
from pgxguard.call.phenotype import phenotype_for
from pgxguard.call.pipeline import default_genes
from pgxguard.cli import app
from pgxguard.errors import KnowledgeBaseError
from pgxguard.kb import build as kbbuild
from pgxguard.kb.load import SNAPSHOT_NAME, kb_info, load_knowledge_base
from pgxguard.kb.model import IUPAC, KnowledgeBase
from pgxguard.kb.pharmcat import load_pharmcat_definition
from pgxguard.kb.sources import SourceTree, default_sources_dir
from pinned_sources import pinned
from vcfbuilder import VcfBuilder, from_definition

SNAPSHOT = Path(kbbuild.__file__).parent / "data" / SNAPSHOT_NAME
SOURCES = default_sources_dir()
WHEEL = pinned("pypgx-0.27.0-py3-none-any.whl")
needs_sources = pytest.mark.skipif(not (SOURCES / "pharmcat" / "FILES.tsv").is_file(),
                                   reason=f"kb-sources not at {SOURCES}")
needs_wheel = pytest.mark.skipif(not WHEEL.is_file(), reason=f"pypgx wheel not at {WHEEL}")
CLINICAL = {"ABCG2", "CACNA1S", "CFTR", "CYP2B6", "CYP2C19", "CYP2C9", "CYP2D6", "CYP3A4",
            "CYP3A5", "CYP4F2", "DPYD", "G6PD", "IFNL3", "MT-RNR1", "NAT2", "NUDT15", "RYR1",
            "SLCO1B1", "TPMT", "UGT1A1", "VKORC1"}


@pytest.fixture(scope="module")
def snap() -> KnowledgeBase:
    return load_knowledge_base()


def _published(rel: str) -> Any:
    return json.loads((SOURCES / rel).read_text(encoding="utf-8"))


# --- committed snapshot ----------------------------------------------------------------------


def test_clinical_genes_and_research_genes(snap: KnowledgeBase) -> None:
    assert set(snap.clinical_genes) == CLINICAL
    research = set(snap.genes) - CLINICAL
    assert {"CYP2A6", "CYP1A2", "F5"} <= research
    for g in research:
        assert all(d.research for d in snap.definitions[g].values())
        assert g not in snap.phenotypes  # no clinical phenotype for research genes
    assert default_genes(snap) == sorted(CLINICAL)
    assert {"HLA-A", "HLA-B"} <= set(snap.outside_only_genes)


def test_provenance_names_every_source_file(snap: KnowledgeBase) -> None:
    names = {s.name: s for s in snap.sources}
    pypgx = names.pop("pypgx")
    assert pypgx.version == "0.27.0" and pypgx.sha256
    assert all(s.commit and s.date and len(s.sha256) == 64 and s.licence and s.attribution
               for s in names.values())
    assert {n.split("/")[1] for n in names} == {"definitions", "phenotype"}
    assert len([n for n in names if n.startswith("pharmcat/phenotype/")]) == 20
    assert "CPIC\u00ae" in names["pharmcat/phenotype/CYP2D6.json"].attribution
    assert names["pharmcat/phenotype/CYP2D6.json"].date == "2024-08-27"
    assert any("2024-05-29" in x for x in snap.limits)
    assert snap.version.endswith("+cpic-2025-11-19")
    # and every call result carries it
    prov = pgxguard.call(None, outside_calls=_tsv_path(), kb=snap).knowledge_base
    assert {s["name"] for s in prov["sources"]} == {s.name for s in snap.sources}
    assert prov["limits"] == list(snap.limits)


_TSV: list[Path] = []


def _tsv_path() -> Path:
    if not _TSV:
        import tempfile

        p = Path(tempfile.mkdtemp()) / "oc.tsv"
        p.write_text("gene\tdiplotype\nCYP2D6\t*1/*4\n")
        _TSV.append(p)
    return _TSV[0]


def test_every_definition_is_a_well_formed_table(snap: KnowledgeBase) -> None:
    for gene, by in snap.definitions.items():
        for build, d in by.items():
            assert d.gene == gene and d.build == build
            ref = d.alleles[0]
            assert all(c is not None for c in ref.cells)
            assert len(set(d.allele_names)) == len(d.allele_names)
            for a in d.alleles:
                for p, c in zip(d.positions, a.cells, strict=True):
                    if c is None:
                        continue
                    ok = c == p.ref or c in p.alts or (p.is_snv and c in IUPAC)
                    # the reference allele may carry another build's reference base (GRCh37
                    # positions where the two genome builds differ, e.g. CYP2C19 rs3758581)
                    assert ok or (build == "GRCh37" and a is ref), (gene, build, a.name, p)


def test_kb_info(snap: KnowledgeBase) -> None:
    info = kb_info(snap)
    json.dumps(info)
    assert info["version"] == snap.version
    assert info["genes"]["DPYD"]["rule"] == "lowest_function"
    assert info["genes"]["NAT2"]["required_positions"]
    assert info["genes"]["CYP2A6"]["research"] is True
    assert info["guidance"]["guidelines"] == 118
    result = CliRunner().invoke(app, ["kb", "info"])
    assert result.exit_code == 0, result.output
    assert "limit:" in result.output and "guidance" in result.output


# --- published tables reproduced ---------------------------------------------------------------


@needs_sources
def test_every_published_phenotype_row_is_reproduced(snap: KnowledgeBase) -> None:
    """Every diplotype row of every CPIC phenotype table: same phenotype, score and lookup key."""
    rows = 0
    failures: list[str] = []
    renamed = {g: m for g, m in kbbuild.RENAMED.items()}
    for f in sorted((SOURCES / "pharmcat" / "phenotype").glob("*.json")):
        doc = json.loads(f.read_text())
        gene = doc["gene"]
        for r in doc["diplotypes"]:
            alleles: list[str] = []
            for name, n in r["diplotypekey"].items():
                alleles += [renamed.get(gene, {}).get(name, name)] * n
            ph = phenotype_for(snap, gene, alleles)
            score = r.get("activityScore")
            want_score: float | None
            try:
                want_score = float(score) if score is not None else None
            except ValueError:
                want_score = None  # "n/a", "\u22654.0": carried by the lookup key
            if doc["activityValues"] == {}:
                want_score = None
            got = (ph.phenotype, ph.activity_score, ph.lookup_key)
            if got != (r["generesult"], want_score, r["lookupkey"]):
                failures.append(f"{gene} {r['diplotype']}: {got}")
            rows += 1
    assert rows == 51107
    assert failures == []


@needs_sources
def test_definitions_are_the_published_files(snap: KnowledgeBase) -> None:
    ex = _published("pharmcat/definitions/exemptions.json")
    for f in sorted((SOURCES / "pharmcat" / "definitions").glob("*_translation.json")):
        pub = load_pharmcat_definition(f)
        ours = snap.definition(pub.gene, "GRCh38")
        ignored = set(ex.get(pub.gene, {}).get("ignoredAlleles") or ())
        assert ours.positions == pub.positions
        assert [a for a in ours.alleles] == [a for a in pub.alleles if a.name not in ignored]
        assert ours.required_positions == tuple(ex.get(pub.gene, {}).get("requiredPositions")
                                                or ())
    assert snap.definition("NAT2", "GRCh38").required_positions == (
        18400194, 18400344, 18400593, 18400806, 18400860)


@needs_sources
def test_not_assessed_alleles_are_the_reviewed_phenotype_only_ones(snap: KnowledgeBase) -> None:
    for gene, reviewed in kbbuild.PHENOTYPE_ONLY.items():
        funcs = _published(f"pharmcat/phenotype/{gene}.json")["haplotypes"]
        assert set(reviewed) <= set(funcs)
        assert set(snap.definition(gene, "GRCh38").structural_alleles) == set(reviewed)


def _lift_table() -> dict[tuple[int, str, str], tuple[int, str, str]]:
    with zipfile.ZipFile(WHEEL) as zf:
        text = zf.read("pypgx/api/data/variant-table.csv").decode("utf-8")
    out = {}
    for r in csv.DictReader(io.StringIO(text, newline="")):
        if "N/A" in (r["GRCh37Name"], r["GRCh38Name"]) or not r["GRCh38Name"]:
            continue
        _c, p38, r38, a38 = r["GRCh38Name"].split("-")
        _c, p37, r37, a37 = r["GRCh37Name"].split("-")
        out[(int(p38), r38, a38)] = (int(p37), r37, a37)
    return out


@needs_wheel
def test_grch37_positions_checked_or_interpolated(snap: KnowledgeBase) -> None:
    table = _lift_table()
    checked = interpolated = unmapped = 0
    for gene in sorted(CLINICAL - {"MT-RNR1"}):
        d38, d37 = snap.definition(gene, "GRCh38"), snap.definition(gene, "GRCh37")
        assert [a.name for a in d37.alleles] == [a.name for a in d38.alleles
                                                 if a.name not in d37.unmapped_alleles]
        by_label = {p.label: p for p in d37.positions}
        offsets = {}
        for p38 in d38.positions:
            p37 = by_label.get(p38.label)
            if p37 is None:
                assert any(f":{p38.pos} " in u for u in d37.unmapped_positions)
                unmapped += 1
                continue
            if p37.ref_confirmed:
                hits = [table[(p38.pos, p38.ref, a)] for a in p38.alts
                        if (p38.pos, p38.ref, a) in table]
                assert hits and all(h[0] == p37.pos and h[1] == p37.ref for h in hits)
                offsets[p38.pos] = p38.pos - p37.pos
                checked += 1
            else:
                interpolated += 1
        for p38 in d38.positions:
            p37 = by_label.get(p38.label)
            if p37 is not None and not p37.ref_confirmed:
                lo = max(k for k in offsets if k < p38.pos)
                hi = min(k for k in offsets if k > p38.pos)
                assert offsets[lo] == offsets[hi] == p38.pos - p37.pos
    # 1,201 positions in PharmCAT's 20 definition files; 26 lie outside every pair of checked
    # positions of their gene (worked out from the variant table separately).
    assert checked + interpolated + unmapped == 1201
    assert unmapped == 26 and checked > interpolated


def test_grch37_reference_base_swap_uses_grch37_ref(snap: KnowledgeBase) -> None:
    # CYP2C19 rs3758581: GRCh38's reference base is A (*38), GRCh37's is G (the *1 base).
    p38 = next(p for p in snap.definition("CYP2C19", "GRCh38").positions
               if p.rsid == "rs3758581")
    p37 = next(p for p in snap.definition("CYP2C19", "GRCh37").positions
               if p.rsid == "rs3758581")
    assert (p38.ref, p38.alts) == ("A", ("G",))
    assert (p37.ref, p37.alts, p37.ref_confirmed) == ("G", ("A",), True)


def test_grch37_call_lists_unmapped_positions(tmp_path: Path, snap: KnowledgeBase) -> None:
    d = snap.definition("NAT2", "GRCh37")
    assert d.unmapped_positions
    b = from_definition(d, {"S": ("*1", "*1")}, phased=False, build="GRCh37")
    vcf = tmp_path / "nat2_37.vcf"
    vcf.write_text(b.text())
    g = pgxguard.call(vcf, genes=["NAT2"]).samples[0].gene("NAT2")
    assert set(d.unmapped_positions) <= set(g.missing_positions)
    assert any("no GRCh37 coordinate" in w for w in g.warnings)


def test_assume_reference_never_fills_an_unconfirmed_grch37_position(
        tmp_path: Path, snap: KnowledgeBase) -> None:
    d = snap.definition("RYR1", "GRCh37")
    unconfirmed = [p for p in d.positions if not p.ref_confirmed]
    assert unconfirmed
    b = VcfBuilder(["S"], build="GRCh37")
    p = next(p for p in d.positions if p.ref_confirmed)
    b.add(p.chrom, p.pos, p.ref, p.alts, {"S": "0/0"})
    vcf = tmp_path / "ryr1.vcf"
    vcf.write_text(b.text())
    g = pgxguard.call(vcf, genes=["RYR1"], assume_reference=True).samples[0].gene("RYR1")
    missing = {m.split(" ")[0] for m in g.missing_positions}
    assert {f"chr{q.chrom}:{q.pos}" for q in unconfirmed} <= missing


# --- bad sources are errors --------------------------------------------------------------------


def _copy_tree(tmp_path: Path) -> Path:
    dst = tmp_path / "kb-sources"
    shutil.copytree(SOURCES, dst)
    return dst


@needs_sources
def test_altered_source_file_is_refused(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    f = root / "pharmcat" / "phenotype" / "TPMT.json"
    f.write_text(f.read_text().replace("Normal Metabolizer", "Normal Metaboliser", 1))
    tree = SourceTree(root)
    with pytest.raises(KnowledgeBaseError, match="SHA-256"):
        tree.read_json("pharmcat/phenotype/TPMT.json")


@needs_sources
def test_unlisted_source_file_is_refused(tmp_path: Path) -> None:
    root = _copy_tree(tmp_path)
    (root / "pharmcat" / "phenotype" / "EXTRA.json").write_text("{}")
    with pytest.raises(KnowledgeBaseError, match="not listed"):
        SourceTree(root).listed("pharmcat/phenotype/", ".json")


def test_missing_sources_tree_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="sources not found") as e:
        SourceTree(tmp_path)
    assert "--sources" in str(e.value)


@needs_sources
@needs_wheel
def test_unexplained_phenotype_table_allele_fails_the_build(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(kbbuild.PHENOTYPE_ONLY, "CYP2C19", {"*36": kbbuild._SV})
    with pytest.raises(KnowledgeBaseError, match=r"CYP2C19.*\*37"):
        kbbuild.build_knowledge_base(SOURCES, WHEEL)


def test_phenotype_row_with_unknown_allele_is_an_error() -> None:
    doc = {"gene": "X", "haplotypes": {"*1": "Normal function"}, "activityValues": {},
           "diplotypes": [{"diplotypekey": {"*1": 1, "*2": 1}, "generesult": "P",
                           "lookupkey": "P"}]}
    with pytest.raises(KnowledgeBaseError, match=r"\*2"):
        kbbuild.phenotype_rules(doc, "x.json", "2025")


def test_activity_score_must_be_the_sum_of_the_values() -> None:
    doc = {"gene": "X", "haplotypes": {"*1": "Normal", "*2": "No"},
           "activityValues": {"*1": "1.0", "*2": "0.0"},
           "diplotypes": [{"diplotypekey": {"*1": 1, "*2": 1}, "generesult": "IM",
                           "lookupkey": "2.0", "activityScore": "2.0"}]}
    with pytest.raises(KnowledgeBaseError, match="not the sum"):
        kbbuild.phenotype_rules(doc, "x.json", "2025")


# --- snapshot files ----------------------------------------------------------------------------


@pytest.mark.slow
def test_write_snapshot_is_deterministic_and_atomic(snap: KnowledgeBase, tmp_path: Path) -> None:
    a = kbbuild.write_snapshot(snap, tmp_path / "a.json.gz")
    b = kbbuild.write_snapshot(snap, tmp_path / "sub" / "b.json.gz")
    assert a.read_bytes() == b.read_bytes() == SNAPSHOT.read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.json.gz", "b.json.gz", "sub"]
    assert load_knowledge_base(a) == snap


def test_tampered_snapshot_is_rejected(tmp_path: Path) -> None:
    data = json.loads(gzip.decompress(SNAPSHOT.read_bytes()))
    data["definitions"]["CYP2C19"]["GRCh38"]["alleles"][1]["cells"][0] = "T"
    bad = tmp_path / "tampered.json.gz"
    bad.write_bytes(gzip.compress(json.dumps(data).encode()))
    with pytest.raises(KnowledgeBaseError, match="checksum"):
        load_knowledge_base(bad)


def test_tampered_canonical_snapshot_is_rejected(tmp_path: Path) -> None:
    # Altered but written exactly as `pgxguard kb build` writes (sorted, compact, the old
    # checksum kept): the check on the text as written must catch it, not only the fallback.
    from pgxguard.snapshot import snapshot_bytes

    data = json.loads(gzip.decompress(SNAPSHOT.read_bytes()))
    data["phenotypes"]["CYP2C19"]["rows"][0][1] = "Normal Metabolizer (altered)"
    bad = tmp_path / "tampered.json.gz"
    bad.write_bytes(snapshot_bytes(data))
    with pytest.raises(KnowledgeBaseError, match="checksum"):
        load_knowledge_base(bad)


def test_snapshot_written_another_way_still_loads(tmp_path: Path, snap: KnowledgeBase) -> None:
    # Same content, other JSON layout (indented, ASCII-escaped, other key order): the checksum
    # is over the content, so it loads and equals the bundled one.
    data = json.loads(gzip.decompress(SNAPSHOT.read_bytes()))
    other = tmp_path / "indented.json.gz"
    other.write_bytes(gzip.compress(json.dumps(dict(reversed(data.items())), indent=1).encode()))
    assert load_knowledge_base(other) == snap


@pytest.mark.parametrize("value", ["plain", "CPIC\u00ae \u2265 4.0", "\U0001F600 astral",
                                   "\u2028 \\u00ae backslash-u written out", "\x7f\x80"])
def test_checksum_on_text_matches_the_content_checksum(value: str) -> None:
    from pgxguard.kb.model import checksum_matches_text, checksum_ok, content_checksum

    body: dict[str, Any] = {"a": [1, 2.5, None], "checksum_like": value, "z": {"k": value}}
    body["checksum"] = content_checksum(body)
    # The layout snapshot_bytes writes: sorted keys, compact, non-ASCII as is.
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert checksum_matches_text(text, body["checksum"])
    assert checksum_ok(json.loads(text), text)
    altered = text.replace("2.5", "2.25")
    assert not checksum_matches_text(altered, body["checksum"])
    assert not checksum_ok(json.loads(altered), altered)
    spaced = json.dumps(body, sort_keys=True)  # other layout: only the fallback can tell
    assert not checksum_matches_text(spaced, body["checksum"])
    assert checksum_ok(json.loads(spaced), spaced)


def test_gc_paused_restores_the_collector() -> None:
    import gc

    from pgxguard.snapshot import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


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


# --- rebuild -----------------------------------------------------------------------------------


@needs_sources
@needs_wheel
def test_rebuild_matches_committed_snapshot(tmp_path: Path) -> None:
    kb = kbbuild.build_knowledge_base(SOURCES, WHEEL)
    out = kbbuild.write_snapshot(kb, tmp_path / "kb.json.gz")
    assert out.read_bytes() == SNAPSHOT.read_bytes()


@needs_sources
@needs_wheel
def test_kb_build_cli_writes_both_snapshots(tmp_path: Path) -> None:
    from pgxguard.guidance import build as gbuild

    result = CliRunner().invoke(app, [
        "kb", "build", "--sources", str(SOURCES), "--wheel", str(WHEEL),
        "-o", str(tmp_path / "kb.json.gz"), "--guidance-output", str(tmp_path / "g.json.gz"),
        "--classes", str(tmp_path / "classes.tsv")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "kb.json.gz").read_bytes() == SNAPSHOT.read_bytes()
    assert (tmp_path / "g.json.gz").read_bytes() == gbuild.DEFAULT_SNAPSHOT.read_bytes()
    docs = Path(__file__).parents[1] / "docs" / "guidance-classes.tsv"
    assert (tmp_path / "classes.tsv").read_text() == docs.read_text()


def test_kb_build_cli_without_sources_exits_3(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["kb", "build", "--sources", str(tmp_path),
                                      "-o", str(tmp_path / "kb.json.gz")])
    assert result.exit_code == 3
    assert "sources not found" in result.output
    assert not (tmp_path / "kb.json.gz").exists()
