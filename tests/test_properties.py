"""Hypothesis property tests of the matcher.

Random small definitions (SNV positions, IUPAC cells, blanks) and random genotypes (phased,
unphased, phase sets, missing data, haploid): the matcher must agree with the brute-force oracle
in tests/reference_matcher.py, and a few metamorphic properties must hold.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgxguard.kb.model import GeneDefinition, NamedAllele, Position
from pgxguard.match.matcher import match_gene
from pgxguard.match.types import SiteCall
from reference_matcher import Genotype, TooManyOrientations, call_literal

BASES = "ACGT"
SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def definitions(draw: st.DrawFn, iupac: bool = True) -> GeneDefinition:
    n_pos = draw(st.integers(1, 5))
    refs = [draw(st.sampled_from(BASES)) for _ in range(n_pos)]
    alts = [draw(st.sampled_from([b for b in BASES if b != r])) for r in refs]
    positions = tuple(Position(chrom="1", pos=100 + 10 * i, ref=refs[i], alts=(alts[i],))
                      for i in range(n_pos))
    alleles = [NamedAllele("*1", tuple(refs))]
    n_alleles = draw(st.integers(1, 5))
    for k in range(n_alleles):
        cells: list[str | None] = []
        for i in range(n_pos):
            choices: list[str | None] = [None, alts[i], refs[i]]
            if iupac:
                code = {"AG": "R", "GA": "R", "CT": "Y", "TC": "Y", "GC": "S", "CG": "S",
                        "AT": "W", "TA": "W", "GT": "K", "TG": "K", "AC": "M", "CA": "M"}
                choices.append(code[refs[i] + alts[i]])
            cells.append(draw(st.sampled_from(choices)))
        alleles.append(NamedAllele(f"*{k + 2}", tuple(cells)))
    return GeneDefinition(gene="TOY", build="GRCh38", chrom="1", positions=positions,
                          alleles=tuple(alleles))


@st.composite
def cases(draw: st.DrawFn, iupac: bool = True) -> tuple[GeneDefinition, list[Genotype | None]]:
    defn = draw(definitions(iupac))
    haploid = draw(st.booleans()) and draw(st.booleans())
    mode = draw(st.sampled_from(["phased", "unphased", "ps", "mixed"]))
    genos: list[Genotype | None] = []
    for i, p in enumerate(defn.positions):
        if draw(st.integers(0, 5)) == 0:
            genos.append(None)
            continue
        ploidy = 1 if haploid else 2
        alleles = tuple(draw(st.sampled_from([p.ref, p.alts[0]])) for _ in range(ploidy))
        phased = mode in ("phased", "ps") or (mode == "mixed" and i % 2 == 0)
        ps = draw(st.integers(1, 2)) if mode == "ps" else None
        genos.append(Genotype(alleles, phased, ps))
    return defn, genos


def _sites(genos: list[Genotype | None]) -> list[SiteCall | None]:
    return [None if g is None else SiteCall(g.alleles, g.phased, g.phase_set) for g in genos]


def _agree(case: tuple[GeneDefinition, list[Genotype | None]]) -> None:
    defn, genos = case
    try:
        expected = call_literal(defn, genos)
    except TooManyOrientations:
        return
    got = match_gene(defn, _sites(genos))
    assert set(got.diplotypes) == expected.diplotype_set
    if expected.diplotypes:
        assert got.score == expected.score


@SETTINGS
@given(cases(iupac=False))
def test_matcher_agrees_with_brute_force_oracle(case: tuple[GeneDefinition, list]) -> None:
    _agree(case)


@SETTINGS
@given(cases(iupac=True))
def test_matcher_agrees_with_oracle_on_iupac_cells(case: tuple[GeneDefinition, list]) -> None:
    _agree(case)


@SETTINGS
@given(cases(iupac=False), st.data())
def test_hiding_a_position_never_loses_a_consistent_call(case: tuple[GeneDefinition, list],
                                                         data: st.DataObject) -> None:
    """Less data can only widen what is consistent: a called gene stays called."""
    defn, genos = case
    full = match_gene(defn, _sites(genos))
    present = [i for i, g in enumerate(genos) if g is not None]
    if not full.diplotypes or len(present) < 2:
        return
    hide = data.draw(st.sampled_from(present))
    hidden = list(genos)
    hidden[hide] = None
    less = match_gene(defn, _sites(hidden))
    assert less.diplotypes, "hiding a position turned a call into a no-call"
    assert len(less.missing_positions) == len(full.missing_positions) + 1


@SETTINGS
@given(cases(iupac=False))
def test_phased_call_is_consistent_with_the_unphased_genotypes(
        case: tuple[GeneDefinition, list]) -> None:
    """Dropping phase never removes a possibility: every phased diplotype remains consistent."""
    defn, genos = case
    phased = [None if g is None else Genotype(g.alleles, True, None) for g in genos]
    unphased = [None if g is None else Genotype(g.alleles, False, None) for g in genos]
    p_call = match_gene(defn, _sites(phased))
    u_call = match_gene(defn, _sites(unphased))
    if p_call.diplotypes and len(genos) and all(g is None or len(g.alleles) == 2 for g in genos):
        assert u_call.diplotypes
        assert u_call.score is not None and p_call.score is not None
        assert u_call.score >= p_call.score
    het = [g for g in unphased if g is not None and len(set(g.alleles)) > 1]
    if len(het) <= 1:  # effectively phased: phase information cannot matter
        assert set(p_call.diplotypes) == set(u_call.diplotypes)
        assert u_call.phased or u_call.no_call_reason is not None


@SETTINGS
@given(cases(iupac=False))
def test_swapping_strands_does_not_change_the_call(case: tuple[GeneDefinition, list]) -> None:
    defn, genos = case
    swapped = [None if g is None else Genotype(tuple(reversed(g.alleles)), g.phased, g.phase_set)
               for g in genos]
    assert set(match_gene(defn, _sites(genos)).diplotypes) == \
        set(match_gene(defn, _sites(swapped)).diplotypes)
