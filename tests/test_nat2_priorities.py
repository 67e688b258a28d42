"""NAT2 unphased priorities (design.md: "NAT2 unphased ambiguities are resolved by PharmCAT's
published priority table").

Expected answers come from the sources, not from the program: the rows of PharmCAT's published
table (docs/methods/unphasedPriorities-NAT2.md, transcribed in `kb/data/unphased-priorities.json`)
and the worked example in PharmCAT's NamedAlleleMatcher-201 documentation. The definitions are
PharmCAT's own NAT2 file (tests/data/pharmcat/nat2, see its README).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import pgxguard
from pgxguard.call.rules import priorities
from pgxguard.cli import app
from pgxguard.errors import KnowledgeBaseError
from pgxguard.kb.pharmcat import load_pharmcat_definition
from pgxguard.match.matcher import match_gene
from pgxguard.match.types import SiteCall
from vcfbuilder import VcfBuilder, allele_sequences, from_definition

DEFS = Path(__file__).parent / "data" / "pharmcat" / "nat2"
RAW = json.loads((Path(pgxguard.__file__).parent / "kb" / "data" /
                  priorities.DATA_NAME).read_text())
ROWS = [[tuple(d.split("/")) for d in row] for row in RAW["genes"]["NAT2"]]
RSID_POS = {"rs1801279": 18400194, "rs1801280": 18400344, "rs1799930": 18400593,
            "rs1208": 18400806, "rs1799931": 18400860}


@pytest.fixture(scope="module")
def nat2() -> Any:
    return load_pharmcat_definition(DEFS / "NAT2_translation.json")


def _vcf_of(defn: Any, samples: dict[str, tuple[str, str]], phased: bool = False) -> VcfBuilder:
    return from_definition(defn, samples, phased=phased)


def _call(path: Path, **kw: Any) -> Any:
    return pgxguard.call(path, genes=["NAT2"], definitions=DEFS, **kw)


def test_table_is_the_published_one() -> None:
    """29 rows as published; no row's diplotypes contain another's (PharmCAT refuses that)."""
    assert len(ROWS) == 29
    assert ROWS[12] == [("*5", "*15"), ("*30", "*46"), ("*6", "*29")]
    sets = [frozenset(r) for r in ROWS]
    assert not any(a <= b for i, a in enumerate(sets) for j, b in enumerate(sets) if i != j)
    assert RAW["source"]["commit"] == "7767b0af2238d025bf9f6715a50ab4578fe3f97f"


@pytest.mark.parametrize("row", ROWS, ids=["|".join("/".join(d) for d in r) for r in ROWS])
def test_each_row_matches_its_definitions(nat2: Any, row: list[tuple[str, str]]) -> None:
    """The pick's unphased genotypes fit exactly the row's diplotypes (table and definitions
    agree), and the call reports the pick with the others as alternatives."""
    pick = row[0]
    seqs = [allele_sequences(nat2, a) for a in pick]
    sites = [SiteCall((seqs[0][i], seqs[1][i]), False, None)
             for i in range(len(nat2.positions))]
    assert set(match_gene(nat2, sites).candidates) == set(row)


def test_documented_example(nat2: Any, tmp_vcf: Callable[..., Path]) -> None:
    """NamedAlleleMatcher-201, NAT2: G/A, T/C, G/A, G/A at rs1801279, rs1801280, rs1799930,
    rs1208 would be *6/*29 or *30/*46 or *5/*15; with the priorities, *5/*15 and a note."""
    b = VcfBuilder(["S"])
    for p in nat2.positions:
        het = p.pos in [RSID_POS[r] for r in ("rs1801279", "rs1801280", "rs1799930", "rs1208")]
        b.add("8", p.pos, p.ref, p.alts, {"S": "0/1" if het else "0/0"})
    g = _call(tmp_vcf(b)).samples[0].gene("NAT2")
    assert g.diplotypes == (("*5", "*15"),) and g.score is None
    assert set(g.alternatives) == {("*6", "*29"), ("*30", "*46")}
    assert any("PharmCAT's unphased priority table" in w for w in g.warnings)
    assert not any("tie at score" in w for w in g.warnings)


def test_every_row_through_a_vcf(nat2: Any, tmp_vcf: Callable[..., Path]) -> None:
    samples = {f"R{i:02d}": row[0] for i, row in enumerate(ROWS)}
    result = _call(tmp_vcf(_vcf_of(nat2, samples)))
    for i, row in enumerate(ROWS):
        g = result.sample(f"R{i:02d}").gene("NAT2")
        assert g.diplotypes == (row[0],), row
        assert set(g.alternatives) == set(row[1:])
    rules = result.knowledge_base["gene_rules"]
    assert rules[0]["genes"] == ["NAT2"] and rules[0]["commit"] == RAW["source"]["commit"]


def test_phased_data_is_not_prioritised(nat2: Any, tmp_vcf: Callable[..., Path]) -> None:
    """Phased genotypes say which strand carries what: *1|*30 stays *1/*30."""
    g = _call(tmp_vcf(_vcf_of(nat2, {"S": ("*1", "*30")}, phased=True))).samples[0].gene("NAT2")
    assert g.diplotypes == (("*1", "*30"),) and g.alternatives == ()


def test_effectively_phased_is_not_prioritised(nat2: Any, tmp_vcf: Callable[..., Path]) -> None:
    g = _call(tmp_vcf(_vcf_of(nat2, {"S": ("*1", "*5")}))).samples[0].gene("NAT2")
    assert g.diplotypes == (("*1", "*5"),) and g.alternatives == ()


def test_missing_position_fitting_two_rows_keeps_the_ties(nat2: Any,
                                                         tmp_vcf: Callable[..., Path]) -> None:
    """*4/*49 with rs1799930 missing fits the *4/*49 and *6/*49 rows: nothing is chosen."""
    b = _vcf_of(nat2, {"S": ("*4", "*49")})
    b.records = [r for r in b.records if r.pos != RSID_POS["rs1799930"]]
    g = _call(tmp_vcf(b)).samples[0].gene("NAT2")
    assert g.alternatives == () and len(g.diplotypes) >= 1
    assert any("rows of PharmCAT's unphased priority table" in w for w in g.warnings)


def test_not_applied_to_other_nomenclature(kb: Any, nat2: Any, tmp_path: Path,
                                           tmp_vcf: Callable[..., Path]) -> None:
    """Definitions that lack an allele the table names (another nomenclature) keep their ties,
    and say the table was not applied. (The built-in NAT2 is PharmCAT's own now, so it fits:
    `test_builtin_definitions_use_the_table`.)"""
    data = json.loads((DEFS / "NAT2_translation.json").read_text())
    for a in data["namedAlleles"]:
        if a["name"] == "*29":
            a["name"] = "*29A"
    other = tmp_path / "renamed"
    other.mkdir()
    (other / "NAT2_translation.json").write_text(json.dumps(data))
    vcf = tmp_vcf(_vcf_of(nat2, {"S": ("*5", "*15")}))
    g = pgxguard.call(vcf, genes=["NAT2"], definitions=other).samples[0].gene("NAT2")
    assert set(g.diplotypes) == {("*5", "*15"), ("*6", "*29A"), ("*30", "*46")}
    assert g.alternatives == ()
    assert any("priority table was not applied" in w for w in g.warnings)


def test_builtin_definitions_use_the_table(kb: Any, tmp_vcf: Callable[..., Path]) -> None:
    """The packaged knowledge base's NAT2 is PharmCAT's definition file: the documented example
    gets the table's pick without --definitions."""
    builtin = kb.definitions["NAT2"]["GRCh38"]
    assert priorities.table_for("NAT2").fits(builtin.allele_names)  # type: ignore[union-attr]
    b = VcfBuilder(["S"])
    het = {RSID_POS[r] for r in ("rs1801279", "rs1801280", "rs1799930", "rs1208")}
    for p in builtin.positions:
        b.add("8", p.pos, p.ref, p.alts, {"S": "0/1" if p.pos in het else "0/0"})
    g = pgxguard.call(tmp_vcf(b), genes=["NAT2"]).samples[0].gene("NAT2")
    assert g.diplotypes == (("*5", "*15"),)
    assert set(g.alternatives) == {("*6", "*29"), ("*30", "*46")}


def test_checksum_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    priorities.load_priorities.cache_clear()
    monkeypatch.setattr(priorities, "SHA256", "0" * 64)
    try:
        with pytest.raises(KnowledgeBaseError, match="does not match its checksum"):
            priorities.load_priorities()
    finally:
        monkeypatch.undo()
        priorities.load_priorities.cache_clear()
    assert priorities.load_priorities()["NAT2"].rows


def test_cli(nat2: Any, tmp_vcf: Callable[..., Path], tmp_path: Path) -> None:
    vcf = tmp_vcf(_vcf_of(nat2, {"S": ("*5", "*6")}))
    out = tmp_path / "c.json"
    r = CliRunner().invoke(app, ["call", str(vcf), "--definitions", str(DEFS), "--genes", "NAT2",
                                 "-o", str(out)])
    assert r.exit_code == 0, r.output
    g = json.loads(out.read_text())["samples"][0]["genes"][0]
    assert g["diplotypes"] == [["*5", "*6"]]
    assert sorted(map(tuple, g["alternatives"])) == [("*1", "*30"), ("*16", "*34")]
    r = CliRunner().invoke(app, ["call", str(vcf), "--definitions", str(DEFS), "--genes", "NAT2",
                                 "--format", "tsv"])
    assert r.exit_code == 0, r.output
    row = r.output.splitlines()[1].split("\t")
    assert row[2] == "*5/*6" and "priority table" in row[-1]
