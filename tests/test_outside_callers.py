"""Outside calls read from labs' own callers (issue 15): Cyrius, DRAGEN's CYP2D6 TSV, Aldy,
StellarPGx, PyPGx, PharmCAT's outside-call file, OptiType, HLA*LA and arcasHLA.

Fixtures (tests/data/outside/callers, README there says which documentation each follows) are
recognised by content; every call goes through the outside-call checker; a caller's no-call,
low-quality or ambiguous result is "no result" with the caller's reason; each call keeps its
provenance (caller, version, file, SHA-256, quality fields).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import pgxguard
from kbfacts import C19, WriteVcf
from pgxguard.call.phenotype import activity_of
from pgxguard.cli import app
from pgxguard.errors import InputError, OutsideCallError
from pgxguard.io.callers import detect_format
from pgxguard.io.notation import NotationError
from pgxguard.io.starnames import StarMapper, Unresolved
from pgxguard.outside_calls import kb_vocabulary
from pinned_sources import pinned
from vcfbuilder import from_definition

runner = CliRunner()
DATA = Path(__file__).parent / "data" / "outside" / "callers"
KB = pgxguard.load_knowledge_base()
VOCAB = kb_vocabulary(KB)
D6 = sorted(VOCAB.alleles["CYP2D6"]) if VOCAB.alleles else []
ALDY_SDIST = pinned("aldy-4.8.3.tar.gz")
ALDY_SHA256 = "2612e849b35bc3c11fd0ee5752c8c732ae7d39fe095975d5249ea1666e867acd"


def genes_of(result: pgxguard.CallResult, sample: str) -> dict[str, Any]:
    return {g.gene: g for g in result.sample(sample).genes}


def mapper(gene: str = "CYP2D6") -> StarMapper:
    names = (VOCAB.alleles or {})[gene]
    return StarMapper(gene, names, lambda a: activity_of(KB, gene, a))


def pypgx_zip(tmp_path: Path, semantic: str | None = None) -> Path:
    z = tmp_path / "results.zip"
    meta = (DATA / "pypgx-results" / "metadata.txt").read_text()
    if semantic:
        meta = meta.replace("SampleTable[Results]", semantic)
    with zipfile.ZipFile(z, "w") as f:  # pypgx writes both under one temporary folder
        f.writestr("tmpabc/metadata.txt", meta)
        f.writestr("tmpabc/data.tsv", (DATA / "pypgx-results" / "data.tsv").read_text())
    return z


# --- recognised by content ---------------------------------------------------------------

@pytest.mark.parametrize(("fixture", "fmt"), [
    ("cyrius.tsv", "cyrius-tsv"), ("cyrius.json", "cyrius"), ("aldy-documented.aldy", "aldy"),
    ("SIM001_2d6.alleles", "stellarpgx"), ("pharmcat-outside.tsv", "pharmcat"),
    ("optitype_result.tsv", "optitype"), ("R1_bestguess_G.txt", "hla-la"),
    ("test.genotype.json", "arcashla"), ("run.genotypes.json", "arcashla"),
    ("../calls.tsv", "pgxguard")])
def test_each_format_is_recognised_by_content(fixture: str, fmt: str, tmp_path: Path) -> None:
    neutral = tmp_path / "upload.dat"  # the name says nothing
    shutil.copy(DATA / fixture, neutral)
    genes = {g.upper() for g in VOCAB.genes or ()}
    assert detect_format(neutral.read_bytes(), genes) == fmt


def test_pypgx_zip_is_recognised(tmp_path: Path) -> None:
    assert detect_format(pypgx_zip(tmp_path).read_bytes(), set()) == "pypgx"


def test_dragen_targeted_json_is_refused_with_what_to_pass(tmp_path: Path) -> None:
    p = tmp_path / "s.targeted.json"
    p.write_text(json.dumps({"sample": "S1", "dragenVersion": "4.2.4", "cyp2d6": {}}))
    with pytest.raises(OutsideCallError) as e:
        pgxguard.call(None, outside_calls=p)
    assert str(e.value).startswith(f"{p}: this looks like a DRAGEN targeted-caller JSON")
    assert "--outside-format dragen-cyp2d6" in str(e.value)


# --- star notations onto the knowledge base's names ----------------------------------------

@pytest.mark.parametrize(("written", "expected"), [
    ("*1/*4x2", "*1/*4x2"),
    ("*4/*36+*10", "*4/*10"),        # *36 has activity 0: the tandem's activity is *10's
    ("*5/*68+*4", "*5/*4"),          # every copy activity 0: named by its last gene copy
    ("*13+*2/*41", "*2/*41"),
    ("*36+*36+*10/*1", "*10/*1"),
    ("*36x2+*10x2/*1", "*10x2/*1"),
    ("*1/*1x3", "*1/*1x≥3"),         # CPIC's bin for three or more copies
    ("*2x5/*4", "*2x≥3/*4"),
    ("*10x3/*4", "*10x3/*4"),        # no CPIC bin: three copies of a known allele
    ("*4.013+*4/*1", "*4x2/*1"),     # sub-allele -> core allele, then copies added
    ("CYP2D6*1/CYP2D6*41", "*1/*41"),
    ("*1x≥3/*4", "*1x≥3/*4"),
])
def test_star_notations_map_onto_known_names(written: str, expected: str) -> None:
    got, notes = mapper().diplotype(written)
    assert got == expected
    assert bool(notes) == (got != written)


@pytest.mark.parametrize(("written", "message"), [
    ("*1/*999", "unknown allele '*999'"),
    ("*1+*2/*4", "more than one allele with activity (*1, *2)"),
    ("*61+*2/*4", "more than one allele with activity (*61, *2)"),  # *61: no published value
    ("[*2 + *3]/*1", "a combination of alleles"),
    ("*1/*2/*3", "is not a diplotype"),
])
def test_unmappable_notations_are_errors(written: str, message: str) -> None:
    with pytest.raises(NotationError) as e:
        mapper().diplotype(written)
    assert message in e.value.message


def test_unstated_copy_number_is_unresolved() -> None:
    with pytest.raises(Unresolved) as e:
        mapper().diplotype("*1xN/*4")
    assert "copy number not stated" in e.value.reason


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(D6), st.sampled_from(D6))
def test_known_names_map_to_themselves(a: str, b: str) -> None:
    assert mapper().diplotype(f"{a}/{b}") == (f"{a}/{b}", [])


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([a for a in D6 if "x" not in a and (activity_of(KB, "CYP2D6", a) or 0) > 0]))
def test_a_no_function_hybrid_in_tandem_adds_nothing(a: str) -> None:
    got, notes = mapper().diplotype(f"*36+{a}/*4")
    assert got == f"{a}/*4"
    assert any("*36 has no function" in n for n in notes)


# --- each caller -------------------------------------------------------------------------

def test_cyrius_tsv(tmp_path: Path) -> None:
    """Recognised by content, the TSV cannot say whether Cyrius or DRAGEN wrote it."""
    r = pgxguard.call(None, outside_calls=DATA / "cyrius.tsv")
    calls = {s.sample: s.gene("CYP2D6") for s in r.samples}
    assert calls["PATIENT1"].diplotypes == (("*1", "*4x2"),)
    assert calls["PATIENT1"].phenotype == "Intermediate Metabolizer"
    assert calls["HG01190"].diplotypes == (("*4", "*5"),)
    assert calls["NA18545"].diplotypes == (("*10", "*10"),)
    assert calls["DUP3"].diplotypes == (("*1", "*1x≥3"),)
    assert calls["TIE_SAME"].diplotypes == (("*1", "*10"),)
    reasons = {
        "NOCALL": "no result: Cyrius/DRAGEN: no call (Genotype None)",
        "TIE": "no result: Cyrius/DRAGEN: 2 possible diplotypes (*1/*46 | *43/*45)",
        "UNASSIGNED": "no result: Cyrius/DRAGEN: star alleles *1, *2, *68 not assigned to "
                      "haplotypes (Not_assigned_to_haplotypes)",
        "HIGHCN": "no result: Cyrius/DRAGEN: low-quality call at high copy number "
                  "(LowQ_high_CN; called *1x3/*2x3)",
    }
    for sample, reason in reasons.items():
        g = calls[sample]
        assert not g.called and g.source == "outside" and g.diplotypes == ()
        assert reason in g.warnings, (sample, g.warnings)
    sha = hashlib.sha256((DATA / "cyrius.tsv").read_bytes()).hexdigest()
    assert calls["HG01190"].origin == {
        "caller": "Cyrius/DRAGEN", "file": "cyrius.tsv", "sha256": sha, "line": "3",
        "written": "*5/*68+*4", "Filter": "PASS"}
    assert calls["HG01190"].warnings[0] == (
        f"CYP2D6 *4/*5 from Cyrius/DRAGEN (written *5/*68+*4); cyrius.tsv, line 3; SHA-256 "
        f"{sha[:12]}; Filter PASS")
    assert "UNKNOWN" not in calls  # the error row is skipped, and said
    assert r.warnings == (f"{DATA / 'cyrius.tsv'}, line 13: CYP2D6: unknown allele '*999' in "
                          "'*999' (use an allele name defined for CYP2D6)",)
    assert r.input["outside_calls"] == [{"format": "cyrius-tsv", "caller": "Cyrius/DRAGEN",
                                         "file": "cyrius.tsv", "sha256": sha}]
    forced = pgxguard.call(None, outside_calls=DATA / "cyrius.tsv", outside_format="cyrius")
    assert forced.sample("HG01190").gene("CYP2D6").origin_label() == "Cyrius"


def test_cyrius_json() -> None:
    r = pgxguard.call(None, outside_calls=DATA / "cyrius.json")
    p1 = r.sample("PATIENT1").gene("CYP2D6")
    assert p1.diplotypes == (("*1", "*4x2"),)
    assert p1.origin is not None
    assert (p1.origin["where"], p1.origin["Total_CN"], p1.origin["CNV_group"]) == (
        "sample 'PATIENT1'", "5", "cn3")
    uneven = r.sample("UNEVEN").gene("CYP2D6")
    assert not uneven.called
    assert any(w.startswith("no result: Cyrius: uneven coverage (Coverage_MAD 0.21 > 0.11)")
               for w in uneven.warnings)
    assert not r.sample("NOCALL").gene("CYP2D6").called


@pytest.mark.skipif(not ALDY_SDIST.is_file(), reason="aldy sdist not fetched (make sources)")
def test_aldy_real_expected_output(tmp_path: Path) -> None:
    """Aldy's own expected output for NA10860 (three CYP2D6 copies, two equal solutions)."""
    assert hashlib.sha256(ALDY_SDIST.read_bytes()).hexdigest() == ALDY_SHA256
    with tarfile.open(ALDY_SDIST) as t:
        member = t.extractfile("aldy-4.8.3/aldy/tests/resources/NA10860.out.expected")
        assert member is not None
        out = tmp_path / "NA10860.aldy"
        out.write_bytes(member.read())
    r = pgxguard.call(None, outside_calls=out)
    g = r.sample("NA10860").gene("CYP2D6")
    # *1/*4.021+*4NX and *1/*4+*4.021X are both *1 and two copies of *4 (Aldy: *1/*4+*4)
    assert g.diplotypes == (("*1", "*4x2"),)
    assert g.phenotype == "Intermediate Metabolizer" and g.activity_score == 1.0
    assert g.origin is not None and g.origin["solutions"] == "2"
    assert g.origin["Aldy phenotype"] == "intermediate"
    assert g.origin["gene database"] == "CYP2D6-pharmvar-6.2.14 (2025-07-20)"
    assert r.warnings == ()


def test_aldy_documented_output() -> None:
    r = pgxguard.call(None, outside_calls=DATA / "aldy-documented.aldy")
    hg = genes_of(r, "HG00463")
    assert hg["CYP2D6"].diplotypes == (("*10", "*10"),)
    assert hg["CYP2C19"].diplotypes == (("*1", "*3"),)
    novel = r.sample("NOVEL1").gene("CYP2D6")
    assert "no result: Aldy: possible novel allele (*1+rs5030865: added functional variant(s) " \
           "rs5030865)" in novel.warnings
    ties = r.sample("TIES").gene("CYP2D6")
    assert "no result: Aldy: 2 possible diplotypes (*1/*4 | *2/*4)" in ties.warnings
    assert [w.split(": ", 1)[1] for w in r.warnings] == [
        "CYP2A6: unknown allele '*35' in '*35' (use an allele name defined for CYP2A6)"]


@pytest.mark.parametrize(("fixture", "diplotype", "reason"), [
    ("SIM001_2d6.alleles", ("*17", "*29"), None),
    ("HG01190_2d6.alleles", ("*4", "*5"), None),
    ("HG01086_2d6.alleles", None, "no result: StellarPGx: [*1/*31] is bracketed: a possible "
                                  "novel allele or sub-allele; StellarPGx asks for expert review"),
    ("NOCALL_2d6.alleles", None, "no result: StellarPGx: no call (No_call)"),
])
def test_stellarpgx(fixture: str, diplotype: tuple[str, ...] | None, reason: str | None) -> None:
    r = pgxguard.call(None, outside_calls=DATA / fixture)
    [s] = r.samples
    g = s.gene("CYP2D6")
    assert g.diplotypes == ((diplotype,) if diplotype else ())
    if reason:
        assert reason in g.warnings
    assert g.origin is not None and g.origin["Initially computed CN"] == "2"


def test_pypgx_results_zip(tmp_path: Path) -> None:
    r = pgxguard.call(None, outside_calls=pypgx_zip(tmp_path))
    assert r.sample("PATIENT1").gene("CYP2D6").diplotypes == (("*1", "*4"),)
    assert r.sample("NA18545").gene("CYP2D6").diplotypes == (("*10", "*10"),)
    assert r.sample("HG00436").gene("CYP2D6").diplotypes == (("*2x2", "*71"),)
    nc = r.sample("NOCALL").gene("CYP2D6")
    assert "no result: PyPGx: no call (Genotype Indeterminate)" in nc.warnings
    origin = r.sample("HG01190").gene("CYP2D6").origin
    assert origin is not None
    assert (origin["CNV"], origin["PyPGx phenotype"]) == ("Tandem3,DeletionHet",
                                                          "Poor Metabolizer")
    assert r.input["outside_calls"][0]["Assembly"] == "GRCh38"


def test_pypgx_archive_of_another_type_is_refused(tmp_path: Path) -> None:
    z = pypgx_zip(tmp_path, semantic="SampleTable[Genotypes]")
    with pytest.raises(OutsideCallError, match=r"PyPGx archive of type 'SampleTable\[Genotypes"):
        pgxguard.call(None, outside_calls=z)


def test_pharmcat_outside_call_file() -> None:
    r = pgxguard.call(None, outside_calls=DATA / "pharmcat-outside.tsv")
    g = genes_of(r, "sample")
    assert g["CYP2D6"].diplotypes == (("*1", "*3"),)
    assert (g["CYP2C9"].phenotype, g["CYP2C9"].activity_score) == ("Normal Metabolizer", 2.0)
    assert g["HLA-B"].phenotype == "*57:01 positive"
    assert g["MT-RNR1"].diplotypes == (("m.1555A>G",),)
    assert r.warnings == ()


def test_hla_typers() -> None:
    opt = genes_of(pgxguard.call(None, outside_calls=DATA / "optitype_result.tsv"), "sample")
    assert opt["HLA-B"].diplotypes == (("*07:02", "*35:01"),)
    assert opt["HLA-C"].diplotypes == (("*07:02", "*07:02"),)
    assert opt["HLA-B"].origin is not None and opt["HLA-B"].origin["Reads"] == "10191.0"
    enum = genes_of(pgxguard.call(None, outside_calls=DATA / "optitype_enumerate_result.tsv"),
                    "sample")
    assert "no result: OptiType: 2 possible genotypes (B*57:01/B*08:01 | B*58:01/B*08:01)" \
        in enum["HLA-B"].warnings
    assert "no result: OptiType: no C allele typed" in enum["HLA-C"].warnings
    r = pgxguard.call(None, outside_calls=DATA / "R1_bestguess_G.txt")
    la = genes_of(r, "sample")
    assert la["HLA-B"].diplotypes == (("*57:01:01", "*08:01:01"),)
    assert any(w.startswith("G group B*57:01:01G read as B*57:01:01") for w in la["HLA-B"].warnings)
    assert any("ambiguous (C*06:02:01G;C*06:02:02 / C*07:01:01G)" in w
               for w in la["HLA-C"].warnings)
    assert any("perfectG 0" in w for w in la["HLA-DRB1"].warnings)
    assert r.warnings == (f"{DATA / 'R1_bestguess_G.txt'}: HLA-DQB1 typed by HLA*LA: not used "
                          "(not a gene of the knowledge base)",)
    arcas = pgxguard.call(None, outside_calls=DATA / "run.genotypes.json")
    p1 = arcas.sample("PATIENT1").gene("HLA-B")
    assert p1.diplotypes == (("*57:01:01", "*57:01:01"),)
    assert "arcasHLA lists one B allele: its homozygous call" in p1.warnings
    assert not arcas.sample("PATIENT2").gene("HLA-B").called


# --- the command line: VCF + CYP2D6 caller + HLA typer -> report ---------------------------

@pytest.fixture
def patient_vcf(tmp_vcf: WriteVcf) -> Path:
    return tmp_vcf(from_definition(C19, {"PATIENT1": ("*2", "*17")}, phased=False))


def cyrius_for(tmp_path: Path, sample: str = "PATIENT1", genotype: str = "*1/*36+*10") -> Path:
    p = tmp_path / "cyrius.tsv"
    p.write_text(f"Sample\tGenotype\tFilter\n{sample}\t{genotype}\tPASS\n")
    return p


def test_vcf_cyrius_and_optitype_make_one_report(patient_vcf: Path, tmp_path: Path) -> None:
    cyr = cyrius_for(tmp_path)
    opt = DATA / "optitype_b5701_result.tsv"
    out = tmp_path / "report.json"
    r = runner.invoke(app, ["report", str(patient_vcf), "--outside-calls", str(cyr),
                            "--outside-calls", str(opt), "--outside-format", "cyrius=1.1.1",
                            "--outside-format", "optitype", "-f", "json", "-o", str(out),
                            "--meds", "codeine, abacavir"])
    assert r.exit_code == 0, r.stderr
    assert r.stderr.splitlines() == [
        f"warning: {opt}: the file names no sample; its calls are applied to VCF sample "
        "PATIENT1"]
    doc = json.loads(out.read_text())
    genes = {g["gene"]: g for g in doc["calls"]["samples"][0]["genes"]}
    d6 = genes["CYP2D6"]
    assert d6["diplotypes"] == [["*1", "*10"]] and d6["source"] == "outside"
    assert d6["origin"]["caller"] == "Cyrius"
    assert d6["origin"]["version"] == "1.1.1 (stated with --outside-format)"
    assert d6["warnings"][0].startswith("CYP2D6 *1/*10 from Cyrius 1.1.1 (written *1/*36+*10)")
    assert genes["HLA-B"]["diplotypes"] == [["*57:01", "*08:01"]]
    assert genes["CYP2C19"]["diplotypes"] == [["*2", "*17"]]
    actions = {m["drug"]: m["action"] for m in doc["review"]["items"]}
    assert actions["abacavir"] == "avoid"  # HLA-B*57:01 from OptiType
    html = tmp_path / "report.html"
    r = runner.invoke(app, ["report", str(patient_vcf), "--outside-calls", str(cyr),
                            "--outside-calls", str(opt), "-o", str(html)])
    assert r.exit_code == 0, r.stderr
    text = html.read_text()
    assert 'class="small origin">Cyrius/DRAGEN</span>' in text
    assert "CYP2D6 *1/*10 from Cyrius/DRAGEN (written *1/*36+*10)" in text
    assert 'class="small origin">OptiType</span>' in text


def test_a_no_call_replaces_the_vcf_call_with_no_result(tmp_vcf: WriteVcf,
                                                        tmp_path: Path) -> None:
    d6 = KB.definition("CYP2D6", "GRCh38")
    vcf = tmp_vcf(from_definition(d6, {"PATIENT1": ("*1", "*4")}, phased=False))
    p = tmp_path / "cyrius.tsv"
    p.write_text("Sample\tGenotype\tFilter\nPATIENT1\tNone\tNone\n")
    r = pgxguard.call(vcf, genes=["CYP2D6"], outside_calls=p)
    g = r.sample("PATIENT1").gene("CYP2D6")
    assert not g.called and g.phenotype is None
    assert "no result: Cyrius/DRAGEN: no call (Genotype None)" in g.warnings
    assert any(w.startswith("the VCF call *1/*4 is not used") for w in g.warnings)


def test_sample_the_vcf_lacks_is_exit_2(patient_vcf: Path, tmp_path: Path) -> None:
    cyr = cyrius_for(tmp_path, sample="NA12878.final")
    r = runner.invoke(app, ["call", str(patient_vcf), "--outside-calls", str(cyr)])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"error: {cyr}: outside-call rows name sample(s) NA12878.final "
                               f"that the VCF ({patient_vcf}) does not have")
    r = runner.invoke(app, ["call", str(patient_vcf), "--outside-calls", str(cyr),
                            "--outside-sample", "NA12878.final", "-g", "CYP2C19"])
    assert r.exit_code == 0, r.stderr


def test_unnamed_output_with_several_vcf_samples_is_exit_2(tmp_vcf: WriteVcf) -> None:
    vcf = tmp_vcf(from_definition(C19, {"A": ("*1", "*2"), "B": ("*17", "*17")}, phased=False))
    opt = DATA / "optitype_result.tsv"
    r = runner.invoke(app, ["call", str(vcf), "--outside-calls", str(opt)])
    assert r.exit_code == 2
    assert r.stderr == (f"error: {opt}: the file names no sample (one OptiType output per "
                        "sample), but 2 VCF samples are called (add --sample NAME for the VCF "
                        "sample this output belongs to)\n")
    r = runner.invoke(app, ["call", str(vcf), "--sample", "B", "--outside-calls", str(opt)])
    assert r.exit_code == 0, r.stderr


def test_error_rows_reach_stderr_and_outputs(patient_vcf: Path, tmp_path: Path) -> None:
    cyr = tmp_path / "cyrius.tsv"
    cyr.write_text("Sample\tGenotype\tFilter\nPATIENT1\t*1/*999\tPASS\n")
    out = tmp_path / "calls.json"
    r = runner.invoke(app, ["call", str(patient_vcf), "--outside-calls", str(cyr), "-o", str(out),
                            "-g", "CYP2C19"])
    assert r.exit_code == 0
    row = (f"{cyr}, line 2: CYP2D6: unknown allele '*999' in '*999' (use an allele name "
           "defined for CYP2D6)")
    assert r.stderr.splitlines() == [f"warning: {row}"]
    assert row in json.loads(out.read_text())["warnings"]


@pytest.mark.parametrize(("args", "message"), [
    (["--outside-format", "stargazer"], "error: unknown outside-call format 'stargazer' (use one "
                                        "of pgxguard, pharmcat, cyrius, dragen-cyp2d6, aldy, "
                                        "stellarpgx, pypgx, optitype, hla-la, arcashla)"),
    (["--outside-format", "cyrius-tsv"], "error: unknown outside-call format 'cyrius-tsv'"),
    (["--outside-format", "optitype"], "error: {f}, line 1: not an OptiType result"),
    (["--outside-format", "cyrius", "--outside-format", "aldy"],
     "error: 2 --outside-format values for 1 --outside-calls files"),
])
def test_bad_format_options_are_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    cyr = cyrius_for(tmp_path)
    r = runner.invoke(app, ["call", "--outside-calls", str(cyr), *args])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(message.format(f=cyr))


def test_dragen_cyp2d6_format_names_the_caller(tmp_path: Path) -> None:
    cyr = cyrius_for(tmp_path)
    r = pgxguard.call(None, outside_calls=cyr, outside_format="dragen-cyp2d6=4.2.4")
    g = r.sample("PATIENT1").gene("CYP2D6")
    assert g.origin_label() == "DRAGEN CYP2D6 caller 4.2.4"


def test_one_gene_from_two_files_is_exit_2(tmp_path: Path) -> None:
    a = cyrius_for(tmp_path)
    b = tmp_path / "lab.tsv"
    b.write_text("sample\tgene\tdiplotype\nPATIENT1\tCYP2D6\t*1/*1\n")
    with pytest.raises(OutsideCallError, match="CYP2D6 of sample PATIENT1 is given by two "
                                               "outside-call files"):
        pgxguard.call(None, outside_calls=[a, b])


def test_version_only_for_a_callers_format(tmp_path: Path) -> None:
    b = tmp_path / "lab.tsv"
    b.write_text("gene\tdiplotype\nCYP2D6\t*1/*1\n")
    with pytest.raises(InputError, match="a version is stated only for a caller's output"):
        pgxguard.call(None, outside_calls=b, outside_format="pgxguard=2")


def test_a_caller_output_without_calls_is_exit_2(tmp_path: Path) -> None:
    p = tmp_path / "cyrius.tsv"
    p.write_text("Sample\tGenotype\tFilter\n")
    r = runner.invoke(app, ["call", "--outside-calls", str(p)])
    assert r.exit_code == 2
    assert r.stderr == (f"error: {p}: the Cyrius/DRAGEN output holds no calls (pass the caller's "
                        "output for the sample, as written)\n")


def test_aldy_star_names_of_other_genes_are_kept(tmp_path: Path) -> None:
    """DPYD *2A is a name (the knowledge base gives it in parentheses), not a legacy letter."""
    p = tmp_path / "dpyd.aldy"
    p.write_text("#Sample\tGene\tSolutionID\tMajor\tMinor\tCopy\tAllele\tLocation\tType\t"
                 "Coverage\tEffect\tdbSNP\tCode\tStatus\n"
                 "#Solution 1: *2A, *13; gene=DPYD-pharmvar-6.2.14 (2025-07-20)\n"
                 "S1\tDPYD\t1\t*2A/*13\t2A;13\t0\t2A\t\t\t\t\t\t\t\n")
    g = pgxguard.call(None, outside_calls=p).sample("S1").gene("DPYD")
    assert g.diplotypes == (("c.1679T>G (*13)", "c.1905+1G>A (*2A)"),)


HEADERS = {
    "cyrius": "Sample\tGenotype\tFilter\n",
    "aldy": "#Sample\tGene\tSolutionID\tMajor\tMinor\tCopy\tAllele\tLocation\tType\tCoverage\n",
    "optitype": "\tA1\tA2\tB1\tB2\tC1\tC2\tReads\tObjective\n",
    "hla-la": "Locus\tChromosome\tAllele\tQ1\tQ2\tAverageCoverage\tperfectG\n",
    "pharmcat": "",
    "stellarpgx": "CYP2D6 Star Allele Calling with StellarPGx\n\nResult:\n",
    "arcashla": "",
}
CELL = st.text(alphabet="*+/;_x×≥N.:0123456789ABCDGX-[] \tabc", max_size=20)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(HEADERS)), st.lists(st.lists(CELL, min_size=1, max_size=5),
                                                   min_size=1, max_size=4))
def test_any_content_gives_calls_or_a_pgx_error(fmt: str, rows: list[list[str]]) -> None:
    """Whatever a file holds, the reader returns checked calls or raises PgxError (exit 2 on
    the command line), never another exception."""
    from pgxguard.errors import PgxError

    body = "\n".join("\t".join(r) for r in rows) + "\n"
    if fmt == "arcashla":
        body = json.dumps({r[0] or "A": r[1:] for r in rows})
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "out.txt"
        p.write_text(HEADERS[fmt] + body)
        try:
            r = pgxguard.call(None, outside_calls=p, outside_format=fmt)
        except PgxError:
            return
        for s in r.samples:
            for g in s.genes:
                assert g.source == "outside"
                assert g.called or any(w.startswith("no result: ") for w in g.warnings)
