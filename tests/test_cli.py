"""The command line: `pgxguard call` (TSV and JSON) and `pgxguard kb info`.

Through `typer.testing.CliRunner` on `pgxguard.cli.app`, plus real subprocesses of the installed
`pgxguard` console script. Output shapes are the ones design.md ("Outputs the rest of the world
reads") promises.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pgxguard
from pgxguard.cli import app
from vcfbuilder import VcfBuilder, from_definition

KB = pgxguard.load_knowledge_base()
C19 = KB.definition("CYP2C19", "GRCh38")
TPMT = KB.definition("TPMT", "GRCh38")
WriteVcf = Callable[..., Path]
runner = CliRunner()

ABSENT = {p.pos for p in C19.positions if p.rsid in ("rs58973490", "rs4244285")}


def two_gene_vcf() -> VcfBuilder:
    """A: CYP2C19 *1/*2 with rs58973490 and rs4244285 absent (so *1/*2 and *1/*35 tie, see
    test_vcf_input.TIE_2_35), TPMT *1/*3A (phased, so no *3B/*3C ambiguity); B: CYP2C19
    *17/*17, TPMT *1/*1."""
    assert len(ABSENT) == 2
    b = from_definition(C19, {"A": ("*1", "*2"), "B": ("*17", "*17")}, phased=True)
    b.records = [r for r in b.records if r.pos not in ABSENT]
    return from_definition(TPMT, {"A": ("*1", "*3A"), "B": ("*1", "*1")}, phased=True,
                           builder=b)


def tsv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def invoke_ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


# --- call --format tsv ---------------------------------------------------------------------------

def test_call_tsv_one_row_per_sample_and_gene(tmp_vcf: WriteVcf) -> None:
    path = tmp_vcf(two_gene_vcf())
    out = invoke_ok(["call", str(path), "-g", "CYP2C19,TPMT", "--format", "tsv"])
    rows = tsv_rows(out)
    assert [(r["sample"], r["gene"]) for r in rows] == [
        ("A", "CYP2C19"), ("A", "TPMT"), ("B", "CYP2C19"), ("B", "TPMT")]
    by = {(r["sample"], r["gene"]): r for r in rows}
    # ties joined with " | ", best first (equal scores: allele-name order)
    assert by["A", "CYP2C19"]["diplotypes"] == "*1/*2 | *1/*35"
    assert "rs4244285" in by["A", "CYP2C19"]["missing_positions"]
    assert by["A", "TPMT"]["diplotypes"] == "*1/*3A"
    assert by["B", "CYP2C19"]["diplotypes"] == "*17/*17"
    assert by["B", "TPMT"]["diplotypes"] == "*1/*1"
    # CPIC: TPMT *1/*3A intermediate, *1/*1 normal; CYP2C19 *17/*17 ultrarapid.
    assert by["A", "TPMT"]["phenotype"] == "Intermediate Metabolizer"
    assert by["B", "TPMT"]["phenotype"] == "Normal Metabolizer"
    assert by["B", "CYP2C19"]["phenotype"] == "Ultrarapid Metabolizer"
    assert "rs4244285" in by["B", "CYP2C19"]["missing_positions"]
    assert by["A", "TPMT"]["missing_positions"] == ""


def test_call_tsv_to_file_equals_stdout(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    path = tmp_vcf(two_gene_vcf())
    out = tmp_path / "calls.tsv"
    stdout = invoke_ok(["call", str(path), "-g", "CYP2C19", "-g", "TPMT", "-f", "tsv",
                        "-o", str(out)])
    assert stdout == ""
    assert out.read_text() == invoke_ok(["call", str(path), "-g", "CYP2C19,TPMT", "-f", "tsv"])


def test_call_sample_option(tmp_vcf: WriteVcf) -> None:
    path = tmp_vcf(two_gene_vcf())
    rows = tsv_rows(invoke_ok(["call", str(path), "-g", "CYP2C19", "-s", "B", "-f", "tsv"]))
    assert [(r["sample"], r["gene"], r["diplotypes"]) for r in rows] == [
        ("B", "CYP2C19", "*17/*17")]


# --- call --format json --------------------------------------------------------------------------

def test_call_json_has_the_design_keys(tmp_vcf: WriteVcf) -> None:
    path = tmp_vcf(two_gene_vcf())
    data = json.loads(invoke_ok(["call", str(path), "-g", "CYP2C19,TPMT", "--format", "json"]))
    assert {"version", "sources"} <= set(data["knowledge_base"])
    assert data["knowledge_base"]["version"] == KB.version
    assert data["knowledge_base"]["sources"]
    assert [s["sample"] for s in data["samples"]] == ["A", "B"]
    for s in data["samples"]:
        assert [g["gene"] for g in s["genes"]] == ["CYP2C19", "TPMT"]
        for g in s["genes"]:
            assert {"gene", "diplotypes", "variants", "phenotype", "activity_score",
                    "missing_positions", "warnings"} <= set(g)
            # each diplotype is a list of allele names, never one packed string
            assert all(isinstance(d, list) and all(isinstance(a, str) for a in d)
                       for d in g["diplotypes"])
    a19 = data["samples"][0]["genes"][0]
    assert a19["diplotypes"] == [["*1", "*2"], ["*1", "*35"]]
    assert any("rs4244285" in m for m in a19["missing_positions"])
    # It reads back as the same result.
    again = pgxguard.CallResult.from_json(data)
    assert again.sample("A").gene("TPMT").diplotypes == (("*1", "*3A"),)


def test_call_assume_reference_is_stated(tmp_vcf: WriteVcf) -> None:
    path = tmp_vcf(two_gene_vcf())
    data = json.loads(invoke_ok(["call", str(path), "-g", "CYP2C19", "--assume-reference"]))
    assert data["options"]["assume_reference"] is True
    g = data["samples"][0]["genes"][0]
    assert g["missing_positions"] == []
    assert g["diplotypes"] == [["*1", "*35"]]
    assert any("assume-reference" in w for w in g["warnings"])


def test_call_outside_calls_only(tmp_path: Path) -> None:
    oc = tmp_path / "oc.tsv"
    oc.write_text("sample\tgene\tdiplotype\nP1\tCYP2D6\t*1/*2x2\nP1\tHLA-B\t*57:01/*08:01\n")
    rows = tsv_rows(invoke_ok(["call", "--outside-calls", str(oc), "-f", "tsv"]))
    by = {r["gene"]: r for r in rows}
    assert by["CYP2D6"]["diplotypes"] == "*1/*2x2"
    assert by["CYP2D6"]["source"] == "outside"
    assert by["CYP2D6"]["activity_score"] == "3"
    assert by["HLA-B"]["source"] == "outside"


def test_bad_build_option(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    path = tmp_vcf(two_gene_vcf())
    out = tmp_path / "o.json"
    result = runner.invoke(app, ["call", str(path), "--build", "hg99", "-o", str(out)])
    assert result.exit_code == 2  # README: input errors exit 2
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "hg99" in lines[0]
    assert not out.exists()


# --- kb info -------------------------------------------------------------------------------------

def test_kb_info_json() -> None:
    info = json.loads(invoke_ok(["kb", "info", "--json"]))
    assert info["version"] == KB.version
    names = {s["name"] for s in info["sources"]}
    assert any("pypgx" in n for n in names)
    assert all(s["version"] and s["licence"] for s in info["sources"])
    assert set(info["genes"]) == set(KB.genes)
    g = info["genes"]["CYP2C19"]
    assert g["builds"] == ["GRCh37", "GRCh38"]
    assert g["positions"]["GRCh38"] == len(C19.positions)
    assert g["reference_allele"]["GRCh38"] == "*38"
    assert info["genes"]["DPYD"]["rule"] == "lowest_function"
    assert "*5" in info["genes"]["CYP2D6"]["structural_alleles"]


def test_kb_info_table() -> None:
    out = invoke_ok(["kb", "info"])
    assert KB.version in out
    assert "CYP2C19" in out and "DPYD" in out


# --- real subprocess -----------------------------------------------------------------------------

def _console_script() -> str:
    exe = Path(sys.executable).parent / "pgxguard"
    if exe.exists():
        return str(exe)
    found = shutil.which("pgxguard")
    if found is None:
        pytest.skip("pgxguard console script not installed")
    return found


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    return env


def test_subprocess_call_tsv(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    path = tmp_vcf(two_gene_vcf())
    out = tmp_path / "calls.tsv"
    proc = subprocess.run([_console_script(), "call", str(path), "--genes", "CYP2C19,TPMT",
                           "--format", "tsv", "-o", str(out)],
                          capture_output=True, text=True, timeout=120, env=_env(), check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    rows = tsv_rows(out.read_text())
    assert len(rows) == 4
    assert {(r["sample"], r["gene"]): r["diplotypes"] for r in rows}["A", "TPMT"] == "*1/*3A"


def test_subprocess_error_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "absent.vcf"
    out = tmp_path / "calls.json"
    proc = subprocess.run([_console_script(), "call", str(missing), "-o", str(out)],
                          capture_output=True, text=True, timeout=120, env=_env(), check=False)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(missing) in lines[0]
    assert not out.exists()
