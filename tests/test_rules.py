"""Matching and gene rules from design.md, through the public API `pgxguard.call`.

Phase handling (phased, unphased, phase sets, effectively phased), unknown ALTs, haploid loci,
the lowest-function rule of DPYD and RYR1, structural alleles and outside calls. Expectations come
from the allele definitions and values in the knowledge base (read here, never pasted from the
program's output) and from design.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

import pgxguard
from kbfacts import (
    C19,
    KB,
    RS_1,
    RS_2,
    RS_11,
    RS_17,
    RS_35,
    WriteVcf,
    defn,
    drop_site,
    index_of,
    own_variants,
    set_site,
    single_variant,
    table_row,
)
from pgxguard.alleles import sort_key
from pgxguard.call.writers import to_tsv
from vcfbuilder import VcfBuilder, from_definition


def call_one(path: Path, gene: str, sample: str = "S", **kw: object) -> pgxguard.GeneCall:
    return pgxguard.call(path, genes=[gene], **kw).sample(sample).gene(gene)  # type: ignore[arg-type]


# --- CYP2C19 *2/*17: phased and unphased ---------------------------------------------------------

# C19 and RS_* come from kbfacts; checked against the definition in test_cyp2c19_definition.


def test_cyp2c19_definition() -> None:
    assert own_variants(C19, "*2") == {RS_35: "G", RS_11: "R", RS_2: "A", RS_1: "G"}
    assert own_variants(C19, "*17") == {RS_17: "T", RS_1: "G"}
    assert own_variants(C19, "*1") == {RS_1: "G"}


def test_unphased_cyp2c19_2_17(tmp_vcf: WriteVcf) -> None:
    gc = call_one(tmp_vcf(from_definition(C19, {"S": ("*2", "*17")}, phased=False)), "CYP2C19")
    assert gc.diplotypes == (("*2", "*17"),)
    assert not gc.phased  # four heterozygous unphased sites (*2's R cell written as A)
    # CPIC: *2 no function + *17 increased function = intermediate metabolizer.
    assert gc.phenotype == table_row("CYP2C19", "*2", "*17").phenotype
    assert gc.phenotype == "Intermediate Metabolizer"


def test_phased_cyp2c19_2_17_on_two_strands(tmp_vcf: WriteVcf) -> None:
    gc = call_one(tmp_vcf(from_definition(C19, {"S": ("*2", "*17")}, phased=True)), "CYP2C19")
    assert gc.diplotypes == (("*2", "*17"),)
    assert gc.phased


def test_phased_variants_of_two_alleles_on_one_strand_give_no_call(tmp_vcf: WriteVcf) -> None:
    # Strand 1 carries *2's and *17's variants together: no single named allele has all of
    # them, so no call (design.md: no silent combination). Strand 2 is *1.
    b = from_definition(C19, {"S": ("*1", "*1")}, phased=True)
    for i in (RS_17, RS_35, RS_2):
        set_site(b, C19, i, {"S": "1|0"})
    names_with_all = [a.name for a in C19.alleles
                      if {RS_17, RS_35, RS_2} <= set(own_variants(C19, a.name))]
    assert names_with_all == []
    gc = call_one(tmp_vcf(b), "CYP2C19")
    assert gc.diplotypes == ()
    assert gc.phenotype is None
    assert gc.source == "none"
    assert any("match no" in w for w in gc.warnings)


def test_effectively_phased_single_het_site(tmp_vcf: WriteVcf) -> None:
    # *1/*17 unphased: one heterozygous site (rs12248560), so only two strand sequences exist.
    gc = call_one(tmp_vcf(from_definition(C19, {"S": ("*1", "*17")}, phased=False)), "CYP2C19")
    assert gc.diplotypes == (("*1", "*17"),)
    assert gc.phased


# --- phase sets (FORMAT/PS) ----------------------------------------------------------------------

D6 = defn("CYP2D6")
RS_4181 = index_of(D6, "rs1135840")  # 4181G>C, in *2, *10, *39 and *65
RS_2851 = index_of(D6, "rs16947")    # 2851C>T, in *2 and *65
RS_100 = index_of(D6, "rs1065852")   # 100C>T, in *10 and *65
RS_1661 = index_of(D6, "rs1058164")  # 1661G>C: S (C/G) in *1, *2, *39; G in *10 and *65


def test_cyp2d6_definition_for_phase_set_case() -> None:
    # CPIC/PharmVar (PharmCAT's file): *39 = 4181G>C; *2 = +2851C>T; *10 = +100C>T; *65 = both.
    # Position 1661 is S (either base) in the reference *1 and in *2 and *39, G in *10 and *65.
    assert own_variants(D6, "*39") == {RS_4181: "G"}
    assert own_variants(D6, "*2") == {RS_4181: "G", RS_2851: "A"}
    assert own_variants(D6, "*10") == {RS_4181: "G", RS_1661: "G", RS_100: "A"}
    assert own_variants(D6, "*65") == {RS_4181: "G", RS_2851: "A", RS_1661: "G", RS_100: "A"}
    assert D6.positions[RS_1661].ref == "C"
    assert {D6.allele(n).cells[RS_1661] for n in ("*1", "*2", "*39")} == {"S"}
    # No other named allele is made only of these variants, so the candidates below are
    # complete (*34 = 2851C>T alone keeps the reference C at 4181, so homozygous 4181G>C
    # excludes it, and *1 too).
    subset = {a.name for a in D6.alleles
              if set(own_variants(D6, a.name).items())
              <= {(RS_4181, "G"), (RS_2851, "A"), (RS_100, "A"), (RS_1661, "G")}}
    assert subset == {"*1", "*2", "*10", "*34", "*39", "*65"}
    assert own_variants(D6, "*34") == {RS_2851: "A"}
    # Defined cells: their own variants plus the S cell of *2 and *39.
    assert {n: sum(c is not None for c in D6.allele(n).cells)
            for n in ("*2", "*10", "*39", "*65")} == {"*2": 3, "*10": 3, "*39": 2, "*65": 4}


def _d6_case(gt_2851: str, gt_100: str, ps: tuple[int, int] | None) -> VcfBuilder:
    """4181G>C homozygous (excludes *1), 1661 G/G (the base `vcfbuilder` writes for S, so no
    IUPAC penalty), 2851C>T and 100C>T heterozygous."""
    b = from_definition(D6, {"S": ("*39", "*39")}, phased=True)
    set_site(b, D6, RS_2851, {"S": gt_2851}, ps={"S": ps[0]} if ps else None)
    set_site(b, D6, RS_100, {"S": gt_100}, ps={"S": ps[1]} if ps else None)
    return b


# Two strands X, Y: same strand -> *65 + *39 (4 + 2 defined cells); opposite strands -> *2 + *10
# (3 + 3). Both score 6, so when the relative orientation is unknown they tie.
TIE = {("*2", "*10"), ("*39", "*65")}


def test_phased_without_ps_is_one_block(tmp_vcf: WriteVcf) -> None:
    gc = call_one(tmp_vcf(_d6_case("1|0", "0|1", None)), "CYP2D6")
    assert gc.diplotypes == (("*2", "*10"),)
    gc = call_one(tmp_vcf(_d6_case("1|0", "1|0", None)), "CYP2D6")
    assert gc.diplotypes == (("*39", "*65"),)


def test_same_phase_set_is_one_block(tmp_vcf: WriteVcf) -> None:
    gc = call_one(tmp_vcf(_d6_case("1|0", "0|1", (500, 500))), "CYP2D6")
    assert gc.diplotypes == (("*2", "*10"),)


@pytest.mark.parametrize("gts", [("1|0", "0|1"), ("1|0", "1|0")])
def test_two_phase_sets_orientation_unknown_gives_tie(tmp_vcf: WriteVcf,
                                                      gts: tuple[str, str]) -> None:
    gc = call_one(tmp_vcf(_d6_case(gts[0], gts[1], (500, 900))), "CYP2D6")
    assert set(gc.diplotypes) == TIE
    # ties best first, each sorted; equal score -> allele-name order
    assert gc.diplotypes == (("*2", "*10"), ("*39", "*65"))
    assert any("tie" in w for w in gc.warnings)
    assert not gc.phased


def test_unphased_same_as_two_phase_sets(tmp_vcf: WriteVcf) -> None:
    gc = call_one(tmp_vcf(_d6_case("0/1", "0/1", None)), "CYP2D6")
    assert set(gc.diplotypes) == TIE


# --- unknown ALT ------------------------------------------------------------------------------

def test_unknown_alt_gives_no_call_for_cyp2c19(tmp_vcf: WriteVcf) -> None:
    p = C19.positions[RS_2]
    assert "C" not in (p.ref, *p.alts)
    assert all(a.cells[RS_2] in (None, p.ref, *p.alts) for a in C19.alleles)
    b = from_definition(C19, {"S": ("*1", "*1")}, phased=False)
    set_site(b, C19, RS_2, {"S": "0/1"}, alts=["C"])
    gc = call_one(tmp_vcf(b), "CYP2C19")
    assert gc.diplotypes == ()
    assert gc.phenotype is None
    assert any("not in the CYP2C19 definitions" in w for w in gc.warnings)


@pytest.mark.parametrize(("gene", "ref_allele", "variant_allele"), [
    ("TPMT", "*1", "*3B"),
    ("DPYD", "Reference", "c.1905+1G>A (*2A)"),
])
def test_unknown_alt_treated_as_reference(tmp_vcf: WriteVcf, gene: str, ref_allele: str,
                                          variant_allele: str) -> None:
    # design.md: TPMT and DPYD treat an ALT the definitions do not know as reference.
    d = defn(gene)
    assert d.unknown_alt_as_reference
    i = single_variant(d, variant_allele)
    p = d.positions[i]
    unknown = next(x for x in "ACGT" if x not in (p.ref, *p.alts))
    b = from_definition(d, {"S": (ref_allele, ref_allele)}, phased=False)
    set_site(b, d, i, {"S": "0/1"}, alts=[unknown])
    gc = call_one(tmp_vcf(b), gene)
    assert gc.diplotypes == ((ref_allele, ref_allele),)
    assert any("treated as reference" in w and str(p.pos) in w for w in gc.warnings)


# --- haploid loci ---------------------------------------------------------------------------------

def test_g6pd_hemizygous_male(tmp_vcf: WriteVcf) -> None:
    d = defn("G6PD")
    # G6PD "A" (c.376A>G) is defined by a single variant.
    i = single_variant(d, "A")
    b = from_definition(d, {"M": ("A",)})
    line = next(ln for ln in b.text().splitlines() if f"\t{d.positions[i].pos}\t" in ln)
    assert line.endswith("\tGT\t1")
    gc = call_one(tmp_vcf(b), "G6PD", sample="M")
    assert gc.diplotypes == (("A",),)
    # CPIC: A (376G) is normal (Class IV); a male with it is looked up by the one allele.
    term = table_row("G6PD", "A").phenotype
    assert term == "Normal"
    assert gc.phenotype == term
    # CPIC's G6PD table names Villeurbanne, which the definition file does not define: every
    # call lists it as not assessed (and nothing else).
    assert "Villeurbanne" in KB.phenotypes["G6PD"].functions
    assert "Villeurbanne" not in d.allele_names
    assert gc.not_assessed == d.structural_alleles == ("Villeurbanne",)


MT = defn("MT-RNR1")
M1555 = single_variant(MT, "m.1555A>G")


def test_mt_rnr1_homoplasmic_is_haploid_call(tmp_vcf: WriteVcf) -> None:
    assert MT.positions[M1555].pos == 1555
    b = from_definition(MT, {"S": ("Reference", "Reference")}, phased=False)
    set_site(b, MT, M1555, {"S": "1/1"})
    gc = call_one(tmp_vcf(b), "MT-RNR1")
    assert gc.diplotypes == (("m.1555A>G",),)
    # CPIC aminoglycoside guideline: m.1555A>G is an increased-risk variant (CPIC's wording).
    assert gc.phenotype == table_row("MT-RNR1", "m.1555A>G").phenotype == \
        "increased risk of aminoglycoside-induced hearing loss"


def test_mt_rnr1_heteroplasmic_is_missing(tmp_vcf: WriteVcf) -> None:
    b = from_definition(MT, {"S": ("Reference", "Reference")}, phased=False)
    set_site(b, MT, M1555, {"S": "0/1"})
    gc = call_one(tmp_vcf(b), "MT-RNR1")
    assert any("1555" in m for m in gc.missing_positions)
    assert any("heteroplasm" in w for w in gc.warnings)
    assert all("m.1555A>G" not in d for d in gc.diplotypes)


# --- lowest-function genes: DPYD and RYR1 ---------------------------------------------------------

DPYD = defn("DPYD")
ACT = KB.allele_activity["DPYD"]


def _dpyd_range(score: float) -> str:
    """CPIC's DPYD phenotype for a published activity score ("0.5", "1.0", ...)."""
    return KB.phenotypes["DPYD"].score_phenotypes()[f"{score:.1f}"]


def _dpyd_vcf(gts: Mapping[str, str], phased: bool = False) -> VcfBuilder:
    b = from_definition(DPYD, {"S": ("Reference", "Reference")}, phased=phased)
    for name, gt in gts.items():
        set_site(b, DPYD, single_variant(DPYD, name), {"S": gt})
    return b


@pytest.mark.parametrize(("a", "b", "score", "term"), [
    # 0.5 + 0.5 = 1.0: CPIC DPYD intermediate metabolizer (activity score 1 or 1.5).
    ("c.2846A>T", "c.557A>G", 1.0, "Intermediate Metabolizer"),
    # 0.0 + 0.5 = 0.5: CPIC DPYD poor metabolizer (activity score 0 or 0.5).
    ("c.1905+1G>A (*2A)", "c.557A>G", 0.5, "Poor Metabolizer"),
])
def test_dpyd_unphased_two_hets_lists_variants(tmp_vcf: WriteVcf, a: str, b: str, score: float,
                                               term: str) -> None:
    assert ACT[a] + ACT[b] == score
    gc = call_one(tmp_vcf(_dpyd_vcf({a: "0/1", b: "0/1"})), "DPYD")
    assert gc.diplotypes == ()
    assert Counter(gc.variants) == Counter([a, b])
    assert list(gc.variants) == sorted(gc.variants, key=sort_key)
    assert gc.activity_score == score
    assert gc.phenotype == _dpyd_range(score) == term
    assert gc.source == "vcf"


def test_dpyd_homozygous_listed_twice_and_two_lowest(tmp_vcf: WriteVcf) -> None:
    hom, a, b = "c.2846A>T", "c.1905+1G>A (*2A)", "c.557A>G"
    assert (ACT[hom], ACT[a], ACT[b]) == (0.5, 0.0, 0.5)
    gc = call_one(tmp_vcf(_dpyd_vcf({hom: "1/1", a: "0/1", b: "0/1"})), "DPYD")
    assert gc.diplotypes == ()
    assert not gc.phased
    assert Counter(gc.variants) == Counter([hom, hom, a, b])
    # Two lowest activity values: 0.0 (*2A) + 0.5 = 0.5 -> CPIC poor metabolizer.
    assert gc.activity_score == 0.5
    assert gc.phenotype == _dpyd_range(0.5) == "Poor Metabolizer"


def test_dpyd_phased_gives_diplotype(tmp_vcf: WriteVcf) -> None:
    a, b = "c.2846A>T", "c.557A>G"
    gc = call_one(tmp_vcf(_dpyd_vcf({a: "1|0", b: "0|1"}, phased=True)), "DPYD")
    assert gc.variants == ()
    assert gc.diplotypes == (tuple(sorted((a, b), key=sort_key)),)
    assert gc.activity_score == ACT[a] + ACT[b] == 1.0
    assert gc.phenotype == "Intermediate Metabolizer"


def test_ryr1_unphased_two_variants_lists_variants(tmp_vcf: WriteVcf) -> None:
    d = defn("RYR1")
    a, b = "c.103T>C", "c.130C>T"
    bld = from_definition(d, {"S": ("Reference", "Reference")}, phased=False)
    for name in (a, b):
        set_site(bld, d, single_variant(d, name), {"S": "0/1"})
    gc = call_one(tmp_vcf(bld), "RYR1")
    assert gc.diplotypes == ()
    assert Counter(gc.variants) == Counter([a, b])
    # Both are malignant-hyperthermia-associated: the pair is looked up in CPIC's table.
    assert gc.phenotype == table_row("RYR1", a, b).phenotype == \
        "Malignant Hyperthermia Susceptibility"


def test_cacna1s_is_not_a_lowest_function_gene() -> None:
    assert defn("CACNA1S").rule is None
    assert DPYD.rule == defn("RYR1").rule == "lowest_function"


# --- NAT2 required positions (PharmCAT's exemptions) ---------------------------------------------

NAT2 = defn("NAT2")


@pytest.mark.parametrize("rsid", ["rs1801279", "rs1801280", "rs1799930", "rs1208", "rs1799931"])
def test_nat2_required_position_missing_gives_no_call(tmp_vcf: WriteVcf, rsid: str) -> None:
    # PharmCAT's exemptions.json lists these five NAT2 positions as required: without any one
    # of them NAT2 is not called, even when the other positions would match a diplotype.
    i = index_of(NAT2, rsid)
    assert NAT2.positions[i].pos in NAT2.required_positions
    full = from_definition(NAT2, {"S": ("*1", "*5")}, phased=False)
    assert call_one(tmp_vcf(full), "NAT2").diplotypes == (("*1", "*5"),)
    b = from_definition(NAT2, {"S": ("*1", "*5")}, phased=False)
    set_site(b, NAT2, i, {"S": "./."})
    gc = call_one(tmp_vcf(b), "NAT2")
    assert gc.diplotypes == () and gc.phenotype is None and gc.source == "none"
    assert any("required" in w and rsid in w for w in gc.warnings)
    assert any(rsid in m for m in gc.missing_positions)


def test_nat2_other_position_missing_still_calls(tmp_vcf: WriteVcf) -> None:
    other = next(i for i, p in enumerate(NAT2.positions)
                 if p.pos not in NAT2.required_positions
                 and all(a.cells[i] is None for a in NAT2.alleles[1:]
                         if a.name in ("*1", "*5")))
    b = from_definition(NAT2, {"S": ("*1", "*5")}, phased=False)
    set_site(b, NAT2, other, {"S": "./."})
    gc = call_one(tmp_vcf(b), "NAT2")
    assert gc.diplotypes == (("*1", "*5"),)
    assert len(gc.missing_positions) == 1


# --- structural alleles and outside calls ---------------------------------------------------------

def test_cyp2d6_lists_structural_alleles_not_assessed(tmp_vcf: WriteVcf) -> None:
    gc = call_one(tmp_vcf(from_definition(D6, {"S": ("*1", "*1")}, phased=False)), "CYP2D6")
    assert gc.diplotypes == (("*1", "*1"),)
    assert "*5" in gc.not_assessed  # *5 is the whole-gene deletion
    assert set(gc.not_assessed) == set(D6.structural_alleles)
    assert any("structural" in w and "*5" in w for w in gc.warnings)


def _outside(tmp_path: Path, rows: Sequence[str]) -> Path:
    p = tmp_path / "outside.tsv"
    p.write_text("sample\tgene\tdiplotype\tphenotype\tactivity_score\n" + "\n".join(rows) + "\n")
    return p


def test_outside_cyp2d6_copy_number(tmp_path: Path) -> None:
    oc = _outside(tmp_path, ["S\tCYP2D6\t*1/*2x2\t\t"])
    result = pgxguard.call(None, outside_calls=oc)
    gc = result.sample("S").gene("CYP2D6")
    assert gc.diplotypes == (("*1", "*2x2"),)
    assert gc.source == "outside"
    act = KB.allele_activity["CYP2D6"]
    expected = act["*1"] + 2 * act["*2"]
    assert gc.activity_score == expected == 3.0
    # CPIC lists *1/*2x2 itself: activity score 3.0, ultrarapid metabolizer.
    row = table_row("CYP2D6", "*1", "*2x2")
    assert row.activity_score == "3.0"
    assert gc.phenotype == row.phenotype == "Ultrarapid Metabolizer"


def test_outside_call_replaces_vcf_call_and_hla(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    oc = _outside(tmp_path, ["S\tCYP2D6\t*1/*2x2\t\t", "S\tHLA-B\t*57:01/*08:01\t\t",
                             "S\tCYP2D6x\t*1/*1\t\t",            # unknown gene
                             "S\tCYP2C19\t*1/*999\t\t"])         # unknown allele
    path = tmp_vcf(from_definition(D6, {"S": ("*1", "*1")}, phased=False))
    result = pgxguard.call(path, genes=["CYP2D6", "HLA-B"], outside_calls=oc)
    s = result.sample("S")
    d6 = s.gene("CYP2D6")
    assert d6.diplotypes == (("*1", "*2x2"),) and d6.source == "outside"
    hla = s.gene("HLA-B")
    assert hla.source == "outside"
    assert hla.diplotypes == (("*57:01", "*08:01"),) or hla.diplotypes == (("*08:01", "*57:01"),)
    # The bad rows are reported with file and line, the good rows still applied.
    assert any(str(oc) in w and "line 4" in w and "CYP2D6x" in w for w in result.warnings)
    assert any(str(oc) in w and "line 5" in w and "*999" in w for w in result.warnings)
    assert {g.gene for g in s.genes} == {"CYP2D6", "HLA-B"}


def test_dpyd_three_unphased_hets_two_lowest(tmp_vcf: WriteVcf) -> None:
    names = ("c.1905+1G>A (*2A)", "c.2846A>T", "c.557A>G")  # 0.0, 0.5, 0.5
    gc = call_one(tmp_vcf(_dpyd_vcf(dict.fromkeys(names, "0/1"))), "DPYD")
    assert Counter(gc.variants) == Counter(names)
    assert gc.activity_score == 0.5
    assert gc.phenotype == "Poor Metabolizer"


def test_dpyd_phased_combination_on_one_strand(tmp_vcf: WriteVcf) -> None:
    """Fixture for a bug seen on 1000 Genomes: *2A phased with *5 on one strand gave no call.
    PharmCAT (Gene-Definition-Exceptions, DPYD, phased data) lists every variant per strand,
    several as a combination: `Reference/[c.1627A>G (*5) + c.1905+1G>A (*2A)]`."""
    a, b = "c.1905+1G>A (*2A)", "c.1627A>G (*5)"
    assert (ACT[a], ACT[b]) == (0.0, 1.0)
    gc = call_one(tmp_vcf(_dpyd_vcf({a: "1|0", b: "1|0"}, phased=True)), "DPYD")
    assert gc.variants == ()
    assert gc.diplotypes == (("Reference", f"[{b} + {a}]"),)  # members by c. position
    # Lowest activity value per strand: 0.0 (*2A) and 1.0 (Reference) -> 1.0, intermediate.
    assert gc.activity_score == 1.0
    assert gc.phenotype == _dpyd_range(1.0) == "Intermediate Metabolizer"
    assert any("[a + b]" in w for w in gc.warnings)
    assert any(f"Reference/{a}" in w for w in gc.warnings)


# --- DPYD/RYR1 with phased data and phase sets: PharmCAT's per-strand calls ----------------------
# PharmCAT, Gene-Definition-Exceptions.md ("Calling DPYD named alleles", phased data): every
# variant found is listed per strand, several as a combination `[a + b]` (NamedAlleleMatcher-201),
# a strand without any is `Reference`; the phenotype comes from the lowest activity value per
# strand. Phase sets that leave the orientation open give every possible diplotype (DpydTest
# psDpwgNoRec, psHapB), and PharmCAT looks up the lowest-function one.

RS_9A = index_of(DPYD, "rs1801265")      # c.85T>C (*9A)
RS_3067 = index_of(DPYD, "rs114096998")  # c.3067C>A
RS_9B = index_of(DPYD, "rs1801267")      # c.2657G>A (*9B)
RS_1774 = index_of(DPYD, "rs59086055")   # c.1774C>T
RS_13 = index_of(DPYD, "rs55886062")     # c.1679T>G (*13)
RS_EXON = index_of(DPYD, "rs56038477")   # HapB3's exonic SNP, c.1236G>A
RS_INTRON = index_of(DPYD, "rs75017182")  # HapB3's intronic SNP, c.1129-5923C>G
HAPB3 = "c.1129-5923C>G, c.1236G>A (HapB3)"


def test_dpyd_definition_for_strand_cases() -> None:
    assert own_variants(DPYD, "c.85T>C (*9A)") == {RS_9A: "G"}
    assert own_variants(DPYD, "c.3067C>A") == {RS_3067: "T"}
    assert own_variants(DPYD, HAPB3) == {RS_EXON: "T", RS_INTRON: "C"}
    assert own_variants(DPYD, "c.1129-5923C>G") == {RS_INTRON: "C"}
    assert (ACT["c.2657G>A (*9B)"], ACT["c.1774C>T"], ACT["c.1679T>G (*13)"]) == (1.0, 0.0, 0.0)
    assert ACT[HAPB3] == ACT["c.1129-5923C>G"] == 0.5


def test_dpyd_phased_combination_as_the_issue_writes_it(tmp_vcf: WriteVcf) -> None:
    """Issue 12: `Reference/[c.85T>C (*9A) + c.3067C>A]`, in JSON one name per strand."""
    b = from_definition(DPYD, {"S": ("Reference", "Reference")}, phased=True)
    for i in (RS_9A, RS_3067):
        set_site(b, DPYD, i, {"S": "0|1"})
    path = tmp_vcf(b)
    result = pgxguard.call(path, genes=["DPYD"])
    gc = result.sample("S").gene("DPYD")
    combo = "[c.85T>C (*9A) + c.3067C>A]"
    assert gc.diplotypes == (("Reference", combo),)
    assert gc.variants == () and gc.phased and gc.score is None
    js = result.to_json()["samples"][0]["genes"][0]
    assert js["diplotypes"] == [["Reference", combo]]
    assert f"Reference/{combo}" in to_tsv(result)
    # Lowest activity per strand: Reference 1.0, and 1.0 on the combined strand -> 2.0.
    assert gc.phenotype == table_row("DPYD", "Reference", "c.85T>C (*9A)").phenotype
    assert gc.activity_score == 2.0
    assert any("[a + b]" in w for w in gc.warnings)


def _ps_case(gts: Mapping[int, tuple[str, int]]) -> VcfBuilder:
    b = from_definition(DPYD, {"S": ("Reference", "Reference")}, phased=True)
    for i, (gt, ps) in gts.items():
        set_site(b, DPYD, i, {"S": gt}, ps={"S": ps})
    return b


def test_dpyd_phase_sets_give_every_pairing(tmp_vcf: WriteVcf) -> None:
    """DpydTest.psDpwgNoRec: *9B in phase set 1, c.1774C>T in phase set 2."""
    path = tmp_vcf(_ps_case({RS_9B: ("0|1", 1), RS_1774: ("0|1", 2)}))
    result = pgxguard.call(path, genes=["DPYD"])
    gc = result.sample("S").gene("DPYD")
    assert gc.diplotypes == (("Reference", "[c.1774C>T + c.2657G>A (*9B)]"),
                             ("c.1774C>T", "c.2657G>A (*9B)"))
    assert not gc.phased and gc.score is None
    assert " | " in gc.diplotype_text() and gc.diplotype_text() in to_tsv(result)
    assert any("2 DPYD diplotypes possible" in w and "FORMAT/PS" in w for w in gc.warnings)
    # Both pairings: lowest values 0.0 and 1.0 -> activity 1.0.
    assert gc.activity_score == 1.0
    assert gc.phenotype == table_row("DPYD", "Reference", "c.1774C>T").phenotype
    assert gc.phenotypes == ()


def test_dpyd_phase_set_ties_use_the_lowest_function_pairing(tmp_vcf: WriteVcf) -> None:
    """DpydTest.psHapB: *9B, *13 and the exonic SNP in one phase set, the intronic SNP in
    another. Same strand: HapB3; opposite: the intronic allele alone (the exonic SNP without
    it is not counted). PharmCAT looks up the lowest-function pairing, 0.0 + 0.5."""
    path = tmp_vcf(_ps_case({RS_9B: ("0|1", 1), RS_13: ("0|1", 1), RS_EXON: ("0|1", 1),
                             RS_INTRON: ("0|1", 2)}))
    gc = call_one(path, "DPYD")
    assert gc.diplotypes == (
        ("Reference", f"[{HAPB3} + c.1679T>G (*13) + c.2657G>A (*9B)]"),
        ("c.1129-5923C>G", "[c.1679T>G (*13) + c.2657G>A (*9B)]"))
    assert gc.activity_score == 0.5
    assert gc.phenotype == table_row("DPYD", "c.1129-5923C>G", "c.1679T>G (*13)").phenotype
    assert any("lowest-function possible diplotype" in w for w in gc.warnings)
    assert any("the possible diplotypes give" in w for w in gc.warnings)
    assert any("rs56038477" in w and "not counted" in w for w in gc.warnings)


@pytest.mark.parametrize(("exon", "intron", "want", "warning"), [
    # Intronic SNP decides: the exonic SNP alone is not HapB3 (hapb3.tsv rows 5 and 6).
    ("0|1", "0|0", ("Reference", "Reference"), "not counted"),
    # Intronic SNP missing: the exonic SNP decides, with a warning (hapb3.tsv row 14).
    ("0|1", None, ("Reference", HAPB3), "alone"),
    # Exonic SNP missing: the intronic SNP alone is c.1129-5923C>G (DpydHapB3Matcher).
    (None, "0|1", ("Reference", "c.1129-5923C>G"), None),
])
def test_dpyd_hapb3_decided_by_the_intronic_snp(tmp_vcf: WriteVcf, exon: str | None,
                                               intron: str | None, want: tuple[str, str],
                                               warning: str | None) -> None:
    b = from_definition(DPYD, {"S": ("Reference", "Reference")}, phased=True)
    for i, gt in ((RS_EXON, exon), (RS_INTRON, intron)):
        if gt is None:
            drop_site(b, DPYD, i)
        else:
            set_site(b, DPYD, i, {"S": gt})
    gc = call_one(tmp_vcf(b), "DPYD")
    assert gc.diplotypes == (want,)
    hapb3_notes = [w for w in gc.warnings if "HapB3 rule" in w or "cannot be told" in w]
    if warning is None:
        assert any(HAPB3 in w and "cannot be told" in w for w in hapb3_notes)
    else:
        assert any(warning in w for w in hapb3_notes), gc.warnings


def test_ryr1_combination_with_an_unclassified_variant_has_no_phenotype(
        tmp_vcf: WriteVcf) -> None:
    """A strand `[a + b]` where b has no published function: its lowest function is unknown,
    so no phenotype (never a guessed one), even though a is malignant-hyperthermia associated."""
    d = defn("RYR1")
    rules = KB.phenotypes["RYR1"]
    known = "c.103T>C"
    unknown = next(a.name for a in d.alleles[1:] if a.name not in rules.functions
                   and len(own_variants(d, a.name)) == 1
                   and single_variant(d, a.name) != single_variant(d, known))
    assert rules.functions[known] == "Malignant Hyperthermia associated"
    bld = from_definition(d, {"S": ("Reference", "Reference")}, phased=True)
    for name in (known, unknown):
        set_site(bld, d, single_variant(d, name), {"S": "1|0"})
    gc = call_one(tmp_vcf(bld), "RYR1")
    assert len(gc.diplotypes) == 1 and gc.diplotypes[0][0] == "Reference"
    assert gc.diplotypes[0][1].startswith("[") and unknown in gc.diplotypes[0][1]
    assert gc.phenotype is None and gc.lookup_key is None
    assert any(unknown in w and "no function assigned" in w for w in gc.warnings)


def test_too_many_phase_blocks_fall_back_to_the_variant_list(tmp_vcf: WriteVcf) -> None:
    from pgxguard.call.rules.lowest_function import MAX_FREE_BLOCKS

    singles = [a.name for a in DPYD.alleles[1:] if len(own_variants(DPYD, a.name)) == 1]
    sites = sorted({single_variant(DPYD, n) for n in singles})[:MAX_FREE_BLOCKS + 1]
    path = tmp_vcf(_ps_case({i: ("0|1", k + 1) for k, i in enumerate(sites)}))
    gc = call_one(path, "DPYD")
    assert gc.diplotypes == () and len(gc.variants) == MAX_FREE_BLOCKS + 1
    assert any("phase blocks of unknown relative orientation" in w for w in gc.warnings)


def test_dpyd_ties_and_combinations_in_reports_and_fhir(tmp_vcf: WriteVcf) -> None:
    """Combinations and phase-set ties reach the clinician report and the FHIR Bundle, and a
    Bundle read back keeps them (members checked against the knowledge base); a Bundle whose
    phenotype disagrees with the pair the rule looks up is refused for the gene."""
    import dataclasses
    import json

    from pgxguard.report.fhir import report_bundle
    from pgxguard.report.html import clinician_html
    from pgxguard.service.results.fhir_import import extract_calls

    result = pgxguard.call(tmp_vcf(_ps_case({RS_9B: ("0|1", 1), RS_1774: ("0|1", 2)})),
                           genes=["DPYD"])
    gc = result.sample("S").gene("DPYD")
    html = clinician_html(result, None, "S")
    assert all(x.replace(">", "&gt;") in html for d in gc.diplotypes for x in d)
    bundle = report_bundle(result, None, "S")
    assert "[c.1774C>T + c.2657G>A (*9B)]" in json.dumps(bundle)
    back = extract_calls(bundle, "b.json", kb=KB)
    assert back is not None
    again = back.sample("S").gene("DPYD")
    assert again.diplotypes == gc.diplotypes and again.phenotype == gc.phenotype
    wrong = dataclasses.replace(result, samples=(dataclasses.replace(
        result.samples[0], genes=(dataclasses.replace(gc, phenotype="Normal Metabolizer",
                                                      activity_score=2.0,
                                                      lookup_key="2.0"),)),))
    refused = extract_calls(report_bundle(wrong, None, "S"), "w.json", kb=KB)
    assert refused is not None
    assert refused.sample("S").gene("DPYD").diplotypes == ()
    assert any("refused" in w for w in refused.sample("S").gene("DPYD").warnings)
