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
  ``phenotype``       two       e.g. ``Poor Metabolizer`` or ``PM``; for HLA an allele status
                                such as ``*57:01 positive``
  ``activity_score``  no        a number >= 0, e.g. ``1.5``
  ``sample``          no        sample ID; a row without one applies to every sample
  ==================  ========  =============================================================

  Other columns are ignored.
* A diplotype is two allele names joined by ``/``, one allele name for a haploid gene, or empty
  (then ``phenotype`` must be given). An allele may be written with its gene prefix
  (``CYP2D6*4``, ``HLA-B*57:01``); the prefix is removed.
* HLA genes (``HLA-*``): alleles in any spelling `pgxguard.io.notation` reads (``HLA-B*57:01``,
  ``B*57:01``, ``*57:01``, ``57:01``, legacy ``*5701``, ``*57:01:01``) are normalised to
  ``*57:01`` form; a status (``*57:01 positive``/``negative``) may stand in either column; a
  single allele in the diplotype column is read as that allele's status ``positive`` (the other
  allele is unknown, so it says nothing about other alleles).

Checks against a `Vocabulary` (the knowledge base's, from `pgxguard.outside_calls`): the gene is
known; every allele name is one the knowledge base defines (a gene for which it names none takes
no allele names; HLA names need only be well formed, and a stated status must be one the
guidance uses); the phenotype is one of the gene's terms (lab abbreviations expanded, see
`pgxguard.io.notation.ABBREVIATIONS`) and is stored as the knowledge base spells it; and when a
row gives a diplotype and a phenotype or activity score (or a phenotype and an activity score),
they must agree with what the knowledge base derives.

Example (`→` stands for a tab)::

    # CYP2D6 from the copy-number pipeline, v2.1
    sample→gene→diplotype→phenotype→activity_score
    NA12878→CYP2D6→*1/*2x2→Ultrarapid Metabolizer→3.0
    NA12878→HLA-B→*57:01/*08:01
    →G6PD→B→Normal

A bad row (unknown gene, allele or phenotype, a notation that cannot be read, a diplotype and
phenotype that disagree, an activity score not a number, neither a diplotype nor a phenotype,
the same gene twice for one sample) is listed in `OutsideCalls.errors` as
``FILE, line N: what is wrong (what to do)`` and skipped: it never counts as a negative or
reference result. A missing or empty file, or a missing header or ``gene`` column, raises
`OutsideCallError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pgxguard.errors import OutsideCallError
from pgxguard.io.notation import (
    NotationError,
    format_statuses,
    is_hla,
    looks_like_status,
    normalise_hla_allele,
    parse_statuses,
    phenotype_key,
    resolve_phenotype,
    two_field,
)

__all__ = ["OutsideCall", "OutsideCalls", "RowChecker", "Vocabulary", "read_outside_calls"]

COLUMNS = ("sample", "gene", "diplotype", "phenotype", "activity_score")
_COPIES = re.compile(r"^(?P<name>.+?)\s*[xX×](?P<n>\d+)$")
_UNKNOWN_COPIES = re.compile(r"^(?P<name>.+?)\s*[xX×][nN]$")
_GENE_PREFIX = re.compile(r"^(?P<gene>[A-Za-z][A-Za-z0-9-]*)(?P<rest>\*.+)$")

# What the knowledge base derives for a diplotype: (phenotype, activity score, why not).
Expected = Callable[[str, tuple[str, ...]], tuple[str | None, float | None, str | None]]


@dataclass(frozen=True)
class Vocabulary:
    """What rows are checked against. Every field left None is not checked.

    `alleles`: gene -> allele names; with `strict_alleles`, a gene not listed takes no allele
    names (HLA genes excepted: their names are checked for form). `phenotypes`: gene -> terms
    (a gene not listed has none). `statuses`: HLA gene -> the alleles whose status the guidance
    uses (``*57:01``). `expected`: the phenotype and activity score of a diplotype;
    `by_score`: the phenotype of an activity score (None for genes without ranges).
    """

    genes: Collection[str] | None = None
    alleles: Mapping[str, Collection[str]] | None = None
    strict_alleles: bool = False
    phenotypes: Mapping[str, Collection[str]] | None = None
    statuses: Callable[[str], Collection[str]] | None = None
    expected: Expected | None = None
    by_score: Callable[[str, float], str | None] | None = None


@dataclass(frozen=True, slots=True)
class OutsideCall:
    """One accepted row. `copies[i]` is the copy number of `diplotype[i]` (1 unless `xN`).

    `notes` say how the row was read (an abbreviation expanded, a check that could not be
    made); they travel into the call's warnings.
    """

    sample: str | None
    gene: str
    diplotype: tuple[str, ...] = ()
    copies: tuple[int, ...] = ()
    phenotype: str | None = None
    activity_score: float | None = None
    line: int = 0
    notes: tuple[str, ...] = ()
    # A caller's no-call, low-quality or ambiguous result: the reason (then no diplotype and no
    # phenotype: the gene has no result, never a guessed one).
    no_result: str | None = None
    # Where the call came from when read from a caller's own output (`pgxguard.io.callers`):
    # caller, version, file, SHA-256, quality fields... as (key, value) pairs, in order.
    provenance: tuple[tuple[str, str], ...] = ()

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
    # The file's format and origin (`pgxguard.io.callers.SourceInfo.to_json`); empty for a
    # pgxguard outside-call TSV.
    source: dict[str, str] = field(default_factory=dict, compare=False)
    # True when the file cannot name its sample (one caller output per sample, e.g. OptiType):
    # its calls then apply to one called sample only, never to a whole multi-sample VCF.
    unnamed_sample: bool = False
    # File-level notes (loci typed that the knowledge base has no use for...), not errors.
    notes: tuple[str, ...] = ()

    def for_sample(self, sample: str) -> tuple[OutsideCall, ...]:
        """Calls that apply to `sample` (its own rows and rows without a sample)."""
        return tuple(c for c in self.calls if c.applies_to(sample))


def read_outside_calls(
    path: str | Path,
    known_alleles: Mapping[str, Collection[str]] | None = None,
    known_genes: Collection[str] | None = None,
    *,
    vocabulary: Vocabulary | None = None,
) -> OutsideCalls:
    """Read an outside-call TSV (format in the module docstring).

    `vocabulary` (the knowledge base's) takes precedence over `known_alleles`/`known_genes`,
    which check only gene and allele names.
    """
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

    vocab = vocabulary or Vocabulary(genes=known_genes, alleles=known_alleles)
    checker = RowChecker(vocab)
    seen: dict[str, dict[str | None, int]] = {}  # gene -> sample -> first line
    calls: list[OutsideCall] = []
    errors: list[str] = []
    for line_no, line in rows[1:]:
        try:
            fields = [f.strip() for f in line.split("\t")]
            if len(fields) > len(header) and any(fields[len(header):]):
                raise NotationError(
                    f"{len(fields)} columns but the header has {len(header)}",
                    "separate columns with single tabs; a value cannot hold a tab")

            def value(name: str, fields: list[str] = fields) -> str:
                i = col.get(name)
                return fields[i] if i is not None and i < len(fields) else ""

            call = checker.check(value("gene"), value("diplotype"), value("phenotype"),
                                 value("activity_score"), sample=value("sample") or None,
                                 line=line_no)
            _check_duplicate(seen, call.gene, call.sample, line_no)
        except NotationError as e:
            errors.append(str(OutsideCallError(e.message, path=where, line=line_no,
                                               hint=e.hint)))
            continue
        calls.append(call)
    return OutsideCalls(calls=tuple(calls), errors=tuple(errors), path=where)


def _check_duplicate(seen: dict[str, dict[str | None, int]], gene: str, sample: str | None,
                     line_no: int) -> None:
    by_sample = seen.setdefault(gene, {})
    first = by_sample.get(sample)
    if first is None and sample is not None:
        first = by_sample.get(None)
    if first is None and sample is None and by_sample:
        first = min(by_sample.values())
    if first is not None:
        who = f"sample {sample}" if sample is not None else "every sample"
        raise NotationError(f"{gene} is given twice for {who} (first on line {first})",
                            "keep one call per gene and sample")
    by_sample[sample] = line_no


class RowChecker:
    """One outside call (gene, diplotype, phenotype, activity score as written) checked
    against a `Vocabulary`; also used for calls read from a FHIR Bundle."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.v = vocabulary
        self.genes: dict[str, str] = {}  # upper-case -> spelling used by the knowledge base
        for g in (*(vocabulary.genes or ()), *(vocabulary.alleles or {})):
            self.genes.setdefault(g.upper(), g)
        self.alleles: dict[str, dict[str, str]] = {}  # gene -> allele as written -> KB name
        for g, names in (vocabulary.alleles or {}).items():
            table: dict[str, str] = {}
            for n in names:
                table[n] = n
                table.setdefault(_strip_prefix(n, g), n)
            self.alleles[g] = table

    def check(self, gene_raw: str, diplotype_raw: str, phenotype_raw: str, activity_raw: str,
              *, sample: str | None = None, line: int = 0) -> OutsideCall:
        """The accepted call, or `NotationError` saying what is wrong and what to write."""
        gene = self.gene(gene_raw)
        score = self.activity(activity_raw)
        if is_hla(gene):
            return self._hla(gene, diplotype_raw, phenotype_raw, score, sample, line)
        notes: list[str] = []
        alleles, copies = self.diplotype(diplotype_raw, gene)
        phenotype = self.phenotype(phenotype_raw, gene, notes)
        if not alleles and phenotype is None:
            raise NotationError(f"{gene}: neither a diplotype nor a phenotype",
                                "give a diplotype such as *1/*2, a phenotype, or both")
        named = tuple(a if c == 1 else f"{a}x{c}" for a, c in zip(alleles, copies, strict=True))
        self.agree(gene, named, phenotype, score, notes)
        return OutsideCall(sample=sample, gene=gene, diplotype=alleles, copies=copies,
                           phenotype=phenotype, activity_score=score, line=line,
                           notes=tuple(notes))

    # --- parts -----------------------------------------------------------------------------

    def gene(self, raw: str) -> str:
        if not raw:
            raise NotationError("the gene is empty", "give a gene symbol such as CYP2D6")
        gene = self.genes.get(raw.upper(), raw)
        known = self.v.genes
        if known is not None and gene not in known:
            raise NotationError(f"unknown gene {raw!r}",
                                "use a gene the knowledge base knows, e.g. "
                                + ", ".join(sorted(known)[:8]))
        return gene

    def phenotype(self, raw: str, gene: str, notes: list[str]) -> str | None:
        if not raw:
            return None
        if self.v.phenotypes is None:
            return raw
        term = resolve_phenotype(raw, gene, self.v.phenotypes.get(gene, ()))
        if term != raw:
            notes.append(f"phenotype {raw!r} read as {term!r}")
        return term

    def agree(self, gene: str, alleles: tuple[str, ...], phenotype: str | None,
              score: float | None, notes: list[str]) -> None:
        """A diplotype, phenotype and activity score given together must say the same."""
        if alleles and (phenotype is not None or score is not None) and self.v.expected:
            want, want_score, why = self.v.expected(gene, alleles)
            dip = "/".join(alleles)
            fix = ("correct the diplotype or the phenotype, or leave the phenotype empty to "
                   "take the knowledge base's")
            if phenotype is not None and want is not None and \
                    phenotype_key(want, gene) != phenotype_key(phenotype, gene):
                raise NotationError(f"{gene}: {dip} is {want} in the knowledge base, but the "
                                    f"row says {phenotype}", fix)
            if score is not None and want_score is not None and abs(score - want_score) > 1e-9:
                raise NotationError(f"{gene}: {dip} has activity score {want_score:g} in the "
                                    f"knowledge base, but the row says {score:g}",
                                    fix.replace("phenotype", "activity score"))
            if (phenotype is not None and want is None) or (score is not None and
                                                             want_score is None):
                notes.append(f"the given phenotype/activity score could not be checked "
                             f"against {dip}: {why or 'the knowledge base derives none'}")
        if phenotype is not None and score is not None and self.v.by_score:
            term = self.v.by_score(gene, score)
            if term is not None and phenotype_key(term, gene) != phenotype_key(phenotype, gene):
                raise NotationError(f"{gene}: activity score {score:g} is {term} in the "
                                    f"knowledge base, but the row says {phenotype}",
                                    "correct the phenotype or the activity score")

    def _hla(self, gene: str, diplotype_raw: str, phenotype_raw: str, score: float | None,
             sample: str | None, line: int) -> OutsideCall:
        """HLA: alleles normalised to `*57:01` form; allele status as the phenotype."""
        if score is not None:
            raise NotationError(f"{gene}: an HLA gene has no activity score",
                                "leave activity_score empty")
        notes: list[str] = []
        alleles: tuple[str, ...] = ()
        statuses: dict[str, bool] = {}
        raw = diplotype_raw.strip()
        if raw and looks_like_status(raw):
            statuses = parse_statuses(raw, gene)
        elif raw:
            parts = [x.strip() for x in raw.split("/")]
            if len(parts) > 2:
                raise NotationError(f"{gene}: diplotype {raw!r} has more than two alleles",
                                    "write two alleles joined by '/', e.g. *57:01/*08:01")
            if any(not x for x in parts):
                raise NotationError(f"{gene}: diplotype {raw!r} has an empty allele",
                                    "write two alleles joined by '/', e.g. *57:01/*08:01")
            names = tuple(normalise_hla_allele(x, gene) for x in parts)
            if len(names) == 2:
                alleles = names
            else:
                statuses = {two_field(names[0]): True}
                notes.append(f"one {gene} allele given ({raw}): read as "
                             f"{two_field(names[0])} positive; the other allele is unknown")
        if phenotype_raw.strip():
            stated = parse_statuses(phenotype_raw, gene)
            for allele, carried in stated.items():
                if statuses.get(allele, carried) != carried:
                    raise NotationError(f"{gene}: {allele} is stated both positive and "
                                        "negative", "state each allele once")
            statuses = {**statuses, **stated}
        if not alleles and not statuses:
            raise NotationError(f"{gene}: neither a diplotype nor an allele status",
                                "give a diplotype such as *57:01/*08:01 or a status such as "
                                "*57:01 positive")
        # Only a stated status needs the status list (loading it may load the guidance).
        keys = self.v.statuses(gene) if self.v.statuses is not None and statuses else None
        if keys is not None:
            unknown = [a for a in statuses if a not in keys]
            if unknown:
                listed = ", ".join(sorted(keys)) or "none"
                raise NotationError(
                    f"{gene}: {unknown[0]} is not an allele whose status the knowledge base "
                    f"uses ({listed})",
                    f"give both alleles ({unknown[0]}/other) or the status of {listed}"
                    if keys else "give both alleles")
        for allele, carried in statuses.items():
            if alleles and any(two_field(a) == allele for a in alleles) != carried:
                raise NotationError(
                    f"{gene}: {'/'.join(alleles)} {'lacks' if carried else 'carries'} "
                    f"{allele}, but the row says {allele} "
                    f"{'positive' if carried else 'negative'}",
                    "correct the diplotype or the status")
        return OutsideCall(sample=sample, gene=gene, diplotype=alleles,
                           phenotype=format_statuses(statuses) if statuses else None,
                           line=line, notes=tuple(notes))

    def diplotype(self, raw: str, gene: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        if not raw:
            return (), ()
        known = self.alleles.get(gene)
        if known is None and self.v.strict_alleles:
            raise NotationError(f"{gene}: the knowledge base names no {gene} alleles, so the "
                                f"diplotype {raw!r} cannot be checked",
                                "give the phenotype instead, if the knowledge base has one")
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
            raise NotationError(f"{gene}: diplotype {raw!r} has more than two alleles",
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
            raise NotationError(f"{gene}: diplotype {raw!r} has an empty allele",
                                "write two alleles joined by '/', e.g. *1/*2")
        known = self.alleles.get(gene)
        name, copies = written, 1
        if known is None or (written not in known and _strip_prefix(written, gene) not in known):
            if _UNKNOWN_COPIES.match(written):
                raise NotationError(
                    f"{gene}: {written!r} has an unknown copy number",
                    "give the number of copies as an integer, e.g. *1x2 or *1x3")
            m = _COPIES.match(written)
            if m:
                name, copies = m["name"], int(m["n"])
                if copies < 2:
                    raise NotationError(f"{gene}: copy number x{m['n']} in {written!r}",
                                        "write xN only for two or more copies, e.g. *1x2")
        m = _GENE_PREFIX.match(name)
        if m:
            if m["gene"].upper() != gene.upper():
                raise NotationError(f"{gene}: allele {written!r} names another gene "
                                    f"({m['gene']})", f"put {m['gene']} calls on their own row")
            name = m["rest"]
        if known is not None:
            if name not in known:
                close = [k for k in known if k.lower() == name.lower()]
                hint = (f"did you mean {close[0]}?" if len(close) == 1 else
                        f"use an allele name defined for {gene}")
                raise NotationError(f"{gene}: unknown allele {name!r}", hint)
            name = known[name]
        elif not name.strip() or name.strip() != name:
            raise NotationError(f"{gene}: malformed allele {written!r}",
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
            raise NotationError(f"activity score {raw!r} is not a number >= 0",
                                "write a number such as 1.5 (a dot for decimals) or leave it "
                                "empty")
        return score


def _strip_prefix(name: str, gene: str) -> str:
    """`CYP2D6*4` -> `*4` when the prefix is `gene`; otherwise unchanged."""
    m = _GENE_PREFIX.match(name)
    if m and m["gene"].upper() == gene.upper():
        return m["rest"]
    return name
