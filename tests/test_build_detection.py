"""Genome build from the header as labs and PharmCAT write it (issue 12, item 4).

Clues: `##reference`/`##assembly` lines, `assembly=` on contig lines and the length of any
primary-chromosome contig; a conflict between clues is an error (exit 2) naming both lines.
Lengths are the NCBI GRCh37/GRCh38 ones, written independently in tests/vcfbuilder.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import pgxguard
from kbfacts import C19, WriteVcf, defn
from pgxguard.cli import app
from pgxguard.errors import VcfError
from pgxguard.io.builds import detect_build
from vcfbuilder import GRCH37_LENGTHS, GRCH38_LENGTHS, from_definition

runner = CliRunner()
HEAD = "##fileformat=VCFv4.2\n"


@pytest.mark.parametrize(("lines", "build"), [
    # PharmCAT's test VCFs: assembly= on the contig line, no length, no chr1
    ('##contig=<ID=chr10,assembly=GRCh38.p13,species="Homo sapiens">', "GRCh38"),
    ("##contig=<ID=chr2,assembly=hg19>", "GRCh37"),
    ("##contig=<ID=7,assembly=b37,length=159138663>", "GRCh37"),
    # any primary chromosome's length, not only chr1
    (f"##contig=<ID=chr10,length={GRCH38_LENGTHS['10']}>", "GRCh38"),
    (f"##contig=<ID=10,length={GRCH37_LENGTHS['10']}>", "GRCh37"),
    (f"##contig=<ID=chrX,length={GRCH38_LENGTHS['X']}>", "GRCh38"),
    ("##contig=<ID=chrM,length=16571>", "GRCh37"),  # hg19's chrM
    ("##contig=<ID=chrM,length=16569>", None),  # rCRS: both builds
    ("##contig=<ID=chrUn_KI270302v1,length=2274>", None),
    ("##reference=GRCh38", "GRCh38"),
    # PharmCAT's docs example: both say hg38
    ('##reference=hg38\n##contig=<ID=chr1,assembly=hg38,species="Homo sapiens">', "GRCh38"),
    ("##reference=file:///refs/Homo_sapiens_assembly38.fasta", "GRCh38"),
    ("##reference=file:///refs/GRCh38_full_analysis_set_plus_decoy_hla.fa", "GRCh38"),
    ("##reference=file:///refs/hs38DH.fa", "GRCh38"),
    ("##reference=file:///refs/human_g1k_v37.fasta", "GRCh37"),
    ("##reference=file:///refs/hs37d5.fa.gz", "GRCh37"),
    ("##reference=ucsc.hg19.fasta", "GRCh37"),
    ("##assembly=GRCh37.p13", "GRCh37"),
    ("##reference=file:///refs/genome.fa", None),
    ("##reference=file:///liftover/hg19_to_hg38.fa", None),  # names both: no clue
    ("##source=GATK hg19 pipeline", None),  # not a build line
])
def test_header_clues(lines: str, build: str | None) -> None:
    assert detect_build(HEAD + lines + "\n#CHROM\n", "x.vcf") == build


@pytest.mark.parametrize(("lines", "says"), [
    (f"##reference=GRCh38\n##contig=<ID=chr1,length={GRCH37_LENGTHS['1']}>",
     "line 2 (##reference=GRCh38) says GRCh38; line 3 (contig chr1 length=249250621) says "
     "GRCh37"),
    (f"##contig=<ID=chr10,length={GRCH38_LENGTHS['10']},assembly=GRCh37>",
     "line 2 (contig chr10 assembly=GRCh37) says GRCh37; line 2 (contig chr10 "
     "length=133797422) says GRCh38"),
    (f"##contig=<ID=chr1,length={GRCH38_LENGTHS['1']}>\n"
     f"##contig=<ID=chr2,length={GRCH37_LENGTHS['2']}>", "line 3 (contig chr2"),
])
def test_conflicting_clues_are_an_error(lines: str, says: str) -> None:
    with pytest.raises(VcfError) as e:
        detect_build(HEAD + lines + "\n", "x.vcf")
    assert str(e.value).startswith("x.vcf: the header disagrees on the genome build: ")
    assert says in str(e.value)


@pytest.mark.parametrize("line", ["##reference=hg18", "##reference=file:///refs/chm13v2.0.fa",
                                  "##contig=<ID=chr1,assembly=T2T-CHM13>"])
def test_unsupported_build_is_an_error(line: str) -> None:
    with pytest.raises(VcfError, match=r"names genome build .* GRCh37 and GRCh38 only"):
        detect_build(HEAD + line + "\n", "x.vcf")


def _pharmcat_style(build: str = "GRCh38") -> str:
    """A CYP2C19 *2/*17 VCF headed like PharmCAT's tests: one contig line with `assembly=`,
    no length, no chr1, no ##reference."""
    d = C19 if build == "GRCh38" else defn("CYP2C19", "GRCh37")
    text = from_definition(d, {"S": ("*2", "*17")}, phased=False, build=build).text()
    body = [ln for ln in text.splitlines() if not ln.startswith(("##reference", "##contig"))]
    body.insert(1, f'##contig=<ID=chr10,assembly={build}.p13,species="Homo sapiens">')
    return "\n".join(body) + "\n"


@pytest.mark.parametrize("build", ["GRCh38", "GRCh37"])
def test_pharmcat_style_header_runs_without_build(tmp_vcf: WriteVcf, build: str) -> None:
    result = pgxguard.call(tmp_vcf(_pharmcat_style(build)), genes=["CYP2C19"])
    assert result.build == build and result.input["build_detected"] is True
    assert result.sample("S").gene("CYP2C19").diplotypes == (("*2", "*17"),)


def test_chr10_length_alone(tmp_vcf: WriteVcf) -> None:
    text = from_definition(C19, {"S": ("*2", "*17")}, phased=False).text()
    lines = [ln for ln in text.splitlines() if not ln.startswith(("##reference", "##contig"))]
    lines.insert(1, f"##contig=<ID=chr10,length={GRCH38_LENGTHS['10']}>")
    result = pgxguard.call(tmp_vcf("\n".join(lines) + "\n"), genes=["CYP2C19"])
    assert result.build == "GRCh38"


def test_cli_conflict_exit_2_nothing_written(tmp_vcf: WriteVcf, tmp_path: Path) -> None:
    text = _pharmcat_style().replace("##fileformat=VCFv4.2\n",
                                     "##fileformat=VCFv4.2\n##reference=hg19\n")
    path = tmp_vcf(text)
    out = tmp_path / "calls.json"
    r = runner.invoke(app, ["call", str(path), "-g", "CYP2C19", "-o", str(out)])
    assert r.exit_code == 2
    assert r.stderr.startswith(f"error: {path}: the header disagrees on the genome build: "
                               "line 2 (##reference=hg19) says GRCh37; line 3 (contig chr10 "
                               "assembly=GRCh38.p13) says GRCh38")
    assert not out.exists()
    # --build does not paper over a header that contradicts itself
    r = runner.invoke(app, ["call", str(path), "-g", "CYP2C19", "--build", "GRCh38"])
    assert r.exit_code == 2 and "disagrees on the genome build" in r.stderr


def test_cli_build_option_against_header(tmp_vcf: WriteVcf) -> None:
    path = tmp_vcf(_pharmcat_style())
    r = runner.invoke(app, ["call", str(path), "-g", "CYP2C19", "--build", "GRCh37"])
    assert r.exit_code == 2
    assert "--build GRCh37 given but the header says GRCh38" in r.stderr
