"""Typed knowledge-base model: what every later stage reads, and nothing reads behind its back.

A gene definition is the PharmCAT-style table: positions (columns) x named alleles (rows).
The first allele is the reference named allele and defines every position; a `None` cell in another
allele means "the reference allele's sequence here". Cells of SNV positions may be IUPAC codes.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pgxguard.alleles import sort_key
from pgxguard.errors import KnowledgeBaseError

Build = Literal["GRCh37", "GRCh38"]
BUILDS: tuple[Build, ...] = ("GRCh37", "GRCh38")
SCHEMA_VERSION = 2

IUPAC: dict[str, frozenset[str]] = {
    "A": frozenset("A"), "C": frozenset("C"), "G": frozenset("G"), "T": frozenset("T"),
    "R": frozenset("AG"), "Y": frozenset("CT"), "S": frozenset("GC"), "W": frozenset("AT"),
    "K": frozenset("GT"), "M": frozenset("AC"), "B": frozenset("CGT"), "D": frozenset("AGT"),
    "H": frozenset("ACT"), "V": frozenset("ACG"), "N": frozenset("ACGT"),
}


def canonical_chrom(chrom: str) -> str:
    """`chr1`, `1`, `CHR1` -> `1`; `chrM`, `MT`, `M` -> `M`, so both naming styles match."""
    c = chrom.strip()
    if c.lower().startswith("chr"):
        c = c[3:]
    c = c.upper()
    if c == "MT":
        c = "M"
    return c


@dataclass(frozen=True, slots=True)
class Position:
    """One column of a definition table: a locus, its reference sequence, known alternatives."""

    chrom: str
    pos: int
    ref: str
    alts: tuple[str, ...]
    rsid: str | None = None
    label: str | None = None
    # Other spellings of the same variant ((pos, ref, alt) -> alt here), e.g. an indel
    # written right-shifted, taken from the source's synonym table.
    synonyms: tuple[tuple[int, str, str, str], ...] = ()
    # False when this build's coordinate was interpolated (GRCh37 positions between checked
    # variants of the same offset): its reference base is unconfirmed, so --assume-reference
    # never fills it and a VCF REF that disagrees makes it missing.
    ref_confirmed: bool = True

    @property
    def key(self) -> str:
        return f"{self.chrom}:{self.pos}:{self.ref}"

    @property
    def is_snv(self) -> bool:
        return len(self.ref) == 1 and all(len(a) == 1 for a in self.alts)

    @property
    def end(self) -> int:
        return self.pos + len(self.ref) - 1


@dataclass(frozen=True, slots=True)
class NamedAllele:
    name: str
    cells: tuple[str | None, ...]
    function: str | None = None
    activity: float | None = None


@dataclass(frozen=True, slots=True)
class GeneDefinition:
    gene: str
    build: Build
    chrom: str
    positions: tuple[Position, ...]
    alleles: tuple[NamedAllele, ...]
    # Named alleles defined by structural variation or copy number: never called from SNVs/indels.
    structural_alleles: tuple[str, ...] = ()
    # "X" (haploid in males, G6PD) or "M" (mitochondrial, always haploid); None for autosomes.
    haploid_chrom: str | None = None
    # Gene rule: "lowest_function" for DPYD and RYR1 (see design.md), None otherwise.
    rule: str | None = None
    unknown_alt_as_reference: bool = False
    source: str = ""
    # Genes the published CPIC/DPWG sources do not cover (from pypgx): research use only, no
    # clinical guidance, left out of the default gene set and of clinical reports.
    research: bool = False
    # PharmCAT's exemptions: positions that must have data, else no call (NAT2).
    required_positions: tuple[int, ...] = ()
    # Positions of the source build that have no coordinate on this build (GRCh37): every
    # result on this build lists them as missing; alleles defined only there are not assessed.
    unmapped_positions: tuple[str, ...] = ()
    unmapped_alleles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.alleles:
            raise KnowledgeBaseError(f"{self.gene}: definition has no named alleles")
        ref = self.alleles[0]
        if len(ref.cells) != len(self.positions) or any(c is None for c in ref.cells):
            raise KnowledgeBaseError(
                f"{self.gene} ({self.build}): the reference allele {ref.name!r} must define every "
                "position", hint="fix the definition source and rebuild the knowledge base")
        for a in self.alleles:
            if len(a.cells) != len(self.positions):
                raise KnowledgeBaseError(
                    f"{self.gene} ({self.build}): allele {a.name!r} has {len(a.cells)} cells for "
                    f"{len(self.positions)} positions")

    @property
    def reference_allele(self) -> str:
        return self.alleles[0].name

    @property
    def allele_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.alleles)

    def allele(self, name: str) -> NamedAllele:
        for a in self.alleles:
            if a.name == name:
                return a
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class PhenotypeRow:
    """One row of a published diplotype -> phenotype table (CPIC, via PharmCAT)."""

    alleles: tuple[str, ...]  # two allele names (one for a haploid row), sorted by sort_key
    phenotype: str
    activity_score: str | None  # as published: "1.25", "≥4.0"; None for non-activity genes
    lookup_key: str  # the key CPIC's recommendations are filed under


def row_key(alleles: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(sorted(alleles, key=sort_key))


@dataclass(frozen=True, slots=True)
class PhenotypeRules:
    """A gene's published function and phenotype tables.

    `method` is "activity" when the source gives activity values (CYP2C9, CYP2D6, DPYD): the
    lookup key is then the activity score; otherwise "diplotype" (the key is the phenotype).
    """

    gene: str
    method: Literal["diplotype", "activity"]
    rows: tuple[PhenotypeRow, ...] = ()
    functions: dict[str, str] = field(default_factory=dict)  # allele -> function, as published
    activity_values: dict[str, str] = field(default_factory=dict)  # allele -> value, as published
    source: str = ""  # file and version the table came from
    _index: dict[tuple[str, ...], PhenotypeRow] = field(default_factory=dict, repr=False,
                                                         compare=False)

    def __post_init__(self) -> None:
        index = self._index
        index.clear()
        for r in self.rows:
            k = r.alleles
            # row_key(k), inlined: ~50,000 rows are keyed on every knowledge-base load, almost
            # all two names already in order (a stable sort of two keeps them unless the
            # second sorts strictly first).
            if len(k) == 2:
                if sort_key(k[1]) < sort_key(k[0]):
                    k = (k[1], k[0])
            else:
                k = row_key(k)
            old = index.get(k)
            if old is not None and old != r:
                raise KnowledgeBaseError(
                    f"{self.gene}: phenotype table lists {'/'.join(k)} twice with different "
                    "results", hint="fix the phenotype source and rebuild the knowledge base")
            index[k] = r

    def lookup(self, alleles: tuple[str, ...] | list[str]) -> PhenotypeRow | None:
        return self._index.get(row_key(alleles))

    @property
    def terms(self) -> tuple[str, ...]:
        """The gene's phenotype vocabulary (every term its table uses)."""
        return tuple(sorted({r.phenotype for r in self.rows}))

    def score_phenotypes(self) -> dict[str, str]:
        """Activity genes: published score -> phenotype (one phenotype per score)."""
        return {r.activity_score: r.phenotype for r in self.rows if r.activity_score is not None}


@dataclass(frozen=True, slots=True)
class GeneDrug:
    gene: str
    drug: str
    rxnorm: str | None
    atc: tuple[str, ...]
    guideline: str | None
    cpic_level: str | None


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    version: str
    licence: str
    url: str
    sha256: str = ""
    commit: str = ""
    date: str = ""
    attribution: str = ""


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    version: str
    sources: tuple[Source, ...]
    definitions: dict[str, dict[str, GeneDefinition]]  # gene -> build -> definition
    phenotypes: dict[str, PhenotypeRules] = field(default_factory=dict)
    gene_drugs: tuple[GeneDrug, ...] = ()
    # Genes known only through outside calls (e.g. HLA-A, HLA-B): name -> function per allele.
    outside_only_genes: tuple[str, ...] = ()
    allele_functions: dict[str, dict[str, str]] = field(default_factory=dict)
    allele_activity: dict[str, dict[str, float]] = field(default_factory=dict)
    # Known limits of the sources, stated with every result (e.g. older phenotype tables).
    limits: tuple[str, ...] = ()

    @property
    def genes(self) -> tuple[str, ...]:
        return tuple(sorted(self.definitions))

    def definition(self, gene: str, build: str) -> GeneDefinition:
        try:
            return self.definitions[gene][build]
        except KeyError as e:
            raise KnowledgeBaseError(
                f"no {build} definition for {gene} in knowledge base {self.version}",
                hint=f"known genes: {', '.join(self.genes)}") from e

    @property
    def clinical_genes(self) -> tuple[str, ...]:
        """Genes defined from the published clinical sources (not research-use genes)."""
        return tuple(g for g in self.genes
                     if not next(iter(self.definitions[g].values())).research)

    def provenance(self) -> dict[str, Any]:
        return {"version": self.version, "sources": [asdict(s) for s in self.sources],
                "limits": list(self.limits)}

    # --- serialisation -----------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        body = {
            "schema": SCHEMA_VERSION,
            "version": self.version,
            "sources": [asdict(s) for s in self.sources],
            "definitions": {
                g: {b: _gene_to_json(d) for b, d in sorted(by.items())}
                for g, by in sorted(self.definitions.items())
            },
            "phenotypes": {g: _pheno_to_json(p) for g, p in sorted(self.phenotypes.items())},
            "gene_drugs": [asdict(x) for x in self.gene_drugs],
            "outside_only_genes": list(self.outside_only_genes),
            "allele_functions": self.allele_functions,
            "allele_activity": self.allele_activity,
            "limits": list(self.limits),
        }
        body["checksum"] = content_checksum(body)
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any], *, origin: str = "<knowledge base>",
                  text: str | None = None) -> KnowledgeBase:
        """Check the schema and checksum, then build the model.

        `text` is the JSON `data` was parsed from, when known: the checksum is then checked on
        it directly (`checksum_matches_text`), which is much cheaper than re-serialising `data`;
        a text written any other way than `snapshot_bytes` falls back to re-serialising.
        """
        if data.get("schema") != SCHEMA_VERSION:
            raise KnowledgeBaseError(
                f"knowledge base schema {data.get('schema')!r}, expected {SCHEMA_VERSION}",
                path=origin, hint="rebuild it with `pgxguard kb build`")
        if not checksum_ok(data, text):
            raise KnowledgeBaseError(
                "knowledge base checksum mismatch: the snapshot was altered or truncated",
                path=origin, hint="rebuild it with `pgxguard kb build` or reinstall pgxguard")
        try:
            return cls(
                version=data["version"],
                sources=tuple(Source(**s) for s in data["sources"]),
                definitions={
                    g: {b: _gene_from_json(d) for b, d in by.items()}
                    for g, by in data["definitions"].items()
                },
                phenotypes={g: _pheno_from_json(p) for g, p in data["phenotypes"].items()},
                gene_drugs=tuple(
                    GeneDrug(**{**x, "atc": tuple(x["atc"])}) for x in data["gene_drugs"]),
                outside_only_genes=tuple(data.get("outside_only_genes", ())),
                allele_functions=data.get("allele_functions", {}),
                allele_activity=data.get("allele_activity", {}),
                limits=tuple(data.get("limits", ())),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise KnowledgeBaseError(f"malformed knowledge base: {e}", path=origin,
                                     hint="rebuild it with `pgxguard kb build`") from e


def content_checksum(body: dict[str, Any]) -> str:
    blob = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def _json_ascii(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: non-ASCII characters as `json.dumps(ensure_ascii=True)` writes them
    (backslash-u and four hex digits, surrogate pairs above U+FFFF), so `str.encode` escapes
    a text at C speed."""
    assert isinstance(err, UnicodeEncodeError)
    out = []
    for ch in err.object[err.start:err.end]:
        n = ord(ch)
        if n < 0x10000:
            out.append(f"\\u{n:04x}")
        else:
            n -= 0x10000
            out.append(f"\\u{0xD800 | (n >> 10) & 0x3FF:04x}\\u{0xDC00 | n & 0x3FF:04x}")
    return "".join(out), err.end


_JSON_ASCII = "pgxguard.json-ascii"
codecs.register_error(_JSON_ASCII, _json_ascii)


def checksum_matches_text(text: str, expected: str) -> bool:
    """Whether a snapshot's JSON text, as `snapshot_bytes` writes it, hashes to `expected`.

    That text is the sorted, compact JSON of the body with the `"checksum"` member in it, and
    with non-ASCII characters (and DEL) unescaped: without that member and with them escaped,
    it is exactly what `content_checksum` hashes, so no re-serialisation is needed. False
    (never a wrong True) for a text written any other way: the caller then re-serialises.
    """
    member = f',"checksum":"{expected}"'
    i = text.find(member)
    if i < 0:
        return False
    digest = hashlib.sha256()
    for part in (text[:i], text[i + len(member):]):
        if "\x7f" in part:  # ASCII, but escaped by ensure_ascii=True all the same
            part = part.replace("\x7f", "\\u007f")
        digest.update(part.encode("ascii", _JSON_ASCII))
    return digest.hexdigest() == expected


def checksum_ok(data: dict[str, Any], text: str | None = None) -> bool:
    """Whether `data`'s `"checksum"` is the `content_checksum` of the rest of it.

    Checked on `text` (the JSON `data` was parsed from) when it was written canonically,
    else by re-serialising `data`.
    """
    expected = data.get("checksum")
    if text is not None and isinstance(expected, str) and checksum_matches_text(text, expected):
        return True
    body = {k: v for k, v in data.items() if k != "checksum"}
    return bool(expected == content_checksum(body))


def _gene_to_json(d: GeneDefinition) -> dict[str, Any]:
    return {
        "gene": d.gene, "build": d.build, "chrom": d.chrom, "source": d.source,
        "positions": [
            {"chrom": p.chrom, "pos": p.pos, "ref": p.ref, "alts": list(p.alts), "rsid": p.rsid,
             "label": p.label, "synonyms": [list(s) for s in p.synonyms],
             "ref_confirmed": p.ref_confirmed}
            for p in d.positions
        ],
        "alleles": [
            {"name": a.name, "cells": list(a.cells), "function": a.function, "activity": a.activity}
            for a in d.alleles
        ],
        "structural_alleles": list(d.structural_alleles),
        "haploid_chrom": d.haploid_chrom,
        "rule": d.rule,
        "unknown_alt_as_reference": d.unknown_alt_as_reference,
        "research": d.research,
        "required_positions": list(d.required_positions),
        "unmapped_positions": list(d.unmapped_positions),
        "unmapped_alleles": list(d.unmapped_alleles),
    }


def _gene_from_json(d: dict[str, Any]) -> GeneDefinition:
    return GeneDefinition(
        gene=d["gene"], build=d["build"], chrom=d["chrom"], source=d.get("source", ""),
        positions=tuple(
            Position(chrom=p["chrom"], pos=int(p["pos"]), ref=p["ref"], alts=tuple(p["alts"]),
                     rsid=p.get("rsid"), label=p.get("label"),
                     synonyms=tuple((int(s[0]), s[1], s[2], s[3]) for s in p.get("synonyms", ())),
                     ref_confirmed=bool(p.get("ref_confirmed", True)))
            for p in d["positions"]
        ),
        alleles=tuple(
            NamedAllele(name=a["name"], cells=tuple(a["cells"]), function=a.get("function"),
                        activity=a.get("activity"))
            for a in d["alleles"]
        ),
        structural_alleles=tuple(d.get("structural_alleles", ())),
        haploid_chrom=d.get("haploid_chrom"),
        rule=d.get("rule"),
        unknown_alt_as_reference=bool(d.get("unknown_alt_as_reference", False)),
        research=bool(d.get("research", False)),
        required_positions=tuple(int(x) for x in d.get("required_positions", ())),
        unmapped_positions=tuple(d.get("unmapped_positions", ())),
        unmapped_alleles=tuple(d.get("unmapped_alleles", ())),
    )


def _pheno_to_json(p: PhenotypeRules) -> dict[str, Any]:
    return {"gene": p.gene, "method": p.method, "source": p.source,
            "functions": p.functions, "activity_values": p.activity_values,
            "rows": [[list(r.alleles), r.phenotype, r.activity_score, r.lookup_key]
                     for r in p.rows]}


def _pheno_from_json(p: dict[str, Any]) -> PhenotypeRules:
    return PhenotypeRules(
        gene=p["gene"], method=p["method"], source=p.get("source", ""),
        functions=dict(p.get("functions", {})), activity_values=dict(p.get("activity_values", {})),
        rows=tuple(PhenotypeRow(alleles=tuple(r[0]), phenotype=r[1], activity_score=r[2],
                                lookup_key=r[3]) for r in p.get("rows", ())))
