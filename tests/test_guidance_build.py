"""Guidance knowledge base: compiled verbatim from the pinned sources, reproducibly."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from pgxguard.errors import KnowledgeBaseError
from pgxguard.guidance import build
from pgxguard.guidance.knowledge import GuidanceKB, norm_phenotype
from pgxguard.guidance.load import load_guidance
from pgxguard.guidance.model import Action
from pgxguard.kb.load import load_knowledge_base

WHEEL = Path("/tmp/dl/pypgx-0.27.0-py3-none-any.whl")
PANNO = Path("/tmp/dl/panno-0.3.1.tar.gz")
needs_sources = pytest.mark.skipif(not (WHEEL.is_file() and PANNO.is_file()),
                                   reason="pinned pypgx wheel / panno sdist not in /tmp/dl")


def test_bundled_snapshot_loads_with_provenance() -> None:
    g = load_guidance()
    names = {s.name: s for s in g.sources}
    assert names["pypgx"].version == "0.27.0" and names["pypgx"].licence == "MIT"
    assert names["panno"].version == "0.3.1" and names["panno"].licence == "MPL-2.0"
    assert names["panno"].sha256 == build.PANNO_SDIST_SHA256
    assert {e.source for e in g.entries} == {"CPIC", "DPWG"}
    for e in g.entries:
        if e.guideline_id:
            assert e.guideline_url == f"https://www.pharmgkb.org/guidelineAnnotation/{e.guideline_id}"
        assert e.text and e.action_basis


def test_multi_gene_drugs_present() -> None:
    g = load_guidance()
    genes = {d: {c.gene for e in g.for_drug(d) for c in e.conditions}
             for d in ("amitriptyline", "azathioprine", "phenytoin", "warfarin", "rosuvastatin")}
    assert genes["amitriptyline"] >= {"CYP2C19", "CYP2D6"}
    assert genes["azathioprine"] >= {"TPMT", "NUDT15"}
    assert genes["phenytoin"] >= {"CYP2C9", "HLA-B"}
    assert genes["warfarin"] >= {"CYP2C9", "VKORC1", "CYP4F2"}
    assert genes["rosuvastatin"] >= {"ABCG2", "SLCO1B1"}
    two = [e for e in g.for_drug("amitriptyline") if len(e.conditions) == 2]
    assert two and all(e.source == "CPIC" for e in two)


def test_tampered_snapshot_rejected() -> None:
    data = load_guidance().to_json()
    data["entries"][0]["text"] = "changed"
    with pytest.raises(KnowledgeBaseError, match="checksum"):
        GuidanceKB.from_json(data)


def test_unquote_only_strips_wrapping_quotes() -> None:
    assert build.unquote('"a "b" c"') == 'a "b" c'
    assert build.unquote('a "b"') == 'a "b"'
    assert build.unquote('"x') == '"x'


def test_panno_condition_parsing() -> None:
    vocab = {"CYP2C9": {"normal metabolizer", "intermediate metabolizer", "indeterminate"},
             "CYP3A5": {"poor metabolizer", "indeterminate"}}
    pc = build.panno_conditions
    (c,) = pc("DPYD", "Poor Metabolizer", "AS 0.5", vocab)
    assert (c.kind, c.values) == ("activity", ("0.5",))
    (c,) = pc("DPYD", "Activity Score 1.5", "AS 1.5", vocab)
    assert (c.kind, c.values) == ("activity", ("1.5",))
    a, b = pc("HLA-A", "HLA-A*31:01 positive + HLA-B*15:02 negative", "", vocab)
    assert (a.gene, a.kind, a.values, a.negate) == ("HLA-A", "allele", ("*31:01",), False)
    assert (b.gene, b.kind, b.values, b.negate) == ("HLA-B", "allele", ("*15:02",), True)
    (c,) = pc("CYP2C9", "*1/*3", "*1/*3", vocab)
    assert (c.kind, c.values) == ("diplotype", ("*1/*3",))
    (c,) = pc("VKORC1", "rs9923231 CT; rs9923231 TT", "rs9923231 CT; rs9923231 TT", vocab)
    assert (c.kind, c.rsid, c.values) == ("genotype", "rs9923231", ("CT", "TT"))
    (c,) = pc("CYP2C9", "Extensive Metabolizer", "", {"CYP2C9": {"normal metabolizer"}})
    assert (c.kind, c.values) == ("phenotype", ("normal metabolizer",))
    (c,) = pc("CYP3A5", "Heterozygote", "", vocab)
    assert c.kind == "unsupported" and c.label == "Heterozygote"


def test_norm_phenotype() -> None:
    assert norm_phenotype("G6PD Deficient", "G6PD") == norm_phenotype("Deficient", "G6PD")
    assert norm_phenotype("Poor Metabolizers") == "poor metabolizer"
    assert norm_phenotype("Ultra Rapid Metabolizer") == "ultrarapid metabolizer"


def test_action_rules() -> None:
    assert build.action_from_flags(1, 1, 1, "x") is Action.AVOID
    assert build.action_from_flags(0, 1, 1, "x") is Action.USE_ALTERNATIVE
    assert build.action_from_flags(0, 0, 1, "x") is Action.ADJUST_DOSE
    assert build.action_from_flags(0, 0, 0, "Use label dosing.") is Action.STANDARD
    assert build.action_from_flags(0, 0, 0, "Abacavir is not recommended") is Action.MONITOR
    assert build.action_from_flags(1, 0, 0, '"No recommendation"') is Action.MONITOR
    assert build.fallback_action(["Normal Metabolizer"], "Use label dosing.") is Action.STANDARD
    assert build.fallback_action(["Normal Metabolizer"], "Reduce dose by 50%.") is Action.MONITOR
    assert build.fallback_action(["Poor Metabolizer"], "Use label dosing.") is Action.MONITOR


@needs_sources
def test_text_stating_standard_dosing_overrides_contradicting_flags() -> None:
    from dataclasses import replace

    g = load_guidance()
    base = next(e for e in g.entries if e.source == "DPWG")

    def cls(action: Action, text: str) -> Action:
        return build.text_override(replace(base, action=action, text=text)).action

    assert cls(Action.ADJUST_DOSE, "If considering X, use at standard dose (75 mg/day).") \
        is Action.STANDARD
    assert cls(Action.USE_ALTERNATIVE, "No adjustments needed. Monitor levels.") is Action.MONITOR
    # a change word keeps the flag class; other classes are never touched
    assert cls(Action.ADJUST_DOSE, "Use 1.4 times the standard dose; increase slowly.") \
        is Action.ADJUST_DOSE
    assert cls(Action.ADJUST_DOSE, "Use at standard dose but reduce after a week.") \
        is Action.ADJUST_DOSE
    assert cls(Action.STANDARD, "No adjustments needed.") is Action.STANDARD
    # In the bundled snapshot: the CPIC clopidogrel CYP2C19 ultrarapid row (its text, from the
    # source, says to use the standard dose) is not classed as a dose change.
    um = [e for e in g.entries if e.source == "CPIC" and e.drug == "clopidogrel"
          and any(c.gene == "CYP2C19" and c.values == ("ultrarapid metabolizer",)
                  for c in e.conditions)]
    assert um and all("standard dose" in e.text for e in um)
    assert {e.action for e in um} == {Action.STANDARD}


@needs_sources
def test_rebuild_is_byte_identical_to_bundled() -> None:
    kb = build.build_guidance(WHEEL, PANNO)
    bundled = (Path(build.__file__).parent / "data" / "guidance.json.gz").read_bytes()
    assert build.snapshot_bytes(kb) == bundled


@needs_sources
def test_every_pypgx_recommendation_kept_verbatim() -> None:
    with zipfile.ZipFile(WHEEL) as zf:
        rows = list(csv.DictReader(io.StringIO(
            zf.read(build.RECOMMENDATION_TABLE).decode("utf-8-sig"))))
    g = load_guidance()
    cpic = {(e.drug, e.text) for e in g.entries if e.source == "CPIC"}
    kept = [r for r in rows if r["Recommendation"] not in ("None", "")]
    assert kept
    for r in kept:
        assert (r["Drug"].lower(), r["Recommendation"]) in cpic


@needs_sources
def test_every_panno_dpwg_row_kept_verbatim() -> None:
    panno = build.read_panno(PANNO)
    g = load_guidance()
    dpwg = {(e.drug, e.text, e.guideline_id) for e in g.entries if e.source == "DPWG"}
    rows = [r for r in panno if r["Source"] == "DPWG"]
    assert len(rows) == 172
    for r in rows:
        assert (str(r["Drug"]).lower(), build.unquote(str(r["Recommendation"])),
                str(r["PAID"])) in dpwg


def test_wrong_sdist_rejected(tmp_path: Path) -> None:
    p = tmp_path / "panno-0.3.1.tar.gz"
    p.write_bytes(b"not it")
    with pytest.raises(KnowledgeBaseError, match="sha256"):
        build.verify_panno(p)


def test_allele_kb_loads() -> None:  # the vocabulary the build keys phenotypes on
    assert "CYP2C19" in load_knowledge_base().phenotypes
