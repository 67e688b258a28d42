"""VCF input edge cases, each through the public API `pgxguard.call(path, genes=[...])`.

Every expectation is derived from the allele definitions in the knowledge base (positions, bases
and which named alleles define which cells) or from design.md "Matching semantics"; one small VCF
per case, written with `tests/vcfbuilder.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pgxguard
from kbfacts import (
    C19,
    KB,
    RS_1,
    RS_2,
    RS_3,
    RS_11,
    RS_17,
    RS_35,
    RS_35M,
    WriteVcf,
    defn,
    drop_site,
    index_of,
    own_variants,
    set_site,
    table_row,
)
from pgxguard.errors import SampleError, VcfError
from pgxguard.kb.model import GeneDefinition
from vcfbuilder import GRCH37_LENGTHS, VcfBuilder, from_definition

# --- helpers ------------------------------------------------------------------------------------

def gene_call(result: pgxguard.CallResult, gene: str, sample: str = "S") -> pgxguard.GeneCall:
    return result.sample(sample).gene(gene)


def missing_mentions(gc: pgxguard.GeneCall, d: GeneDefinition, i: int) -> bool:
    p = d.positions[i]
    return any(str(p.pos) in m and (p.rsid is None or p.rsid in m) for m in gc.missing_positions)


# CYP2C19 facts (PharmCAT's definition) are in `kbfacts`, checked here against the definition.
# *1, like the reference *38, is specified at every position (kb-sources README), so it scores
# one point per position with data.


def test_cyp2c19_facts() -> None:
    assert C19.reference_allele == "*38"
    assert own_variants(C19, "*1") == {RS_1: "G"}
    assert all(c is not None for c in C19.allele("*1").cells)
    assert own_variants(C19, "*2") == {RS_35: "G", RS_11: "R", RS_2: "A", RS_1: "G"}
    assert own_variants(C19, "*35") == {RS_35M: "M", RS_35: "G", RS_1: "G"}
    assert own_variants(C19, "*11") == {RS_11: "A", RS_1: "G"}
    assert own_variants(C19, "*17") == {RS_17: "T", RS_1: "G"}
    assert own_variants(C19, "*3") == {RS_3: "A", RS_1: "G"}
    # Apart from the reference, no named allele leaves one of these cells blank where it is
    # used below: *2, *3, *11, *17 and *35 define exactly the cells listed.
    for name in ("*2", "*3", "*11", "*17", "*35"):
        assert sum(c is not None for c in C19.allele(name).cells) == \
            len(own_variants(C19, name))


def one_two_vcf() -> VcfBuilder:
    """A CYP2C19 *1/*2 sample with every position written (unphased).

    *2's IUPAC cell at rs58973490 (R = G/A) is written as A (`vcfbuilder.concrete_base`).
    """
    return from_definition(C19, {"S": ("*1", "*2")}, phased=False)


def one_two_without(*gone: int, gt: str | None = None) -> VcfBuilder:
    """*1/*2 with positions `gone` dropped (gt None) or given genotype `gt`."""
    b = one_two_vcf()
    for i in gone:
        if gt is None:
            drop_site(b, C19, i)
        else:
            set_site(b, C19, i, {"S": gt})
    return b


# With rs58973490 and rs4244285 missing, the *2 strand (rs12769205 G, rs3758581 G, reference
# elsewhere) matches *2 by its two remaining cells and *35 by three cells less one for its IUPAC
# cell rs17882687 M read as the reference A: 2 points each, a tie with *1 on the other strand.
# Had the missing positions been read as reference, *2 (rs4244285 A) would be excluded and *1/*35
# called alone.
TIE_2_35 = {("*1", "*2"), ("*1", "*35")}


# --- blank cells, missing positions, --assume-reference ----------------------------------------

def test_blank_cell_is_the_reference_base(tmp_vcf: WriteVcf) -> None:
    # *1 and *17 leave every position except their own blank: a sample with reference bases
    # there (and rs3758581 G on both strands) is *1/*17 ...
    path = tmp_vcf(from_definition(C19, {"S": ("*1", "*17")}, phased=False))
    gc = gene_call(pgxguard.call(path, genes=["CYP2C19"]), "CYP2C19")
    assert gc.diplotypes == (("*1", "*17"),)
    assert gc.missing_positions == ()
    # ... while a non-reference base at a position blank in *1 and *17 (rs12769205 G on the
    # *1 strand) rules both out: that strand is now *35 (its M cell read as the reference A).
    b = from_definition(C19, {"S": ("*1", "*17")}, phased=False)
    set_site(b, C19, RS_35, {"S": "0/1"})
    gc = gene_call(pgxguard.call(tmp_vcf(b), genes=["CYP2C19"]), "CYP2C19")
    assert gc.diplotypes == (("*17", "*35"),)


def test_absent_position_is_missing_not_reference(tmp_vcf: WriteVcf) -> None:
    b = one_two_without(RS_11, RS_2)
    gc = gene_call(pgxguard.call(tmp_vcf(b), genes=["CYP2C19"]), "CYP2C19")
    assert set(gc.diplotypes) == TIE_2_35
    assert len(gc.missing_positions) == 2
    assert missing_mentions(gc, C19, RS_2) and missing_mentions(gc, C19, RS_11)
    assert any("tie" in w for w in gc.warnings)


def test_absent_position_keeps_the_allele_it_defines(tmp_vcf: WriteVcf) -> None:
    # Only rs4244285 absent: the *2 strand still carries rs58973490 A, which *35 (blank there,
    # so the reference G) cannot have: *1/*2 by *2's three remaining cells. Read as reference,
    # rs4244285 G would exclude *2, and the only strand split left is *11 (rs58973490 A) + *35.
    gc = gene_call(pgxguard.call(tmp_vcf(one_two_without(RS_2)), genes=["CYP2C19"]),
                   "CYP2C19")
    assert gc.diplotypes == (("*1", "*2"),)
    assert len(gc.missing_positions) == 1 and missing_mentions(gc, C19, RS_2)
    filled = gene_call(pgxguard.call(tmp_vcf(one_two_without(RS_2)), genes=["CYP2C19"],
                                     assume_reference=True), "CYP2C19")
    assert filled.diplotypes == (("*11", "*35"),)


def test_assume_reference_fills_absent_positions(tmp_vcf: WriteVcf) -> None:
    b = one_two_without(RS_11, RS_2)
    result = pgxguard.call(tmp_vcf(b), genes=["CYP2C19"], assume_reference=True)
    gc = gene_call(result, "CYP2C19")
    # rs58973490 and rs4244285 taken as G/G: no strand carries *2's A, so the *2 strand is *35.
    assert gc.diplotypes == (("*1", "*35"),)
    assert gc.missing_positions == ()
    assert result.options["assume_reference"] is True
    assert any("assume-reference" in w for w in gc.warnings)


def test_assume_reference_does_not_override_explicit_missing(tmp_vcf: WriteVcf) -> None:
    # `./.` is data saying "no call", not an absent position: still missing.
    b = one_two_without(RS_11, RS_2, gt="./.")
    gc = gene_call(pgxguard.call(tmp_vcf(b), genes=["CYP2C19"], assume_reference=True),
                   "CYP2C19")
    assert missing_mentions(gc, C19, RS_2) and missing_mentions(gc, C19, RS_11)
    assert set(gc.diplotypes) == TIE_2_35


@pytest.mark.parametrize("gt", ["./.", "0/.", "./0", "."])
def test_no_call_genotypes_are_missing(tmp_vcf: WriteVcf, gt: str) -> None:
    b = one_two_without(RS_11, RS_2, gt=gt)
    gc = gene_call(pgxguard.call(tmp_vcf(b), genes=["CYP2C19"]), "CYP2C19")
    assert missing_mentions(gc, C19, RS_2) and missing_mentions(gc, C19, RS_11)
    assert set(gc.diplotypes) == TIE_2_35


@pytest.mark.parametrize("gt", ["1/.", "./1", "1|."])
def test_partial_non_reference_genotype_gives_no_call(tmp_vcf: WriteVcf, gt: str) -> None:
    b = one_two_vcf()
    set_site(b, C19, RS_2, {"S": gt})
    gc = gene_call(pgxguard.call(tmp_vcf(b), genes=["CYP2C19"]), "CYP2C19")
    assert gc.diplotypes == ()
    assert gc.source == "none"
    assert gc.phenotype is None
    assert any("no call" in w for w in gc.warnings)


# --- REF mismatch, AD contradiction ---------------------------------------------------------------

def test_ref_disagreeing_with_definition_is_missing(tmp_vcf: WriteVcf) -> None:
    # rs4244285's definition REF is G; a record claiming REF C is from another reference/build.
    # (rs58973490 dropped, so the result is the *2/*35 tie above.)
    assert C19.positions[RS_2].ref == "G"
    b = one_two_without(RS_11)
    set_site(b, C19, RS_2, {"S": "0/1"}, ref="C", alts=["A"])
    result = pgxguard.call(tmp_vcf(b), genes=["CYP2C19"])
    gc = gene_call(result, "CYP2C19")
    assert missing_mentions(gc, C19, RS_2)
    assert any("REF" in w and str(C19.positions[RS_2].pos) in w for w in gc.warnings)
    assert set(gc.diplotypes) == TIE_2_35


def _ad_vcf(ad: str) -> str:
    b = one_two_without(RS_11)
    set_site(b, C19, RS_2, {"S": "0/1"}, fmt_extra={"AD": {"S": ad}})
    # AD as real callers declare it (one integer per allele).
    return b.text().replace(
        '##FORMAT=<ID=AD,Number=.,Type=String,Description="AD">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">')


def test_het_contradicted_by_ad_is_missing(tmp_vcf: WriteVcf) -> None:
    gc = gene_call(pgxguard.call(tmp_vcf(_ad_vcf("10,0")), genes=["CYP2C19"]), "CYP2C19")
    assert missing_mentions(gc, C19, RS_2)
    assert any("AD" in w for w in gc.warnings)
    assert set(gc.diplotypes) == TIE_2_35


def test_het_supported_by_ad_is_used(tmp_vcf: WriteVcf) -> None:
    gc = gene_call(pgxguard.call(tmp_vcf(_ad_vcf("10,8")), genes=["CYP2C19"]), "CYP2C19")
    assert len(gc.missing_positions) == 1 and missing_mentions(gc, C19, RS_11)
    assert gc.diplotypes == (("*1", "*2"),)


# --- contig names and builds ---------------------------------------------------------------------

def _comparable(gc: pgxguard.GeneCall) -> dict[str, object]:
    return gc.to_json()


def test_chr_prefixed_and_bare_contigs_give_identical_calls(tmp_vcf: WriteVcf) -> None:
    calls = []
    for prefix in ("chr", ""):
        b = from_definition(C19, {"S": ("*2", "*17")}, phased=False, chrom_prefix=prefix)
        text = b.text()
        assert (f"\n{prefix}10\t" in text) if prefix else ("\n10\t" in text)
        calls.append(_comparable(gene_call(pgxguard.call(tmp_vcf(b), genes=["CYP2C19"]),
                                           "CYP2C19")))
    assert calls[0] == calls[1]
    assert calls[0]["diplotypes"] == [["*2", "*17"]]


def test_grch37_vcf_is_matched_on_grch37_coordinates(tmp_vcf: WriteVcf) -> None:
    d37 = defn("CYP2C19", "GRCh37")
    assert {p.pos for p in d37.positions}.isdisjoint({p.pos for p in C19.positions})
    b = from_definition(d37, {"S": ("*2", "*17")}, phased=False, build="GRCh37")
    text = b.text()
    assert "##reference=GRCh37" in text and f"length={GRCH37_LENGTHS['1']}" in text
    result = pgxguard.call(tmp_vcf(text), genes=["CYP2C19"])
    assert result.build == "GRCh37"
    gc = gene_call(result, "CYP2C19")
    assert gc.diplotypes == (("*2", "*17"),)
    assert gc.missing_positions == ()


def test_grch37_detected_from_contig_lengths_alone(tmp_vcf: WriteVcf) -> None:
    d37 = defn("CYP2C19", "GRCh37")
    text = from_definition(d37, {"S": ("*2", "*17")}, phased=False, build="GRCh37").text()
    text = text.replace("##reference=GRCh37\n", "").replace(",assembly=GRCh37", "")
    assert "GRCh37" not in text
    result = pgxguard.call(tmp_vcf(text), genes=["CYP2C19"])
    assert result.build == "GRCh37"
    assert gene_call(result, "CYP2C19").diplotypes == (("*2", "*17"),)


def _no_build_text() -> str:
    d37 = defn("CYP2C19", "GRCh37")
    text = from_definition(d37, {"S": ("*2", "*17")}, phased=False, build="GRCh37").text()
    return "".join(line for line in text.splitlines(keepends=True)
                   if not line.startswith(("##reference", "##contig")))


def test_no_build_information_is_an_error(tmp_vcf: WriteVcf) -> None:
    path = tmp_vcf(_no_build_text())
    with pytest.raises(VcfError) as e:
        pgxguard.call(path, genes=["CYP2C19"])
    assert str(path) in str(e.value)
    assert "build" in str(e.value)


def test_no_build_information_with_explicit_build(tmp_vcf: WriteVcf) -> None:
    result = pgxguard.call(tmp_vcf(_no_build_text()), genes=["CYP2C19"], build="GRCh37")
    assert result.build == "GRCh37"
    assert gene_call(result, "CYP2C19").diplotypes == (("*2", "*17"),)


# --- multi-allelic records and indel representation ----------------------------------------------

def test_multiallelic_record_equals_split_records(tmp_vcf: WriteVcf) -> None:
    # CYP2C9 at GRCh38 10:94942309 (G>A,T): *8 carries A, *27 carries T (single-variant
    # alleles, checked below). A *8/*27 sample is GT 1/2 on one record, or 1/0 + 0/1 when split
    # (as `bcftools norm -m-` writes it).
    d = defn("CYP2C9")
    (i,) = [i for i, p in enumerate(d.positions) if p.pos == 94942309]
    p = d.positions[i]
    assert p.ref == "G" and set(p.alts) == {"A", "T"}
    assert own_variants(d, "*8") == {i: "A"}
    assert own_variants(d, "*27") == {i: "T"}
    multi = from_definition(d, {"S": ("*1", "*1")}, phased=False)
    set_site(multi, d, i, {"S": "1/2"}, alts=["A", "T"])
    split = from_definition(d, {"S": ("*1", "*1")}, phased=False)
    drop_site(split, d, i)
    split.add(p.chrom, p.pos, "G", ["A"], {"S": "1/0"})
    split.add(p.chrom, p.pos, "G", ["T"], {"S": "0/1"})
    def rows(b: VcfBuilder) -> list[list[str]]:
        return [ln.split("\t")[3:5] for ln in b.text().splitlines()
                if ln.split("\t")[1:2] == [str(p.pos)]]

    assert rows(multi) == [["G", "A,T"]]
    assert sorted(rows(split)) == [["G", "A"], ["G", "T"]]
    a = gene_call(pgxguard.call(tmp_vcf(multi), genes=["CYP2C9"]), "CYP2C9")
    s = gene_call(pgxguard.call(tmp_vcf(split), genes=["CYP2C9"]), "CYP2C9")
    assert a.diplotypes == (("*8", "*27"),)
    assert _comparable(a) == _comparable(s)


UGT = defn("UGT1A1")
UGT_28 = index_of(UGT, "rs3064744")


@pytest.mark.parametrize(("ref", "alt"), [
    ("CAT", "CATAT"),      # the definition's own spelling
    ("C", "CAT"),          # anchor base only (what most callers write)
    ("CATA", "CATATA"),    # one extra reference base on the right, shared by REF and ALT
])
def test_ugt1a1_28_insertion_any_padding(tmp_vcf: WriteVcf, ref: str, alt: str) -> None:
    # UGT1A1*28 is (TA)7: one extra TA after GRCh38 2:233760233 (C, then the TA repeat).
    p = UGT.positions[UGT_28]
    assert (p.pos, p.ref) == (233760233, "CAT")
    assert own_variants(UGT, "*28") == {UGT_28: "CATAT"}
    b = from_definition(UGT, {"S": ("*1", "*1")}, phased=False)
    set_site(b, UGT, UGT_28, {"S": "0/1"}, ref=ref, alts=[alt])
    gc = gene_call(pgxguard.call(tmp_vcf(b), genes=["UGT1A1"]), "UGT1A1")
    assert gc.diplotypes == (("*1", "*28"),)
    assert gc.missing_positions == ()
    # CPIC: UGT1A1 *1/*28 is an intermediate metabolizer; the published table says the same.
    assert gc.phenotype == table_row("UGT1A1", "*1", "*28").phenotype == \
        "Intermediate Metabolizer"


def test_dpyd_c1898delc_deletion(tmp_vcf: WriteVcf) -> None:
    d = defn("DPYD")
    name = "c.1898delC (*3)"
    ((i, cell),) = own_variants(d, name).items()
    p = d.positions[i]
    assert (p.pos, p.ref, cell) == (97450065, "TG", "T")
    b = from_definition(d, {"S": ("Reference", "Reference")}, phased=False)
    set_site(b, d, i, {"S": "0/1"}, alts=["T"])
    gc = gene_call(pgxguard.call(tmp_vcf(b), genes=["DPYD"]), "DPYD")
    # One heterozygous site: effectively phased, so a diplotype (design.md gene rules).
    assert gc.diplotypes == (("Reference", name),)
    assert gc.phased
    act = KB.allele_activity["DPYD"]
    assert gc.activity_score == act["Reference"] + act[name] == 1.0
    assert gc.phenotype == "Intermediate Metabolizer"


# --- gVCF ---------------------------------------------------------------------------------------

def test_gvcf_reference_block_counts_as_tested(tmp_vcf: WriteVcf) -> None:
    # *1/*17: rs12248560 0/1, rs3758581 1/1; everything else lies inside <NON_REF> blocks.
    first, last = C19.positions[0].pos, C19.positions[-1].pos
    p17, p1 = C19.positions[RS_17], C19.positions[RS_1]
    assert p17.pos == first
    header = [
        "##fileformat=VCFv4.2", "##reference=GRCh38",
        "##contig=<ID=chr10,length=133797422>",
        '##ALT=<ID=NON_REF,Description="Any other allele">',
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End of the block">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT",
                   "S"]),
    ]

    def row(pos: int, ref: str, alt: str, info: str, gt: str) -> str:
        return "\t".join(["chr10", str(pos), ".", ref, alt, ".", "PASS", info, "GT", gt])

    body = [
        row(p17.pos, p17.ref, f"{p17.alts[0]},<NON_REF>", ".", "0/1"),
        # Block starts one base after the first position; its REF is the first base of the block,
        # which for a block starting at a definition position is that position's REF.
        row(first + 1, "N", "<NON_REF>", f"END={p1.pos - 1}", "0/0"),
        row(p1.pos, p1.ref, f"{p1.alts[0]},<NON_REF>", ".", "1/1"),
        row(p1.pos + 1, "N", "<NON_REF>", f"END={last + 10}", "0/0"),
    ]
    gc = gene_call(pgxguard.call(tmp_vcf("\n".join(header + body) + "\n"), genes=["CYP2C19"]),
                   "CYP2C19")
    assert gc.missing_positions == ()
    assert gc.diplotypes == (("*1", "*17"),)


# --- samples ------------------------------------------------------------------------------------

def _three_samples() -> VcfBuilder:
    return from_definition(C19, {"A": ("*1", "*2"), "B": ("*17", "*17"), "C": ("*1", "*1")},
                           phased=False)


def test_every_sample_of_a_multi_sample_vcf(tmp_vcf: WriteVcf) -> None:
    result = pgxguard.call(tmp_vcf(_three_samples()), genes=["CYP2C19"])
    assert [s.sample for s in result.samples] == ["A", "B", "C"]
    assert gene_call(result, "CYP2C19", "A").diplotypes == (("*1", "*2"),)
    assert gene_call(result, "CYP2C19", "B").diplotypes == (("*17", "*17"),)
    assert gene_call(result, "CYP2C19", "C").diplotypes == (("*1", "*1"),)


def test_sample_selection(tmp_vcf: WriteVcf) -> None:
    result = pgxguard.call(tmp_vcf(_three_samples()), genes=["CYP2C19"], samples=["B"])
    assert [s.sample for s in result.samples] == ["B"]
    assert gene_call(result, "CYP2C19", "B").diplotypes == (("*17", "*17"),)


def test_unknown_sample_is_a_sample_error(tmp_vcf: WriteVcf) -> None:
    path = tmp_vcf(_three_samples())
    with pytest.raises(SampleError) as e:
        pgxguard.call(path, genes=["CYP2C19"], samples=["NOPE"])
    assert "NOPE" in str(e.value) and str(path) in str(e.value)


def test_duplicate_sample_names_are_a_sample_error(tmp_vcf: WriteVcf) -> None:
    text = _three_samples().text()
    lines = text.splitlines()
    header_at = next(i for i, ln in enumerate(lines) if ln.startswith("#CHROM"))
    lines[header_at] = lines[header_at].replace("\tC", "\tA")
    assert lines[header_at].endswith("\tA\tB\tA")
    path = tmp_vcf("\n".join(lines) + "\n")
    with pytest.raises(SampleError) as e:
        pgxguard.call(path, genes=["CYP2C19"])
    assert "'A'" in str(e.value) and str(path) in str(e.value)


@pytest.mark.parametrize("prefix", ["chr", ""])
def test_indexed_bgzip_region_queries_with_either_contig_style(tmp_vcf: WriteVcf,
                                                               prefix: str) -> None:
    # An indexed file is read by region queries, which must translate `10` <-> `chr10`.
    b = from_definition(C19, {"S": ("*2", "*17")}, phased=False, chrom_prefix=prefix)
    path = tmp_vcf(b, compress="bgzip", index=True)
    result = pgxguard.call(path, genes=["CYP2C19"])
    assert result.input["indexed"] is True
    gc = gene_call(result, "CYP2C19")
    assert gc.diplotypes == (("*2", "*17"),)
    assert gc.missing_positions == ()


@pytest.mark.parametrize("compress", ["bgzip", "gzip"])
def test_compressed_without_index(tmp_vcf: WriteVcf, compress: str) -> None:
    # Unindexed compressed input is streamed; plain gzip (not BGZF) is a common mistake.
    path = tmp_vcf(from_definition(C19, {"S": ("*2", "*17")}, phased=False), compress=compress)
    result = pgxguard.call(path, genes=["CYP2C19"])
    assert result.input["indexed"] is False
    assert gene_call(result, "CYP2C19").diplotypes == (("*2", "*17"),)


@pytest.mark.parametrize("index", [False, True])
def test_bcf_gives_the_same_calls_as_vcf(tmp_vcf: WriteVcf, tmp_path: Path, index: bool) -> None:
    pysam = pytest.importorskip("pysam")
    b = from_definition(C19, {"S": ("*2", "*17"), "T": ("*1", "*3")}, phased=False)
    vcf = tmp_vcf(b)
    bcf = tmp_path / "x.bcf"
    with pysam.VariantFile(str(vcf)) as vin, \
            pysam.VariantFile(str(bcf), "wb", header=vin.header) as vout:
        for rec in vin:
            vout.write(rec)
    if index:
        bcftools = pytest.importorskip("pysam.bcftools")
        bcftools.index(str(bcf))
        assert (tmp_path / "x.bcf.csi").exists()
    from_vcf = pgxguard.call(vcf, genes=["CYP2C19"])
    from_bcf = pgxguard.call(bcf, genes=["CYP2C19"])
    for s in ("S", "T"):
        assert _comparable(gene_call(from_bcf, "CYP2C19", s)) == \
            _comparable(gene_call(from_vcf, "CYP2C19", s))
    assert gene_call(from_bcf, "CYP2C19", "T").diplotypes == (("*1", "*3"),)


@pytest.mark.parametrize("samples", [None, ["S"]])
def test_nearby_clusters_read_as_one_region_give_the_same_calls(
        tmp_vcf: WriteVcf, monkeypatch: pytest.MonkeyPatch, samples: list[str] | None) -> None:
    # One patient from a dense panel: clusters of definition positions less than READ_GAP
    # apart are read with one region query, so the records between them are read too. They
    # touch no position: the calls must equal those of one query per cluster (READ_GAP 0).
    from itertools import pairwise

    from pgxguard.io import vcf as vcfmod
    from pgxguard.io.genotypes import position_clusters

    assert len(vcfmod._read_regions(C19, vcfmod.READ_GAP)) < len(position_clusters(C19))
    b = from_definition(C19, {"S": ("*2", "*17"), "T": ("*1", "*3")}, phased=False)
    clusters = position_clusters(C19)
    for (_, hi), (lo, _) in pairwise(clusters):
        for pos in (hi + 1, (hi + lo) // 2, lo - 1):  # records between clusters, any genotype
            b.add("10", pos, "A", ["G"], {"S": "0/1", "T": "1/1"})
    path = tmp_vcf(b, compress="bgzip", index=True)

    merged = pgxguard.call(path, genes=["CYP2C19"], samples=samples)
    monkeypatch.setattr(vcfmod, "READ_GAP", 0)
    per_cluster = pgxguard.call(path, genes=["CYP2C19"], samples=samples)
    assert merged.input["indexed"] is True
    assert merged.to_json() == per_cluster.to_json()
    assert gene_call(merged, "CYP2C19", "S").diplotypes == (("*2", "*17"),)
