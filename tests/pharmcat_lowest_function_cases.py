"""PharmCAT's own DPYD and RYR1 test cases, as data (tests/test_pharmcat_lowest_function.py).

Each case names the PharmCAT test it mirrors and copies its input (`.variation(gene, rsid, a, b)`,
`.phased()`, `.variationInPhaseSet(...)`, `.missing(...)`) and its expected call and
"recommended diplotype" (the pair PharmCAT looks up) as PharmCAT's tests state them. Sources, in
PharmGKB/PharmCAT (MPL-2.0):

* `src/test/java/org/pharmgkb/pharmcat/DpydTest.java` (the version with phase-set tests),
* `src/test/java/org/pharmgkb/pharmcat/Ryr1Test.java`,
* `src/test/java/org/pharmgkb/pharmcat/haplotype/NamedAlleleMatcherTest.java` (its DPYD tests use
  a reduced test definition file; the variants are the same in the published definitions),
* `src/test/resources/org/pharmgkb/pharmcat/haplotype/DPYD/hapb3.tsv` (data/pharmcat/dpyd_hapb3).

`known` gives, for the few cases pgxguard calls differently on purpose, the reason and what
pgxguard reports instead.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from pharmcat_style import Var

HAPB3 = "c.1129-5923C>G, c.1236G>A (HapB3)"
HAPB3_INTRONIC = "c.1129-5923C>G"
HAPB3_TSV = Path(__file__).parent / "data" / "pharmcat" / "dpyd_hapb3" / "hapb3.tsv"


@dataclass(frozen=True)
class Case:
    id: str
    gene: str
    phased: bool
    variations: tuple[Var, ...]
    calls: tuple[str, ...]  # PharmCAT's expected calls (diplotypes, or the variant list)
    recommended: tuple[str, str] | None = None  # the pair PharmCAT looks up
    missing: tuple[str, ...] = ()
    known: tuple[str, tuple[str, ...]] | None = None  # (why pgxguard differs, its call)
    tags: frozenset[str] = field(default_factory=frozenset)


def _v(*items: tuple[object, ...]) -> tuple[Var, ...]:
    return tuple(Var(*x) for x in items)  # type: ignore[arg-type]


_PARTIAL = ("a genotype with one allele missing and one non-reference allele (`.|T`) is a no "
            "call for the gene in pgxguard (design.md: `1/.` or `./1` at any position); "
            "PharmCAT calls the strand that has data")

CASES: tuple[Case, ...] = (
    # --- DpydTest ------------------------------------------------------------------------
    Case("DpydTest.testDpydPhased", "DPYD", True,
         _v(("rs3918290", "C", "T"), ("rs1801159", "C", "T")),
         ("c.1627A>G (*5)/c.1905+1G>A (*2A)",), ("c.1627A>G (*5)", "c.1905+1G>A (*2A)")),
    Case("DpydTest.testDpydUnphased", "DPYD", False,
         _v(("rs3918290", "C", "T"), ("rs1801159", "C", "T")),
         ("c.1627A>G (*5)", "c.1905+1G>A (*2A)"), ("c.1627A>G (*5)", "c.1905+1G>A (*2A)")),
    Case("DpydTest.testDpydUndocumentedVariation", "DPYD", False,
         _v(("rs3918290", "C", "G")), ("Reference/Reference",), ("Reference", "Reference")),
    Case("DpydTest.testDpydUnphasedMultiple1", "DPYD", False,
         _v(("rs183385770", "C", "T"), ("rs186169810", "A", "C"), ("rs112766203", "G", "A"),
            ("rs144395748", "G", "C")),
         ("c.1024G>A", "c.1314T>G", "c.1358C>G", "c.2279C>T"), ("c.1024G>A", "c.1314T>G")),
    Case("DpydTest.testDpydUnphasedMultiple2", "DPYD", False,
         _v(("rs183385770", "C", "T"), ("rs186169810", "A", "C"), ("rs67376798", "T", "A"),
            ("rs144395748", "G", "C")),
         ("c.1024G>A", "c.1314T>G", "c.1358C>G", "c.2846A>T"), ("c.1024G>A", "c.1314T>G")),
    Case("DpydTest.testDpydC2846het", "DPYD", True, _v(("rs67376798", "T", "A")),
         ("Reference/c.2846A>T",), ("Reference", "c.2846A>T")),
    Case("DpydTest.testDpydDifferenceOnScore (homozygous)", "DPYD", True,
         _v(("rs67376798", "A", "A")), ("c.2846A>T/c.2846A>T",), ("c.2846A>T", "c.2846A>T")),
    Case("DpydTest.testDpydPhasedMultiTrans", "DPYD", True,
         _v(("rs67376798", "A", "T"), ("rs72547601", "C", "T"), ("rs60139309", "T", "C"),
            ("rs139834141", "C", "T")),
         ("[c.498G>A + c.2582A>G]/[c.2846A>T + c.2933A>G]",), ("c.498G>A", "c.2933A>G")),
    Case("DpydTest.testDpydUnphasedMultiTrans", "DPYD", False,
         _v(("rs67376798", "A", "T"), ("rs72547601", "C", "T"), ("rs60139309", "T", "C"),
            ("rs139834141", "C", "T")),
         ("c.498G>A", "c.2582A>G", "c.2846A>T", "c.2933A>G"), ("c.2933A>G", "c.2846A>T")),
    Case("DpydTest.testDpydUnphasedMultiTrans_infer_homo", "DPYD", False,
         _v(("rs67376798", "A", "T"), ("rs72547601", "C", "C"), ("rs60139309", "T", "C"),
            ("rs139834141", "C", "T")),
         ("c.498G>A", "c.2582A>G", "c.2846A>T", "c.2933A>G (homozygous)"),
         ("c.2933A>G", "c.2933A>G")),
    Case("DpydTest.testDpydS12het", "DPYD", True, _v(("rs78060119", "C", "A")),
         ("Reference/c.1156G>T (*12)",), ("Reference", "c.1156G>T (*12)")),
    Case("DpydTest.testDpydHomNoFunctionEffectivelyPhased", "DPYD", False,
         _v(("rs72549310", "A", "A"), ("rs150385342", "C", "T")),
         ("c.61C>T/[c.61C>T + c.313G>A]",), ("c.61C>T", "c.61C>T")),
    Case("DpydTest.testDpydHomNoFunctionPhased", "DPYD", True,
         _v(("rs72549310", "A", "A"), ("rs150385342", "C", "T")),
         ("c.61C>T/[c.61C>T + c.313G>A]",), ("c.61C>T", "c.61C>T")),
    Case("DpydTest.testDpydHomNoFunctionUnphased", "DPYD", False,
         _v(("rs72547601", "C", "C"), ("rs67376798", "A", "T"), ("rs60139309", "T", "C")),
         ("c.2582A>G", "c.2846A>T", "c.2933A>G (homozygous)"), ("c.2933A>G", "c.2933A>G")),
    Case("DpydTest.issue155_strandMismatch", "DPYD", True,
         _v(("rs1801158", "T", "C"), ("rs56038477", "C", "T"), ("rs75017182", "G", "C"),
            ("rs2297595", "C", "T"), ("rs1801265", "G", "G")),
         (f"[c.85T>C (*9A) + {HAPB3}]/[c.85T>C (*9A) + c.496A>G + c.1601G>A (*4)]",),
         ("c.85T>C (*9A)", HAPB3)),
    Case("DpydTest.issue209_strandMismatch", "DPYD", True,
         _v(("rs1801159", "C", "T", 97513581), ("rs56038477", "C", "T", 97571276),
            ("rs75017182", "G", "C", 97571276), ("rs1801265", "G", "A", 97879893)),
         (f"Reference/[c.85T>C (*9A) + {HAPB3} + c.1627A>G (*5)]",
          f"c.85T>C (*9A)/[{HAPB3} + c.1627A>G (*5)]",
          f"{HAPB3}/[c.85T>C (*9A) + c.1627A>G (*5)]",
          f"c.1627A>G (*5)/[c.85T>C (*9A) + {HAPB3}]"),
         ("Reference", HAPB3), tags=frozenset({"phase sets"})),
    Case("DpydTest.issue156", "DPYD", True,
         _v(("rs1801160", "T", "C"), ("rs1801159", "C", "T"), ("rs56038477", "T", "C"),
            ("rs75017182", "C", "G")),
         (f"Reference/[{HAPB3} + c.1627A>G (*5) + c.2194G>A (*6)]",), ("Reference", HAPB3)),
    Case("DpydTest.phaseSet_lowFunctionsOnSameStrand", "DPYD", True,
         _v(("rs1801159", "C", "T", 97513581), ("rs56038477", "C", "T", 97571276),
            ("rs75017182", "G", "C", 97571276), ("rs72549310", "G", "A", 97571276)),
         (f"Reference/[c.61C>T + {HAPB3} + c.1627A>G (*5)]",
          f"c.1627A>G (*5)/[c.61C>T + {HAPB3}]"),
         ("c.61C>T", "Reference"), tags=frozenset({"phase sets"})),
    Case("DpydTest.testFindCombinations", "DPYD", True, _v(("rs114096998", "G", "A")),
         ("Reference/Reference",), ("Reference", "Reference")),
    Case("DpydTest.hapB3AndIntronicC", "DPYD", True,
         _v(("rs56038477", "C", "T"), ("rs75017182", "C", "C")),
         (f"{HAPB3_INTRONIC}/{HAPB3}",), (HAPB3_INTRONIC, HAPB3)),
    Case("DpydTest.hapB3AndIntronicC_missingFirstAllele", "DPYD", True,
         _v(("rs56038477", ".", "T"), ("rs75017182", ".", "C")),
         (f"Reference/{HAPB3}",), ("Reference", HAPB3), known=(_PARTIAL, ())),
    Case("DpydTest.hapB3AndIntronicC_missingSecondAllele", "DPYD", True,
         _v(("rs56038477", "T", "."), ("rs75017182", "C", ".")),
         (f"Reference/{HAPB3}",), ("Reference", HAPB3), known=(_PARTIAL, ())),
    Case("DpydTest.hapB3AndIntronicC_missingAlternateStrands1", "DPYD", True,
         _v(("rs56038477", "T", "."), ("rs75017182", ".", "C")),
         (f"{HAPB3_INTRONIC}/{HAPB3}",), (HAPB3_INTRONIC, HAPB3), known=(_PARTIAL, ())),
    Case("DpydTest.hapB3AndIntronicC_missingAlternateStrands2", "DPYD", True,
         _v(("rs56038477", ".", "T"), ("rs75017182", "C", ".")),
         (f"{HAPB3_INTRONIC}/{HAPB3}",), (HAPB3_INTRONIC, HAPB3), known=(_PARTIAL, ())),
    Case("DpydTest.hapB3AndIntronicD", "DPYD", True,
         _v(("rs56038477", "T", "C"), ("rs75017182", "C", "C")),
         (f"{HAPB3_INTRONIC}/{HAPB3}",), (HAPB3, HAPB3_INTRONIC)),
    Case("DpydTest.hapB3AndIntronicA", "DPYD", True,
         _v(("rs56038477", "T", "C"), ("rs75017182", "C", "C"), ("rs3918290", "T", "C")),
         (f"{HAPB3_INTRONIC}/[{HAPB3} + c.1905+1G>A (*2A)]",),
         ("c.1905+1G>A (*2A)", HAPB3_INTRONIC)),
    Case("DpydTest.hapB3AndIntronicB", "DPYD", True,
         _v(("rs56038477", "C", "T"), ("rs75017182", "C", "C"), ("rs3918290", "C", "T")),
         (f"{HAPB3_INTRONIC}/[{HAPB3} + c.1905+1G>A (*2A)]",),
         ("c.1905+1G>A (*2A)", HAPB3_INTRONIC)),
    Case("DpydTest.psMissToRef", "DPYD", True,
         _v(("rs140114515", "C", "T", 1), ("rs1801268", "C", "A", 1),
            ("rs67376798", "T", "A", 1), ("rs1801265", "A", "G", 2)),
         ("Reference/[c.85T>C (*9A) + c.2846A>T + c.2983G>T (*10) + c.3049G>A]",
          "c.85T>C (*9A)/[c.2846A>T + c.2983G>T (*10) + c.3049G>A]"),
         ("Reference", "c.2983G>T (*10)"), tags=frozenset({"phase sets"})),
    Case("DpydTest.psHapB", "DPYD", True,
         _v(("rs1801267", "C", "T", 1), ("rs55886062", "A", "C", 1),
            ("rs56038477", "C", "T", 1), ("rs75017182", "G", "C", 2)),
         (f"Reference/[{HAPB3} + c.1679T>G (*13) + c.2657G>A (*9B)]",
          f"{HAPB3_INTRONIC}/[c.1679T>G (*13) + c.2657G>A (*9B)]"),
         ("c.1679T>G (*13)", HAPB3_INTRONIC), tags=frozenset({"phase sets"})),
    Case("DpydTest.psDpwg", "DPYD", True,
         _v(("rs1801267", "C", "T", 1), ("rs59086055", "G", "A", 2),
            ("rs55886062", "A", "C", 2)),
         ("Reference/[c.1679T>G (*13) + c.1774C>T + c.2657G>A (*9B)]",
          "c.2657G>A (*9B)/[c.1679T>G (*13) + c.1774C>T]"),
         ("c.1679T>G (*13)", "Reference"), tags=frozenset({"phase sets"})),
    Case("DpydTest.psDpwgFlip", "DPYD", True,
         _v(("rs1801267", "C", "T", 1), ("rs59086055", "G", "A", 2),
            ("rs55886062", "C", "A", 2)),
         ("c.1679T>G (*13)/[c.1774C>T + c.2657G>A (*9B)]",
          "c.1774C>T/[c.1679T>G (*13) + c.2657G>A (*9B)]"),
         ("c.1679T>G (*13)", "c.1774C>T"), tags=frozenset({"phase sets"})),
    Case("DpydTest.psDpwgNoRec", "DPYD", True,
         _v(("rs1801267", "C", "T", 1), ("rs59086055", "G", "A", 2)),
         ("Reference/[c.1774C>T + c.2657G>A (*9B)]", "c.1774C>T/c.2657G>A (*9B)"),
         ("c.1774C>T", "Reference"), tags=frozenset({"phase sets"})),
    Case("DpydTest.psTest3Sets", "DPYD", True,
         _v(("rs67376798", "T", "A", 1), ("rs55886062", "A", "C", 2),
            ("rs72549307", "T", "C", 3), ("rs1801265", "A", "G", 3)),
         ("Reference/[c.85T>C (*9A) + c.632A>G + c.1679T>G (*13) + c.2846A>T]",
          "c.1679T>G (*13)/[c.85T>C (*9A) + c.632A>G + c.2846A>T]",
          "c.2846A>T/[c.85T>C (*9A) + c.632A>G + c.1679T>G (*13)]",
          "[c.85T>C (*9A) + c.632A>G]/[c.1679T>G (*13) + c.2846A>T]"),
         ("c.632A>G", "c.1679T>G (*13)"), tags=frozenset({"phase sets"})),
    # --- NamedAlleleMatcherTest (DPYD) ---------------------------------------------------
    Case("NamedAlleleMatcherTest.testDpydEffectivelyPhased", "DPYD", False,
         _v(("rs80081766", "C", "T")), ("Reference/c.62G>A",)),
    Case("NamedAlleleMatcherTest.testDpydEffectivelyPhased2", "DPYD", False,
         _v(("rs61622928", "T", "T"), ("rs1801159", "C", "C"), ("rs1801265", "A", "G")),
         ("[c.1218G>A + c.1627A>G (*5)]/[c.85T>C (*9A) + c.1218G>A + c.1627A>G (*5)]",)),
    Case("NamedAlleleMatcherTest.testDpydPhased", "DPYD", True,
         _v(("rs80081766", "C", "T"), ("rs114096998", "G", "T")),
         ("Reference/[c.62G>A + c.3067C>A]",)),
    Case("NamedAlleleMatcherTest.testDpydUnPhased", "DPYD", False,
         _v(("rs80081766", "C", "T"), ("rs114096998", "G", "T")),
         ("c.62G>A", "c.3067C>A")),
    Case("NamedAlleleMatcherTest.testDpydPhasedDouble", "DPYD", True,
         _v(("rs75017182", "G", "C"), ("rs56038477", "C", "T"), ("rs80081766", "T", "T"),
            ("rs114096998", "T", "T")),
         (f"[c.62G>A + c.3067C>A]/[c.62G>A + {HAPB3} + c.3067C>A]",)),
    Case("NamedAlleleMatcherTest.testDpydHomozygous", "DPYD", True,
         _v(("rs80081766", "T", "T"), ("rs114096998", "T", "T")),
         ("[c.62G>A + c.3067C>A]/[c.62G>A + c.3067C>A]",)),
    Case("NamedAlleleMatcherTest.testDpydUnphasedHomozygousNoFunction", "DPYD", False,
         _v(("rs72547601", "C", "C"), ("rs67376798", "A", "T"), ("rs60139309", "T", "C")),
         ("c.2582A>G", "c.2846A>T", "c.2933A>G (homozygous)")),
    # --- Ryr1Test ------------------------------------------------------------------------
    Case("Ryr1Test.cacna1sRef_ryr1Undocumented", "RYR1", False,
         _v(("rs193922749", "A", "T")), ("Reference/c.152C>A",), ("Reference", "c.152C>A")),
    Case("Ryr1Test.cacna1sRef_ryr1Het", "RYR1", False,
         _v(("rs193922749", "A", "C")), ("Reference/c.152C>A",), ("Reference", "c.152C>A")),
    Case("Ryr1Test.cacna1sRef_ryr1Het2", "RYR1", False,
         _v(("rs34694816", "A", "G"), ("rs137933390", "A", "G")),
         ("c.4024A>G", "c.4178A>G"), ("c.4024A>G", "c.4178A>G")),
    Case("Ryr1Test.cacna1sRef_ryr1Het3", "RYR1", False,
         _v(("rs34694816", "A", "G"), ("rs137933390", "A", "G"), ("rs145573319", "A", "G")),
         ("c.4024A>G", "c.4178A>G", "c.4400A>G"), ("c.4024A>G", "c.4178A>G")),
    Case("Ryr1Test.cacna1sMissing_ryr1Ref", "RYR1", False, (),
         ("Reference/Reference",), ("Reference", "Reference")),
    Case("Ryr1Test.cacna1sMissing_ryr1Het", "RYR1", False,
         _v(("rs118192178", "C", "T")), ("Reference/c.7522C>T",), ("Reference", "c.7522C>T")),
    Case("Ryr1Test.cacna1sMissing_ryr1Het1Hom1", "RYR1", False,
         _v(("rs193922746", "A", "G"), ("rs142474192", "A", "A")),
         ("c.418G>A/[c.97A>G + c.418G>A]",), ("c.97A>G", "c.418G>A")),
    Case("Ryr1Test.cacna1sMissing_ryr1Het2Hom1", "RYR1", False,
         _v(("rs193922746", "G", "G"), ("rs193922749", "C", "A"), ("rs142474192", "G", "A")),
         ("c.97A>G (homozygous)", "c.152C>A", "c.418G>A"), ("c.97A>G", "c.97A>G")),
    Case("Ryr1Test.cacna1sMissing_ryr1Het2Hom1Phased", "RYR1", True,
         _v(("rs193922746", "G", "G"), ("rs193922749", "C", "A"), ("rs142474192", "G", "A")),
         ("c.97A>G/[c.97A>G + c.152C>A + c.418G>A]",), ("c.97A>G", "c.97A>G")),
    Case("Ryr1Test.cacna1sMissing_ryr1Het3", "RYR1", False,
         _v(("rs193922746", "A", "G"), ("rs193922749", "C", "A"), ("rs142474192", "G", "A")),
         ("c.97A>G", "c.152C>A", "c.418G>A"), ("c.97A>G", "c.152C>A")),
    Case("Ryr1Test.cacna1sMissing_ryr1Het4", "RYR1", False,
         _v(("rs193922746", "A", "G"), ("rs193922749", "C", "A"), ("rs142474192", "G", "A"),
            ("rs146876145", "C", "T")),
         ("c.97A>G", "c.152C>A", "c.418G>A", "c.14918C>T"), ("c.97A>G", "c.14918C>T")),
    Case("Ryr1Test.cacna1sMissing_ryr1Het4Phased", "RYR1", True,
         _v(("rs193922746", "A", "G"), ("rs193922749", "C", "A"), ("rs142474192", "G", "A"),
            ("rs146876145", "C", "T")),
         ("Reference/[c.97A>G + c.152C>A + c.418G>A + c.14918C>T]",), ("Reference", "c.97A>G")),
)

_HAPB3_COLUMNS = ("rs56038477", "rs75017182", "rs72549310", "rs67376798", "rs1801265",
                  "rs186169810", "rs115232898")


def _names(text: str) -> tuple[str, ...]:
    """hapb3.tsv's shorthand, expanded as DpydTest.parseDiplotypes does."""
    out = []
    for part in text.split(","):
        s = part.strip()
        if not s:
            continue
        s = re.sub(r"(\S)\+(\S)", r"\1 + \2", s).replace("ref", "Reference")
        out.append(s.replace("HapB3", HAPB3))
    return tuple(out)


def _pair(text: str, call: tuple[str, ...]) -> tuple[str, str]:
    names = _names(text) if text else call
    if len(names) == 1:
        a, b = names[0].split("/")
        return (a, b)
    return (names[0], names[1])


def _gt(value: str, unknown: str | None) -> tuple[str, str] | None:
    """`0/1` -> allele indices as strings; `1` is `unknown` (a base) in the non-PGx column."""
    if value == "missing":
        return None
    a, b = value.replace("|", "/").split("/")
    if unknown is not None:
        a, b = (unknown if x == "1" else x for x in (a, b))
    return (a, b)


def hapb3_cases() -> tuple[Case, ...]:
    """hapb3.tsv: every row, phased (`a|b`) and unphased (`a/b`), as DpydTest.hapB3 runs it:
    `0` is the reference base, `1` the definition's ALT (`G`, unknown there, in the non-PGx
    column)."""
    out: list[Case] = []
    with HAPB3_TSV.open() as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            for phased in (True, False):
                vs: list[Var] = []
                missing: list[str] = []
                for col in _HAPB3_COLUMNS:
                    gt = _gt(r[col], "G" if col == "rs186169810" else None)
                    if gt is None:
                        missing.append(col)
                        continue
                    vs.append(Var(col, *gt))  # allele indices; resolved against the definition
                call = _names(r["phased_call"])
                rec_text = r["phased_recommended"]
                if not phased and r["unphased_call"]:
                    call = _names(r["unphased_call"])
                if not phased:
                    rec_text = r["unphased_recommended"] or rec_text
                out.append(Case(f"hapb3.tsv row {r['row']} {'phased' if phased else 'unphased'}",
                                "DPYD", phased, tuple(vs), call, _pair(rec_text, call),
                                tuple(missing), tags=frozenset({"hapb3.tsv"})))
    return tuple(out)


__all__ = ["CASES", "HAPB3", "HAPB3_INTRONIC", "Case", "hapb3_cases"]
