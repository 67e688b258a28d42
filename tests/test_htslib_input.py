"""Truncated compressed input and htslib's own messages (issue 12, item 3).

A BGZF file (bgzip VCF, BCF) without its end-of-file block is refused with exit 2 and nothing
written, also when the cut falls on a block boundary between records (every remaining block is
then valid, and htslib only warns). htslib's lines on file descriptor 2 are captured: none
reaches the terminal raw; they become `warning:` lines and JSON warnings, or an error.
The tests read descriptor 2 itself (subprocesses, `capfd`), where htslib writes.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import pgxguard
from kbfacts import C19, WriteVcf, defn
from pgxguard.errors import VcfError
from pgxguard.io.htslog import HtslibLog
from vcfbuilder import from_definition

TPMT = defn("TPMT")
EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
EXE = str(Path(sys.executable).parent / "pgxguard")


def bgzf_block(data: bytes) -> bytes:
    """One BGZF block (SAM/BAM specification 4.1): gzip member with the `BC` extra field."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    raw = c.compress(data) + c.flush()
    header = (b"\x1f\x8b\x08\x04\x00\x00\x00\x00\x00\xff" + struct.pack("<H", 6) + b"BC"
              + struct.pack("<HH", 2, 18 + len(raw) + 8 - 1))
    return header + raw + struct.pack("<II", zlib.crc32(data), len(data))


def two_gene_text() -> str:
    """TPMT *1/*3A (chr6) then CYP2C19 *2/*17 (chr10), sorted, one sample S."""
    b = from_definition(TPMT, {"S": ("*1", "*3A")}, phased=True)
    return from_definition(C19, {"S": ("*2", "*17")}, phased=True, builder=b).text()


def blocks_by_gene(text: str) -> list[bytes]:
    """Header, TPMT records and CYP2C19 records as three BGZF blocks (cut at line ends)."""
    lines = text.splitlines(keepends=True)
    header = "".join(ln for ln in lines if ln.startswith("#"))
    chr6 = "".join(ln for ln in lines if ln.startswith("chr6\t"))
    chr10 = "".join(ln for ln in lines if ln.startswith("chr10\t"))
    assert chr6 and chr10 and len(header) + len(chr6) + len(chr10) == len(text)
    return [bgzf_block(x.encode()) for x in (header, chr6, chr10)]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120, env=env,
                          check=False)


def assert_refused(path: Path, tmp_path: Path, *words: str) -> None:
    with pytest.raises(VcfError) as e:
        pgxguard.call(path, genes=["TPMT", "CYP2C19"])
    assert str(e.value).startswith(f"{path}: ")
    out = tmp_path / "calls.json"
    proc = run("call", str(path), "-g", "TPMT,CYP2C19", "-o", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: "), proc.stderr
    for w in words:
        assert w in lines[0]
    assert "[W::" not in proc.stderr and "[E::" not in proc.stderr
    assert not out.exists() and proc.stdout == ""


def test_hand_written_bgzf_is_read(tmp_path: Path) -> None:
    path = tmp_path / "whole.vcf.gz"
    path.write_bytes(b"".join(blocks_by_gene(two_gene_text())) + EOF_BLOCK)
    result = pgxguard.call(path, genes=["TPMT", "CYP2C19"])
    assert result.sample("S").gene("CYP2C19").diplotypes == (("*2", "*17"),)
    assert result.warnings == ()


@pytest.mark.parametrize("keep", [1, 2, 3])
def test_cut_on_a_block_boundary_is_refused(tmp_path: Path, keep: int) -> None:
    # keep=3: every record is there, only the end-of-file block is missing; keep=2: the whole
    # CYP2C19 block is gone and what is left is a valid VCF (before: exit 0, CYP2C19 "no data").
    path = tmp_path / "cut.vcf.gz"
    path.write_bytes(b"".join(blocks_by_gene(two_gene_text())[:keep]))
    assert_refused(path, tmp_path, "bgzip file is truncated: its end-of-file block is missing")


def test_cut_inside_a_block_is_refused(tmp_path: Path) -> None:
    data = b"".join(blocks_by_gene(two_gene_text())) + EOF_BLOCK
    path = tmp_path / "cut.vcf.gz"
    path.write_bytes(data[: len(data) - 100])
    assert_refused(path, tmp_path, "truncated")


def test_indexed_file_cut_on_a_block_boundary_is_refused(tmp_vcf: WriteVcf,
                                                         tmp_path: Path) -> None:
    pysam = pytest.importorskip("pysam")
    path = tmp_path / "idx.vcf.gz"
    path.write_bytes(b"".join(blocks_by_gene(two_gene_text())) + EOF_BLOCK)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    assert pgxguard.call(path, genes=["CYP2C19"]).input["indexed"] is True
    path.write_bytes(path.read_bytes()[: -len(EOF_BLOCK)])
    assert_refused(path, tmp_path, "truncated")


def test_bcf_without_end_of_file_block_is_refused(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    pysam = pytest.importorskip("pysam")
    vcf = tmp_vcf(two_gene_text())
    bcf = tmp_path / "x.bcf"
    with pysam.VariantFile(str(vcf)) as vin, \
            pysam.VariantFile(str(bcf), "wb", header=vin.header) as vout:
        for rec in vin:
            vout.write(rec)
    data = bcf.read_bytes()
    assert data.endswith(EOF_BLOCK)
    assert pgxguard.call(bcf, genes=["CYP2C19"]).sample("S").gene("CYP2C19").called
    bcf.write_bytes(data[: -len(EOF_BLOCK)])
    assert_refused(bcf, tmp_path, "truncated")


# --- htslib's messages -----------------------------------------------------------------------

def _no_contig_lines(text: str) -> str:
    # The build still comes from ##reference; htslib warns once per undeclared contig, and,
    # unindexed, looks for an index to learn the contig names ("[E::idx_find_and_load]").
    return "".join(ln for ln in text.splitlines(keepends=True) if not ln.startswith("##contig"))


def _undeclared_format(text: str) -> str:
    lines = text.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("chr10\t"))
    cols = lines[i].split("\t")
    lines[i] = "\t".join([*cols[:8], "GT:XQ", f"{cols[9]}:7"])
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("compress", [False, True])
def test_htslib_warnings_become_pgxguard_warnings(tmp_path: Path, compress: bool) -> None:
    text = _undeclared_format(_no_contig_lines(two_gene_text()))
    path = tmp_path / ("w.vcf.gz" if compress else "w.vcf")
    if compress:
        path.write_bytes(bgzf_block(text.encode()) + EOF_BLOCK)
    else:
        path.write_text(text)
    out = tmp_path / "calls.json"
    proc = run("call", str(path), "-g", "TPMT,CYP2C19", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "[W::" not in proc.stderr and "[E::" not in proc.stderr
    expected = [f"{path}: contig(s) chr6, chr10 not declared in the header (##contig lines); "
                "read as written (htslib)",
                f"{path}: FORMAT key(s) XQ not declared in the header; read as strings "
                "(htslib)"]
    assert proc.stderr.splitlines() == [f"warning: {w}" for w in expected]
    doc = json.loads(out.read_text())
    assert doc["warnings"] == expected
    genes = {g["gene"]: g for g in doc["samples"][0]["genes"]}
    assert genes["CYP2C19"]["diplotypes"] == [["*2", "*17"]]


def test_api_keeps_descriptor_2_clean(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.vcf"
    path.write_text(_undeclared_format(_no_contig_lines(two_gene_text())))
    result = pgxguard.call(path, genes=["TPMT", "CYP2C19"])
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""
    assert len(result.warnings) == 2


def test_htslib_error_is_an_error_with_its_message(tmp_path: Path) -> None:
    lines = two_gene_text().splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("chr10\t"))
    lines[i] = lines[i].rsplit("\t", 1)[0] + "\ta|b"
    path = tmp_path / "bad.vcf"
    path.write_text("\n".join(lines) + "\n")
    proc = run("call", str(path), "-g", "TPMT,CYP2C19")
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"error: {path}, line {i + 1}: malformed record")
    assert "htslib: Couldn't read GT data: value not a number or '.' at chr10:" in line


def test_more_than_two_alleles_in_a_genotype(tmp_path: Path) -> None:
    lines = two_gene_text().splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("chr10\t"))
    lines[i] = lines[i].rsplit("\t", 1)[0] + "\t0/1/1"
    path = tmp_path / "triploid.vcf"
    path.write_text("\n".join(lines) + "\n")
    proc = run("call", str(path), "-g", "CYP2C19")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {path}: a genotype with more than two alleles at "
                                  f"chr10:{C19.positions[0].pos}")


def test_capture_classifies_and_passes_other_lines_on(capfd: pytest.CaptureFixture[str]) -> None:
    log = HtslibLog("f.vcf")
    with log.capture():
        os.write(2, b"[E::idx_find_and_load] Could not retrieve index file for 'f.vcf'\n"
                    b"[W::vcf_parse] Contig 'chr1' is not defined in the header. (Quick "
                    b"workaround: index the file with tabix.)\n"
                    b"[W::vcf_parse] Contig 'chr1' is not defined in the header.\n"
                    b"[W::hts_x] something odd\n[W::hts_x] something odd\n"
                    b"[W::vcf_parse_info] INFO 'star-1' is not defined in the header, assuming "
                    b"Type=String\n[W::vcf_parse_info] INFO 'PX' is not defined in the header\n"
                    b'[W::vcf_parse_info] Invalid tag name: "star-1"\n'
                    b"[I::hts_y] information\nsome other library's line\n")
    assert capfd.readouterr().err == "some other library's line\n"
    assert log.warnings() == [
        "f.vcf: contig(s) chr1 not declared in the header (##contig lines); read as written "
        "(htslib)", "f.vcf: INFO key(s) star-1, PX not declared in the header; read as strings "
        "(htslib)", "f.vcf: invalid tag name(s) star-1 (htslib)", "f.vcf: htslib: something odd"]
    log.raise_errors()  # nothing fatal
    with log.capture():
        os.write(2, b"[W::bgzf_read_block] EOF marker is absent. The input may be truncated\n")
    with pytest.raises(VcfError, match=r"^f\.vcf: htslib could not read the file: EOF marker"):
        log.raise_errors()
