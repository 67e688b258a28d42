"""Outside-call rows and VCF samples (issue 12, item 2).

A row naming a sample the VCF does not have is an error (exit 2) naming both sample lists,
unless the user maps it: `--outside-sample NAME` applies sample NAME's rows to the one called
VCF sample; a `sample` column that matches, or no sample column, needs no mapping.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pgxguard
from kbfacts import C19, WriteVcf
from pgxguard.cli import app
from pgxguard.errors import InputError, OutsideCallError
from vcfbuilder import from_definition

runner = CliRunner()
HLA = "sample\tgene\tdiplotype\n{s}\tHLA-B\t*57:01/*08:01\n{s}\tCYP2D6\t*4/*4\n"


@pytest.fixture
def lab_vcf(tmp_vcf: WriteVcf) -> Path:
    return tmp_vcf(from_definition(C19, {"LAB-0001": ("*2", "*17")}, phased=False))


@pytest.fixture
def two_sample_vcf(tmp_vcf: WriteVcf) -> Path:
    return tmp_vcf(from_definition(C19, {"A": ("*1", "*2"), "B": ("*17", "*17")}, phased=False))


def tsv(tmp_path: Path, sample: str, name: str = "lab.tsv") -> Path:
    p = tmp_path / name
    p.write_text(HLA.format(s=sample))
    return p


def test_unknown_sample_is_an_error_naming_both_lists(lab_vcf: Path, tmp_path: Path) -> None:
    oc = tsv(tmp_path, "PATIENT1")
    with pytest.raises(OutsideCallError) as e:
        pgxguard.call(lab_vcf, genes=["CYP2C19"], outside_calls=oc)
    assert str(e.value) == (
        f"{oc}: outside-call rows name sample(s) PATIENT1 that the VCF ({lab_vcf}) does not "
        "have (VCF samples: LAB-0001; outside-call samples: PATIENT1; pass --outside-sample "
        "NAME to apply sample NAME's rows to the VCF sample, or correct the sample column)")
    out = tmp_path / "calls.json"
    for cmd in (["call", str(lab_vcf)], ["report", str(lab_vcf), "-f", "json"]):
        r = runner.invoke(app, [*cmd, "--outside-calls", str(oc), "-o", str(out)])
        assert r.exit_code == 2
        assert r.stderr.startswith(f"error: {oc}: outside-call rows name sample(s) PATIENT1")
        assert "VCF samples: LAB-0001; outside-call samples: PATIENT1" in r.stderr
        assert not out.exists() and r.stdout == ""


@pytest.mark.parametrize("cmd", ["call", "report"])
def test_outside_sample_maps_the_rows(lab_vcf: Path, tmp_path: Path, cmd: str) -> None:
    oc = tsv(tmp_path, "PATIENT1")
    out = tmp_path / "out.json"
    args = [cmd, str(lab_vcf), "--outside-calls", str(oc), "--outside-sample", "PATIENT1",
            "-o", str(out)] + (["-f", "json"] if cmd == "report" else ["-g", "CYP2C19"])
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.stderr
    mapped = (f"{oc}: outside calls of sample PATIENT1 applied to VCF sample LAB-0001 "
              "(--outside-sample)")
    assert r.stderr.splitlines() == [f"warning: {mapped}"]
    doc = json.loads(out.read_text())
    calls = doc if cmd == "call" else doc["calls"]
    [sample] = calls["samples"]
    assert sample["sample"] == "LAB-0001"
    genes = {g["gene"]: g for g in sample["genes"]}
    assert genes["HLA-B"]["diplotypes"] == [["*57:01", "*08:01"]]
    assert genes["CYP2D6"]["source"] == "outside"
    assert genes["CYP2C19"]["diplotypes"] == [["*2", "*17"]]
    assert mapped in calls["warnings"]


def test_matching_sample_column_and_no_sample_column(lab_vcf: Path, tmp_path: Path) -> None:
    for text in (HLA.format(s="LAB-0001"), "gene\tdiplotype\nHLA-B\t*57:01/*08:01\n"):
        oc = tmp_path / "lab.tsv"
        oc.write_text(text)
        result = pgxguard.call(lab_vcf, genes=["CYP2C19"], outside_calls=oc)
        assert result.warnings == ()
        assert result.sample("LAB-0001").gene("HLA-B").diplotypes == (("*57:01", "*08:01"),)


def test_outside_sample_rules(lab_vcf: Path, two_sample_vcf: Path, tmp_path: Path) -> None:
    oc = tsv(tmp_path, "PATIENT1")
    with pytest.raises(OutsideCallError, match=r"no row for sample 'NOPE' \(--outside-sample\) "
                                               r"\(samples in the file: PATIENT1\)"):
        pgxguard.call(lab_vcf, outside_calls=oc, outside_sample="NOPE")
    with pytest.raises(InputError, match="but 2 samples are called"):
        pgxguard.call(two_sample_vcf, outside_calls=oc, outside_sample="PATIENT1")
    r = runner.invoke(app, ["call", str(two_sample_vcf), "--outside-calls", str(oc),
                            "--outside-sample", "PATIENT1"])
    assert r.exit_code == 2 and "add --sample NAME" in r.stderr
    result = pgxguard.call(two_sample_vcf, samples=["B"], genes=["CYP2C19"], outside_calls=oc,
                           outside_sample="PATIENT1")
    assert result.sample("B").gene("HLA-B").diplotypes == (("*57:01", "*08:01"),)


def test_rows_of_other_samples_with_a_mapping_are_ignored_with_a_warning(
        lab_vcf: Path, tmp_path: Path) -> None:
    oc = tmp_path / "batch.tsv"
    oc.write_text(HLA.format(s="PATIENT1") + "PATIENT2\tHLA-B\t*58:01/*08:01\n")
    result = pgxguard.call(lab_vcf, genes=["CYP2C19"], outside_calls=oc,
                           outside_sample="PATIENT1")
    assert f"{oc}: rows for sample(s) PATIENT2 ignored (--outside-sample PATIENT1)" in \
        result.warnings
    assert result.sample("LAB-0001").gene("HLA-B").diplotypes == (("*57:01", "*08:01"),)


def test_rows_for_vcf_samples_not_selected_are_fine(two_sample_vcf: Path,
                                                    tmp_path: Path) -> None:
    oc = tmp_path / "ab.tsv"
    oc.write_text("sample\tgene\tdiplotype\nA\tHLA-B\t*57:01/*08:01\nB\tHLA-B\t*44:02/*08:01\n")
    result = pgxguard.call(two_sample_vcf, samples=["B"], genes=["CYP2C19"], outside_calls=oc)
    assert result.warnings == ()
    assert result.sample("B").gene("HLA-B").diplotypes == (("*44:02", "*08:01"),)


def test_outside_calls_only_keep_their_samples(tmp_path: Path) -> None:
    oc = tsv(tmp_path, "PATIENT1")
    assert [s.sample for s in pgxguard.call(None, outside_calls=oc).samples] == ["PATIENT1"]
    result = pgxguard.call(None, outside_calls=oc, outside_sample="PATIENT1")
    assert [s.sample for s in result.samples] == ["PATIENT1"]
