"""Outside calls as labs write them (issue 12, item 1): one strict reader for every notation.

A table of notations -> normalised form or refusal, read against the knowledge base's own
vocabulary (`pgxguard.outside_calls.kb_vocabulary`): allele names, phenotype terms, HLA allele
statuses and diplotype -> phenotype. Expected terms are taken from the knowledge base where they
are its facts; the few written out (HLA-B *57:01, "Poor Metabolizer") are CPIC's and asserted
to be in the knowledge base first. Then the same rows through `pgxguard call` / `report`
(stderr, JSON warnings, review actions) and a FHIR Bundle through the service.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import pgxguard
import test_service_support as support
from pgxguard.call.phenotype import phenotype_for
from pgxguard.call.results import CallResult, GeneCall, SampleCall
from pgxguard.cli import app
from pgxguard.guidance.model import Action
from pgxguard.io.notation import (
    ABBREVIATIONS,
    NotationError,
    normalise_hla_allele,
    phenotype_key,
    resolve_phenotype,
)
from pgxguard.io.outside import OutsideCalls, read_outside_calls
from pgxguard.outside_calls import kb_vocabulary
from pgxguard.report.fhir import report_bundle
from test_service_support import DEMO_VCF, Svc

KB = pgxguard.load_knowledge_base()
VOCAB = kb_vocabulary(KB)
assert VOCAB.phenotypes is not None and VOCAB.statuses is not None
PHENOTYPES = VOCAB.phenotypes
STATUSES = VOCAB.statuses
runner = CliRunner()
_fast_password_hashing = support._fast_password_hashing
sqlite_svc = support.sqlite_svc

# CPIC facts this file relies on, checked against the knowledge base in use.
assert "*57:01" in STATUSES("HLA-B") and "*58:01" in STATUSES("HLA-B")
C19_PM = phenotype_for(KB, "CYP2C19", ("*2", "*2")).phenotype
C19_NM = phenotype_for(KB, "CYP2C19", ("*1", "*1")).phenotype
assert C19_PM == "Poor Metabolizer" and C19_NM == "Normal Metabolizer"
G6PD_DEFICIENT = next(t for t in PHENOTYPES["G6PD"] if phenotype_key(t, "G6PD") == "deficient")
INCOMPLETE = str(Action.RESULT_INCOMPLETE)


def read(tmp_path: Path, rows: str, header: str = "gene\tdiplotype\tphenotype\tactivity_score"
         ) -> OutsideCalls:
    f = tmp_path / "calls.tsv"
    f.write_text(header + "\n" + rows + "\n", encoding="utf-8")
    return read_outside_calls(f, vocabulary=VOCAB)


# --- the notation table ------------------------------------------------------------------------

# (gene, diplotype cell, phenotype cell) -> (diplotype, phenotype) as stored
ACCEPTED = [
    # HLA spellings: all one form
    ("HLA-B", "HLA-B*57:01/HLA-B*08:01", "", ("*57:01", "*08:01"), None),
    ("HLA-B", "B*57:01/B*08:01", "", ("*57:01", "*08:01"), None),
    ("HLA-B", "*57:01/*08:01", "", ("*57:01", "*08:01"), None),
    ("HLA-B", "57:01/08:01", "", ("*57:01", "*08:01"), None),
    ("HLA-B", "*5701/*0801", "", ("*57:01", "*08:01"), None),
    ("HLA-B", "hla-b*57:01 / b*08:01", "", ("*57:01", "*08:01"), None),
    ("HLA-B", "*57:01:01/*08:01:01:02", "", ("*57:01:01", "*08:01:01:02"), None),
    ("HLA-B", "*570101/*0801", "", ("*57:01:01", "*08:01"), None),
    ("HLA-B", "*44:02/*15:01:01:01N", "", ("*44:02", "*15:01:01:01N"), None),
    # allele status, in either column
    ("HLA-B", "*57:01 positive", "", (), "*57:01 positive"),
    ("HLA-B", "", "*57:01 positive", (), "*57:01 positive"),
    ("HLA-B", "", "HLA-B*57:01 negative", (), "*57:01 negative"),
    ("HLA-B", "", "B*5701 POS", (), "*57:01 positive"),
    ("HLA-B", "", "57:01 not detected", (), "*57:01 negative"),
    ("HLA-B", "", "*57:01 negative; *58:01 negative", (), "*57:01 negative; *58:01 negative"),
    ("HLA-B", "", "*57:01:01 positive", (), "*57:01 positive"),
    # one HLA allele: that allele's status, never a full diplotype
    ("HLA-B", "57:01", "", (), "*57:01 positive"),
    ("HLA-B", "HLA-B*57:01", "", (), "*57:01 positive"),
    ("HLA-B", "*5701", "", (), "*57:01 positive"),
    # diplotype and status that agree
    ("HLA-B", "*57:01/*08:01", "*57:01 positive", ("*57:01", "*08:01"), "*57:01 positive"),
    ("HLA-B", "*44:02/*08:01", "*57:01 negative", ("*44:02", "*08:01"), "*57:01 negative"),
    # phenotypes: the knowledge base's term, whatever the spelling
    ("CYP2C19", "", "PM", (), "Poor Metabolizer"),
    ("CYP2C19", "", "pm", (), "Poor Metabolizer"),
    ("CYP2C19", "", "Poor metabolizer (PM)", (), "Poor Metabolizer"),
    ("CYP2C19", "", "poor metabolisers", (), "Poor Metabolizer"),
    ("CYP2C19", "", "CYP2C19 Poor Metabolizer", (), "Poor Metabolizer"),
    ("CYP2C19", "", "EM", (), "Normal Metabolizer"),
    ("CYP2C19", "", "Extensive metabolizer", (), "Normal Metabolizer"),
    ("CYP2C19", "", "UM", (), "Ultrarapid Metabolizer"),
    ("CYP2C19", "", "ultra-rapid metabolizer", (), "Ultrarapid Metabolizer"),
    ("CYP2C19", "", "Likely PM", (), "Likely Poor Metabolizer"),
    ("CYP2C19", "*2/*2", "PM", ("*2", "*2"), "Poor Metabolizer"),
    ("CYP2C19", "CYP2C19*2/CYP2C19*17", "", ("*2", "*17"), None),
    ("G6PD", "", "Deficient", (), G6PD_DEFICIENT),
    ("G6PD", "", "G6PD deficient", (), G6PD_DEFICIENT),
    ("CYP2D6", "*1/*4", "IM", ("*1", "*4"), "Intermediate Metabolizer"),
]

REFUSED = [
    # HLA: what the issue found read as negative
    ("HLA-B", "", "positive", "'positive' does not say which allele"),
    ("HLA-B", "positive", "", "'positive' does not say which allele"),
    ("HLA-B", "", "negative", "'negative' does not say which allele"),
    ("HLA-B", "*57", "", "one-field (allele group) type"),
    ("HLA-B", "B57", "", "is not an HLA allele name"),
    ("HLA-B", "*57/*08", "", "one-field (allele group) type"),
    ("HLA-B", "*57011/*0801", "", "has 5 digits"),
    ("HLA-B", "*57:01G/*08:01", "", "is a G group"),
    ("HLA-B", "*57:01P/*08:01", "", "is a P group"),
    ("HLA-B", "*57:AB/*08:01", "", "is not an HLA allele name"),
    ("HLA-B", "A*31:01/*08:01", "", "names another gene (HLA-A)"),
    ("HLA-B", "*57:01/*08:01/*44:02", "", "has more than two alleles"),
    ("HLA-B", "*57:01/", "", "has an empty allele"),
    ("HLA-B", "*57:01x2/*08:01", "", "is not an HLA allele name"),
    ("HLA-B", "*08:01", "", "*08:01 is not an allele whose status the knowledge base uses"),
    ("HLA-B", "", "*08:01 positive", "*08:01 is not an allele whose status"),
    ("HLA-B", "", "*57:01 maybe", "'*57:01 maybe' is not an allele status"),
    ("HLA-B", "", "*57:01 positive; *57:01 negative", "stated both positive and negative"),
    ("HLA-B", "*57:01/*08:01", "*57:01 negative", "carries *57:01, but the row says *57:01 "
     "negative"),
    ("HLA-B", "*44:02/*08:01", "*57:01 positive", "lacks *57:01"),
    ("HLA-B", "*57:01/*08:01", "Poor Metabolizer", "is not an allele status"),
    # unknown phenotypes and contradictions
    ("CYP2C19", "", "XYZ", "CYP2C19: unknown phenotype 'XYZ'"),
    ("CYP2C19", "*2/*2", "XYZ", "unknown phenotype 'XYZ'"),
    ("CYP2C19", "", "Poor metabolizer (IM)", "contradicts itself"),
    ("CYP2C19", "", "*57:01 positive", "unknown phenotype"),
    ("CYP2C19", "*2/*2", "Normal Metabolizer", f"*2/*2 is {C19_PM} in the knowledge base, "
     "but the row says Normal Metabolizer"),
    ("CYP2C19", "*2/*2", "NM", "but the row says Normal Metabolizer"),
    # unknown allele names, for every kind of gene
    ("CYP2C19", "*2/*999", "", "CYP2C19: unknown allele '*999'"),
    ("CYP2D6", "*1/*999x2", "", "CYP2D6: unknown allele '*999'"),
    ("DPYD", "Reference/c.9999A>G", "", "DPYD: unknown allele 'c.9999A>G'"),
]


@pytest.mark.parametrize(("gene", "diplotype", "phenotype", "want_dip", "want_ph"), ACCEPTED)
def test_notation_normalised(tmp_path: Path, gene: str, diplotype: str, phenotype: str,
                             want_dip: tuple[str, ...], want_ph: str | None) -> None:
    got = read(tmp_path, f"{gene}\t{diplotype}\t{phenotype}\t")
    assert got.errors == ()
    [c] = got.calls
    assert (c.gene, c.diplotype, c.phenotype) == (gene, want_dip, want_ph)


@pytest.mark.parametrize(("gene", "diplotype", "phenotype", "message"), REFUSED)
def test_notation_refused(tmp_path: Path, gene: str, diplotype: str, phenotype: str,
                          message: str) -> None:
    got = read(tmp_path, f"{gene}\t{diplotype}\t{phenotype}\t")
    assert got.calls == ()
    [err] = got.errors
    assert err.startswith(f"{tmp_path / 'calls.tsv'}, line 2: ") and err.endswith(")")
    assert message in err


def test_activity_score_checks(tmp_path: Path) -> None:
    ph = phenotype_for(KB, "CYP2D6", ("*1", "*4"))
    assert ph.phenotype is not None and ph.activity_score is not None
    score, want = ph.activity_score, ph.phenotype
    other = next(t for t in PHENOTYPES["CYP2D6"] if t != want)
    got = read(tmp_path, f"CYP2D6\t*1/*4\t\t{score}\nCYP2D6\t*1/*4\t\t{score + 1}")
    assert [c.activity_score for c in got.calls] == [score]
    assert "has activity score" in got.errors[0] and "line 3" in got.errors[0]
    got = read(tmp_path, f"CYP2D6\t\t{other}\t{score}")
    assert got.calls == () and f"activity score {score:g} is {want}" in got.errors[0]


def test_every_gene_refuses_unknown_alleles_and_phenotypes(tmp_path: Path) -> None:
    assert VOCAB.alleles is not None and VOCAB.genes is not None
    genes = sorted(g for g in VOCAB.genes if not g.startswith("HLA-"))
    rows = "\n".join(f"{g}\tNOT-AN-ALLELE/NOT-AN-ALLELE\t" for g in genes)
    got = read(tmp_path, rows, header="gene\tdiplotype\tphenotype")
    assert got.calls == () and len(got.errors) == len(genes)
    rows = "\n".join(f"{g}\t\tNot A Phenotype" for g in genes)
    got = read(tmp_path, rows, header="gene\tdiplotype\tphenotype")
    assert got.calls == () and len(got.errors) == len(genes)
    assert all("unknown phenotype 'Not A Phenotype'" in e for e in got.errors)


def test_abbreviations_name_knowledge_base_terms() -> None:
    """The explicit map is checked against the knowledge base at run time: every target is a
    term of some gene, and a gene lacking the term refuses the abbreviation."""
    all_terms = {t for terms in PHENOTYPES.values() for t in terms}
    assert set(ABBREVIATIONS.values()) <= all_terms
    for gene, terms in PHENOTYPES.items():
        for abbr, term in ABBREVIATIONS.items():
            if term in terms:
                assert resolve_phenotype(abbr, gene, terms) == term
            else:
                with pytest.raises(NotationError, match="unknown phenotype"):
                    resolve_phenotype(abbr, gene, terms)


def test_hla_normaliser_is_idempotent() -> None:
    for written in ("HLA-B*57:01", "B*57:01", "57:01", "*5701", "*57:01:01", "*570101"):
        once = normalise_hla_allele(written, "HLA-B")
        assert normalise_hla_allele(once, "HLA-B") == once


# --- through pgxguard call / report -----------------------------------------------------------

ISSUE_ROWS = ("sample\tgene\tdiplotype\tphenotype\n"
              "PATIENT1\tHLA-B\t*5701/*0801\t\n"
              "PATIENT1\tCYP2C19\t*2/*2\tPM\n"
              "PATIENT1\tHLA-A\tpositive\t\n"
              "PATIENT1\tCYP2D6\t*4/*4\tXYZ\n")


def test_call_reports_refused_rows_on_stderr_and_in_json(tmp_path: Path) -> None:
    oc = tmp_path / "lab.tsv"
    oc.write_text(ISSUE_ROWS)
    out = tmp_path / "calls.json"
    r = runner.invoke(app, ["call", str(DEMO_VCF), "-s", "PATIENT1", "--outside-calls", str(oc),
                            "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    refused = [f"{oc}, line 4: HLA-A: 'positive' does not say which allele (write e.g. "
               "*57:01 positive)",
               f"{oc}, line 5: CYP2D6: unknown phenotype 'XYZ' (use a CYP2D6 phenotype the "
               f"knowledge base knows ({', '.join(sorted(PHENOTYPES['CYP2D6']))}))"]
    assert r.stderr.splitlines() == [f"warning: {w}" for w in refused]
    doc = json.loads(out.read_text())
    assert doc["warnings"] == refused
    genes = {g["gene"]: g for g in doc["samples"][0]["genes"]}
    assert genes["HLA-B"]["diplotypes"] == [["*57:01", "*08:01"]]
    assert genes["CYP2C19"]["phenotype"] == C19_PM
    assert "phenotype 'PM' read as 'Poor Metabolizer'" in genes["CYP2C19"]["warnings"]
    assert "HLA-A" not in genes  # refused, not read as negative
    assert genes["CYP2D6"]["source"] != "outside"


@pytest.mark.parametrize("fmt", ["html", "json", "fhir"])
def test_report_outputs_show_refused_rows(tmp_path: Path, fmt: str) -> None:
    oc = tmp_path / "lab.tsv"
    oc.write_text(ISSUE_ROWS)
    out = tmp_path / f"report.{fmt}"
    r = runner.invoke(app, ["report", str(DEMO_VCF), "-s", "PATIENT1", "--outside-calls",
                            str(oc), "--meds", "abacavir", "-f", fmt, "-o", str(out)])
    assert r.exit_code == 0
    assert r.stderr.splitlines()[0] == (f"warning: {oc}, line 4: HLA-A: 'positive' does not "
                                        "say which allele (write e.g. *57:01 positive)")
    text = out.read_text()
    if fmt == "fhir":
        [dr] = [e["resource"] for e in json.loads(text)["entry"]
                if e["resource"]["resourceType"] == "DiagnosticReport"]
        text = dr["conclusion"]
    assert "line 4: HLA-A: &#39;positive&#39; does not say which allele" in text or \
        "line 4: HLA-A: 'positive' does not say which allele" in text


@pytest.mark.parametrize(("hla_b", "abacavir"), [
    ("*5701/*0801", "avoid"), ("57:01", "avoid"), ("*57:01 positive", "avoid"),
    ("HLA-B*57:01/HLA-B*08:01", "avoid"), ("B*57:01/B*08:01", "avoid"),
    ("*57:01:01/*08:01", "avoid"), ("*44:02/*08:01", "standard"),
    ("*57:01 negative", "standard"),
    # refused rows: never "standard"
    ("positive", INCOMPLETE), ("*57", INCOMPLETE), ("57", INCOMPLETE),
])
def test_report_abacavir(tmp_path: Path, hla_b: str, abacavir: str) -> None:
    oc = tmp_path / "hla.tsv"
    oc.write_text(f"gene\tdiplotype\nHLA-B\t{hla_b}\n")
    r = runner.invoke(app, ["report", str(DEMO_VCF), "-s", "PATIENT1", "--outside-calls",
                            str(oc), "--meds", "abacavir", "-f", "json"])
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    [item] = doc["review"]["items"]
    assert item["action"] == abacavir
    refused = abacavir == INCOMPLETE
    assert r.stderr.startswith(f"warning: {oc}, line 2: HLA-B: ") == refused
    assert any(w.startswith(f"{oc}, line 2") for w in doc["calls"]["warnings"]) == refused


@pytest.mark.parametrize(("phenotype", "ok"), [("PM", True), ("Poor metabolizer (PM)", True),
                                                ("XYZ", False)])
def test_report_clopidogrel(tmp_path: Path, phenotype: str, ok: bool) -> None:
    oc = tmp_path / "c19.tsv"
    oc.write_text(f"gene\tdiplotype\tphenotype\nCYP2C19\t*2/*2\t{phenotype}\n")
    r = runner.invoke(app, ["report", str(DEMO_VCF), "-s", "PATIENT1", "--outside-calls",
                            str(oc), "--meds", "clopidogrel", "-f", "json"])
    assert r.exit_code == 0
    doc = json.loads(r.stdout)
    [item] = doc["review"]["items"]
    assert item["action"] != "standard"
    c19 = {g["gene"]: g for g in doc["calls"]["samples"][0]["genes"]}["CYP2C19"]
    if ok:
        assert r.stderr == "" and c19["source"] == "outside" and c19["phenotype"] == C19_PM
    else:  # refused: the VCF's own call stands, and the refusal is shown
        assert r.stderr.startswith(f"warning: {oc}, line 2: CYP2C19: unknown phenotype 'XYZ'")
        assert c19["source"] == "vcf"


# --- the service: TSV upload and FHIR Bundle import apply the same checks ---------------------

def _genes(calls: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [sample] = calls["samples"]
    return {g["gene"]: g for g in sample["genes"]}


def test_service_outside_calls_refused_rows_are_in_the_response(sqlite_svc: Svc) -> None:
    svc = sqlite_svc
    pid = svc.new_patient()
    body = ISSUE_ROWS.replace("PATIENT1", "P")
    r = svc.client.post(f"/patients/{pid}/results/outside-calls", headers=svc.h("lab_scientist"),
                        files={"file": ("lab.tsv", body.encode())})
    assert r.status_code == 201, r.text
    latest = r.json()["latest"]
    assert latest["note"].startswith("2 row(s) refused, not used (see the calls' warnings): "
                                     "lab.tsv, line 4: HLA-A: 'positive' does not say which "
                                     "allele")
    assert "lab.tsv, line 5: CYP2D6: unknown phenotype 'XYZ'" in latest["note"]
    assert [w for w in latest["calls"]["warnings"] if w.startswith("lab.tsv, line ")] == \
        latest["note"].split(": ", 1)[1].split(" | ")
    genes = _genes(latest["calls"])
    assert set(genes) == {"HLA-B", "CYP2C19"}
    assert genes["HLA-B"]["diplotypes"] == [["*57:01", "*08:01"]]
    assert genes["CYP2C19"]["phenotype"] == C19_PM


def _bundle(gene: GeneCall) -> bytes:
    calls = CallResult(knowledge_base=KB.provenance(),
                       samples=(SampleCall(sample="P", genes=(gene,)),))
    return json.dumps(report_bundle(calls, None, "P")).encode()


@pytest.mark.parametrize(("gene", "want"), [
    (GeneCall("CYP2C19", (("*2", "*2"),), phenotype="PM", source="outside"),
     ((("*2", "*2"),), C19_PM)),
    (GeneCall("CYP2C19", (("*2", "*2"),), phenotype="Poor metabolizer (PM)", source="outside"),
     ((("*2", "*2"),), C19_PM)),
    (GeneCall("HLA-B", (("*5701", "*0801"),), source="outside"),
     ((("*57:01", "*08:01"),), None)),
    (GeneCall("HLA-B", (), phenotype="*57:01 positive", source="outside"),
     ((), "*57:01 positive")),
    (GeneCall("CYP2C19", (("*2", "*2"),), phenotype="XYZ", source="outside"),
     "CYP2C19: unknown phenotype 'XYZ'"),
    (GeneCall("CYP2C19", (), phenotype="PM", source="outside"), ((), C19_PM)),
    (GeneCall("CYP2C19", (("*2", "*999"),), source="outside"),
     "CYP2C19: unknown allele '*999'"),
    (GeneCall("CYP2C19", (("*1", "*1"),), phenotype="Poor Metabolizer", source="outside"),
     f"*1/*1 is {C19_NM} in the knowledge base, but the row says Poor Metabolizer"),
    (GeneCall("HLA-B", (), phenotype="positive", source="outside"),
     "'positive' does not say which allele"),
])
def test_service_fhir_import_applies_the_same_checks(
        sqlite_svc: Svc, gene: GeneCall, want: tuple[Any, str | None] | str) -> None:
    svc = sqlite_svc
    pid = svc.new_patient()
    r = svc.client.post(f"/patients/{pid}/results/fhir", headers=svc.h("lab_scientist"),
                        files={"file": ("report.json", _bundle(gene))})
    assert r.status_code == 201, r.text
    latest = r.json()["latest"]
    got = _genes(latest["calls"])[gene.gene]
    if isinstance(want, str):  # refused: no call, reason in the gene, the result and the note
        assert got["source"] == "none" and got["diplotypes"] == [] and got["phenotype"] is None
        assert any(w.startswith("refused: ") and want in w for w in got["warnings"])
        assert any(w.startswith("report.json: ") and want in w
                   for w in latest["calls"]["warnings"])
        assert "1 gene(s) refused" in latest["note"] and want in latest["note"]
    else:
        dips, phenotype = want
        assert [tuple(d) for d in got["diplotypes"]] == list(dips)
        assert got["phenotype"] == phenotype
        assert "refused" not in latest["note"]


def test_service_review_of_status_only_hla(sqlite_svc: Svc) -> None:
    svc = sqlite_svc
    pid = svc.new_patient()
    r = svc.client.post(f"/patients/{pid}/results/outside-calls", headers=svc.h("lab_scientist"),
                        files={"file": ("hla.tsv", b"gene\tphenotype\nHLA-B\t*57:01 negative\n")})
    assert r.status_code == 201, r.text
    svc.sign_off(r.json()["id"], 1)
    r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                        json={"medicines": ["abacavir", "allopurinol"]})
    assert r.status_code == 201, r.text
    actions = {i["drug"]: i["action"] for i in r.json()["review"]["items"]}
    assert actions["abacavir"] == "standard"  # *57:01 stated negative
    assert actions["allopurinol"] != "standard"  # *58:01 not stated: never assumed negative


def test_demo_file_still_reads() -> None:
    got = read_outside_calls(Path(__file__).parents[1] / "examples" / "demo-outside-calls.tsv",
                             vocabulary=VOCAB)
    assert got.errors == () and len(got.calls) == 3
    assert pgxguard.call(DEMO_VCF, outside_calls=Path(__file__).parents[1] / "examples"
                         / "demo-outside-calls.tsv").warnings == ()
