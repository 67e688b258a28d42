"""Unit tests of the test oracle (tests/reference_matcher.py).

The expected values of the first three tests are PharmCAT's NamedAlleleMatcher-101 worked examples
(docs/methods/NamedAlleleMatcher-101.md), copied by hand; the others are small cases worked out by
hand in the comments.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgxguard.kb.model import GeneDefinition, NamedAllele, Position
from reference_matcher import (
    Genotype,
    TooManyOrientations,
    call_factorised,
    call_literal,
    effectively_phased,
)

BOTH = pytest.mark.parametrize("call", [call_literal, call_factorised],
                               ids=["literal", "factorised"])


def toy_gene(**kw: object) -> GeneDefinition:
    """The NamedAlleleMatcher-101 table.

    |     | rs1 | rs2 | rs3 | rs4 | rs5 |
    | *1  | C   | C   | T   | G   | A   |
    | *2  | T   |     |     | A   |     |
    | *3  |     |     |     | A   |     |
    | *4  |     | T   |     |     |     |
    | *5  | T   |     |     |     |     |
    """
    refs = ["C", "C", "T", "G", "A"]
    alts = [("T",), ("T",), ("C",), ("A",), ("G",)]
    positions = tuple(
        Position(chrom="1", pos=1000 + 10 * k, ref=r, alts=a, rsid=f"rs{k + 1}")
        for k, (r, a) in enumerate(zip(refs, alts, strict=True)))
    n = None
    alleles = (
        NamedAllele("*1", ("C", "C", "T", "G", "A")),
        NamedAllele("*2", ("T", n, n, "A", n)),
        NamedAllele("*3", (n, n, n, "A", n)),
        NamedAllele("*4", (n, "T", n, n, n)),
        NamedAllele("*5", ("T", n, n, n, n)),
    )
    return GeneDefinition(gene="TOY", build="GRCh38", chrom="1", positions=positions,
                          alleles=alleles, **kw)  # type: ignore[arg-type]


def unphased(*gts: str | None) -> list[Genotype | None]:
    return [None if g is None else Genotype(tuple(g.split("/"))) for g in gts]


def phased(*gts: str | None, ps: list[int | None] | None = None) -> list[Genotype | None]:
    out: list[Genotype | None] = []
    for k, g in enumerate(gts):
        if g is None:
            out.append(None)
        else:
            out.append(Genotype(tuple(g.split("|")), phased=True,
                                phase_set=ps[k] if ps else None))
    return out


# --- NamedAlleleMatcher-101 examples --------------------------------------------------------------

@BOTH
def test_101_example(call) -> None:  # type: ignore[no-untyped-def]
    r = call(toy_gene(), unphased("C/T", "C/C", "T/T", "A/G", "A/A"))
    assert r.diplotypes == (("*1", "*2"),)
    assert r.score == 7
    # The plausible diplotypes listed by the document, and nothing else.
    assert r.candidates == {("*1", "*2"): 7, ("*3", "*5"): 2}


@BOTH
def test_101_missing_rs5(call) -> None:  # type: ignore[no-untyped-def]
    r = call(toy_gene(), unphased("C/T", "C/C", "T/T", "A/G", None))
    assert r.diplotypes == (("*1", "*2"),)
    assert r.score == 6
    assert r.candidates == {("*1", "*2"): 6, ("*3", "*5"): 2}
    assert r.missing == (4,)


@BOTH
def test_101_missing_rs1(call) -> None:  # type: ignore[no-untyped-def]
    r = call(toy_gene(), unphased(None, "C/C", "T/T", "A/G", "A/A"))
    assert r.diplotypes == (("*1", "*2"), ("*1", "*3"))
    assert r.score == 5
    # *5 is defined only at rs1, so it can never be matched here.
    assert not any("*5" in d for d in r.candidates)


# --- phasing --------------------------------------------------------------------------------------

@BOTH
def test_phased_strand_without_match_gives_no_call(call) -> None:  # type: ignore[no-untyped-def]
    # Strand 0 = T T T A A: *2 needs C at rs2, *4 needs C at rs1, *5 needs C at rs2 -> nothing.
    gts = phased("T|C", "T|C", "T|T", "A|G", "A|A")
    r = call(toy_gene(), gts)
    assert r.diplotypes == ()
    assert r.score is None
    # The same genotypes unphased: only rs2 flipped against rs1/rs4 works:
    # T C T A A (*2) + C T T G A (*4) = 2 + 1.
    r = call(toy_gene(), unphased("T/C", "T/C", "T/T", "A/G", "A/A"))
    assert r.diplotypes == (("*2", "*4"),)
    assert r.score == 3


@BOTH
def test_phase_sets_are_independent_blocks(call) -> None:  # type: ignore[no-untyped-def]
    gts = ("C|T", "C|C", "T|T", "A|G", "A|A")
    # One block (no PS): strands C C T A A (*3) and T C T G A (*5).
    r = call(toy_gene(), phased(*gts))
    assert r.diplotypes == (("*3", "*5"),)
    assert r.score == 2
    # Same PS: still one block.
    r = call(toy_gene(), phased(*gts, ps=[7, 7, 7, 7, 7]))
    assert r.diplotypes == (("*3", "*5"),)
    # rs1 and rs4 in different phase sets: the blocks may flip, so *1/*2 wins again.
    r = call(toy_gene(), phased(*gts, ps=[7, 7, 7, 9, 9]))
    assert r.diplotypes == (("*1", "*2"),)
    assert r.score == 7
    # Phased rs1 with unphased rs4: the unphased site is its own block.
    mixed = phased("C|T", "C|C", "T|T", None, "A|A")
    mixed[3] = Genotype(("A", "G"))
    assert call(toy_gene(), mixed).diplotypes == (("*1", "*2"),)
    assert not effectively_phased(toy_gene(), phased(*gts, ps=[7, 7, 7, 9, 9]))
    assert effectively_phased(toy_gene(), phased(*gts))


@BOTH
def test_homozygous_data_can_tie_on_one_sequence(call) -> None:  # type: ignore[no-untyped-def]
    # rs1 missing, A/A at rs4: the one sequence "? C T A A" matches *2 (rs4 only) and *3.
    r = call(toy_gene(), unphased(None, "C/C", "T/T", "A/A", "A/A"))
    assert r.diplotypes == (("*2", "*2"), ("*2", "*3"), ("*3", "*3"))
    assert r.score == 2


@BOTH
def test_haploid(call) -> None:  # type: ignore[no-untyped-def]
    gts = [Genotype((a,)) for a in ("T", "C", "T", "A", "A")]
    r = call(toy_gene(), gts)
    assert r.diplotypes == (("*2",),)
    assert r.score == 2
    gts = [Genotype((a,)) for a in ("C", "C", "T", "G", "A")]
    assert call(toy_gene(), gts).diplotypes == (("*1",),)


# --- IUPAC, unknown ALTs, structural alleles ------------------------------------------------------

def wobble_gene() -> GeneDefinition:
    # p1 ref A, p2 ref C. *2 = R (A or G) at p1, T at p2.
    positions = (Position("1", 100, "A", ("G",)), Position("1", 200, "C", ("T",)))
    alleles = (NamedAllele("*1", ("A", "C")), NamedAllele("*2", ("R", "T")),
               NamedAllele("*3", (None, "T")))
    return GeneDefinition(gene="WOB", build="GRCh38", chrom="1", positions=positions,
                          alleles=alleles)


@BOTH
def test_iupac_penalty(call) -> None:  # type: ignore[no-untyped-def]
    # A/A, C/T: strands A C (*1, 2) and A T: *2 = 2 - 1 (its R cell sees only the ref A) = 1,
    # *3 = 1. So *1/*2 and *1/*3 tie at 3.
    r = call(wobble_gene(), unphased("A/A", "C/T"))
    assert r.diplotypes == (("*1", "*2"), ("*1", "*3"))
    assert r.score == 3
    # G|A, T|C: strands G T (*2, no penalty: 2) and A C (*1, 2) -> 4; *3 cannot take G.
    r = call(wobble_gene(), phased("G|A", "T|C"))
    assert r.diplotypes == (("*1", "*2"),)
    assert r.score == 4
    # A/A, T/T: *2/*2 = 2 * (2 - 1) = 2, *2/*3 = 1 + 1, *3/*3 = 2: a three-way tie.
    r = call(wobble_gene(), unphased("A/A", "T/T"))
    assert r.diplotypes == (("*2", "*2"), ("*2", "*3"), ("*3", "*3"))
    assert r.score == 2


@BOTH
def test_unknown_alt(call) -> None:  # type: ignore[no-untyped-def]
    gts = unphased("C/T", "C/C", "T/T", "A/G", "A/C")  # C at rs5 is in no definition
    assert call(toy_gene(), gts).diplotypes == ()
    r = call(toy_gene(unknown_alt_as_reference=True), gts)
    assert r.diplotypes == (("*1", "*2"),)
    assert r.score == 7


@BOTH
def test_structural_alleles_are_not_called(call) -> None:  # type: ignore[no-untyped-def]
    r = call(toy_gene(structural_alleles=("*2",)),
             unphased("C/T", "C/C", "T/T", "A/G", "A/A"))
    assert r.diplotypes == (("*3", "*5"),)


@BOTH
def test_all_missing_is_no_call(call) -> None:  # type: ignore[no-untyped-def]
    r = call(toy_gene(), [None] * 5)
    assert r.diplotypes == ()
    assert r.missing == (0, 1, 2, 3, 4)


def test_literal_cap() -> None:
    positions = tuple(Position("1", 100 + k, "A", ("G",)) for k in range(6))
    defn = GeneDefinition(gene="BIG", build="GRCh38", chrom="1", positions=positions,
                          alleles=(NamedAllele("*1", ("A",) * 6),))
    with pytest.raises(TooManyOrientations):
        call_literal(defn, unphased(*["A/G"] * 6), max_orientations=2 ** 4)


# --- the factorised oracle agrees with the literal one --------------------------------------------

_CELLS = ["A", "C", "G", "T", "R", "Y", "N", None]


@st.composite
def cases(draw: st.DrawFn) -> tuple[GeneDefinition, list[Genotype | None]]:
    n_pos = draw(st.integers(1, 5))
    refs = draw(st.lists(st.sampled_from("ACGT"), min_size=n_pos, max_size=n_pos))
    positions = tuple(
        Position("1", 100 + 10 * k, r, tuple(b for b in "ACGT" if b != r))
        for k, r in enumerate(refs))
    n_alleles = draw(st.integers(1, 6))
    alleles = [NamedAllele("*1", tuple(refs))]
    for a in range(2, n_alleles + 1):
        cells = draw(st.lists(st.sampled_from(_CELLS), min_size=n_pos, max_size=n_pos))
        alleles.append(NamedAllele(f"*{a}", tuple(cells)))
    defn = GeneDefinition(gene="RND", build="GRCh38", chrom="1", positions=positions,
                          alleles=tuple(alleles),
                          unknown_alt_as_reference=draw(st.booleans()))
    ploidy = draw(st.sampled_from([1, 2, 2, 2]))
    gts: list[Genotype | None] = []
    for _ in range(n_pos):
        if draw(st.integers(0, 6)) == 0:
            gts.append(None)
            continue
        seqs = tuple(draw(st.sampled_from("ACGT")) for _ in range(ploidy))
        is_phased = draw(st.booleans())
        ps = draw(st.sampled_from([None, 1, 2])) if is_phased else None
        gts.append(Genotype(seqs, phased=is_phased, phase_set=ps))
    return defn, gts


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_factorised_equals_literal(case: tuple[GeneDefinition, list[Genotype | None]]) -> None:
    defn, gts = case
    a = call_literal(defn, gts)
    b = call_factorised(defn, gts)
    assert a.diplotypes == b.diplotypes
    assert a.score == b.score
    assert a.candidates == b.candidates
