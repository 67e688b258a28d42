"""CYP2D6 copy number from the input's FORMAT/CN (design.md: "copy number only from an outside
call or input CN, never guessed").

Expected calls are derived here, not by the program: the SNV part from the oracle
(`reference_matcher.call_factorised`, checked against the brute-force `call_literal` in
tests/test_reference_matcher.py; CYP2D6 *4's IUPAC cells make too many orientations to
enumerate), the copies by enumerating how N copies can sit on two haplotypes, the phenotype from
CPIC's published CYP2D6 table (the diplotype's own row, or for a copy-number form the table does
not list, the published phenotype of the summed published activity values).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import pgxguard
from pgxguard.alleles import sort_key
from pgxguard.call.pipeline import _gene_call
from pgxguard.cli import app
from pgxguard.match.types import SiteCall
from reference_matcher import Genotype, call_factorised
from vcfbuilder import VcfBuilder, allele_sequences, from_definition, record_alleles

GENE = "CYP2D6"
ALLELES = ["*1", "*2", "*3", "*4", "*9", "*10", "*17", "*41"]


@pytest.fixture(scope="module")
def defn(kb: Any) -> Any:
    return kb.definitions[GENE]["GRCh38"]


def _span(defn: Any) -> tuple[int, int]:
    return min(p.pos for p in defn.positions), max(p.end for p in defn.positions)


def _add_cn(b: VcfBuilder, defn: Any, cn: dict[str, int], *, lo: int | None = None,
            hi: int | None = None, alt: str = "<CNV>") -> None:
    """One whole-gene (or lo..hi) copy-number record, as CNV callers write them."""
    start, end = _span(defn)
    lo = start - 500 if lo is None else lo
    hi = end + 500 if hi is None else hi
    gts = {s: ("1/1" if c == 0 else "0/1" if c != 2 else "0/0") for s, c in cn.items()}
    b.add("22", lo, "N", [alt], gts, fmt_extra={"CN": {s: str(c) for s, c in cn.items()}},
          info={"SVTYPE": "CNV", "END": str(hi)})


def _oracle(defn: Any, haplotypes: tuple[str, ...]) -> frozenset[tuple[str, ...]]:
    seqs = [allele_sequences(defn, a) for a in haplotypes]
    genos = [Genotype(tuple(s[i] for s in seqs), False, None)
             for i in range(len(defn.positions))]
    return call_factorised(defn, genos).diplotype_set


def _named(a: str, n: int) -> str:
    return a if n == 1 else f"{a}x{n}"


def _expected_copies(pairs: frozenset[tuple[str, ...]], n: int) -> set[tuple[str, str]]:
    out = set()
    for a, b in pairs:
        for left in range(1, n):
            x, y = _named(a, left), _named(b, n - left)
            out.add((x, y) if sort_key(x) <= sort_key(y) else (y, x))
    return out


def _kb_phenotype(kb: Any, diplotype: tuple[str, ...]) -> tuple[str | None, float | None]:
    """CPIC's row for the diplotype when the table lists it (`*1/*2x2`); otherwise activity =
    sum of the published allele values x copies, and the phenotype CPIC's table gives that score
    (none when the table has no such score)."""
    rules = kb.phenotypes[GENE]
    row = rules.lookup(diplotype)
    if row is not None:
        try:
            return row.phenotype, float(row.activity_score)
        except (TypeError, ValueError):  # "≥4.0", "n/a": the published key, not a number
            return row.phenotype, None
    values = [(rules.activity_values[base], int(n) if n else 1)
              for base, _, n in (name.partition("x") for name in diplotype)]
    if any(v == "n/a" for v, _ in values):  # CPIC: an allele without a value -> score "n/a"
        return rules.score_phenotypes().get("n/a"), None
    score = sum(float(v) * n for v, n in values)
    return rules.score_phenotypes().get(str(score)), score


def _call(path: Path, kb: Any) -> dict[str, Any]:
    result = pgxguard.call(path, genes=[GENE], kb=kb)
    return {s.sample: s.gene(GENE) for s in result.samples}


def _hom_ref(defn: Any, sample: str) -> VcfBuilder:
    """Every position written 0/0 (what a caller writes over a deleted gene when it writes
    anything). Not `from_definition(*1/*1)`: CYP2D6 *1 has IUPAC cells (S at 1661), which the
    builder writes as the non-reference base."""
    b = VcfBuilder([sample])
    for i, p in enumerate(defn.positions):
        ref, alts = record_alleles(defn, i)
        b.add(p.chrom, p.pos, ref, alts, {sample: "0/0"}, id=p.rsid or ".")
    return b


def test_homozygous_deletion(kb: Any, defn: Any, tmp_vcf: Callable[..., Path]) -> None:
    assert any(c not in "ACGT" for c in defn.allele("*1").cells if len(c) == 1)
    b = _hom_ref(defn, "S")
    _add_cn(b, defn, {"S": 0})
    g = _call(tmp_vcf(b), kb)["S"]
    assert g.diplotypes == (("*5", "*5"),)
    assert g.copy_number == 0
    phenotype, score = _kb_phenotype(kb, ("*5", "*5"))
    assert (g.phenotype, g.activity_score) == (phenotype, score)
    # Hybrids (*13, *68, ...) are still unassessed: only the deletion is known.
    assert "*13" in defn.structural_alleles
    assert "*5" not in g.not_assessed and "*13" in g.not_assessed


def test_deletion_with_variant_calls_is_no_call(kb: Any, defn: Any,
                                                tmp_vcf: Callable[..., Path]) -> None:
    b = from_definition(defn, {"S": ("*4", "*4")}, phased=False)
    _add_cn(b, defn, {"S": 0})
    g = _call(tmp_vcf(b), kb)["S"]
    assert g.diplotypes == () and g.phenotype is None and g.source == "none"
    assert any("copy number 0" in w and "variant calls" in w for w in g.warnings)


@pytest.mark.parametrize("allele", ALLELES)
def test_one_copy_is_hemizygous(kb: Any, defn: Any, tmp_vcf: Callable[..., Path],
                                allele: str) -> None:
    # A one-copy sample: the caller writes the single copy as homozygous.
    b = from_definition(defn, {"S": (allele, allele)}, phased=False)
    _add_cn(b, defn, {"S": 1})
    g = _call(tmp_vcf(b), kb)["S"]
    haploid = _oracle(defn, (allele,))
    expected = {tuple(sorted((x[0], "*5"), key=sort_key)) for x in haploid}
    assert set(g.diplotypes) == expected
    assert g.copy_number == 1
    if len(expected) == 1:
        assert (g.phenotype, g.activity_score) == _kb_phenotype(kb, next(iter(expected)))


def test_heterozygous_site_with_one_copy_is_missing(kb: Any, defn: Any,
                                                    tmp_vcf: Callable[..., Path]) -> None:
    b = from_definition(defn, {"S": ("*1", "*4")}, phased=False)
    _add_cn(b, defn, {"S": 1})
    g = _call(tmp_vcf(b), kb)["S"]
    het = [i for i, p in enumerate(defn.positions)
           if allele_sequences(defn, "*1")[i] != allele_sequences(defn, "*4")[i]]
    assert het
    assert sum("with copy number 1: position treated as missing" in w for w in g.warnings) \
        == len(het)
    assert len(g.missing_positions) == len(het)


@pytest.mark.parametrize("pair", [("*1", "*4"), ("*1", "*1"), ("*2", "*41"), ("*4", "*10")])
@pytest.mark.parametrize("copies", [3, 4])
def test_duplication_ties_on_which_haplotype(kb: Any, defn: Any, tmp_vcf: Callable[..., Path],
                                             pair: tuple[str, str], copies: int) -> None:
    b = from_definition(defn, {"S": pair}, phased=False)
    _add_cn(b, defn, {"S": copies})
    g = _call(tmp_vcf(b), kb)["S"]
    expected = _expected_copies(_oracle(defn, pair), copies)
    assert set(g.diplotypes) == expected
    assert g.copy_number == copies
    phenos = {_kb_phenotype(kb, d) for d in expected}
    if len({p for p, _ in phenos}) == 1:
        assert g.phenotype == next(iter(phenos))[0]
    else:
        assert g.phenotype is None
        assert "tied diplotypes have different phenotypes: no single phenotype" in g.warnings


def test_two_copies_assesses_deletion_and_duplication_only(kb: Any, defn: Any,
                                                           tmp_vcf: Callable[..., Path]) -> None:
    b = from_definition(defn, {"S": ("*1", "*4"), "T": ("*1", "*4")}, phased=False)
    _add_cn(b, defn, {"S": 2})
    calls = _call(tmp_vcf(b), kb)
    s, t = calls["S"], calls["T"]
    assert s.diplotypes == t.diplotypes == (("*1", "*4"),)
    assert s.copy_number == 2 and t.copy_number is None  # T has no CN value ('.')
    assert "*5" not in s.not_assessed and "*5" in t.not_assessed
    assert set(s.not_assessed) == set(defn.structural_alleles) - {"*5"}


def test_partial_or_disagreeing_copy_number_is_not_used(kb: Any, defn: Any,
                                                        tmp_vcf: Callable[..., Path]) -> None:
    b = from_definition(defn, {"P": ("*1", "*4"), "D": ("*1", "*4"), "N": ("*1", "*4")},
                        phased=False)
    start, end = _span(defn)
    mid = (start + end) // 2
    _add_cn(b, defn, {"P": 1, "N": 2}, lo=start - 10, hi=mid, alt="<DEL>")  # part of the gene
    _add_cn(b, defn, {"D": 3, "N": 2})
    _add_cn(b, defn, {"D": 2}, lo=start - 20)  # a second whole-gene record disagreeing for D
    calls = _call(tmp_vcf(b), kb)
    for s in ("P", "D"):
        g = calls[s]
        assert g.copy_number is None and g.diplotypes == (("*1", "*4"),)
        assert any("copy number not used" in w for w in g.warnings)
        assert "*5" in g.not_assessed
    # A partial record with copy number 2 changes nothing; N's whole-gene CN 2 is used.
    assert calls["N"].copy_number == 2


def test_non_integer_copy_number_is_not_used(kb: Any, defn: Any,
                                            tmp_vcf: Callable[..., Path]) -> None:
    """A Float CN such as 2.6 is not rounded into a copy number: it is reported and not used."""
    b = from_definition(defn, {"S": ("*1", "*4")}, phased=False)
    start, end = _span(defn)
    b.add("22", start - 10, "N", ["<CNV>"], {"S": "0/1"}, fmt_extra={"CNF": {"S": "2.6"}},
          info={"SVTYPE": "CNV", "END": str(end + 10)})
    text = b.text().replace("CNF", "CN").replace(
        '##FORMAT=<ID=CN,Number=.,Type=String,Description="CN">',
        '##FORMAT=<ID=CN,Number=1,Type=Float,Description="Copy number">')
    g = _call(tmp_vcf(text), kb)["S"]
    assert g.copy_number is None and "*5" in g.not_assessed
    assert any("non-integer FORMAT/CN" in w for w in g.warnings)


def test_structural_record_is_not_base_coverage(kb: Any, defn: Any,
                                                tmp_vcf: Callable[..., Path]) -> None:
    """A <DEL> record without CN says nothing about the bases it spans (it used to count as
    tested-reference): every position stays missing, and the record is reported."""
    b = VcfBuilder(["S"])
    start, end = _span(defn)
    b.add("22", start - 100, "N", ["<DEL>"], {"S": "0/1"},
          info={"SVTYPE": "DEL", "END": str(end + 100)})
    g = _call(tmp_vcf(b), kb)["S"]
    assert g.diplotypes == () and len(g.missing_positions) == len(defn.positions)
    assert any("has no FORMAT/CN: not interpreted" in w for w in g.warnings)


def test_other_genes_report_but_do_not_use_copy_number(kb: Any,
                                                       tmp_vcf: Callable[..., Path]) -> None:
    d = kb.definitions["CYP2C19"]["GRCh38"]
    b = from_definition(d, {"S": ("*1", "*2")}, phased=False)
    lo, hi = min(p.pos for p in d.positions), max(p.end for p in d.positions)
    b.add("10", lo - 10, "N", ["<DUP>"], {"S": "0/1"}, fmt_extra={"CN": {"S": "3"}},
          info={"SVTYPE": "DUP", "END": str(hi + 10)})
    g = pgxguard.call(tmp_vcf(b), genes=["CYP2C19"], kb=kb).samples[0].gene("CYP2C19")
    assert g.diplotypes == (("*1", "*2"),) and g.copy_number is None
    assert any("input copy number 3 is not interpreted for CYP2C19" in w for w in g.warnings)


def test_outside_call_still_wins(kb: Any, defn: Any, tmp_vcf: Callable[..., Path],
                                 tmp_path: Path) -> None:
    b = from_definition(defn, {"S": ("*1", "*4")}, phased=False)
    _add_cn(b, defn, {"S": 3})
    tsv = tmp_path / "oc.tsv"
    tsv.write_text("sample\tgene\tdiplotype\nS\tCYP2D6\t*1/*4x2\n")
    g = pgxguard.call(tmp_vcf(b), genes=[GENE], kb=kb, outside_calls=tsv).samples[0].gene(GENE)
    assert g.source == "outside" and g.diplotypes == (("*1", "*4x2"),)


def test_cli_json_and_tsv(kb: Any, defn: Any, tmp_vcf: Callable[..., Path],
                          tmp_path: Path) -> None:
    b = from_definition(defn, {"A": ("*4", "*4"), "B": ("*1", "*1")}, phased=False)
    _add_cn(b, defn, {"A": 1, "B": 3})
    vcf = tmp_vcf(b, compress=True, index=True)
    out = tmp_path / "calls.json"
    r = CliRunner().invoke(app, ["call", str(vcf), "--genes", GENE, "-o", str(out)])
    assert r.exit_code == 0, r.output
    genes = {s["sample"]: s["genes"][0] for s in json.loads(out.read_text())["samples"]}
    assert genes["A"]["diplotypes"] == [["*4", "*5"]] and genes["A"]["copy_number"] == 1
    assert genes["B"]["diplotypes"] == [["*1", "*1x2"]] and genes["B"]["copy_number"] == 3
    r = CliRunner().invoke(app, ["call", str(vcf), "--genes", GENE, "--format", "tsv"])
    assert r.exit_code == 0, r.output
    rows = {line.split("\t")[0]: line.split("\t") for line in r.output.splitlines()[1:]}
    assert rows["A"][2] == "*4/*5" and rows["B"][2] == "*1/*1x2"
    assert "copy number 3 from the input (FORMAT/CN)" in rows["B"][-1]


def _gene_copies(diplotype: tuple[str, ...]) -> int:
    """Gene copies a diplotype stands for: *5 (the deletion) none, `*2x3` three."""
    return sum(0 if a == "*5" else int(a.partition("x")[2] or 1) for a in diplotype)


def _bases(diplotype: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted((a.partition("x")[0] for a in diplotype), key=sort_key))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=st.sampled_from(ALLELES), b=st.sampled_from(ALLELES), copies=st.integers(0, 6))
def test_copy_number_properties(kb: Any, defn: Any, a: str, b: str, copies: int) -> None:
    """Whatever the genotypes: every diplotype stands for exactly CN gene copies; with CN >= 3,
    removing the copy numbers gives back the two-copy call; a phenotype is given only when every
    tie has it."""
    seqs = [allele_sequences(defn, x) for x in (a, b)]
    sites: list[SiteCall | None] = [SiteCall((seqs[0][i], seqs[1][i]), False, None)
                                    for i in range(len(defn.positions))]
    two = _gene_call(kb, defn, sites, [], True, copy_number=2)
    g = _gene_call(kb, defn, sites, [], True, copy_number=copies)
    assert g.copy_number == copies
    assert all(_gene_copies(d) == copies for d in g.diplotypes)
    if copies >= 3:
        assert {_bases(d) for d in g.diplotypes} == {_bases(d) for d in two.diplotypes}
    if g.phenotype is not None:
        assert {_kb_phenotype(kb, d)[0] for d in g.diplotypes} == {g.phenotype}
