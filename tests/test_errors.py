"""Bad input (design.md "Bad input and safety").

Each case raises the right `PgxError` subclass from `pgxguard.errors` with a message naming the
file, and through the CLI exits non-zero with one clear `error:` line on stderr, leaving no output
file behind when `-o` was given.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pgxguard
from pgxguard.call.results import RESULT_FORMAT, CallResult
from pgxguard.cli import app
from pgxguard.errors import InputError, PgxError, VcfError
from vcfbuilder import VcfBuilder, from_definition

KB = pgxguard.load_knowledge_base()
C19 = KB.definition("CYP2C19", "GRCh38")
WriteVcf = Callable[..., Path]
runner = CliRunner()


def good_vcf() -> VcfBuilder:
    return from_definition(C19, {"S": ("*1", "*2")}, phased=False)


def assert_cli_fails_cleanly(args: list[str], out: Path, expected_code: int,
                             *names: str) -> str:
    """Run the CLI with `-o out`; check exit code, a single `error:` line and no output file."""
    result = runner.invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == expected_code, (result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    err_lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(err_lines) == 1, result.stderr
    assert err_lines[0].startswith("error: ")
    for n in names:
        assert n in err_lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not out.exists()
    # no temporary file of the atomic writer left either
    if out.parent.exists():
        assert [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")] == []
    return err_lines[0]


# --- malformed VCF --------------------------------------------------------------------------------

def _malformed_text() -> str:
    lines = good_vcf().text().splitlines()
    i = next(i for i, ln in enumerate(lines) if not ln.startswith("#"))
    lines[i + 3] = "\t".join(lines[i + 3].split("\t")[:5])  # a data line with 5 columns
    return "\n".join(lines) + "\n"


def test_malformed_data_line(tmp_vcf: WriteVcf) -> None:
    path = tmp_vcf(_malformed_text())
    with pytest.raises(VcfError) as e:
        pgxguard.call(path, genes=["CYP2C19"])
    assert str(path) in str(e.value)


def test_malformed_data_line_cli(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    path = tmp_vcf(_malformed_text())
    assert_cli_fails_cleanly(["call", str(path), "-g", "CYP2C19"], tmp_path / "out.json",
                             VcfError.exit_code, str(path))


def test_not_a_vcf(tmp_path: Path) -> None:
    path = tmp_path / "notes.vcf"
    path.write_text("this is not a VCF\n")
    with pytest.raises(VcfError) as e:
        pgxguard.call(path, genes=["CYP2C19"])
    assert str(path) in str(e.value) and "line 1" in str(e.value)


def test_unparseable_header_is_a_vcf_error(tmp_vcf: WriteVcf) -> None:
    text = good_vcf().text().replace("#CHROM\tPOS", "#CHROM\tPOS\tPOS", 1)
    path = tmp_vcf(text)
    with pytest.raises(VcfError) as e:
        pgxguard.call(path, genes=["CYP2C19"])
    assert str(path) in str(e.value)


# --- truncated bgzip ------------------------------------------------------------------------------

def _truncated(tmp_path: Path) -> Path:
    # A VCF large enough to span several BGZF blocks, then cut in the middle.
    b = good_vcf()
    for k in range(4000):
        b.add("10", 1_000_000 + k, "A", ["G"], {"S": "0/1"})
    path = b.write(tmp_path / "big.vcf.gz", compress="bgzip")
    data = path.read_bytes()
    assert data[:2] == b"\x1f\x8b"
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[: len(data) // 2])
    return cut


def test_truncated_bgzip(tmp_path: Path) -> None:
    path = _truncated(tmp_path)
    with pytest.raises(VcfError) as e:
        pgxguard.call(path, genes=["CYP2C19"])
    assert str(path) in str(e.value)
    assert "truncated" in str(e.value)


def test_truncated_bgzip_cli(tmp_path: Path) -> None:
    path = _truncated(tmp_path)
    assert_cli_fails_cleanly(["call", str(path), "-g", "CYP2C19"], tmp_path / "out.tsv",
                             VcfError.exit_code, str(path), "truncated")


# --- missing file, no overlap, unknown gene ----------------------------------------------------

def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.vcf"
    with pytest.raises(VcfError) as e:
        pgxguard.call(path, genes=["CYP2C19"])
    assert str(path) in str(e.value) and "not found" in str(e.value)


def test_missing_file_cli(tmp_path: Path) -> None:
    path = tmp_path / "nope.vcf"
    assert_cli_fails_cleanly(["call", str(path)], tmp_path / "out.json", VcfError.exit_code,
                             str(path))


def _no_overlap() -> VcfBuilder:
    b = VcfBuilder(["S"])
    b.add("5", 1_000_000, "A", ["G"], {"S": "0/1"})
    return b


def test_no_overlap_with_any_gene(tmp_vcf: WriteVcf) -> None:
    path = tmp_vcf(_no_overlap())
    with pytest.raises(VcfError) as e:
        pgxguard.call(path, genes=["CYP2C19", "TPMT"])
    assert str(path) in str(e.value)
    assert "CYP2C19" in str(e.value)


def test_no_overlap_with_any_gene_cli(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    path = tmp_vcf(_no_overlap())
    assert_cli_fails_cleanly(["call", str(path)], tmp_path / "out.json", VcfError.exit_code,
                             str(path))


def test_unknown_gene(tmp_vcf: WriteVcf) -> None:
    path = tmp_vcf(good_vcf())
    with pytest.raises(InputError) as e:
        pgxguard.call(path, genes=["CYP2C19", "CYP9Z9"])
    assert "CYP9Z9" in str(e.value)


def test_unknown_gene_cli(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    path = tmp_vcf(good_vcf())
    assert_cli_fails_cleanly(["call", str(path), "-g", "CYP9Z9"], tmp_path / "out.json",
                             InputError.exit_code, "CYP9Z9")


def test_unknown_sample_cli(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    path = tmp_vcf(good_vcf())
    assert_cli_fails_cleanly(["call", str(path), "-s", "NOPE"], tmp_path / "out.json",
                             InputError.exit_code, "NOPE", str(path))


def test_missing_outside_calls_file_cli(tmp_path: Path) -> None:
    oc = tmp_path / "outside.tsv"
    assert_cli_fails_cleanly(["call", "--outside-calls", str(oc)], tmp_path / "out.json",
                             InputError.exit_code, str(oc))


def test_output_directory_missing_cli(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    path = tmp_vcf(good_vcf())
    out = tmp_path / "no-such-dir" / "out.json"
    assert_cli_fails_cleanly(["call", str(path), "-g", "CYP2C19"], out, InputError.exit_code,
                             str(out.parent))


# --- saved calls of another format version ----------------------------------------------------

def test_calls_json_of_another_format_version(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    data = pgxguard.call(tmp_vcf(good_vcf()), genes=["CYP2C19"]).to_json()
    assert data["format"] == RESULT_FORMAT
    # The same file read back is fine ...
    saved = tmp_path / "calls.json"
    saved.write_text(json.dumps(data))
    assert CallResult.load(saved).sample("S").gene("CYP2C19").diplotypes == (("*1", "*2"),)
    # ... a future (or past) format version is refused, naming the file.
    data["format"] = "pgxguard.call/999"
    other = tmp_path / "calls-v999.json"
    other.write_text(json.dumps(data))
    with pytest.raises(InputError) as e:
        CallResult.load(other)
    assert str(other) in str(e.value) and "pgxguard.call/999" in str(e.value)
    with pytest.raises(InputError) as e:
        CallResult.from_json(data, origin=str(other))
    assert str(other) in str(e.value)


def test_every_error_is_a_pgx_error() -> None:
    from pgxguard import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), PgxError)
    assert issubclass(VcfError, InputError)
