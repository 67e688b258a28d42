"""Synthetic calls and reviews for the report tests (no tests here).

The recommendation texts are placeholders marked SYNTHETIC: they test layout, escaping and
provenance, not clinical content. Expectations about real guidance live in the review tests.
"""

from __future__ import annotations

from pgxguard.call.results import CallResult, GeneCall, SampleCall
from pgxguard.guidance.model import (
    Action,
    Medicine,
    MedicineReview,
    Recommendation,
    ReviewResult,
)

SAMPLE = "S1"
KB = {"version": "kb-test-1.2.3",
      "sources": [{"name": "pypgx", "version": "0.27.0", "licence": "MIT",
                   "url": "https://pypi.org/project/pypgx/"}]}
TOOL = {"name": "pgxguard", "version": "0.1.0"}
MISSING_SLCO = ("chr12:21178615 T>C (rs4149056)", "chr12:21176804 A>G (rs2306283)",
                "chr12:21196975 G>T")
MISSING_TPMT = tuple(f"chr6:1816{i}00 A>G" for i in range(12))

GENES = ("CYP2C19", "CYP2D6", "CYP3A5", "DPYD", "HLA-B", "SLCO1B1", "TPMT")


def make_calls(sample: str = SAMPLE, extra: tuple[GeneCall, ...] = ()) -> CallResult:
    genes = (
        GeneCall(gene="CYP2C19", diplotypes=(("*2", "*2"),), phenotype="Poor Metabolizer",
                 not_assessed=("*36", "*37"), warnings=(
                     "structural variants not assessed (*36, *37): deletions, duplications and "
                     "hybrids need an outside call (--outside-calls)",), source="vcf"),
        GeneCall(gene="CYP2D6", diplotypes=(("*1", "*4"), ("*10", "*4")),
                 phenotypes=("Intermediate Metabolizer", "Poor Metabolizer"),
                 activity_score=None, phenotype=None, not_assessed=("*5", "*13"),
                 warnings=("tied diplotypes have different phenotypes: no single phenotype",),
                 source="vcf"),
        GeneCall(gene="CYP3A5", diplotypes=(("*3", "*3"),), phenotype="Poor Metabolizer",
                 phased=True),
        GeneCall(gene="DPYD", variants=("c.1236G>A (HapB3)", "c.2846A>T"),
                 phenotype="Intermediate Metabolizer", activity_score=1.0,
                 warnings=("unphased DPYD data with 2 heterozygous sites: variants listed; "
                           "phenotype from the two lowest-function variants",)),
        GeneCall(gene="HLA-B", diplotypes=(("*57:01", "*08:01"),), source="outside",
                 warnings=("outside call (line 3)",)),
        GeneCall(gene="SLCO1B1", diplotypes=(("*1", "*5"),), phenotype="Decreased Function",
                 missing_positions=MISSING_SLCO, warnings=("3 of 40 positions missing",)),
        GeneCall(gene="TPMT", missing_positions=MISSING_TPMT, source="none",
                 warnings=("no data at any TPMT position", "12 of 12 positions missing")),
        *extra,
    )
    return CallResult(knowledge_base=KB, tool=TOOL, build="GRCh38",
                      options={"genes": list(GENES), "assume_reference": False},
                      input={"path": "synthetic.vcf"},
                      samples=(SampleCall(sample=sample, genes=genes),))


def _med(name: str, query: str | None = None, rxnorm: str | None = None,
         atc: tuple[str, ...] = ()) -> Medicine:
    return Medicine(query=query or name, name=name, components=(name,), atc=atc, rxnorm=rxnorm)


def _rec(drug: str, source: str, action: Action, genes: dict[str, str],
         url: str | None = None, strength: str | None = "Strong") -> Recommendation:
    return Recommendation(
        source=source, source_version=f"{'pypgx 0.27.0' if source == 'CPIC' else 'panno 0.3.1'}",
        drug=drug, genes=tuple(genes), phenotypes=genes,
        text=f"SYNTHETIC {source} TEXT for {drug} <{'/'.join(genes)}> & *2 alleles",
        action=action, strength=strength, guideline_url=url,
        guideline_id=f"{source}-{drug}")


def make_review(sample: str = SAMPLE) -> ReviewResult:
    cpic_url = "https://cpicpgx.org/guidelines/example/"
    items = (
        MedicineReview(
            medicine=_med("omeprazole"), drug="omeprazole", action=Action.STANDARD,
            recommendations=(_rec("omeprazole", "CPIC", Action.STANDARD,
                                  {"CYP2C19": "Poor Metabolizer"}),),
            basis={"CYP2C19": "*2/*2 (Poor Metabolizer)"}),
        MedicineReview(
            medicine=_med("clopidogrel", "Clopidogrel 75mg tablets", rxnorm="32968",
                          atc=("B01AC04",)),
            drug="clopidogrel", action=Action.USE_ALTERNATIVE,
            recommendations=(
                _rec("clopidogrel", "CPIC", Action.USE_ALTERNATIVE,
                     {"CYP2C19": "Poor Metabolizer"}, cpic_url),
                _rec("clopidogrel", "DPWG", Action.USE_ALTERNATIVE,
                     {"CYP2C19": "Poor Metabolizer"}, None, None)),
            basis={"CYP2C19": "*2/*2 (Poor Metabolizer)"}),
        MedicineReview(
            medicine=_med("abacavir"), drug="abacavir", action=Action.AVOID,
            recommendations=(_rec("abacavir", "CPIC", Action.AVOID,
                                  {"HLA-B": "*57:01 positive"}, cpic_url),),
            basis={"HLA-B": "*57:01/*08:01 (outside call)"}),
        MedicineReview(
            medicine=_med("capecitabine"), drug="capecitabine", action=Action.ADJUST_DOSE,
            recommendations=(_rec("capecitabine", "CPIC", Action.ADJUST_DOSE,
                                  {"DPYD": "Intermediate Metabolizer"}, cpic_url),),
            basis={"DPYD": "c.1236G>A (HapB3), c.2846A>T (Intermediate Metabolizer)"}),
        MedicineReview(
            medicine=_med("simvastatin"), drug="simvastatin", action=Action.MONITOR,
            recommendations=(_rec("simvastatin", "DPWG", Action.MONITOR,
                                  {"SLCO1B1": "Decreased Function"}),),
            basis={"SLCO1B1": "*1/*5 (Decreased Function)"}),
        MedicineReview(
            medicine=_med("azathioprine"), drug="azathioprine", action=Action.RESULT_MISSING,
            missing_genes=("TPMT",), messages=("no result for TPMT: consider testing",)),
        MedicineReview(
            medicine=Medicine(query="co-codamol 30/500", name="co-codamol",
                              components=("codeine", "paracetamol")),
            drug="paracetamol", action=Action.NO_GUIDANCE),
    )
    return ReviewResult(sample=sample, items=items, knowledge_base=KB, tool=TOOL,
                        calls={"knowledge_base": KB["version"]}, options={"all": False})
