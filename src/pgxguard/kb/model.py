"""Typed knowledge-base model: what every later stage reads, and nothing reads behind its back.

A gene definition is the PharmCAT-style table: positions (columns) x named alleles (rows).
The first allele is the reference named allele and defines every position; a `None` cell in another
allele means "the reference allele's sequence here". Cells of SNV positions may be IUPAC codes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from pgxguard.errors import KnowledgeBaseError

Build = Literal["GRCh37", "GRCh38"]
BUILDS: tuple[Build, ...] = ("GRCh37", "GRCh38")
SCHEMA_VERSION = 1

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
class ActivityRange:
    """`low <= score < high` (high None: unbounded; low == high: exactly that score)."""

    phenotype: str
    low: float
    high: float | None
    inclusive_high: bool = False

    def contains(self, score: float) -> bool:
        if self.high is None:
            return score >= self.low
        if self.inclusive_high:
            return self.low <= score <= self.high
        return self.low <= score < self.high


@dataclass(frozen=True, slots=True)
class PhenotypeRules:
    gene: str
    method: Literal["diplotype", "activity"]
    # Diplotype table: "A/B" with names sorted (see alleles.sort_key) -> phenotype term.
    diplotypes: dict[str, str] = field(default_factory=dict)
    activity_ranges: tuple[ActivityRange, ...] = ()


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

    def provenance(self) -> dict[str, Any]:
        return {"version": self.version, "sources": [asdict(s) for s in self.sources]}

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
        }
        body["checksum"] = content_checksum(body)
        return body

    @classmethod
    def from_json(cls, data: dict[str, Any], *, origin: str = "<knowledge base>") -> KnowledgeBase:
        if data.get("schema") != SCHEMA_VERSION:
            raise KnowledgeBaseError(
                f"knowledge base schema {data.get('schema')!r}, expected {SCHEMA_VERSION}",
                path=origin, hint="rebuild it with `pgxguard kb build`")
        expected = data.get("checksum")
        body = {k: v for k, v in data.items() if k != "checksum"}
        if expected != content_checksum(body):
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
            )
        except (KeyError, TypeError, ValueError) as e:
            raise KnowledgeBaseError(f"malformed knowledge base: {e}", path=origin,
                                     hint="rebuild it with `pgxguard kb build`") from e


def content_checksum(body: dict[str, Any]) -> str:
    blob = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def _gene_to_json(d: GeneDefinition) -> dict[str, Any]:
    return {
        "gene": d.gene, "build": d.build, "chrom": d.chrom, "source": d.source,
        "positions": [
            {"chrom": p.chrom, "pos": p.pos, "ref": p.ref, "alts": list(p.alts), "rsid": p.rsid,
             "label": p.label, "synonyms": [list(s) for s in p.synonyms]}
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
    }


def _gene_from_json(d: dict[str, Any]) -> GeneDefinition:
    return GeneDefinition(
        gene=d["gene"], build=d["build"], chrom=d["chrom"], source=d.get("source", ""),
        positions=tuple(
            Position(chrom=p["chrom"], pos=int(p["pos"]), ref=p["ref"], alts=tuple(p["alts"]),
                     rsid=p.get("rsid"), label=p.get("label"),
                     synonyms=tuple((int(s[0]), s[1], s[2], s[3]) for s in p.get("synonyms", ())))
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
    )


def _pheno_to_json(p: PhenotypeRules) -> dict[str, Any]:
    return {"gene": p.gene, "method": p.method, "diplotypes": p.diplotypes,
            "activity_ranges": [asdict(r) for r in p.activity_ranges]}


def _pheno_from_json(p: dict[str, Any]) -> PhenotypeRules:
    return PhenotypeRules(
        gene=p["gene"], method=p["method"], diplotypes=dict(p.get("diplotypes", {})),
        activity_ranges=tuple(ActivityRange(**r) for r in p.get("activity_ranges", ())))
