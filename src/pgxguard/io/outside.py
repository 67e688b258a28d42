"""Outside-call TSV: calls made elsewhere (CYP2D6 from a CNV caller, HLA typing) to merge in.

Format
------
* UTF-8 text (a byte-order mark is accepted), tab-separated, LF or CRLF line endings.
* Lines starting with `#` are comments; blank lines are skipped.
* The first other line is the header. Column names are case-insensitive, in any order:

  ==================  ========  =============================================================
  column              required  meaning
  ==================  ========  =============================================================
  ``gene``            yes       gene symbol, e.g. ``CYP2D6``, ``HLA-B``
  ``diplotype``       one of    ``*1/*2``; ``*1/*2x2`` (``xN``: N copies of that allele, N an
                      these     integer >= 2); ``*57:01/*58:01`` or ``HLA-B*57:01/HLA-B*58:01``
  ``phenotype``       two       e.g. ``Poor Metabolizer``
  ``activity_score``  no        a number >= 0, e.g. ``1.5``
  ``sample``          no        sample ID; a row without one applies to every sample
  ==================  ========  =============================================================

  Other columns are ignored.
* A diplotype is two allele names joined by ``/``, one allele name for a haploid gene, or empty
  (then ``phenotype`` must be given). An allele may be written with its gene prefix
  (``CYP2D6*4``, ``HLA-B*57:01``); the prefix is removed.

Example (`→` stands for a tab)::

    # CYP2D6 from the copy-number pipeline, v2.1
    sample→gene→diplotype→phenotype→activity_score
    NA12878→CYP2D6→*1/*2x2→Ultrarapid Metabolizer→3.0
    NA12878→HLA-B→*57:01/*08:01
    →G6PD→B→Normal

A bad row (unknown gene or allele, malformed diplotype, activity score not a number, neither a
diplotype nor a phenotype, the same gene twice for one sample) is listed in `OutsideCalls.errors`
as ``FILE, line N: what is wrong (what to do)`` and skipped; the other rows are still read.
A missing or empty file, or a missing header or ``gene`` column, raises `OutsideCallError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pgxguard.errors import OutsideCallError

__all__ = ["OutsideCall", "OutsideCalls", "read_outside_calls"]

COLUMNS = ("sample", "gene", "diplotype", "phenotype", "activity_score")
_COPIES = re.compile(r"^(?P<name>.+?)\s*[xX×](?P<n>\d+)$")
_UNKNOWN_COPIES = re.compile(r"^(?P<name>.+?)\s*[xX×][nN]$")
_GENE_PREFIX = re.compile(r"^(?P<gene>[A-Za-z][A-Za-z0-9-]*)(?P<rest>\*.+)$")


@dataclass(frozen=True, slots=True)
class OutsideCall:
    """One accepted row. `copies[i]` is the copy number of `diplotype[i]` (1 unless `xN`)."""

    sample: str | None
    gene: str
    diplotype: tuple[str, ...] = ()
    copies: tuple[int, ...] = ()
    phenotype: str | None = None
    activity_score: float | None = None
    line: int = 0

    def __post_init__(self) -> None:
        if not self.copies and self.diplotype:
            object.__setattr__(self, "copies", (1,) * len(self.diplotype))
        if len(self.copies) != len(self.diplotype):
            raise ValueError("copies must run parallel to diplotype")

    def applies_to(self, sample: str) -> bool:
        return self.sample is None or self.sample == sample


@dataclass(frozen=True, slots=True)
class OutsideCalls:
    calls: tuple[OutsideCall, ...] = ()
    errors: tuple[str, ...] = ()
    path: str = field(default="", compare=False)

    def for_sample(self, sample: str) -> tuple[OutsideCall, ...]:
        """Calls that apply to `sample` (its own rows and rows without a sample)."""
        return tuple(c for c in self.calls if c.applies_to(sample))


class _RowError(Exception):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def read_outside_calls(
    path: str | Path,
    known_alleles: Mapping[str, Collection[str]] | None = None,
    known_genes: Collection[str] | None = None,
) -> OutsideCalls:
    """Read an outside-call TSV (format in the module docstring)."""
    p = Path(path)
    where = str(p)
    if not p.is_file():
        raise OutsideCallError("outside-call file not found", path=where,
                               hint="check the path of the outside-call TSV")
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise OutsideCallError(f"cannot read the outside-call file: {e.strerror or e}",
                               path=where, hint="check the file's permissions") from e
    except UnicodeDecodeError as e:
        raise OutsideCallError("the outside-call file is not UTF-8 text", path=where,
                               hint="save it as UTF-8 tab-separated text") from e

    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    rows = [(i, ln) for i, ln in enumerate(lines, 1) if ln.strip() and not ln.startswith("#")]
    if not rows:
        raise OutsideCallError(
            "the outside-call file is empty", path=where,
            hint="write a header line (gene, diplotype and/or phenotype) and one row per call")

    header_line, header_text = rows[0]
    header = [h.strip().lower() for h in header_text.split("\t")]
    if "gene" not in header:
        hint = "the first non-comment line must name the columns, e.g. gene<TAB>diplotype"
        if len(header) == 1:
            hint += " (separate columns with tabs)"
        raise OutsideCallError("missing header line with a 'gene' column", path=where,
                               line=header_line, hint=hint)
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise OutsideCallError(f"column {dupes[0]!r} appears twice in the header", path=where,
                               line=header_line, hint="keep one column of each name")
    if "diplotype" not in header and "phenotype" not in header:
        raise OutsideCallError("the header has neither a 'diplotype' nor a 'phenotype' column",
                               path=where, line=header_line,
                               hint="add a diplotype and/or phenotype column")
    col = {name: header.index(name) for name in COLUMNS if name in header}

    reader = _Reader(known_alleles, known_genes)
    calls: list[OutsideCall] = []
    errors: list[str] = []
    for line_no, line in rows[1:]:
        try:
            call = reader.row(line, line_no, col, len(header))
        except _RowError as e:
            errors.append(str(OutsideCallError(e.message, path=where, line=line_no, hint=e.hint)))
            continue
        calls.append(call)
    return OutsideCalls(calls=tuple(calls), errors=tuple(errors), path=where)


class _Reader:
    def __init__(self, known_alleles: Mapping[str, Collection[str]] | None,
                 known_genes: Collection[str] | None) -> None:
        self.known_genes = known_genes
        self.genes: dict[str, str] = {}  # upper-case -> spelling used by the knowledge base
        for g in (*(known_genes or ()), *(known_alleles or {})):
            self.genes.setdefault(g.upper(), g)
        self.alleles: dict[str, dict[str, str]] = {}  # gene -> allele as written -> KB name
        for g, names in (known_alleles or {}).items():
            table: dict[str, str] = {}
            for n in names:
                table[n] = n
                table.setdefault(_strip_prefix(n, g), n)
            self.alleles[g] = table
        self.seen: dict[str, dict[str | None, int]] = {}  # gene -> sample -> first line

    def row(self, line: str, line_no: int, col: dict[str, int], width: int) -> OutsideCall:
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) > width and any(fields[width:]):
            raise _RowError(f"{len(fields)} columns but the header has {width}",
                            "separate columns with single tabs; a value cannot hold a tab")

        def value(name: str) -> str:
            i = col.get(name)
            return fields[i] if i is not None and i < len(fields) else ""

        sample = value("sample") or None
        gene = self.gene(value("gene"))
        alleles, copies = self.diplotype(value("diplotype"), gene)
        phenotype = value("phenotype") or None
        score = self.activity(value("activity_score"))
        if not alleles and phenotype is None:
            raise _RowError(f"{gene}: neither a diplotype nor a phenotype",
                            "give a diplotype such as *1/*2, a phenotype, or both")
        self.check_duplicate(gene, sample, line_no)
        return OutsideCall(sample=sample, gene=gene, diplotype=alleles, copies=copies,
                           phenotype=phenotype, activity_score=score, line=line_no)

    def gene(self, raw: str) -> str:
        if not raw:
            raise _RowError("the gene is empty", "give a gene symbol such as CYP2D6")
        gene = self.genes.get(raw.upper(), raw)
        if self.known_genes is not None and gene not in self.known_genes:
            raise _RowError(f"unknown gene {raw!r}",
                            "use a gene the knowledge base knows, e.g. "
                            + ", ".join(sorted(self.known_genes)[:8]))
        return gene

    def diplotype(self, raw: str, gene: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        if not raw:
            return (), ()
        known = self.alleles.get(gene)
        if known is not None and (raw in known or _strip_prefix(raw, gene) in known):
            return (self.allele(raw, gene, raw)[0],), (1,)
        parts = raw.split("/")
        if known is not None and len(parts) > 2:
            # an allele name may itself hold "/": take the one split with two known names
            splits = [("/".join(parts[:i]), "/".join(parts[i:])) for i in range(1, len(parts))]
            good = [s for s in splits if all(self._known(x.strip(), gene) for x in s)]
            if len(good) == 1:
                parts = list(good[0])
        if len(parts) > 2:
            raise _RowError(f"{gene}: diplotype {raw!r} has more than two alleles",
                            "write two alleles joined by '/', e.g. *1/*2, or one for a "
                            "haploid gene; use xN for copies, e.g. *1/*2x2")
        names: list[str] = []
        copies: list[int] = []
        for part in parts:
            name, n = self.allele(part.strip(), gene, raw)
            names.append(name)
            copies.append(n)
        return tuple(names), tuple(copies)

    def _known(self, written: str, gene: str) -> bool:
        known = self.alleles.get(gene, {})
        if written in known or _strip_prefix(written, gene) in known:
            return True
        m = _COPIES.match(written)
        return m is not None and _strip_prefix(m["name"], gene) in known

    def allele(self, written: str, gene: str, raw: str) -> tuple[str, int]:
        if not written:
            raise _RowError(f"{gene}: diplotype {raw!r} has an empty allele",
                            "write two alleles joined by '/', e.g. *1/*2")
        known = self.alleles.get(gene)
        name, copies = written, 1
        if known is None or (written not in known and _strip_prefix(written, gene) not in known):
            if _UNKNOWN_COPIES.match(written):
                raise _RowError(
                    f"{gene}: {written!r} has an unknown copy number",
                    "give the number of copies as an integer, e.g. *1x2 or *1x3")
            m = _COPIES.match(written)
            if m:
                name, copies = m["name"], int(m["n"])
                if copies < 2:
                    raise _RowError(f"{gene}: copy number x{m['n']} in {written!r}",
                                    "write xN only for two or more copies, e.g. *1x2")
        m = _GENE_PREFIX.match(name)
        if m:
            if m["gene"].upper() != gene.upper():
                raise _RowError(f"{gene}: allele {written!r} names another gene ({m['gene']})",
                                f"put {m['gene']} calls on their own row")
            name = m["rest"]
        if known is not None:
            if name not in known:
                close = [k for k in known if k.lower() == name.lower()]
                hint = (f"did you mean {close[0]}?" if len(close) == 1 else
                        f"use an allele name defined for {gene}")
                raise _RowError(f"{gene}: unknown allele {name!r}", hint)
            name = known[name]
        elif not name.strip() or name.strip() != name:
            raise _RowError(f"{gene}: malformed allele {written!r}",
                            "write allele names such as *1 or *57:01")
        return name, copies

    def activity(self, raw: str) -> float | None:
        if not raw:
            return None
        try:
            score = float(raw)
        except ValueError:
            score = math.nan
        if not math.isfinite(score) or score < 0:
            raise _RowError(f"activity score {raw!r} is not a number >= 0",
                            "write a number such as 1.5 (a dot for decimals) or leave it empty")
        return score

    def check_duplicate(self, gene: str, sample: str | None, line_no: int) -> None:
        by_sample = self.seen.setdefault(gene, {})
        first = by_sample.get(sample)
        if first is None and sample is not None:
            first = by_sample.get(None)
        if first is None and sample is None and by_sample:
            first = min(by_sample.values())
        if first is not None:
            who = f"sample {sample}" if sample is not None else "every sample"
            raise _RowError(f"{gene} is given twice for {who} (first on line {first})",
                            "keep one call per gene and sample")
        by_sample[sample] = line_no


def _strip_prefix(name: str, gene: str) -> str:
    """`HLA-B*57:01` -> `*57:01` when the prefix is `gene`; otherwise unchanged."""
    m = _GENE_PREFIX.match(name)
    if m and m["gene"].upper() == gene.upper():
        return m["rest"]
    return name
