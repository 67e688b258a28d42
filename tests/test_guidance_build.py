"""Guidance compiled from CPIC's and DPWG's published guideline annotations.

Expectations come from the published JSON files (read here directly) and from the written
class rules (docs/guidance.md); tests that read kb-sources skip when it is absent.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from pgxguard.errors import KnowledgeBaseError
from pgxguard.guidance import build
from pgxguard.guidance.knowledge import GuidanceKB
from pgxguard.guidance.load import load_guidance
from pgxguard.guidance.model import Action
from pgxguard.kb.load import load_knowledge_base
from pgxguard.kb.sources import SourceTree, default_sources_dir

SOURCES = default_sources_dir()
needs_sources = pytest.mark.skipif(not (SOURCES / "pharmcat" / "FILES.tsv").is_file(),
                                   reason=f"kb-sources not at {SOURCES}")
DOCS_TABLE = Path(__file__).parents[1] / "docs" / "guidance-classes.tsv"


@pytest.fixture(scope="module")
def gkb() -> GuidanceKB:
    return load_guidance()


def test_bundled_snapshot_provenance(gkb: GuidanceKB) -> None:
    names = {s.name: s for s in gkb.sources}
    assert len([n for n in names if n.startswith("pharmcat/guidelines/")]) == 118
    assert {"pharmcat/messages.json", "cpic/change-log.tsv"} <= set(names)
    assert all(s.commit and s.date and len(s.sha256) == 64 and s.attribution
               for s in names.values())
    assert gkb.snapshot_date == "2024-05-29"
    assert gkb.version.endswith("+guidelines-2024-05-29")
    assert "DPWG" in names["pharmcat/guidelines/DPWG_codeine_and_CYP2D6.json"].attribution


def test_coverage(gkb: GuidanceKB) -> None:
    sources = defaultdict(set)
    for e in gkb.entries:
        sources[e.drug].add(e.source)
    # drugs the issue found missing from the previous (pypgx/panno) knowledge base
    for drug in ("tafenoquine", "primaquine", "dapsone", "nitrofurantoin", "methylene blue",
                 "pegloticase", "gentamicin", "amikacin", "vortioxetine"):
        assert "CPIC" in sources[drug], drug
    assert sources["venlafaxine"] == {"CPIC", "DPWG"}
    for drug in ("acenocoumarol", "phenprocoumon", "metoprolol"):
        assert "DPWG" in sources[drug], drug
    assert len(gkb.guidelines) == 118 and len(gkb.entries) == 2583


def test_class_table_is_the_reviewed_one(gkb: GuidanceKB) -> None:
    """docs/guidance-classes.tsv lists every recommendation's class; a rule change shows up here
    (regenerate with `pgxguard kb build --classes docs/guidance-classes.tsv` and review)."""
    assert build.classes_table(gkb) == DOCS_TABLE.read_text(encoding="utf-8")


# --- classes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "strength", "flags", "action", "rule"), [
    ("No recommendation", "No recommendation", (False, False, False),
     Action.NO_RECOMMENDATION, "R1"),
    ("The guideline does not provide a recommendation for codeine in normal metabolizers.",
     "No recommendation", (False, False, False), Action.NO_RECOMMENDATION, "R1"),
    ("Ivacaftor is not recommended", "Moderate", (False, False, False), Action.AVOID, "R2"),
    ("Abacavir is contra-indicated for HLA-B*57:01-positive patients.", "N/A",
     (False, True, False), Action.AVOID, "R2"),
    ("If patient is carbamazepine-naive, do not use carbamazepine.", "Strong",
     (False, True, False), Action.AVOID, "R2"),
    ("Use codeine label recommended age- or weight-specific dosing. If no response and opioid "
     "use is warranted, consider a non-tramadol opioid.", "Moderate", (False, False, True),
     Action.MONITOR, "R3"),
    ("Reduce starting dose by 50% followed by titration of dose based on toxicity.", "Strong",
     (True, False, False), Action.ADJUST_DOSE, "R4"),
    ("Start with 50% of the standard dose or avoid fluorouracil and capecitabine.", "N/A",
     (True, True, False), Action.ADJUST_DOSE, "R4"),
    ("Initiate therapy with recommended starting dose. Consider a slower titration schedule and "
     "lower maintenance dose.", "Optional", (True, False, False), Action.ADJUST_DOSE, "R4"),
    ("Select alternative drug not predominantly metabolized by CYP2D6 (i.e., granisetron).",
     "Moderate", (False, True, False), Action.USE_ALTERNATIVE, "R5"),
    ("Initiate therapy with recommended starting dose.", "Strong", (False, False, False),
     Action.STANDARD, "R6"),
    ("Avoid moderate and strong CYP2D6 inhibitors. Initiate therapy with recommended standard "
     "of care dosing (tamoxifen 20 mg/day).", "Strong", (False, False, False), Action.STANDARD,
     "R6"),
    ("No reason to avoid based on G6PD status", "Strong", (False, False, False),
     Action.STANDARD, "R6"),
    ("Monitor the plasma concentration.", "N/A", (False, False, True), Action.MONITOR, "R7"),
    ("Clinical findings, family history, further genetic testing and other laboratory data "
     "should guide use.", "Strong", (False, False, True), Action.MONITOR, "R7"),
    ("See the table.", "N/A", (True, False, False), Action.ADJUST_DOSE, "R8"),
    ("See the table.", "N/A", (False, False, False), Action.MONITOR, "R9"),
])
def test_class_rules(text: str, strength: str, flags: tuple[bool, bool, bool], action: Action,
                     rule: str) -> None:
    got, basis = build.classify(text, strength, flags)
    assert (got, basis.split(" ")[0]) == (action, rule)


def test_same_text_and_flags_give_the_same_class_everywhere(gkb: GuidanceKB) -> None:
    seen: dict[tuple[str, str | None, tuple[bool, bool, bool]], set[Action]] = defaultdict(set)
    for e in gkb.entries:
        seen[(build.primary_text(e.text_html), e.strength, e.flags)].add(e.action)
    assert {k: v for k, v in seen.items() if len(v) > 1} == {}
    tacrolimus = {e.action for e in gkb.for_drug("tacrolimus") if e.source == "CPIC"
                  and "standard recommended dose" in e.text}
    assert len(tacrolimus) == 1


def test_stop_words_are_never_below_avoid_when_they_lead(gkb: GuidanceKB) -> None:
    for e in gkb.entries:
        first = build.primary_text(e.text_html).split(". ")[0].lower()
        if "inhibitor" in first:  # "Avoid strong CYP2D6 inhibitors": about co-medication
            continue
        if first.startswith(("avoid ", "do not use")) or first.endswith(
                ("is not recommended", "is contraindicated", "is contra-indicated")):
            assert e.action in (Action.AVOID, Action.NO_RECOMMENDATION), (e.drug, e.text[:80])


def test_standard_only_when_the_text_says_so(gkb: GuidanceKB) -> None:
    for e in gkb.entries:
        if e.action is Action.STANDARD:
            assert e.action_basis.startswith("R6"), e.text[:80]


def test_named_examples(gkb: GuidanceKB) -> None:
    def entry(drug: str, source: str, gene: str, key: str) -> set[Action]:
        return {e.action for e in gkb.for_drug(drug) if e.source == source
                and any(c.gene == gene and c.label == key for c in e.conditions)}

    assert entry("ivacaftor", "CPIC", "CFTR", "ivacaftor non-responsive in CF patients") == {
        Action.AVOID}
    assert entry("capecitabine", "CPIC", "DPYD", "1.0") == {Action.ADJUST_DOSE}
    assert entry("codeine", "CPIC", "CYP2D6", "0.0") == {Action.AVOID}
    assert entry("codeine", "CPIC", "CYP2D6", "n/a") == {Action.NO_RECOMMENDATION}
    assert entry("clopidogrel", "CPIC", "CYP2C19", "Normal Metabolizer") == {Action.STANDARD}
    assert entry("simvastatin", "CPIC", "SLCO1B1", "Poor Function") == {Action.USE_ALTERNATIVE}


# --- conditions and sources ----------------------------------------------------------------------


def test_lookup_key_conditions() -> None:
    akb = load_knowledge_base()
    vocab = build._vocabulary(akb)
    conds = build.conditions({"CYP2D6": "\u22654.0", "CYP2C19": "No Result",
                              "HLA-B": "*57:01 positive", "UGT1A1": {"*1": 1, "*28": 1},
                              "DPYD": "1.0 (Intermediate Metabolizer)"}, akb, vocab, "t")
    kinds = {c.gene: (c.kind, c.value, c.positive) for c in conds}
    assert kinds == {"CYP2D6": ("lookup", "\u22654.0", True), "CYP2C19": ("no_result", "", True),
                     "HLA-B": ("allele_status", "*57:01", True),
                     "UGT1A1": ("diplotype", "*1/*28", True), "DPYD": ("lookup", "1.0", True)}
    (c,) = build.conditions({"DPYD": "0.5 (Phenotyping)"}, akb, vocab, "t")
    assert c.kind == "unsupported"
    (c,) = build.conditions({"CYP2D6": "xN combinations"}, akb, vocab, "t")
    assert c.kind == "unsupported"
    with pytest.raises(KnowledgeBaseError, match="not a phenotype"):
        build.conditions({"CYP2C19": "Super Metabolizer"}, akb, vocab, "t")
    with pytest.raises(KnowledgeBaseError, match="unknown alleles"):
        build.conditions({"UGT1A1": {"*1": 1, "*999": 1}}, akb, vocab, "t")


@needs_sources
def test_every_recommendation_kept_verbatim(gkb: GuidanceKB) -> None:
    by_id = defaultdict(list)
    for e in gkb.entries:
        by_id[e.recommendation_id].append(e)
    n = 0
    for f in sorted((SOURCES / "pharmcat" / "guidelines").glob("*.json")):
        doc = json.loads(f.read_text(encoding="utf-8"))
        for r in doc["recommendations"]:
            ours = by_id[str(r["id"])]
            drugs = sorted({c["name"].lower() for c in r["relatedChemicals"]})
            assert sorted(e.drug for e in ours) == drugs
            for e in ours:
                assert e.text_html == r["text"]["html"].strip()
                assert e.strength == (r["classification"] or {}).get("term")
                assert e.population == r["population"]
                assert list(e.implications) == r["implications"]
                assert e.guideline_url == doc["guideline"]["url"]
                assert e.source == doc["guideline"]["source"]
            n += 1
    assert n == 2583


@needs_sources
def test_change_log_after_the_snapshot(gkb: GuidanceKB) -> None:
    tree = SourceTree(SOURCES)
    changes = build.read_change_log(tree, "2024-05-29")
    assert changes == list(gkb.changes)
    assert all(c.date > "2024-05-29" for c in changes)
    hyd = [c for c in changes if c.subject == "hydralazine" and c.kind == "RECOMMENDATION"]
    assert [c.date for c in hyd] == ["2025-09-01"]
    # a continuation line (no date) belongs to the note before it
    slco = [c for c in changes if c.subject == "SLCO1B1" and c.kind == "ALLELE_DEFINITION"
            and "DELETED HAPLOTYPE" in c.note]
    assert slco and "ADDED: *55-*58" in slco[0].note


@needs_sources
def test_rebuild_is_byte_identical_to_bundled() -> None:
    kb = build.compile_guidance(SourceTree(SOURCES), load_knowledge_base())
    assert build.snapshot_bytes(kb) == build.DEFAULT_SNAPSHOT.read_bytes()


def test_tampered_snapshot_rejected(tmp_path: Path) -> None:
    import gzip

    from pgxguard.guidance.load import load_guidance as load

    data = json.loads(gzip.decompress(build.DEFAULT_SNAPSHOT.read_bytes()))
    data["entries"][0]["text"] = "Use at any dose."
    bad = tmp_path / "g.json.gz"
    bad.write_bytes(gzip.compress(json.dumps(data).encode()))
    with pytest.raises(KnowledgeBaseError, match="checksum"):
        load(bad)


def test_messages_kept_and_left_out(gkb: GuidanceKB) -> None:
    assert len(gkb.messages) == 44
    assert all(m.gene or m.drugs for m in gkb.messages)
    assert not any("<a " in m.text for m in gkb.messages)
