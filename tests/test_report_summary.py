"""Clinician report summary page, running header, appendix and sources; patient vocabulary."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from pgxguard.errors import KnowledgeBaseError
from pgxguard.guidance.model import Action
from pgxguard.report import make_report
from pgxguard.report.html import NOT_SIGNED, clinician_html, css_string
from pgxguard.report.view import (
    PatientIds,
    first_sentence,
    positions_span,
    provenance,
    source_groups,
)
from pgxguard.report.vocabulary import parse_vocabulary, vocabulary
from test_report_html import text_of
from test_report_support import KB, SAMPLE, make_calls, make_review

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
IDS = PatientIds(name="JONES, Mary", nhs_number="9434765919", birth_date="1961-03-04")


def summary_of(page: str) -> str:
    m = re.search(r'<section id="summary">.*?</section>', page, re.S)
    assert m
    return m.group(0)


# --- helpers ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "head", "more"), [
    ("Abacavir is not recommended", "Abacavir is not recommended", False),
    ("Abacavir is contra-indicated for HLA-B*57:01-positive patients. Avoid abacavir.",
     "Abacavir is contra-indicated for HLA-B*57:01-positive patients.", True),
    # an abbreviation followed by a comma or a lower-case word does not end the sentence
    ("Start low (e.g., 0.6 – 2.4 mg/kg/day) and adjust. Then more.",
     "Start low (e.g., 0.6 – 2.4 mg/kg/day) and adjust.", True),
    ("use 65% of the standard initial dose. The genotype-specific dose...",
     "use 65% of the standard initial dose.", True),
    ("NO action is required for the gene-drug interaction.",
     "NO action is required for the gene-drug interaction.", False),
])
def test_first_sentence(text: str, head: str, more: bool) -> None:
    assert first_sentence(text) == (head, more)


def test_first_sentence_long_text_is_a_word_boundary_prefix() -> None:
    text = " ".join(["word"] * 100) + "."
    head, more = first_sentence(text, limit=50)
    assert more and len(head) <= 50 and text.startswith(head) and head.endswith("word")


def test_positions_span() -> None:
    assert positions_span(["chr19:300 A>G", "chr19:100 C>T (rs1)", "chr19:200 G>A"]) == \
        "chr19:100-300"
    assert positions_span(["chrX:5 A>G"]) == "chrX:5"
    assert positions_span(["chr1:9 A>G", "chr2:4 A>G", "chr2:8 A>G", "odd"]) == \
        "chr1:9, chr2:4-8, 1 other"


def test_nhs_number_grouping() -> None:
    assert PatientIds(nhs_number="9434765919").nhs_display() == "943 476 5919"
    assert PatientIds(nhs_number="943 476 5919").nhs_display() == "943 476 5919"
    assert PatientIds(nhs_number="X12").nhs_display() == "X12"  # shown as given
    assert PatientIds().nhs_display() is None


def test_css_string_cannot_end_the_string_or_the_style_element() -> None:
    out = str(css_string('O"Brien</style><script>x\\'))
    assert out.startswith('"') and out.endswith('"')
    body = out[1:-1]
    assert '"' not in body and "<" not in body and ">" not in body
    assert body.count("\\") == 6  # ", <, /... each escaped; the backslash itself too
    assert "\\22 " in body and "\\3c " in body and "\\5c " in body


# --- clinician report: summary page ------------------------------------------------------------

def test_summary_lists_actions_most_urgent_first_with_verbatim_opening() -> None:
    review = make_review()
    page = clinician_html(make_calls(), review, SAMPLE, patient=IDS)
    summary = summary_of(page)
    rows = re.findall(r'<tr class="summary-item" data-action="([^"]+)" data-drug="([^"]+)">',
                      summary)
    # avoid, use alternative, adjust dose, monitor: in that order; nothing else in the table
    assert rows == [("avoid", "abacavir"), ("use alternative", "clopidogrel"),
                    ("adjust dose", "capecitabine"), ("monitor", "simvastatin")]
    lines = [text_of(x).strip() for x in
             re.findall(r'<span class="guidance-line">(.*?)</span>', summary, re.S)]
    by_drug = {m.drug: m for m in review.items}
    for (_, drug), line in zip(rows, lines, strict=True):
        item = by_drug[drug]
        rec = next(r for r in item.recommendations if r.action is item.action)
        assert line == rec.text  # one short synthetic sentence: shown whole, verbatim
    t = text_of(summary)
    assert "result incomplete azathioprine (no result for TPMT)" in t
    assert "no change omeprazole" in t and "no PGx guidance co-codamol" in t
    assert "CYP2C19: *2/*2 (Poor Metabolizer)" in t
    # the compact gene list: every gene with a result, the missing ones named
    assert re.findall(r'<li data-gene="([^"]+)">', summary) == \
        ["CYP2C19", "CYP2D6", "CYP3A5", "DPYD", "HLA-B", "SLCO1B1"]
    assert "no result: TPMT" in t



def test_summary_tells_no_result_from_a_result_that_cannot_be_used() -> None:
    """A gene with a result on record that the review cannot use (results that disagree, an
    indeterminate phenotype) is not summarised as "no result": the lab has one."""
    review = make_review()
    items = tuple(
        replace(m, missing_genes=("TPMT", "NUDT15"),
                basis={"TPMT": "no result", "NUDT15": "results disagree (unresolved)"})
        if m.drug == "azathioprine" else m for m in review.items)
    page = clinician_html(make_calls(), replace(review, items=items), SAMPLE, patient=IDS)
    t = text_of(summary_of(page))
    assert ("result incomplete azathioprine (no result for TPMT; result not usable for NUDT15)"
            in t)
    assert "no result for NUDT15" not in t and "no result for TPMT, NUDT15" not in t

def test_summary_cuts_long_text_to_its_first_sentence_and_marks_the_cut() -> None:
    review = make_review()
    long_text = "First sentence of the source. Second sentence of the source."
    items = tuple(
        replace(m, recommendations=tuple(replace(r, text=long_text) for r in m.recommendations))
        if m.drug == "abacavir" else m for m in review.items)
    page = clinician_html(make_calls(), replace(review, items=items), SAMPLE)
    assert '<span class="guidance-line">First sentence of the source. [&hellip;]</span>' in page
    assert long_text in text_of(page)  # in full in the details


def test_summary_without_review_and_without_actions() -> None:
    page = clinician_html(make_calls(), None, SAMPLE)
    assert "No medicines were reviewed with this report." in text_of(summary_of(page))
    review = make_review()
    quiet = replace(review, items=tuple(m for m in review.items
                                        if m.action is Action.STANDARD))
    t = text_of(summary_of(clinician_html(make_calls(), quiet, SAMPLE)))
    assert "No medicine reviewed has a recommendation to avoid it, use an alternative, " \
        "change the dose or monitor." in t and "no change omeprazole" in t


def test_identifiers_and_status_on_every_printed_page() -> None:
    page = clinician_html(make_calls(), make_review(), SAMPLE, patient=IDS,
                          status="Authorised by a.lab on 2026-01-02 10:00 UTC (version 1)")
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)  # type: ignore[union-attr]
    top = re.search(r"@top-left \{ content: (\"[^\"]*\")", style)
    bottom = re.search(r"@bottom-left \{ content: (\"[^\"]*\")", style)
    assert top and bottom
    assert top.group(1) == str(css_string(
        "Name: JONES, Mary  |  NHS number: 943 476 5919  |  Date of birth: 1961-03-04  |  "
        "Sample: S1"))
    assert bottom.group(1) == str(css_string(
        "Authorised by a.lab on 2026-01-02 10:00 UTC (version 1)"))
    assert 'counter(page) " of " counter(pages)' in style
    # and on screen, at the top
    for k, v in (("Name", "JONES, Mary"), ("NHS number", "943 476 5919"),
                 ("Date of birth", "1961-03-04"), ("Sample", SAMPLE)):
        assert f'<dd data-id="{k}">{v}</dd>' in page
    assert 'id="report-status">Authorised by a.lab' in page


def test_unsigned_report_says_so() -> None:
    page = clinician_html(make_calls(), None, SAMPLE)
    assert f'<div class="signoff unsigned" id="report-status">{NOT_SIGNED}</div>' in page
    assert str(css_string(NOT_SIGNED)) in page
    assert 'data-id="Name"' not in page and '<dd data-id="Sample">S1</dd>' in page


def test_quotes_in_source_text_are_not_doubled() -> None:
    review = make_review()
    quoted = 'Avoid in "HLA-B*57:01-positive" patients.'
    items = tuple(
        replace(m, recommendations=tuple(replace(r, text=quoted) for r in m.recommendations))
        if m.drug == "abacavir" else m for m in review.items)
    t = text_of(clinician_html(make_calls(), replace(review, items=items), SAMPLE))
    assert quoted in t and '""' not in t


# --- sources -----------------------------------------------------------------------------------

def test_a_source_shared_by_both_knowledge_bases_is_listed_once() -> None:
    review = make_review()
    pypgx = dict(KB["sources"][0])  # type: ignore[index]
    again = {**pypgx, "attribution": "GRCh37 coordinates", "date": ""}  # same file, same version
    newer = {**pypgx, "version": "0.28.0"}
    guidance = {"version": "g-1", "sources": [again, newer,
                                              {"name": "pharmcat/guidelines/a.json",
                                               "version": "v1", "licence": "CC0"},
                                              {"name": "pharmcat/guidelines/b.json",
                                               "version": "v1", "licence": "CC0"}]}
    review = replace(review, knowledge_base={"guidance": guidance})
    prov = provenance(make_calls(), review)
    names = [(s["name"], s["version"]) for s in prov["all_sources"]]
    assert names == [("pypgx", "0.27.0"), ("pypgx", "0.28.0"),
                     ("pharmcat/guidelines/a.json", "v1"), ("pharmcat/guidelines/b.json", "v1")]
    groups = [(g["group"], g["version"], g["files"]) for g in prov["source_groups"]]
    assert groups == [("pypgx", "0.27.0", 1), ("pypgx", "0.28.0", 1),
                      ("pharmcat/guidelines", "v1", 2)]
    page = clinician_html(make_calls(), review, SAMPLE)
    assert page.count('<tr class="source-group">') == 3
    assert page.count('<tr class="source-file">') == 4  # every file on screen


def test_source_groups_of_plain_names() -> None:
    assert source_groups(["a/x", "a/y"]) == [
        {"group": "a", "version": "", "licence": "", "url": "", "files": 2}]


# --- patient vocabulary ------------------------------------------------------------------------

def test_packaged_vocabulary_covers_every_action_class() -> None:
    v = vocabulary()
    assert v.version == "1"
    for a in Action:
        assert v.sentence(a)
    assert v.sentence(Action.ADJUST_DOSE, ["CYP2C9"]) == \
        "This medicine may need a different dose for you."
    assert v.sentence(Action.AVOID, ["HLA-B"]) != v.sentence(Action.AVOID)


@pytest.mark.parametrize(("text", "match"), [
    ("action\tgene\n", "unexpected header"),
    ("action\tgene\tsentence\nsometimes\t*\tx\n", "unknown action class"),
    ("action\tgene\tsentence\navoid\t*\n", "3 tab-separated fields"),
    ("action\tgene\tsentence\navoid\t*\tx\navoid\t*\ty\n", "listed twice"),
    ("action\tgene\tsentence\navoid\t*\tx\n", "no '\\*' sentence for use alternative"),
])
def test_vocabulary_errors_say_how_to_fix(text: str, match: str) -> None:
    with pytest.raises(KnowledgeBaseError, match=match) as e:
        parse_vocabulary(text, path="v.tsv")
    assert e.value.hint and "v.tsv" in str(e.value)


# --- entry points ------------------------------------------------------------------------------

def test_cli_prints_identifiers(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pgxguard.report.cli import report_app

    out = tmp_path / "r.html"
    res = CliRunner().invoke(report_app, [
        str(EXAMPLES / "demo.vcf"), "--sample", "PATIENT1", "--patient-name", "DEMO, Patient",
        "--nhs-number", "9434765919", "--birth-date", "1970-01-01", "-o", str(out)])
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert '<dd data-id="Name">DEMO, Patient</dd>' in page
    assert '<dd data-id="NHS number">943 476 5919</dd>' in page
    assert '<dd data-id="Date of birth">1970-01-01</dd>' in page


def test_make_report_patient_summary_with_identifiers() -> None:
    page = make_report(EXAMPLES / "demo.vcf", EXAMPLES / "demo-outside-calls.tsv",
                       sample="PATIENT1", fmt="patient",
                       patient=PatientIds(name="DEMO, Patient"))
    assert "<strong>Name</strong> DEMO, Patient" in page
    # HLA-B and VKORC1 have results without a phenotype table entry: listed all the same
    for gene in ("HLA-B", "VKORC1", "CYP2D6"):
        assert f'<li data-gene="{gene}">' in page


def test_summary_states_a_source_that_disagrees() -> None:
    review = make_review()
    page = clinician_html(make_calls(), review, SAMPLE)
    assert "differs" not in text_of(summary_of(page))  # CPIC and DPWG agree on clopidogrel
    items = tuple(
        replace(m, recommendations=tuple(
            replace(r, action=Action.ADJUST_DOSE) if r.source == "DPWG" else r
            for r in m.recommendations)) if m.drug == "clopidogrel" else m
        for m in review.items)
    summary = summary_of(clinician_html(make_calls(), replace(review, items=items), SAMPLE))
    row = re.search(r'data-drug="clopidogrel">.*?</tr>', summary, re.S)
    assert row and '<div class="warn differs">DPWG differs: adjust dose</div>' in row.group(0)
