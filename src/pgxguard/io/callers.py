"""The outputs of labs' own CYP2D6, star-allele and HLA callers, read as outside calls.

`read_caller_output` recognises a file by its content (never its name) or takes the format
the user names (``--outside-format``), reads it into outside calls and passes every call
through the same `RowChecker` as the outside-call TSV: gene and allele names checked against
the knowledge base (HLA names normalised), a sample the VCF lacks refused later by
`pgxguard.outside_calls.assign_samples`. Star-allele notations are mapped onto the knowledge
base's names by `pgxguard.io.starnames` (tandems, copy numbers, sub-alleles).

Each call keeps its provenance: the caller and its version (when the file states it), the
file's name and SHA-256, the line (or JSON key) and every quality/filter field the caller
wrote. A caller's no-call, low-quality or ambiguous result becomes a call with `no_result`
set to the caller's reason: that gene has no result, never a guessed diplotype. A line that
cannot be read, or a name the knowledge base does not know, is an error row
(``FILE, line N: what is wrong (what to do)``) and is skipped. docs/outside-calls.md describes
each format, with the documentation it follows.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgxguard.errors import CallerFormatError, OutsideCallError
from pgxguard.io.notation import NotationError, is_hla
from pgxguard.io.outside import OutsideCall, OutsideCalls, RowChecker, Vocabulary
from pgxguard.io.starnames import StarMapper, Unresolved

__all__ = ["FORMATS", "SourceInfo", "detect_format", "read_caller_output"]


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    caller: str
    description: str


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("pgxguard", "pgxguard outside-call TSV", "tab-separated, header with a gene column"),
    Format("pharmcat", "PharmCAT outside-call file", "gene, diplotype, phenotype, activity; "
           "no header"),
    Format("cyrius", "Cyrius", "Cyrius TSV (Sample, Genotype, Filter) or JSON"),
    Format("cyrius-tsv", "Cyrius/DRAGEN", "a Cyrius-format TSV recognised by content: Cyrius "
           "or DRAGEN's CYP2D6 caller wrote it (--outside-format says which)"),
    Format("dragen-cyp2d6", "DRAGEN CYP2D6 caller", "the Cyrius-format TSV DRAGEN writes"),
    Format("aldy", "Aldy", "Aldy's default output (#Sample Gene SolutionID Major Minor ...)"),
    Format("stellarpgx", "StellarPGx", "a per-sample StellarPGx .alleles file"),
    Format("pypgx", "PyPGx", "a PyPGx results.zip (SampleTable[Results])"),
    Format("optitype", "OptiType", "OptiType's result TSV (A1 A2 B1 B2 C1 C2 Reads "
           "Objective)"),
    Format("hla-la", "HLA*LA", "HLA*LA's R1_bestguess_G.txt"),
    Format("arcashla", "arcasHLA", "arcasHLA's genotype.json (or merged genotypes.json)"),
)}


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """The file a set of calls came from."""

    format: str
    caller: str
    version: str | None
    path: str
    sha256: str
    details: tuple[tuple[str, str], ...] = ()

    def label(self) -> str:
        """'Cyrius 1.1.1', or the caller alone when the file does not state its version."""
        return f"{self.caller} {self.version}" if self.version else self.caller

    def to_json(self) -> dict[str, str]:
        out = {"format": self.format, "caller": self.caller, "file": Path(self.path).name,
               "sha256": self.sha256}
        if self.version:
            out["version"] = self.version
        out.update(self.details)
        return out


@dataclass
class Raw:
    """One gene of one sample as the caller wrote it, before checking."""

    where: str  # "line 3" or "key 'NA12878'"
    line: int
    sample: str | None
    gene: str
    diplotypes: list[str] = field(default_factory=list)  # several: the caller's candidates
    no_result: str | None = None
    quality: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    phenotype: str = ""  # only formats whose phenotype is the lab's own statement (PharmCAT)
    activity: str = ""


@dataclass
class Parsed:
    raws: list[Raw]
    errors: list[tuple[str, int, NotationError]] = field(default_factory=list)
    version: str | None = None
    unnamed_sample: bool = False
    details: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skip_unknown_genes: bool = False  # callers typing many loci the knowledge base never uses


FormatError = CallerFormatError  # the file is not in the format named, or in none we read


# --- detection ---------------------------------------------------------------------------

_ALDY_HEADER = "#Sample\tGene\tSolutionID\tMajor\tMinor"
_CYRIUS_HEADER = ("sample", "genotype", "filter")
_OPTITYPE_COLS = ("A1", "A2", "B1", "B2", "C1", "C2")
_HLALA_COLS = ("Locus", "Chromosome", "Allele", "Q1")


def _lines(text: str) -> list[str]:
    return [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]


def _first_content(lines: list[str], comments: bool = True) -> tuple[int, str] | None:
    for i, ln in enumerate(lines, 1):
        if ln.strip() and not (comments and ln.startswith("#")):
            return i, ln
    return None


def detect_format(data: bytes, known_genes: set[str]) -> str:
    """The format name of a file's content, or `FormatError` saying what it looks like."""
    if data[:4] == b"PK\x03\x04":
        return "pypgx"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "pgxguard"  # the TSV reader says what is wrong
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return "pgxguard"
        return _detect_json(doc)
    lines = _lines(text)
    if any(ln.startswith(_ALDY_HEADER) for ln in lines[:5]):
        return "aldy"
    if "Star Allele Calling with StellarPGx" in text[:2000]:
        return "stellarpgx"
    first = _first_content(lines, comments=False)
    if first is None:
        return "pgxguard"
    cols = [c.strip() for c in first[1].split("\t")]
    lowered = [c.lstrip("#").lower() for c in cols]
    if tuple(lowered[:3]) == _CYRIUS_HEADER and len(cols) == 3:
        return "cyrius-tsv"
    if tuple(cols[1:7]) == _OPTITYPE_COLS:
        return "optitype"
    if tuple(cols[:4]) == _HLALA_COLS:
        return "hla-la"
    content = _first_content(lines)
    if content is not None:
        head = [c.strip() for c in content[1].split("\t")]
        if "gene" not in [h.lower() for h in head] and head[0].upper() in known_genes:
            return "pharmcat"
    return "pgxguard"


def _detect_json(doc: Any) -> str:
    if isinstance(doc, dict):
        if "dragenVersion" in doc:
            raise FormatError(
                "this looks like a DRAGEN targeted-caller JSON, which pgxguard does not read",
                hint="pass DRAGEN's CYP2D6 TSV (Sample, Genotype, Filter) with "
                     "--outside-format dragen-cyp2d6, or an outside-call TSV")
        values = list(doc.values())
        if values and all(isinstance(v, dict) and "Genotype" in v and "Filter" in v
                          for v in values):
            return "cyrius"
        if values and all(isinstance(v, list) for v in values):
            return "arcashla"
        if values and all(isinstance(v, dict) and all(isinstance(x, list) for x in v.values())
                          for v in values):
            return "arcashla"
    raise FormatError("a JSON file pgxguard cannot read as outside calls",
                      hint="pass Cyrius's or arcasHLA's JSON output, or an outside-call TSV; "
                           "--outside-format names the format")


# --- reading -----------------------------------------------------------------------------


def read_caller_output(path: str | Path, data: bytes, fmt: str, vocabulary: Vocabulary,
                       activity: Callable[[str, str], float | None]) -> OutsideCalls:
    """Read a caller's output (`fmt` one of `FORMATS`, not ``pgxguard``) into checked calls.

    `activity(gene, allele)`: the published activity value, for the tandem rule of
    `pgxguard.io.starnames`.
    """
    where = str(path)
    parser = _PARSERS[fmt]
    parsed = parser(data, where)
    fmt_info = FORMATS[fmt]
    if not parsed.raws and not parsed.errors:
        raise FormatError(f"the {fmt_info.caller} output holds no calls", path=where,
                          hint="pass the caller's output for the sample, as written")
    source = SourceInfo(fmt, fmt_info.caller, parsed.version, where,
                        hashlib.sha256(data).hexdigest(), tuple(parsed.details))
    checker = RowChecker(vocabulary)
    calls: list[OutsideCall] = []
    errors = [_error(where, w, line, e) for w, line, e in parsed.errors]
    notes = list(parsed.notes)
    skipped: list[str] = []
    seen: set[tuple[str | None, str]] = set()
    for raw in parsed.raws:
        try:
            gene = checker.gene(raw.gene)
        except NotationError as e:
            if parsed.skip_unknown_genes:
                skipped.append(raw.gene)
                continue
            errors.append(_error(where, raw.where, raw.line, e))
            continue
        try:
            call = _check(raw, gene, checker, vocabulary, activity, source)
            if (raw.sample, gene) in seen:
                raise NotationError(f"{gene} is given twice for "
                                    f"{'sample ' + raw.sample if raw.sample else 'the file'}",
                                    "keep one result per gene and sample")
            seen.add((raw.sample, gene))
        except NotationError as e:
            errors.append(_error(where, raw.where, raw.line, e))
            continue
        calls.append(call)
    if skipped:
        notes.append(f"{where}: {', '.join(dict.fromkeys(skipped))} typed by "
                     f"{source.label()}: not used (not a gene of the knowledge base)")
    return OutsideCalls(calls=tuple(calls), errors=tuple(errors), path=where,
                        source=source.to_json(), unnamed_sample=parsed.unnamed_sample,
                        notes=tuple(notes))


def _error(path: str, where: str, line: int, e: NotationError) -> str:
    if line:
        return str(OutsideCallError(e.message, path=path, line=line, hint=e.hint))
    # "FILE, sample 'X': ..." like "FILE, line N: ...", so readers find both the same way
    return f"{path}, {where}: {e.message}" + (f" ({e.hint})" if e.hint else "")


def _provenance(raw: Raw, source: SourceInfo, written: str) -> tuple[tuple[str, str], ...]:
    out = [("caller", source.caller)]
    if source.version:
        out.append(("version", source.version))
    out += [("file", Path(source.path).name), ("sha256", source.sha256)]
    out.append(("line", str(raw.line)) if raw.line else ("where", raw.where))
    if written:
        out.append(("written", written))
    out += raw.quality
    return tuple(out)


def _check(raw: Raw, gene: str, checker: RowChecker, vocabulary: Vocabulary,
           activity: Callable[[str, str], float | None], source: SourceInfo) -> OutsideCall:
    written = " | ".join(raw.diplotypes)
    prov = _provenance(raw, source, written)
    notes = list(raw.notes)
    if raw.no_result is not None:
        return OutsideCall(sample=raw.sample, gene=gene, line=raw.line, notes=tuple(notes),
                           no_result=raw.no_result, provenance=prov)
    try:
        mapped = _mapped(raw, gene, vocabulary, activity, notes)
    except Unresolved as u:
        return OutsideCall(sample=raw.sample, gene=gene, line=raw.line, notes=tuple(notes),
                           no_result=f"{source.label()}: {u.reason}", provenance=prov)
    phenotype = raw.phenotype
    if raw.activity and not phenotype and not mapped and vocabulary.by_score is not None:
        # PharmCAT's files may give an activity score alone: its phenotype is CPIC's for it
        score = checker.activity(raw.activity)
        assert score is not None
        phenotype = vocabulary.by_score(gene, score) or ""
        if not phenotype:
            raise NotationError(f"{gene}: activity score {raw.activity} is not one CPIC "
                                "publishes for the gene",
                                "give a published activity score, a phenotype or a diplotype")
    call = checker.check(gene, mapped, phenotype, raw.activity, sample=raw.sample,
                         line=raw.line)
    return dataclasses.replace(call, notes=tuple(dict.fromkeys([*notes, *call.notes])),
                               provenance=prov)


def _mapped(raw: Raw, gene: str, vocabulary: Vocabulary,
            activity: Callable[[str, str], float | None], notes: list[str]) -> str:
    """The diplotype in pgxguard's notation; `Unresolved` when candidates disagree."""
    if not raw.diplotypes:
        return ""
    if is_hla(gene):
        if len(set(raw.diplotypes)) > 1:
            raise Unresolved(f"{len(raw.diplotypes)} possible genotypes "
                             f"({' | '.join(raw.diplotypes)})")
        return raw.diplotypes[0]
    names = (vocabulary.alleles or {}).get(gene)
    if names is None:
        return raw.diplotypes[0]  # the checker refuses it with the usual message
    mapper = StarMapper(gene, _with_aliases(names), lambda a: activity(gene, a))
    results: list[tuple[str, list[str]]] = []
    for d in raw.diplotypes:
        text, more = mapper.diplotype(_alias(d, names))
        results.append((_sorted_diplotype(text), more))
    distinct = list(dict.fromkeys(r[0] for r in results))
    if len(distinct) > 1:
        named = "" if distinct == raw.diplotypes else f", {' | '.join(distinct)} in the " \
            "knowledge base's names"
        raise Unresolved(f"{len(raw.diplotypes)} possible diplotypes "
                         f"({' | '.join(raw.diplotypes)}{named})")
    for _, more in results:
        notes.extend(more)
    if len(raw.diplotypes) > 1:
        notes.append(f"the caller's {len(raw.diplotypes)} possible diplotypes "
                     f"({' | '.join(raw.diplotypes)}) are all {distinct[0]} in the knowledge "
                     "base's names")
    return distinct[0]


def _sorted_diplotype(text: str) -> str:
    from pgxguard.alleles import sort_key

    return "/".join(sorted(text.split("/"), key=sort_key)) if "/" in text else text


_ALIAS = re.compile(r"\((?P<star>\*[^()]+)\)$")


def _with_aliases(names: Any) -> set[str]:
    return set(names) | set(_aliases(names))


def _aliases(names: Any) -> dict[str, str]:
    """`*2A` -> `c.1905+1G>A (*2A)`: star names the knowledge base gives in parentheses."""
    found: dict[str, list[str]] = {}
    for n in names:
        m = _ALIAS.search(n)
        if m:
            found.setdefault(m["star"], []).append(n)
    return {k: v[0] for k, v in found.items() if len(v) == 1 and k not in names}


def _alias(diplotype: str, names: Any) -> str:
    """Star names given in parentheses by the knowledge base (DPYD ``*2A``), and
    mitochondrial names written without their ``m.`` prefix (``1555A>G``), as its names."""
    table = _aliases(names)
    parts = [p.strip() for p in diplotype.split("/")]
    return "/".join(table.get(p, f"m.{p}" if f"m.{p}" in names and p not in names else p)
                    for p in parts)


# --- formats -----------------------------------------------------------------------------


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FormatError("the file is not UTF-8 text", path=where,
                          hint="pass the caller's output file as written") from e


def _tsv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    for i, ln in enumerate(_lines(text), 1):
        if ln.strip():
            yield i, [c.strip() for c in ln.split("\t")]


def _parse_pharmcat(data: bytes, where: str) -> Parsed:
    """PharmCAT's outside-call file (docs/using/Outside-Call-Format.md): gene, diplotype,
    phenotype, activity score; ``#`` comments; no header; no sample (one file per sample)."""
    out = Parsed([], unnamed_sample=True)
    for i, cols in _tsv_rows(_text(data, where)):
        if cols[0].startswith("#"):
            continue
        if cols[0].lower() in ("gene", "sample"):
            raise FormatError("a header line: PharmCAT's outside-call file has none", path=where,
                              line=i, hint="pass a pgxguard outside-call TSV without "
                                           "--outside-format pharmcat")
        if len(cols) > 4 and any(cols[4:]):
            out.errors.append((f"line {i}", i, NotationError(
                f"{len(cols)} fields; PharmCAT's format has at most 4",
                "gene, diplotype, phenotype, activity score, separated by tabs")))
            continue
        gene, dip, phen, act = [*cols, "", "", "", ""][:4]
        out.raws.append(Raw(f"line {i}", i, None, gene, [dip] if dip else [], phenotype=phen,
                            activity=act))
    return out


_CYRIUS_FILTERS = {
    "PASS": None,
    "More_than_one_possible_genotype": "more than one possible genotype",
    "Not_assigned_to_haplotypes": "star alleles not assigned to haplotypes",
    "LowQ_high_CN": "low-quality call at high copy number",
}
_CYRIUS_MAD = 0.11  # star_caller.py MAD_THRESHOLD: "uneven coverage. CN calls may be unreliable"


def _cyrius_raw(where: str, line: int, sample: str, genotype: str | None,
                filt: str | None, quality: list[tuple[str, str]], caller: str) -> Raw:
    raw = Raw(where, line, sample, "CYP2D6", quality=quality)
    if genotype in (None, "", "None"):
        raw.no_result = f"{caller}: no call (Genotype None)"
        return raw
    assert genotype is not None
    if filt not in _CYRIUS_FILTERS:
        raise NotationError(f"unknown Filter value {filt!r}",
                            "expected PASS, More_than_one_possible_genotype, "
                            "Not_assigned_to_haplotypes or LowQ_high_CN")
    if filt == "More_than_one_possible_genotype":
        raw.diplotypes = [g.strip() for g in genotype.split(";") if g.strip()]
        if len(raw.diplotypes) < 2:
            raise NotationError(f"Filter {filt} but one genotype {genotype!r}",
                                "check the file is Cyrius's output as written")
        return raw
    if filt == "Not_assigned_to_haplotypes":
        raw.no_result = (f"{caller}: star alleles {', '.join(genotype.split('_'))} not assigned "
                         "to haplotypes (Not_assigned_to_haplotypes)")
        return raw
    if filt == "LowQ_high_CN":
        raw.no_result = (f"{caller}: low-quality call at high copy number (LowQ_high_CN; "
                         f"called {genotype})")
        return raw
    raw.diplotypes = [genotype]
    return raw


def _parse_cyrius(data: bytes, where: str, caller: str = "Cyrius") -> Parsed:
    """Cyrius's TSV (Sample, Genotype, Filter) or JSON (README "Interpreting the output")."""
    text = _text(data, where)
    out = Parsed([])
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise FormatError(f"not valid JSON ({e.msg})", path=where, line=e.lineno) from e
        if not isinstance(doc, dict):
            raise FormatError("Cyrius JSON must map sample names to results", path=where)
        for sample, v in doc.items():
            key = f"sample {sample!r}"
            try:
                if not isinstance(v, dict):
                    raise NotationError("not a Cyrius result object",
                                        "pass Cyrius's JSON as written")
                q = [(k, _fmt(v.get(k))) for k in ("Filter", "Total_CN", "Spacer_CN",
                                                   "CNV_group", "Coverage_MAD", "Median_depth",
                                                   "Call_info") if v.get(k) is not None]
                raw = _cyrius_raw(key, 0, sample, v.get("Genotype"), v.get("Filter"), q, caller)
                mad = v.get("Coverage_MAD")
                if raw.no_result is None and isinstance(mad, int | float) and mad > _CYRIUS_MAD:
                    raw.no_result = (f"{caller}: uneven coverage (Coverage_MAD {mad:g} > "
                                     f"{_CYRIUS_MAD}): Cyrius says copy-number calls may be "
                                     "unreliable")
                out.raws.append(raw)
            except NotationError as e:
                out.errors.append((key, 0, e))
        return out
    rows = list(_tsv_rows(text))
    if not rows or tuple(c.lstrip("#").lower() for c in rows[0][1]) != _CYRIUS_HEADER:
        raise FormatError("not a Cyrius-format TSV: the header must be Sample, Genotype, Filter",
                          path=where, line=rows[0][0] if rows else None,
                          hint="pass the caller's TSV as written, or name its format with "
                               "--outside-format")
    for i, cols in rows[1:]:
        try:
            if len(cols) != 3:
                raise NotationError(f"{len(cols)} columns, expected 3 (Sample, Genotype, Filter)",
                                    "pass the caller's TSV as written")
            out.raws.append(_cyrius_raw(f"line {i}", i, cols[0], cols[1], cols[2],
                                        [("Filter", cols[2])], caller))
        except NotationError as e:
            out.errors.append((f"line {i}", i, e))
    return out


def _fmt(v: Any) -> str:
    return json.dumps(v) if isinstance(v, list | dict) else str(v)


_ALDY_SOLUTION = re.compile(r"^#Solution (?P<id>\d+): (?P<text>.*)$")
_ALDY_MAJOR = re.compile(r"^(?P<core>\d+)(?P<sub>\.\d+)?(?P<suffix>[A-Z]+\d*)?$")


def _aldy_token(token: str, gene: str, notes: list[str]) -> str:
    """One of Aldy's major names (``*4.021``, ``*4NX``, ``*36X``) as a PharmVar name.

    Aldy marks its CYP2D7-exon-9 variant of an allele with ``X`` (same PharmVar haplotype, see
    its gene files) and keeps some legacy letter names (``*4N`` = ``*4.013``): both are read as
    the core allele. A name with added functional variants (``*1+rs...``) is a possible novel
    allele: `Unresolved`.
    """
    name = token[1:] if token.startswith("*") else token
    m = _ALDY_MAJOR.match(name)
    if m is None or gene.upper() != "CYP2D6":  # other genes' letters are names (DPYD *2A)
        return f"*{name}"
    if m["suffix"]:
        notes.append(f"Aldy's *{name} read as *{m['core']} (Aldy's suffix {m['suffix']}: "
                     "legacy letter or CYP2D7 exon-9 variant of that allele)")
        return f"*{m['core']}"
    return f"*{name}"


def _aldy_major(major: str, gene: str, notes: list[str]) -> str:
    haps = []
    for hap in major.split("/"):
        parts = hap.split("+")
        novel = [p for p in parts if p and not p.startswith("*")]
        if novel:
            raise Unresolved(f"possible novel allele ({hap}: added functional variant(s) "
                             f"{', '.join(novel)})")
        haps.append("+".join(_aldy_token(p, gene, notes) for p in parts))
    return "/".join(haps)


def _parse_aldy(data: bytes, where: str) -> Parsed:
    """Aldy's default output (aldy/diplotype.py OUTPUT_COLS; README "Output"): one row per
    variant of each solution; ``#Solution N: ...; gene=...; cpic=...`` before each solution."""
    out = Parsed([], skip_unknown_genes=True)
    # (sample, gene) -> solution id -> (first line, major, the #Solution line before it)
    solutions: dict[tuple[str, str], dict[str, tuple[int, str, str]]] = {}
    comment = ""
    header: list[str] | None = None
    for i, ln in enumerate(_lines(_text(data, where)), 1):
        if not ln.strip():
            continue
        if ln.startswith("#Sample"):
            header = ln[1:].split("\t")
            continue
        m = _ALDY_SOLUTION.match(ln)
        if m:
            comment = m["text"]
            continue
        if ln.startswith("#"):
            continue
        cols = ln.split("\t")
        if header is None or len(cols) < 5:
            out.errors.append((f"line {i}", i, NotationError(
                "not a row of Aldy's output", "pass Aldy's output file as written")))
            continue
        sample, gene, sol, major = cols[0], cols[1], cols[2], cols[3]
        solutions.setdefault((sample, gene), {}).setdefault(sol, (i, major, comment))
    for (sample, gene), sols in solutions.items():
        order = sorted(sols, key=lambda x: int(x) if x.isdigit() else 0)
        first_line = min(v[0] for v in sols.values())
        notes: list[str] = []
        quality = [("solutions", str(len(sols)))]
        for sid in order:
            for part in sols[sid][2].split(";")[1:]:
                k, _, v = part.strip().partition("=")
                if k in ("gene", "cpic", "cpic_score") and v:
                    key = {"gene": "gene database", "cpic": "Aldy phenotype",
                           "cpic_score": "Aldy activity score"}[k]
                    if (key, v) not in quality:
                        quality.append((key, v))
        raw = Raw(f"line {first_line}", first_line, sample, gene, quality=quality, notes=notes)
        try:
            raw.diplotypes = [_aldy_major(sols[s][1], gene, notes) for s in order]
        except Unresolved as u:
            raw.no_result = f"Aldy: {u.reason}"
        out.raws.append(raw)
    if header is None:
        raise FormatError("not Aldy's output: no '#Sample Gene SolutionID Major ...' header",
                          path=where, hint="pass Aldy's output file as written (Aldy writes "
                                           "nothing for a gene it cannot call)")
    return out


def _parse_stellarpgx(data: bytes, where: str) -> Parsed:
    """A StellarPGx per-sample ``.alleles`` file (README "Expected output"): a banner naming
    the gene, then ``Result:``, ``Activity score:`` and ``Metaboliser status:`` sections. The
    file names no sample."""
    text = _text(data, where)
    lines = _lines(text)
    out = Parsed([], unnamed_sample=True)
    gene = None
    sections: dict[str, tuple[int, str]] = {}
    current: str | None = None
    for i, ln in enumerate(lines, 1):
        s = ln.strip()
        m = re.match(r"^(\S+) Star Allele Calling with StellarPGx$", s)
        if m:
            gene = m[1].upper()
            continue
        if s.endswith(":") and not s.startswith("-"):
            current = s[:-1]
            continue
        if s and current and current not in sections:
            sections[current] = (i, s)
    if gene is None:
        raise FormatError("no 'GENE Star Allele Calling with StellarPGx' banner", path=where,
                          hint="pass a StellarPGx .alleles file as written")
    if "Result" not in sections:
        raise FormatError("no 'Result:' section", path=where,
                          hint="pass a StellarPGx .alleles file as written")
    line, result = sections["Result"]
    quality: list[tuple[str, str]] = [
        (k, sections[k][1]) for k in ("Initially computed CN", "Activity score",
                                      "Metaboliser status") if k in sections]
    cn = re.search(r"Initially computed CN = (\S+)", text)
    if cn:
        quality = [("Initially computed CN", cn[1]), *quality]
    raw = Raw(f"line {line}", line, None, gene, quality=quality)
    if result.lower() in ("no_call", "nocall", "no call", "none"):
        raw.no_result = f"StellarPGx: no call ({result})"
    elif result.startswith("["):
        raw.no_result = (f"StellarPGx: {result} is bracketed: a possible novel allele or "
                         "sub-allele; StellarPGx asks for expert review")
    else:
        raw.diplotypes = [result]
    out.raws.append(raw)
    return out


def _parse_pypgx(data: bytes, where: str) -> Parsed:
    """A PyPGx ``results.zip`` (pypgx.sdk.Archive: ``metadata.txt`` with Gene, Assembly and
    SemanticType ``SampleTable[Results]``; ``data.tsv`` indexed by sample with Genotype,
    Phenotype, Haplotype1, Haplotype2, AlternativePhase, VariantData, CNV)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = {Path(n).name: n for n in z.namelist()}
            if "metadata.txt" not in members or "data.tsv" not in members:
                raise FormatError("a ZIP file without metadata.txt and data.tsv", path=where,
                                  hint="pass PyPGx's results.zip as written")
            meta_text = z.read(members["metadata.txt"]).decode("utf-8")
            table = z.read(members["data.tsv"]).decode("utf-8")
    except (zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise FormatError(f"not a readable ZIP archive ({e})", path=where,
                          hint="pass PyPGx's results.zip as written") from e
    meta = dict(ln.partition("=")[::2] for ln in meta_text.splitlines() if "=" in ln)
    if meta.get("SemanticType") != "SampleTable[Results]":
        raise FormatError(f"PyPGx archive of type {meta.get('SemanticType')!r}", path=where,
                          hint="pass the results.zip of run-ngs-pipeline or "
                               "combine-results (SampleTable[Results])")
    gene = meta.get("Gene", "")
    out = Parsed([], details=[(k, v) for k, v in meta.items() if k in ("Gene", "Assembly")])
    rows = list(_tsv_rows(table))
    if not rows:
        raise FormatError("data.tsv is empty", path=where)
    head = rows[0][1]
    need = ("Genotype", "Phenotype", "AlternativePhase", "CNV")
    if not all(c in head for c in need):
        raise FormatError("data.tsv lacks Genotype/Phenotype/AlternativePhase/CNV columns",
                          path=where, hint="pass PyPGx's results.zip as written")
    for i, cols in rows[1:]:
        rec = dict(zip(head, cols, strict=False))
        sample = cols[0]
        where_i = f"data.tsv line {i}"
        quality = [(k, rec[k]) for k in ("CNV", "AlternativePhase") if rec.get(k)]
        if rec.get("Phenotype"):
            quality.append(("PyPGx phenotype", rec["Phenotype"]))
        raw = Raw(where_i, 0, sample, gene, quality=quality)
        g = rec.get("Genotype", "")
        if g in ("", "nan", "Indeterminate"):
            raw.no_result = f"PyPGx: no call (Genotype {g or 'empty'})"
        else:
            raw.diplotypes = [g]
        out.raws.append(raw)
    return out


def _hla_gene(locus: str) -> str:
    locus = locus.strip().upper()
    return locus if locus.startswith("HLA-") else f"HLA-{locus}"


def _parse_optitype(data: bytes, where: str) -> Parsed:
    """OptiType's ``*_result.tsv`` (PharmCAT docs/using/Calling-HLA.md; OptiType README): a
    header ``<tab>A1 A2 B1 B2 C1 C2 Reads Objective`` and one row per solution (several with
    ``--enumerate``, best first). The file names no sample."""
    rows = list(_tsv_rows(_text(data, where)))
    if not rows or tuple(rows[0][1][1:7]) != _OPTITYPE_COLS:
        raise FormatError("not an OptiType result: the header must be <tab>A1 A2 B1 B2 C1 C2 "
                          "Reads Objective", path=where, line=rows[0][0] if rows else None,
                          hint="pass OptiType's *_result.tsv as written")
    head = rows[0][1]
    out = Parsed([], unnamed_sample=True)
    sols = [(i, dict(zip(head, cols, strict=False))) for i, cols in rows[1:]]
    if not sols:
        raise FormatError("OptiType's result holds no solution", path=where)
    for locus in ("A", "B", "C"):
        line = sols[0][0]
        quality = [(k, sols[0][1].get(k, "")) for k in ("Reads", "Objective")]
        raw = Raw(f"line {line}", line, None, _hla_gene(locus), quality=quality)
        pairs = [(r.get(f"{locus}1", ""), r.get(f"{locus}2", "")) for _, r in sols]
        if any(not a or not b for a, b in pairs[:1]):
            raw.no_result = f"OptiType: no {locus} allele typed"
        else:
            raw.diplotypes = list(dict.fromkeys(f"{a}/{b}" for a, b in pairs))
            if len(pairs) > 1:
                raw.quality.append(("solutions", str(len(pairs))))
        out.raws.append(raw)
    return out


def _g_group(allele: str, notes: list[str]) -> str:
    if allele.upper().endswith("G"):
        plain = allele[:-1]
        notes.append(f"G group {allele} read as {plain} (alleles of a G group share exons 2-3;"
                     " another allele of the group is possible)")
        return plain
    return allele


def _parse_hlala(data: bytes, where: str) -> Parsed:
    """HLA*LA's ``R1_bestguess_G.txt`` (README "Interpreting the output"): one row per locus
    and chromosome (1 or 2); alleles at G-group resolution; Q1 a quality between 0 and 1;
    perfectG 1 when the call translates to a G group perfectly. The file names no sample."""
    rows = list(_tsv_rows(_text(data, where)))
    if not rows or tuple(rows[0][1][:4]) != _HLALA_COLS:
        raise FormatError("not an HLA*LA R1_bestguess_G.txt: the header must start Locus, "
                          "Chromosome, Allele, Q1", path=where,
                          line=rows[0][0] if rows else None,
                          hint="pass HLA*LA's R1_bestguess_G.txt as written")
    head = rows[0][1]
    out = Parsed([], unnamed_sample=True, skip_unknown_genes=True)
    by_locus: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for i, cols in rows[1:]:
        rec = dict(zip(head, cols, strict=False))
        by_locus.setdefault(rec.get("Locus", ""), []).append((i, rec))
    for locus, recs in by_locus.items():
        line = recs[0][0]
        notes: list[str] = []
        quality = [(f"chromosome {r.get('Chromosome', '?')} {k}", r.get(k, ""))
                   for _, r in recs for k in ("Q1", "AverageCoverage", "proportionkMersCovered",
                                              "perfectG") if r.get(k, "") != ""]
        raw = Raw(f"line {line}", line, None, _hla_gene(locus), quality=quality, notes=notes)
        alleles = [r.get("Allele", "") for _, r in recs]
        chroms = sorted(r.get("Chromosome", "") for _, r in recs)
        if chroms != ["1", "2"]:
            raw.no_result = f"HLA*LA: {locus} has chromosome rows {chroms}, not 1 and 2"
        elif any(r.get("perfectG", "1") != "1" for _, r in recs):
            raw.no_result = (f"HLA*LA: the {locus} call has no perfect translation to a G "
                             "group (perfectG 0)")
        elif any(";" in a or not a for a in alleles):
            raw.no_result = f"HLA*LA: {locus} is ambiguous ({' / '.join(alleles)})"
        else:
            raw.diplotypes = ["/".join(_g_group(a, notes) for a in alleles)]
            if any(r.get("proportionkMersCovered", "1") not in ("1", "1.0") for _, r in recs):
                notes.append("HLA*LA proportionkMersCovered below 1 (README: usually 1; may "
                             "indicate a novel allele)")
        out.raws.append(raw)
    return out


def _parse_arcashla(data: bytes, where: str) -> Parsed:
    """arcasHLA's ``genotype.json`` (locus -> one or two alleles; one allele is arcasHLA's
    homozygous call) or ``arcasHLA merge``'s ``genotypes.json`` (sample -> that object)."""
    try:
        doc = json.loads(_text(data, where))
    except json.JSONDecodeError as e:
        raise FormatError(f"not valid JSON ({e.msg})", path=where, line=e.lineno,
                          hint="pass arcasHLA's genotype.json as written") from e
    if not isinstance(doc, dict) or not all(isinstance(v, list | dict) for v in doc.values()):
        raise FormatError("arcasHLA JSON must map loci to allele lists (or samples to such "
                          "maps)", path=where, hint="pass arcasHLA's genotype.json as written")
    merged = all(isinstance(v, dict) for v in doc.values())
    out = Parsed([], unnamed_sample=not merged, skip_unknown_genes=True)
    samples: dict[str | None, Any] = dict(doc) if merged else {None: doc}
    for sample, loci in samples.items():
        for locus, alleles in loci.items():
            key = f"{'sample ' + repr(sample) + ', ' if sample else ''}locus {locus!r}"
            raw = Raw(key, 0, sample, _hla_gene(locus))
            if not isinstance(alleles, list) or not all(isinstance(a, str) for a in alleles):
                out.errors.append((key, 0, NotationError("not a list of alleles",
                                                         "pass arcasHLA's JSON as written")))
                continue
            if not alleles:
                raw.no_result = f"arcasHLA: no {locus} allele typed"
            elif len(alleles) == 1:
                raw.diplotypes = [f"{alleles[0]}/{alleles[0]}"]
                raw.notes.append(f"arcasHLA lists one {locus} allele: its homozygous call")
            elif len(alleles) == 2:
                raw.diplotypes = ["/".join(alleles)]
            else:
                raw.no_result = f"arcasHLA: {len(alleles)} {locus} alleles ({', '.join(alleles)})"
            out.raws.append(raw)
    return out


_PARSERS: dict[str, Callable[[bytes, str], Parsed]] = {
    "pharmcat": _parse_pharmcat,
    "cyrius": _parse_cyrius,
    "dragen-cyp2d6": lambda d, w: _parse_cyrius(d, w, "DRAGEN CYP2D6 caller"),
    "cyrius-tsv": lambda d, w: _parse_cyrius(d, w, "Cyrius/DRAGEN"),
    "aldy": _parse_aldy,
    "stellarpgx": _parse_stellarpgx,
    "pypgx": _parse_pypgx,
    "optitype": _parse_optitype,
    "hla-la": _parse_hlala,
    "arcashla": _parse_arcashla,
}
