"""Outside-call TSV reader; expectations written by hand from the rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgxguard.errors import InputError, OutsideCallError
from pgxguard.io.outside import OutsideCall, OutsideCalls, read_outside_calls

DATA = Path(__file__).parent / "data" / "outside"
KNOWN = {
    "CYP2D6": ["*1", "*2", "*4", "*10", "*36"],
    "HLA-B": ["*57:01", "*08:01", "*58:01"],
    "G6PD": ["B", "A-", "Mediterranean"],
    "DPYD": ["Reference", "c.1905+1G>A (*2A)", "a/b odd name"],
}
GENES = [*KNOWN, "CYP2C19"]
HEADER = "sample\tgene\tdiplotype\tphenotype\tactivity_score\n"


def _read(tmp_path: Path, text: str | bytes, *, known: bool = True) -> OutsideCalls:
    f = tmp_path / "calls.tsv"
    if isinstance(text, str):
        f.write_text(text, encoding="utf-8", newline="")
    else:
        f.write_bytes(text)
    if known:
        return read_outside_calls(f, known_alleles=KNOWN, known_genes=GENES)
    return read_outside_calls(f)


def test_fixture_file() -> None:
    got = read_outside_calls(DATA / "calls.tsv", known_alleles=KNOWN, known_genes=GENES)
    assert got.errors == ()
    assert got.calls == (
        OutsideCall("S1", "CYP2D6", ("*1", "*2"), (1, 2), "Ultrarapid Metabolizer", 3.0, 4),
        OutsideCall("S1", "HLA-B", ("*57:01", "*08:01"), (1, 1), None, None, 5),
        OutsideCall("S2", "CYP2D6", ("*4", "*4"), (1, 1), "Poor Metabolizer", 0.0, 7),
        OutsideCall(None, "G6PD", ("B",), (1,), "Normal", None, 8),
    )
    assert [c.gene for c in got.for_sample("S2")] == ["CYP2D6", "G6PD"]
    assert [c.gene for c in got.for_sample("S1")] == ["CYP2D6", "HLA-B", "G6PD"]


def test_copies_default_to_one() -> None:
    assert OutsideCall(None, "CYP2D6", ("*1", "*2")).copies == (1, 1)
    with pytest.raises(ValueError):
        OutsideCall(None, "CYP2D6", ("*1", "*2"), (1,))


def test_bom_crlf_and_column_order(tmp_path: Path) -> None:
    text = "\ufeffGene\tPhenotype\tDiplotype\r\n# c\r\ncyp2d6\tNormal Metabolizer\t*1/*10\r\n"
    got = _read(tmp_path, text.encode("utf-8"))
    assert got.errors == ()
    # no sample column: the row applies to every sample; gene spelling from the knowledge base
    assert got.calls == (
        OutsideCall(None, "CYP2D6", ("*1", "*10"), (1, 1), "Normal Metabolizer", None, 3),)


def test_hla_prefix_both_ways(tmp_path: Path) -> None:
    got = _read(tmp_path, "gene\tdiplotype\nHLA-B\tHLA-B*58:01/HLA-B*57:01\n")
    assert got.calls[0].diplotype == ("*58:01", "*57:01")


def test_without_knowledge_everything_well_formed_is_accepted(tmp_path: Path) -> None:
    got = _read(tmp_path, "gene\tdiplotype\nHLA-A\tHLA-A*31:01/*02:01\nXYZ\t*7x3\n",
                known=False)
    assert got.errors == ()
    assert got.calls == (
        OutsideCall(None, "HLA-A", ("*31:01", "*02:01"), (1, 1), None, None, 2),
        OutsideCall(None, "XYZ", ("*7",), (3,), None, None, 3),
    )


def test_allele_names_with_slash_and_parentheses(tmp_path: Path) -> None:
    got = _read(tmp_path, "gene\tdiplotype\nDPYD\tReference/c.1905+1G>A (*2A)\n"
                          "DPYD\ta/b odd name\n")
    assert got.calls[0].diplotype == ("Reference", "c.1905+1G>A (*2A)")
    # the second row is one known allele whose name holds '/', not a diplotype, but DPYD is
    # then given twice for every sample
    assert len(got.errors) == 1 and "DPYD is given twice" in got.errors[0]


def test_allele_name_holding_slash_in_a_diplotype(tmp_path: Path) -> None:
    got = _read(tmp_path, "gene\tdiplotype\nDPYD\ta/b odd name/Reference\n")
    assert got.errors == ()
    assert got.calls[0].diplotype == ("a/b odd name", "Reference")


BAD_ROWS = [
    ("S1\tCYP9Z9\t*1/*1\t\t\n", "line 2: unknown gene 'CYP9Z9'"),
    ("S1\tCYP2D6\t*1/*99\t\t\n", "line 2: CYP2D6: unknown allele '*99'"),
    ("S1\tCYP2D6\t*1/*99x2\t\t\n", "line 2: CYP2D6: unknown allele '*99'"),
    ("S1\tCYP2D6\t*1/*2xN\t\t\n", "unknown copy number (give the number of copies"),
    ("S1\tCYP2D6\t*1/*2x1\t\t\n", "copy number x1"),
    ("S1\tCYP2D6\t*1/*2/*4\t\t\n", "has more than two alleles"),
    ("S1\tCYP2D6\t*1/\t\t\n", "has an empty allele"),
    ("S1\tHLA-B\tHLA-A*57:01/*58:01\t\t\n", "names another gene (HLA-A)"),
    ("S1\tG6PD\ta-\t\t\n", "G6PD: unknown allele 'a-' (did you mean A-?)"),
    ("S1\tCYP2D6\t*1/*2\t\tabc\n", "activity score 'abc' is not a number"),
    ("S1\tCYP2D6\t*1/*2\t\t1,5\n", "activity score '1,5' is not a number"),
    ("S1\tCYP2D6\t*1/*2\t\tnan\n", "activity score 'nan' is not a number"),
    ("S1\tCYP2D6\t*1/*2\t\t-1\n", "activity score '-1' is not a number >= 0"),
    ("S1\tCYP2D6\t\t\t1.0\n", "CYP2D6: neither a diplotype nor a phenotype"),
    ("S1\t\t*1/*2\t\t\n", "the gene is empty"),
    ("S1\tCYP2D6\t*1/*2\t\t\textra\n", "6 columns but the header has 5"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_bad_row_reported_and_skipped(tmp_path: Path, row: str, message: str) -> None:
    good = "S2\tCYP2D6\t*1/*1\tNormal Metabolizer\t2\n"
    got = _read(tmp_path, HEADER + row + good)
    assert len(got.errors) == 1
    assert got.errors[0].startswith(f"{tmp_path / 'calls.tsv'}, line 2: ")
    assert message in got.errors[0]
    assert got.errors[0].endswith(")")  # what to do, in parentheses
    assert [c.line for c in got.calls] == [3]  # the good row is still read


def test_same_gene_twice_for_a_sample(tmp_path: Path) -> None:
    got = _read(tmp_path, HEADER
                + "S1\tCYP2D6\t*1/*2\t\t\n"      # line 2
                + "S2\tCYP2D6\t*1/*4\t\t\n"      # line 3: another sample, fine
                + "S1\tcyp2d6\t*4/*4\t\t\n"      # line 4: duplicate of line 2
                + "\tHLA-B\t*57:01/*08:01\t\t\n"  # line 5: every sample
                + "S2\tHLA-B\t*58:01/*08:01\t\t\n")  # line 6: clashes with line 5
    assert [c.line for c in got.calls] == [2, 3, 5]
    assert len(got.errors) == 2
    assert "line 4: CYP2D6 is given twice for sample S1 (first on line 2)" in got.errors[0]
    assert "line 6: HLA-B is given twice for sample S2 (first on line 5)" in got.errors[1]


def test_trailing_empty_columns_are_fine(tmp_path: Path) -> None:
    got = _read(tmp_path, "gene\tphenotype\tsample\nCYP2C19\tPoor Metabolizer\n")
    assert got.errors == ()
    assert got.calls == (OutsideCall(None, "CYP2C19", (), (), "Poor Metabolizer", None, 2),)


def test_header_only_gives_no_calls(tmp_path: Path) -> None:
    assert _read(tmp_path, "# nothing yet\ngene\tdiplotype\n") == OutsideCalls()


@pytest.mark.parametrize(("text", "message"), [
    ("", "calls.tsv: the outside-call file is empty"),
    ("# only comments\n\n", "the outside-call file is empty"),
    ("CYP2D6\t*1/*2\n", "calls.tsv, line 1: missing header line with a 'gene' column"),
    ("gene,diplotype\nCYP2D6,*1/*2\n", "(the first non-comment line must name the columns"),
    ("gene\tsample\nCYP2D6\tS1\n", "neither a 'diplotype' nor a 'phenotype' column"),
    ("gene\tdiplotype\tgene\n", "column 'gene' appears twice"),
])
def test_unusable_file_raises(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(OutsideCallError) as e:
        _read(tmp_path, text)
    assert message in str(e.value)
    assert isinstance(e.value, InputError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OutsideCallError, match=r"absent\.tsv: outside-call file not found"):
        read_outside_calls(tmp_path / "absent.tsv")


def test_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(OutsideCallError, match="not UTF-8"):
        _read(tmp_path, b"gene\tphenotype\nCYP2D6\t\xff\n")
