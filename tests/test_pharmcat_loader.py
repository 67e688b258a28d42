"""PharmCAT `*_translation.json` loader; expectations written from the fixture tables by hand."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pgxguard.errors import KnowledgeBaseError
from pgxguard.kb.model import KnowledgeBase, NamedAllele, Position
from pgxguard.kb.pharmcat import load_pharmcat_definitions, parse_build

DATA = Path(__file__).parent / "data" / "pharmcat"
OK = DATA / "ok"


@pytest.fixture(scope="module")
def defs() -> dict[str, Any]:
    return load_pharmcat_definitions(OK)


def test_reads_every_translation_file_and_nothing_else(defs: dict[str, Any]) -> None:
    # exemptions.json is in the folder but is not a *_translation.json file
    assert sorted(defs) == ["DPYD", "TOYA", "TOYB", "TOYX"]


def test_snv_gene_table(defs: dict[str, Any]) -> None:
    d = defs["TOYA"]
    assert d.gene == "TOYA"
    assert d.build == "GRCh38"
    assert d.chrom == "7"
    assert d.positions == (
        Position("7", 1000, "C", ("T",), "rs9000001", "g.1000C>T"),
        Position("7", 1010, "C", ("T",), "rs9000002", "g.1010C>T"),
        Position("7", 1020, "T", ("C",), None, "g.1020T>C"),
        Position("7", 1030, "G", ("A",), "rs9000004", "g.1030G>A"),
        Position("7", 1040, "A", ("G", "T"), "rs9000005", "g.1040A>G; g.1040A>T"),
    )
    # *1 is flagged reference but listed second in the file: it moves first, others keep order
    assert d.alleles == (
        NamedAllele("*1", ("C", "C", "T", "G", "A")),
        NamedAllele("*2", ("T", "T", None, "A", None)),
        NamedAllele("*3", (None, None, "C", None, None)),
        NamedAllele("*4", (None, None, None, "R", "T")),  # IUPAC R kept
        NamedAllele("*5", ("T", None, None, None, "G")),
    )
    assert d.reference_allele == "*1"
    assert d.structural_alleles == ()
    assert d.haploid_chrom is None
    assert d.rule is None
    assert d.unknown_alt_as_reference is False
    assert d.source == "PharmCAT definition file TOYA_translation.json"


def test_indels_are_vcf_style(defs: dict[str, Any]) -> None:
    d = defs["TOYB"]
    assert d.build == "GRCh38"  # "b38"
    assert d.chrom == "2"
    assert [(p.pos, p.ref, p.alts) for p in d.positions] == [
        (5000, "A", ("G",)),
        (5100, "TG", ("T",)),  # deletion at the VCF anchor base, not cpicPosition 5102
        (5200, "C", ("CT",)),
    ]
    assert [p.is_snv for p in d.positions] == [True, False, False]
    assert d.alleles == (
        NamedAllele("*1", ("A", "TG", "C")),
        NamedAllele("*2", (None, "T", None)),
        NamedAllele("*3", ("G", None, "CT")),
    )


def test_cpic_only_cells_are_converted_to_vcf() -> None:
    d = load_pharmcat_definitions(DATA / "cpic_only")["TOYC"]
    assert d.chrom == "3"
    assert d.alleles == (
        NamedAllele("*1", ("TG", "C", "A")),
        NamedAllele("*2", ("T", None, None)),
        NamedAllele("*3", (None, "CT", "R")),
    )


def test_chrx_gene_first_allele_is_reference(defs: dict[str, Any]) -> None:
    d = defs["TOYX"]
    assert d.chrom == "X"
    assert d.haploid_chrom == "X"
    assert d.allele_names == ("B", "A-", "Mediterranean")
    assert d.allele("Mediterranean").cells == (None, "T")


def test_exemption_rules_and_structural_alleles(defs: dict[str, Any]) -> None:
    d = defs["DPYD"]
    assert d.build == "GRCh37"
    assert d.rule == "lowest_function"
    assert d.unknown_alt_as_reference is True
    assert d.allele_names == ("Reference", "c.300C>T", "c.400A>C (toy)")
    assert d.structural_alleles == ("exon 4 deletion",)


def test_definitions_survive_the_snapshot_round_trip(defs: dict[str, Any]) -> None:
    kb = KnowledgeBase(version="t", sources=(),
                       definitions={g: {d.build: d} for g, d in defs.items()})
    again = KnowledgeBase.from_json(json.loads(json.dumps(kb.to_json())))
    assert again.definitions == kb.definitions


@pytest.mark.parametrize(("raw", "build"), [
    ("GRCh38.p14", "GRCh38"), ("GRCh38", "GRCh38"), ("b38", "GRCh38"), ("hg38", "GRCh38"),
    ("GRCh37.p13", "GRCh37"), ("b37", "GRCh37"), ("hg19", "GRCh37"), ("GRCh36", None),
    ("b380", None), ("", None),
])
def test_parse_build(raw: str, build: str | None) -> None:
    assert parse_build(raw) == build


# --- malformed files -----------------------------------------------------------------------


def _toya() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((OK / "TOYA_translation.json").read_text())
    return data


def _write(tmp_path: Path, data: Any, name: str = "TOYA_translation.json") -> Path:
    (tmp_path / name).write_text(json.dumps(data) if not isinstance(data, str) else data)
    return tmp_path


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(key)


def _set_cell(allele: int, cell: int, value: Any) -> Callable[[dict[str, Any]], None]:
    def f(d: dict[str, Any]) -> None:
        d["namedAlleles"][allele]["alleles"][cell] = value
    return f


def _drop_cells(d: dict[str, Any]) -> None:
    del d["namedAlleles"][0]["alleles"], d["namedAlleles"][0]["cpicAlleles"]


BAD: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("no gene", _drop("gene"), "missing key 'gene'"),
    ("no build", _drop("genomeBuild"), "missing key 'genomeBuild'"),
    ("bad build", lambda d: d.update(genomeBuild="hg18"), "unknown genomeBuild 'hg18'"),
    ("no variants", _drop("variants"), "missing key 'variants'"),
    ("empty variants", lambda d: d.update(variants=[]), "'variants' is empty"),
    ("no alleles", _drop("namedAlleles"), "missing key 'namedAlleles'"),
    ("no position", lambda d: d["variants"][2].pop("position"),
     "TOYA variants[2]: missing key 'position'"),
    ("string position", lambda d: d["variants"][0].update(position="1000"),
     "'position' has the wrong type"),
    ("bad ref", lambda d: d["variants"][0].update(ref="X"), "ref 'X' is not a DNA sequence"),
    ("other chromosome", lambda d: d["variants"][1].update(chromosome="chr8"),
     "chromosome 'chr8' differs"),
    ("duplicate position", lambda d: d["variants"].__setitem__(1, d["variants"][0]),
     "variants[1] repeats variants[0]"),
    ("short row", lambda d: d["namedAlleles"][2]["alleles"].pop(),
     "named allele '*3': 4 cells for 5 variants (cell count mismatch)"),
    ("no cells", _drop_cells,
     "named allele '*2': missing key 'alleles'"),
    ("cell not ref or alt", _set_cell(0, 0, "G"), "base 'G' at 7:1000:C is neither"),
    ("number cell", _set_cell(0, 0, 5), "must be a string or null"),
    ("reference gap", _set_cell(1, 3, None), "reference allele '*1' has no cell at 7:1030:G"),
    ("two references", lambda d: d["namedAlleles"][0].update(reference=True),
     "more than one named allele is flagged reference"),
    ("duplicate allele", lambda d: d["namedAlleles"][2].update(name="*2"),
     "named allele '*2' is defined twice"),
]


@pytest.mark.parametrize(("what", "mutate", "message"), BAD, ids=[b[0] for b in BAD])
def test_malformed_file_names_file_and_problem(
        tmp_path: Path, what: str, mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    data = _toya()
    mutate(data)
    with pytest.raises(KnowledgeBaseError) as e:
        load_pharmcat_definitions(_write(tmp_path, data))
    text = str(e.value)
    assert str(tmp_path / "TOYA_translation.json") in text
    assert message in text


def test_iupac_at_an_indel_is_rejected(tmp_path: Path) -> None:
    data = json.loads((OK / "TOYB_translation.json").read_text())
    data["namedAlleles"][1]["alleles"][1] = "K"
    with pytest.raises(KnowledgeBaseError, match="IUPAC codes are allowed only at SNVs"):
        load_pharmcat_definitions(_write(tmp_path, data, "TOYB_translation.json"))


def test_invalid_json_gives_line(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match=r"TOYA_translation.json, line 2: invalid JSON"):
        load_pharmcat_definitions(_write(tmp_path, '{"gene": "TOYA",\n  oops}'))


def test_top_level_must_be_object(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="top level must be a JSON object"):
        load_pharmcat_definitions(_write(tmp_path, "[]"))


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(KnowledgeBaseError, match=r"no PharmCAT definition files"):
        load_pharmcat_definitions(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeBaseError, match="not found"):
        load_pharmcat_definitions(tmp_path / "absent")


def test_same_gene_in_two_files(tmp_path: Path) -> None:
    shutil.copy(OK / "TOYA_translation.json", tmp_path / "TOYA_translation.json")
    shutil.copy(OK / "TOYA_translation.json", tmp_path / "TOYA2_translation.json")
    with pytest.raises(KnowledgeBaseError, match="gene TOYA is defined twice"):
        load_pharmcat_definitions(tmp_path)
