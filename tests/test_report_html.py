"""Clinician HTML, review HTML and patient summary: content, escaping, self-containment."""

from __future__ import annotations

import html as htmllib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pgxguard.call.results import GeneCall
from pgxguard.errors import InputError, SampleError
from pgxguard.guidance.model import Action
from pgxguard.report import make_report, parse_meds, render
from pgxguard.report.html import DISCLAIMER, clinician_html, patient_html, review_html
from pgxguard.report.view import PatientIds
from test_report_support import (
    GENES,
    KB,
    MISSING_SLCO,
    MISSING_TPMT,
    SAMPLE,
    make_calls,
    make_review,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WHEN = datetime(2025, 1, 2, 3, 4, tzinfo=UTC)


def text_of(page: str) -> str:
    """Visible text, tags stripped and entities decoded, whitespace collapsed."""
    page = re.sub(r"<style>.*?</style>", " ", page, flags=re.S)
    page = re.sub(r"</?(?:strong|span|a|b|em)\b[^>]*>", "", page)  # inline: no gap
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture(scope="module")
def page() -> str:
    return clinician_html(make_calls(), make_review(), SAMPLE, generated=WHEN)


def gene_row_html(page: str, gene: str) -> str:
    m = re.search(rf'<tr class="gene[^"]*" data-gene="{re.escape(gene)}".*?</tr>', page, re.S)
    assert m, gene
    return m.group(0)


def test_every_gene_is_shown(page: str) -> None:
    for g in GENES:
        assert page.count(f'data-gene="{g}" id="gene-{g}"') == 1, g


def test_ties_all_shown_and_flagged(page: str) -> None:
    row = gene_row_html(page, "CYP2D6")
    assert 'class="gene tied"' in row
    assert "TIE: 2 diplotypes" in row
    assert "*1/*4" in row and "*10/*4" in row
    # per-diplotype phenotypes when the tied diplotypes disagree
    assert "Intermediate Metabolizer" in row and "Poor Metabolizer" in row
    assert "tied" not in gene_row_html(page, "CYP2C19").split(">")[0]


def appendix_html(page: str, gene: str) -> str:
    m = re.search(rf'<li class="positions-gene" data-positions-for="{re.escape(gene)}".*?</li>',
                  page, re.S)
    assert m, gene
    return m.group(0)


def test_missing_positions_count_and_list(page: str) -> None:
    assert "3 missing" in gene_row_html(page, "SLCO1B1")
    # a short list prints in full in the appendix
    short = appendix_html(page, "SLCO1B1")
    assert "<details" not in short
    for p in MISSING_SLCO:
        assert htmllib.escape(p) in short
    nocall = gene_row_html(page, "TPMT")
    assert 'class="gene no-call has-missing"' in nocall and "no call" in nocall
    assert f"{len(MISSING_TPMT)} missing" in nocall
    # a long one: every position on screen (collapsed), its span in print
    long = appendix_html(page, "TPMT")
    assert '<details class="missing screen-only">' in long
    assert f"TPMT: {len(MISSING_TPMT)} missing positions" in long
    assert all(htmllib.escape(p) in long for p in MISSING_TPMT)
    positions = [int(p.split(":")[1].split()[0]) for p in MISSING_TPMT]
    assert f'class="print-only positions-span">(chr6:{min(positions)}-{max(positions)})' in long
    assert "0 missing" in gene_row_html(page, "CYP3A5")
    assert 'data-positions-for="CYP3A5"' not in page


def test_structural_variants_not_assessed(page: str) -> None:
    assert "not assessed: *36, *37" in gene_row_html(page, "CYP2C19")
    assert "not assessed: *5, *13" in gene_row_html(page, "CYP2D6")


def test_phenotype_activity_source_variants(page: str) -> None:
    dpyd = gene_row_html(page, "DPYD")
    assert "c.1236G&gt;A (HapB3)" in dpyd and "(unphased)" in dpyd
    assert "Intermediate Metabolizer" in dpyd and ">1<" in dpyd.replace(" ", "")
    assert ">outside<" in gene_row_html(page, "HLA-B")


def test_provenance_and_disclaimer(page: str) -> None:
    t = text_of(page)
    assert KB["version"] in t
    assert "pypgx" in t and "0.27.0" in t and "MIT" in t
    assert "pgxguard 0.1.0" in t
    assert "GRCh38" in t
    assert "assume_reference=False" in t and "genes=CYP2C19, CYP2D6," in t
    assert DISCLAIMER in t
    assert 'id="disclaimer"' in page


def test_review_table(page: str) -> None:
    review = make_review()
    for item in review.items:
        assert f'data-action="{item.action}" data-drug="{item.drug}"' in page
    # sorted by clinical priority
    order = [m.group(1) for m in re.finditer(
        r'<article class="review-item [^"]*" data-action="([^"]+)"', page)]
    assert len(order) == len(review.items)
    assert order == sorted(order, key=lambda a: Action(a).priority)
    t = text_of(page)
    for item in review.items:
        for r in item.recommendations:
            assert r.text in t  # verbatim
    assert 'class="badge src">CPIC<' in page and 'class="badge src">DPWG<' in page
    assert 'href="https://cpicpgx.org/guidelines/example/"' in page
    assert "pypgx 0.27.0" in t and "panno 0.3.1" in t and "strength: Strong" in t
    assert "CYP2C19: *2/*2 (Poor Metabolizer)" in t
    assert "TPMT: no result" in t and "no result for TPMT: consider testing" in t
    assert "as written: “Clopidogrel 75mg tablets”" in t


def test_autoescape_allele_names() -> None:
    evil = GeneCall(gene="CYP2C9", diplotypes=(("*1", "*2<script>alert(1)</script>"),),
                    phenotype="<b>Normal</b>", missing_positions=("chr10:1 A>G <x>",))
    calls = make_calls(extra=(evil,))
    for out in (clinician_html(calls, None, SAMPLE), patient_html(calls, None, SAMPLE)):
        assert "<script" not in out
        assert "<b>Normal" not in out
    page = clinician_html(calls, None, SAMPLE)
    assert "*1/*2&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "chr10:1 A&gt;G &lt;x&gt;" in page


def test_self_contained_and_printable(page: str) -> None:
    assert "<link" not in page and "<script" not in page and "<img" not in page
    assert "@import" not in page and "url(" not in page
    external = [u for u in re.findall(r'(?:src|href)="([^"]+)"', page) if not u.startswith("#")]
    assert external == \
        ["https://cpicpgx.org/guidelines/example/"] * page.count('href="https://cpicpgx')
    # in-page links point at elements that exist
    for anchor in re.findall(r'href="#([^"]+)"', page):
        assert f'id="{anchor}"' in page, anchor
    assert "@page" in page and "size: A4" in page and "@media print" in page
    assert "break-inside: avoid" in page and "table-header-group" in page


def test_without_review_has_no_review_section() -> None:
    page = clinician_html(make_calls(), None, SAMPLE)
    assert 'id="review"' not in page and 'id="results"' in page


def test_review_html_alone() -> None:
    page = review_html(make_review(), generated=WHEN)
    assert "Pharmacogenomic medication review" in page
    assert page.count('class="review-item"') == len(make_review().items)
    assert KB["version"] in page and DISCLAIMER in text_of(page)


VOCAB_TSV = Path(__file__).resolve().parents[1] / "src/pgxguard/report/data/patient-vocabulary.tsv"


def vocab_rows() -> dict[tuple[str, str], str]:
    """The reviewed vocabulary file read plainly (not through pgxguard's loader)."""
    lines = [ln for ln in VOCAB_TSV.read_text(encoding="utf-8").splitlines()
             if ln and not ln.startswith("#")]
    assert lines[0] == "action\tgene\tsentence"
    return {(a, g): t for a, g, t in (ln.split("\t") for ln in lines[1:])}


def test_patient_summary_uses_fixed_sentences_and_fields() -> None:
    calls, review = make_calls(), make_review()
    page = patient_html(calls, review, SAMPLE, generated=WHEN)
    t = text_of(page)
    assert f"You were tested for {len(GENES)} genes." in t
    assert f"A result was found for {len(GENES) - 1} of them." in t
    assert "No result could be given for 1 gene: TPMT." in t
    # every gene with a result, with its phenotype or, without one, its result
    listed = re.findall(r'<li data-gene="([^"]+)">', page)
    assert listed == [g for g in GENES if g != "TPMT"]
    assert "CYP2C19: Poor Metabolizer" in t and "SLCO1B1: Decreased Function" in t
    assert "HLA-B: *57:01/*08:01" in t  # no phenotype table: the result itself
    assert "CYP2D6: *1/*4 | *10/*4 (more than one result fits your data)" in t
    # medicines most urgent first, each with the vocabulary's sentence for its class and gene
    vocab = vocab_rows()
    items = re.findall(r'<li class="medicine[^"]*" data-action="([^"]+)" data-drug="([^"]+)">'
                       r'(.*?)</li>', page, re.S)
    assert [d for _, d, _ in items] == ["abacavir", "clopidogrel", "capecitabine",
                                        "simvastatin", "azathioprine", "omeprazole",
                                        "paracetamol"]
    for action, drug, body in items:
        genes = {"abacavir": "HLA-B"}
        expected = vocab.get((action, genes.get(drug, "")), vocab[(action, "*")])
        assert htmllib.unescape(re.search(r'class="sentence">(.*?)<', body).group(1)) \
            == expected, drug
    assert "higher chance of a serious reaction" in vocab[("avoid", "HLA-B")]
    assert "Tell your pharmacist or GP" in t
    assert "were not checked for: CYP2C19, CYP2D6." in t
    # no guideline text in the leaflet: it points to the clinician report instead
    for item in review.items:
        for r in item.recommendations:
            assert r.text not in t and htmllib.escape(r.text) not in page
    assert "SYNTHETIC" not in t
    assert "detailed report with the guideline advice" in t
    linked = patient_html(calls, review, SAMPLE, clinician_report="report.html")
    assert '<a href="report.html">clinician report</a>' in linked


def test_patient_summary_identifiers() -> None:
    ids = PatientIds(name="DOE, Jane", nhs_number="9434765919", birth_date="1970-01-01")
    t = text_of(patient_html(make_calls(), make_review(), SAMPLE, patient=ids))
    assert "Name DOE, Jane · NHS number 943 476 5919 · Date of birth 1970-01-01 · Sample S1" in t


def test_parse_meds(tmp_path: Path) -> None:
    f = tmp_path / "meds.txt"
    f.write_text("# current\nClopidogrel 75mg tablets\n\nco-codamol 30/500\n")
    assert parse_meds(str(f)) == ["Clopidogrel 75mg tablets", "co-codamol 30/500"]
    assert parse_meds("a, b ,c") == ["a", "b", "c"]
    assert parse_meds(["a, b", "c"]) == ["a", "b", "c"]
    assert parse_meds(None) == []


def test_make_report_demo_vcf() -> None:
    vcf, tsv = EXAMPLES / "demo.vcf", EXAMPLES / "demo-outside-calls.tsv"
    page = make_report(vcf, tsv, sample="PATIENT1", generated=WHEN)
    assert 'data-gene="CYP2D6"' in page and "*1/*2x2" in page and ">outside<" in page
    assert '<dd id="sample">PATIENT1</dd>' in page
    rows = re.findall(r'data-gene="([^"]+)" id=', page)
    assert len(rows) == len(set(rows)) > 10  # one row per gene, PATIENT1 only
    patient = make_report(vcf, tsv, sample="PATIENT1", fmt="patient")
    assert "You were tested for" in patient
    import json

    doc = json.loads(make_report(vcf, tsv, sample="PATIENT2", fmt="json"))
    assert doc["format"] == "pgxguard.report/1" and doc["review"] is None
    assert [s["sample"] for s in doc["calls"]["samples"]] == ["PATIENT2"]


def test_make_report_errors(tmp_path: Path) -> None:
    vcf = EXAMPLES / "demo.vcf"
    with pytest.raises(SampleError, match="--sample"):
        make_report(vcf)  # two samples
    with pytest.raises(InputError, match="unknown report format"):
        make_report(vcf, sample="PATIENT1", fmt="pdf")
    with pytest.raises(InputError, match="empty"):
        make_report(vcf, sample="PATIENT1", meds=" , ")
    with pytest.raises(SampleError, match="NOPE"):
        render(make_calls(), None, "NOPE")


def test_cli_report_command(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pgxguard.report.cli import report_app

    runner = CliRunner()
    out = tmp_path / "r.html"
    args = [str(EXAMPLES / "demo.vcf"), "--outside-calls",
            str(EXAMPLES / "demo-outside-calls.tsv"), "--sample", "PATIENT2", "-o", str(out)]
    res = runner.invoke(report_app, args)
    assert res.exit_code == 0, res.output
    assert 'data-gene="CYP2C19"' in out.read_text()
    res = runner.invoke(report_app, [*args[:-1], str(tmp_path / "f.json"), "--format", "fhir"])
    assert res.exit_code == 0 and '"resourceType": "Bundle"' in (tmp_path / "f.json").read_text()
    bad = tmp_path / "bad.html"
    res = runner.invoke(report_app, [str(EXAMPLES / "demo.vcf"), "--sample", "NOPE",
                                     "-o", str(bad)])
    assert res.exit_code == 2 and "NOPE" in res.output
    assert not bad.exists() and list(tmp_path.glob(".bad.html*")) == []


def test_end_to_end_with_review_engine() -> None:
    import json

    vcf, tsv = EXAMPLES / "demo.vcf", EXAMPLES / "demo-outside-calls.tsv"
    meds = "clopidogrel, simvastatin, abacavir"
    page = make_report(vcf, tsv, meds=meds, sample="PATIENT1")
    assert 'id="review"' in page
    for drug in ("clopidogrel", "simvastatin", "abacavir"):
        assert f'data-drug="{drug}"' in page
    doc = json.loads(make_report(vcf, tsv, meds=meds, sample="PATIENT1", fmt="json"))
    assert doc["review"]["sample"] == "PATIENT1"
    assert {i["drug"] for i in doc["review"]["items"]} >= {"clopidogrel", "simvastatin",
                                                           "abacavir"}
    bundle = json.loads(make_report(vcf, tsv, meds=meds, sample="PATIENT1", fmt="fhir"))
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"DiagnosticReport", "Patient", "Observation", "Task"} <= kinds
