"""Typed, saveable results of the call stage (matcher + phenotyper).

The JSON form is the contract in design.md; `CallResult.from_json` reads it back so later stages
(review, report, service) start from a saved call without re-running the matcher.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgxguard.errors import InputError

RESULT_FORMAT = "pgxguard.call/1"


def origin_label(origin: dict[str, str] | None) -> str | None:
    """'Cyrius 1.1.1' from a call's origin (a version stated by the user drops its note)."""
    if not origin:
        return None
    version = origin.get("version", "").split(" (")[0]
    return f"{origin.get('caller', 'outside caller')} {version}".strip()


@dataclass(frozen=True, slots=True)
class GeneCall:
    gene: str
    # Each diplotype is a list of allele names (two, or one for a haploid call); ties best first;
    # empty for no call.
    diplotypes: tuple[tuple[str, ...], ...] = ()
    # Lowest-function genes (DPYD, RYR1) with unphased data: variants found (homozygous twice).
    variants: tuple[str, ...] = ()
    phenotype: str | None = None
    activity_score: float | None = None
    missing_positions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # Where the call came from: "vcf", "outside" (an outside-call TSV) or "none".
    source: str = "vcf"
    phased: bool = False
    # Matcher score of the reported diplotypes; None when a gene rule chose a diplotype that is
    # not the top-scoring one (NAT2 priorities) or nothing was matched.
    score: int | None = None
    # Named alleles that need structural-variant / copy-number data the input cannot show.
    not_assessed: tuple[str, ...] = ()
    # Per-diplotype phenotypes when ties disagree (same order as diplotypes).
    phenotypes: tuple[str | None, ...] = ()
    # Whole-gene copy number read from the input (FORMAT/CN) and used in the call; None if not.
    copy_number: int | None = None
    # When a gene rule chose one diplotype (NAT2 unphased priorities), the other diplotypes the
    # genotypes fit.
    alternatives: tuple[tuple[str, ...], ...] = ()
    # The key CPIC files recommendations under (the phenotype, or the activity score as published:
    # "1.25", "≥4.0"); None when not determinate (no phenotype, or ties that disagree).
    lookup_key: str | None = None
    # An outside call read from a caller's own output: caller, version, file, SHA-256, line
    # and the caller's quality/filter fields, as written (None for other calls).
    origin: dict[str, str] | None = None

    @property
    def called(self) -> bool:
        return bool(self.diplotypes) or bool(self.variants) or self.phenotype is not None

    def origin_label(self) -> str | None:
        """'Cyrius 1.1.1' (the caller alone when no version is known); None for other calls."""
        return origin_label(self.origin)

    def diplotype_text(self) -> str:
        """TSV form: `*1/*2`, ties joined by ` | `."""
        return " | ".join("/".join(d) for d in self.diplotypes)

    def to_json(self) -> dict[str, Any]:
        return {
            "gene": self.gene,
            "diplotypes": [list(d) for d in self.diplotypes],
            "variants": list(self.variants),
            "phenotype": self.phenotype,
            "activity_score": self.activity_score,
            "missing_positions": list(self.missing_positions),
            "warnings": list(self.warnings),
            "source": self.source,
            "phased": self.phased,
            "score": self.score,
            "not_assessed": list(self.not_assessed),
            "phenotypes": list(self.phenotypes),
            "copy_number": self.copy_number,
            "alternatives": [list(d) for d in self.alternatives],
            "lookup_key": self.lookup_key,
            "origin": self.origin,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GeneCall:
        return cls(
            gene=d["gene"],
            diplotypes=tuple(tuple(x) for x in d.get("diplotypes", [])),
            variants=tuple(d.get("variants", [])),
            phenotype=d.get("phenotype"),
            activity_score=d.get("activity_score"),
            missing_positions=tuple(d.get("missing_positions", [])),
            warnings=tuple(d.get("warnings", [])),
            source=d.get("source", "vcf"),
            phased=bool(d.get("phased", False)),
            score=d.get("score"),
            not_assessed=tuple(d.get("not_assessed", [])),
            phenotypes=tuple(d.get("phenotypes", [])),
            copy_number=d.get("copy_number"),
            alternatives=tuple(tuple(x) for x in d.get("alternatives", [])),
            lookup_key=d.get("lookup_key"),
            origin=d.get("origin"),
        )


@dataclass(frozen=True, slots=True)
class SampleCall:
    sample: str
    genes: tuple[GeneCall, ...]
    sex: str | None = None

    def gene(self, name: str) -> GeneCall:
        for g in self.genes:
            if g.gene == name:
                return g
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {"sample": self.sample, "sex": self.sex,
                "genes": [g.to_json() for g in self.genes]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SampleCall:
        return cls(sample=d["sample"], sex=d.get("sex"),
                   genes=tuple(GeneCall.from_json(g) for g in d["genes"]))


@dataclass(frozen=True, slots=True)
class CallResult:
    knowledge_base: dict[str, Any]
    samples: tuple[SampleCall, ...]
    tool: dict[str, Any] = field(default_factory=dict)
    build: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    input: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def sample(self, name: str) -> SampleCall:
        for s in self.samples:
            if s.sample == name:
                return s
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RESULT_FORMAT,
            "knowledge_base": self.knowledge_base,
            "tool": self.tool,
            "build": self.build,
            "options": self.options,
            "input": self.input,
            "warnings": list(self.warnings),
            "samples": [s.to_json() for s in self.samples],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any], *, origin: str = "<calls>") -> CallResult:
        fmt = d.get("format")
        if fmt != RESULT_FORMAT:
            raise InputError(
                f"calls file has format {fmt!r}, this pgxguard reads {RESULT_FORMAT!r}",
                path=origin, hint="re-run `pgxguard call` with this version")
        try:
            return cls(
                knowledge_base=d["knowledge_base"], tool=d.get("tool", {}), build=d.get("build"),
                options=d.get("options", {}), input=d.get("input", {}),
                warnings=tuple(d.get("warnings", [])),
                samples=tuple(SampleCall.from_json(s) for s in d["samples"]))
        except (KeyError, TypeError) as e:
            raise InputError(f"malformed calls file: missing {e}", path=origin,
                             hint="pass a JSON file written by `pgxguard call`") from e

    @classmethod
    def load(cls, path: str | Path) -> CallResult:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError as e:
            raise InputError("file not found", path=str(p)) from e
        except json.JSONDecodeError as e:
            raise InputError(f"not valid JSON ({e.msg})", path=str(p), line=e.lineno,
                             hint="pass a JSON file written by `pgxguard call`") from e
        return cls.from_json(data, origin=str(p))


__all__ = ["RESULT_FORMAT", "CallResult", "GeneCall", "SampleCall", "origin_label"]
