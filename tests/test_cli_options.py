"""One `CallOptions` for every entry point, and the command line that builds it.

The CLI tests replace the library function each command calls and check the arguments it
receives (so they test the flag wiring, not the caller), then the exact exit code. The expected
options are written out by hand from the flags given.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

import pgxguard
import pgxguard.cohort
import pgxguard.report
from pgxguard import CallOptions
from pgxguard.call import pipeline as call_pipeline
from pgxguard.call.pipeline import ASSUME_REFERENCE_WARNING
from pgxguard.call.results import CallResult
from pgxguard.cli import app
from pgxguard.errors import InputError
from pgxguard.guidance.medicines import parse_medicine_list
from pgxguard.report import make_report

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
runner = CliRunner()

# Flags every command that reads a VCF has, with the same declaration.
VCF_FLAGS = ("--genes", "--build", "--assume-reference", "--definitions")
OUTSIDE_FLAGS = ("--outside-calls", "--outside-format", "--outside-sample")


class Called(Exception):
    """Raised by the stand-in library functions once they have recorded their arguments."""


def _flags(tmp_path: Path) -> tuple[list[str], dict[str, Any]]:
    """Every call flag once, and the CallOptions fields they stand for."""
    defs = tmp_path / "defs"
    defs.mkdir()
    a, b = tmp_path / "cyrius.tsv", tmp_path / "optitype.tsv"
    args = ["-g", "CYP2C19,CYP2D6", "-g", "TPMT", "--build", "GRCh37", "--assume-reference",
            "--definitions", str(defs), "--outside-calls", str(a), "--outside-calls", str(b),
            "--outside-format", "cyrius=1.1.1", "--outside-format", "optitype",
            "--outside-sample", "NA12878"]
    fields = {"genes": ("CYP2C19", "CYP2D6", "TPMT"), "build": "GRCh37",
              "assume_reference": True, "definitions": defs, "outside_calls": (a, b),
              "outside_format": ("cyrius=1.1.1", "optitype"), "outside_sample": "NA12878"}
    return args, fields


def _error_lines(result: Any) -> list[str]:
    return [ln for ln in result.stderr.splitlines() if ln.strip()]


# --- the library receives one CallOptions ------------------------------------------------------

def test_call_command_passes_every_flag_as_call_options(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, ...]] = []

    def fake_call(input: Any, options: Any = None, **kw: Any) -> CallResult:
        seen.append((input, options, kw))
        return CallResult(knowledge_base={}, samples=())

    monkeypatch.setattr(call_pipeline, "call", fake_call)
    args, fields = _flags(tmp_path)
    vcf = tmp_path / "in.vcf"
    result = runner.invoke(app, ["call", str(vcf), "-s", "A,B", *args])
    assert result.exit_code == 0, result.output
    assert seen == [(vcf, CallOptions(samples=("A", "B"), **fields), {})]


def test_report_command_passes_the_same_options(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []

    def fake_report(input: Any, **kw: Any) -> str:
        seen.append({"input": input, **kw})
        return "<html></html>\n"

    monkeypatch.setattr(pgxguard.report, "make_report", fake_report)
    args, fields = _flags(tmp_path)
    vcf = tmp_path / "in.vcf"
    result = runner.invoke(app, ["report", str(vcf), "-s", "P1", "--meds", "a; b",
                                 "--meds", "c", "-f", "json", *args])
    assert result.exit_code == 0, result.output
    assert result.stdout == "<html></html>\n"
    assert len(seen) == 1
    got = seen[0]
    assert got["input"] == vcf and got["sample"] == "P1" and got["fmt"] == "json"
    assert got["meds"] == ["a; b", "c"]
    assert got["options"] == CallOptions(**fields)


def test_cohort_command_passes_call_options(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[Any, ...]] = []

    def fake_run(input: Any, outdir: Any, options: Any = None, **kw: Any) -> Any:
        seen.append((input, outdir, options, kw["chunk_samples"]))
        raise InputError("stop here")

    monkeypatch.setattr(pgxguard.cohort, "run_cohort", fake_run)
    defs = tmp_path / "defs"
    result = runner.invoke(app, ["cohort", str(tmp_path / "in.vcf.gz"), "-o", str(tmp_path / "o"),
                                 "-g", "TPMT,NUDT15", "--build", "GRCh38",
                                 "--assume-reference", "--definitions", str(defs),
                                 "--chunk-samples", "7"])
    assert result.exit_code == 2
    assert _error_lines(result) == ["error: stop here"]
    assert seen == [(tmp_path / "in.vcf.gz", tmp_path / "o",
                     CallOptions(genes=("TPMT", "NUDT15"), build="GRCh38",
                                 assume_reference=True, definitions=defs), 7)]


def test_commands_reading_a_vcf_declare_the_same_flags() -> None:
    commands: dict[str, Any] = typer.main.get_command(app).commands  # type: ignore[attr-defined]

    def options(name: str) -> dict[str, tuple[tuple[str, ...], str | None]]:
        cmd = commands[name]
        return {o: (tuple(p.opts + p.secondary_opts), getattr(p, "help", None))
                for p in cmd.params for o in p.opts}

    call, report, cohort = options("call"), options("report"), options("cohort")
    for flag in VCF_FLAGS:
        assert call[flag] == report[flag] == cohort[flag], flag
    for flag in (*OUTSIDE_FLAGS, "--output"):
        assert call[flag] == report[flag], flag
    # one sample for a report, any number for a call: the same flag names
    assert call["--sample"][0] == report["--sample"][0] == ("--sample", "-s")
    review = options("review")
    assert review["--meds"] == report["--meds"] and review["--sample"] == report["--sample"]


# --- exit codes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [["call", "in.vcf"], ["report", "in.vcf"],
                                     ["cohort", "in.vcf.gz", "-o", "out"]])
def test_unknown_build_exits_2_before_any_work(command: list[str], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """README: an unknown --build is an input error (exit 2), found before anything is read."""
    def never(*a: Any, **k: Any) -> Any:
        raise AssertionError("the library must not be called")

    monkeypatch.setattr(call_pipeline, "call", never)
    monkeypatch.setattr(pgxguard.cohort, "run_cohort", never)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, [*command, "--build", "hg99"])
    assert result.exit_code == 2
    lines = _error_lines(result)
    assert len(lines) == 1 and lines[0].startswith("error: unknown build 'hg99'")
    assert "GRCh37 or GRCh38" in lines[0]


def test_outside_format_count_must_match_files_exit_2(tmp_path: Path) -> None:
    tsv = EXAMPLES / "demo-outside-calls.tsv"
    result = runner.invoke(app, ["call", "--outside-calls", str(tsv), "--outside-format",
                                 "pgxguard", "--outside-format", "cyrius"])
    assert result.exit_code == 2
    assert "2 --outside-format values for 1 --outside-calls files" in result.stderr


def test_report_meds_separated_by_semicolons() -> None:
    """`--meds "a; b"` worked in `review` and failed in `report`: one parser for both."""
    result = runner.invoke(app, ["report", str(EXAMPLES / "demo.vcf"), "-s", "PATIENT1",
                                 "--meds", "clopidogrel; simvastatin", "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [i["medicine"]["query"] for i in doc["review"]["items"]] == ["clopidogrel",
                                                                        "simvastatin"]


# --- make_report and call take the same options ---------------------------------------------------

def test_report_reads_a_joint_called_vcf_with_assume_reference_and_genes() -> None:
    """`pgxguard report` had no --assume-reference/--genes: a joint-called VCF (absent =
    reference) could not be reported. Both now reach the call."""
    result = runner.invoke(app, ["report", str(EXAMPLES / "demo.vcf"), "-s", "PATIENT1",
                                 "-g", "CYP2C19,TPMT", "--assume-reference", "-f", "json"])
    assert result.exit_code == 0, result.output
    calls = json.loads(result.stdout)["calls"]
    assert calls["options"]["assume_reference"] is True
    assert calls["options"]["genes"] == ["CYP2C19", "TPMT"]
    genes = calls["samples"][0]["genes"]
    assert [g["gene"] for g in genes] == ["CYP2C19", "TPMT"]
    assert all(ASSUME_REFERENCE_WARNING in g["warnings"] for g in genes)


def test_make_report_and_call_agree_on_options() -> None:
    opts = CallOptions(genes=["CYP2C19"], assume_reference=True)
    doc = json.loads(make_report(EXAMPLES / "demo.vcf", sample="PATIENT1", fmt="json",
                                 options=opts))
    direct = pgxguard.call(EXAMPLES / "demo.vcf", opts, samples=["PATIENT1"])
    assert doc["calls"]["samples"] == [s.to_json() for s in direct.samples]
    assert doc["calls"]["options"] == direct.options
    # keyword arguments are the same options
    kw = json.loads(make_report(EXAMPLES / "demo.vcf", sample="PATIENT1", fmt="json",
                                genes=["CYP2C19"], assume_reference=True))
    assert kw["calls"]["samples"] == doc["calls"]["samples"]


# --- CallOptions itself ---------------------------------------------------------------------------

def test_call_options_are_frozen_and_normalised() -> None:
    o = CallOptions(genes=["CYP2C19"], samples=[], outside_calls=["a.tsv"])
    assert o.genes == ("CYP2C19",) and o.samples is None and o.outside_calls == ("a.tsv",)
    with pytest.raises(FrozenInstanceError):
        o.genes = ("TPMT",)  # type: ignore[misc]
    assert hash(o) == hash(CallOptions(genes=("CYP2C19",), outside_calls=("a.tsv",)))
    assert CallOptions.of(o, build="GRCh38") == CallOptions(
        genes=("CYP2C19",), outside_calls=("a.tsv",), build="GRCh38")
    assert CallOptions.of(None) == CallOptions()
    with pytest.raises(TypeError):
        CallOptions.of(o, gene=["TPMT"])  # a misspelt option is not silently ignored
    with pytest.raises(TypeError):
        pgxguard.call(EXAMPLES / "demo.vcf", gene=["TPMT"])


def test_call_options_validate_build_and_formats() -> None:
    with pytest.raises(InputError) as e:
        CallOptions(build="hg19")
    assert e.value.exit_code == 2 and "GRCh37 or GRCh38" in str(e.value)
    with pytest.raises(InputError, match="2 --outside-format values for 1"):
        CallOptions(outside_calls="a.tsv", outside_format=["cyrius", "aldy"])
    assert CallOptions(outside_calls=["a", "b"], outside_format=["cyrius", "aldy"]
                       ).outside_formats() == ["cyrius", "aldy"]
    assert CallOptions(outside_calls=["a", "b"]).outside_formats() == [None, None]


def test_result_options_record_keeps_the_form_given() -> None:
    """The calls' `options` are as before CallOptions: one path stays a string."""
    one = CallOptions(outside_calls=Path("x.tsv"), outside_format="cyrius").record(["CYP2D6"])
    assert one == {"genes": ["CYP2D6"], "assume_reference": False, "definitions": None,
                   "outside_calls": "x.tsv", "outside_sample": None, "outside_format": "cyrius",
                   "samples": None}
    many = CallOptions(outside_calls=[Path("x.tsv")], samples=["S"]).record([])
    assert many["outside_calls"] == ["x.tsv"] and many["samples"] == ["S"]


# --- one medicine-list parser ---------------------------------------------------------------------

def test_one_medicine_list_parser(tmp_path: Path) -> None:
    f = tmp_path / "meds.txt"
    f.write_text("# ward list\nClopidogrel 75mg tablets\n\nco-codamol 30/500\n")
    assert parse_medicine_list(str(f)) == ["Clopidogrel 75mg tablets", "co-codamol 30/500"]
    assert parse_medicine_list(f) == ["Clopidogrel 75mg tablets", "co-codamol 30/500"]
    assert parse_medicine_list("a; b, c") == ["a", "b", "c"]
    assert parse_medicine_list(["a; b", "c", str(f)]) == [
        "a", "b", "c", "Clopidogrel 75mg tablets", "co-codamol 30/500"]
    assert parse_medicine_list(None) == []
    assert pgxguard.report.parse_meds is parse_medicine_list
