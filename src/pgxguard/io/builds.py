"""Genome build from a VCF header: every clue the header gives, and refusal when they disagree.

Clues, each tied to its header line:

* ``##reference=`` / ``##assembly=`` / ``##genome=`` lines naming a build (``GRCh38``, ``hg19``,
  ``hs37d5``, ``Homo_sapiens_assembly38.fasta``, ``human_g1k_v37.fasta`` ...);
* ``assembly=`` attributes of ``##contig`` lines (PharmCAT writes ``assembly=GRCh38.p13``);
* the ``length=`` of any contig that is a primary chromosome (1-22, X, Y; chrM only for hg19's
  16,571 bp), compared with the GRCh37 and GRCh38 lengths below.

A line that names both builds (a path such as ``hg19_to_hg38``) says nothing. Clues that disagree
are an error naming both lines: calling on the wrong coordinates gives wrong results silently.
A header naming a build pgxguard has no definitions for (NCBI36, T2T-CHM13) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pgxguard.errors import VcfError
from pgxguard.kb.model import canonical_chrom

__all__ = ["CHROMOSOME_LENGTHS", "BuildClue", "build_clues", "detect_build"]

# Primary assembly chromosome lengths (NCBI GRCh37.p13 / GRCh38.p14; identical across patches).
CHROMOSOME_LENGTHS: dict[str, dict[str, int]] = {
    "GRCh38": {
        "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555, "5": 181538259,
        "6": 170805979, "7": 159345973, "8": 145138636, "9": 138394717, "10": 133797422,
        "11": 135086622, "12": 133275309, "13": 114364328, "14": 107043718, "15": 101991189,
        "16": 90338345, "17": 83257441, "18": 80373285, "19": 58617616, "20": 64444167,
        "21": 46709983, "22": 50818468, "X": 156040895, "Y": 57227415,
    },
    "GRCh37": {
        "1": 249250621, "2": 243199373, "3": 198022430, "4": 191154276, "5": 180915260,
        "6": 171115067, "7": 159138663, "8": 146364022, "9": 141213431, "10": 135534747,
        "11": 135006516, "12": 133851895, "13": 115169878, "14": 107349540, "15": 102531392,
        "16": 90354753, "17": 81195210, "18": 78077248, "19": 59128983, "20": 63025520,
        "21": 48129895, "22": 51304566, "X": 155270560, "Y": 59373566,
        "M": 16571,  # hg19's chrM (NC_001807); b37's MT (rCRS, 16,569) is GRCh38's too
    },
}
_BY_LENGTH: dict[tuple[str, int], str] = {
    (c, n): build for build, table in CHROMOSOME_LENGTHS.items() for c, n in table.items()}

# Tokens (the header text split at anything but letters and digits) that name a build.
_NAMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(grch38(p\d+)?|hg38|hs38(dh|d1)?|b38|assembly38)$"), "GRCh38"),
    (re.compile(r"^(grch37(p\d+)?|hg19|hs37(d5)?|b37|assembly19)$"), "GRCh37"),
    (re.compile(r"^(ncbi36|grch36|hg18|b36|hs36|ncbi35|hg17)$"), "NCBI36 or older"),
    (re.compile(r"^(chm13(v\d+)?|t2t|hs1)$"), "T2T-CHM13"),
)
_SUPPORTED = ("GRCh37", "GRCh38")
_CONTIG_LINE = re.compile(r"^##contig=<(?P<body>.*)>\s*$", re.I)
_ATTR = re.compile(r'(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<value>"[^"]*"|[^,]*)')


@dataclass(frozen=True, slots=True)
class BuildClue:
    """One piece of header evidence: `build` said by header `line` (1-based) in `what`."""

    build: str
    line: int
    what: str


def _named_builds(text: str) -> set[str]:
    low = text.lower()
    found = {build for token in re.split(r"[^a-z0-9]+", low) if token
             for pattern, build in _NAMES if pattern.match(token)}
    if "g1k_v37" in low:  # 1000 Genomes' human_g1k_v37.fasta
        found.add("GRCh37")
    return found


def build_clues(header: str) -> list[BuildClue]:
    """Every build clue of a VCF header, in line order."""
    clues: list[BuildClue] = []
    for lineno, line in enumerate(header.splitlines(), start=1):
        if not line.startswith("##"):
            break
        low = line.lower()
        if low.startswith(("##reference=", "##assembly=", "##genome=")):
            named = _named_builds(line.split("=", 1)[1])
            if len(named) == 1:
                clues.append(BuildClue(named.pop(), lineno, line.strip()[:120]))
            continue
        m = _CONTIG_LINE.match(line)
        if not m:
            continue
        attrs = {a["key"].lower(): a["value"].strip('"') for a in _ATTR.finditer(m["body"])}
        contig = attrs.get("id", "")
        if attrs.get("assembly"):
            named = _named_builds(attrs["assembly"])
            if len(named) == 1:
                clues.append(BuildClue(named.pop(), lineno,
                                       f"contig {contig} assembly={attrs['assembly']}"))
        length = attrs.get("length", "")
        if contig and length.isdigit():
            build = _BY_LENGTH.get((canonical_chrom(contig), int(length)))
            if build is not None:
                clues.append(BuildClue(build, lineno, f"contig {contig} length={length}"))
    return clues


def detect_build(header: str, path: str) -> str | None:
    """GRCh37 or GRCh38 from the header, None when it gives no clue.

    Raises `VcfError` when clues disagree or name a build pgxguard cannot call on.
    """
    clues = build_clues(header)
    for c in clues:
        if c.build not in _SUPPORTED:
            raise VcfError(f"the header names genome build {c.build} ({c.what})", path=path,
                           line=c.line, hint="pgxguard calls GRCh37 and GRCh38 only: lift the "
                           "VCF over to GRCh38, or re-call the reads on GRCh38")
    builds = sorted({c.build for c in clues})
    if len(builds) > 1:
        first = sorted((next(c for c in clues if c.build == b) for b in builds),
                       key=lambda c: c.line)
        said = "; ".join(f"line {c.line} ({c.what}) says {c.build}" for c in first)
        raise VcfError(f"the header disagrees on the genome build: {said}", path=path,
                       hint="fix the header so that every line names the build the VCF was "
                            "called on (check the contig lengths), or re-create the VCF "
                            "against one reference")
    return builds[0] if builds else None
