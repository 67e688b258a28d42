"""Load PharmCAT-format allele definitions (`*_translation.json`) into `GeneDefinition`s.

This lets a laboratory plug in newer or local allele definitions without code changes.

The PharmCAT format (formatVersion 2), as far as this loader reads it::

    {
      "gene": "TPMT", "chromosome": "chr6", "genomeBuild": "GRCh38.p13",
      "variants": [                        # the positions (table columns), in order
        {"chromosome": "chr6", "position": 18130687,   # VCF POS (indels: the anchor base)
         "cpicPosition": 18130687,                     # HGVS position (indels: first changed base)
         "rsid": "rs1142345", "chromosomeHgvsName": "g.18130687T>C; g.18130687T>G",
         "ref": "T", "alts": ["C", "G"],               # VCF-style REF / ALTs
         "cpicAlleles": ["C", "G", "T"], "cpicToVcfAlleleMap": {"C": "C", ...}},
        ...],
      "namedAlleles": [                    # the table rows
        {"name": "*1", "id": "...", "reference": true, "structuralVariant": false,
         "alleles": ["T", ...],            # VCF-style cells, null = "as the reference allele"
         "cpicAlleles": ["T", ...]},       # CPIC-style cells ("delG", "insT", IUPAC codes)
        ...]
    }

Indels: `position`/`ref`/`alts` and the named alleles' `alleles` cells are already VCF-style
(a deletion is `ref: "TG", alts: ["T"]` at the anchor base; cells "TG" / "T"). Files without
`alleles` cells are read from `cpicAlleles` through each variant's `cpicToVcfAlleleMap`
(`"delG" -> "T"`); IUPAC cells of SNV positions are kept as they are.

Gene rules that PharmCAT keeps outside the definition files (exemptions, design.md) are applied
by gene symbol: DPYD and RYR1 use the lowest-function rule; an unknown ALT is read as reference
for CACNA1S, DPYD, G6PD, NUDT15, RYR1 and TPMT; genes on chrX are haploid on X (males), genes on
chrM always haploid.

Named alleles flagged `structuralVariant` are not SNV/indel-callable: they are listed in
`GeneDefinition.structural_alleles` and left out of the allele table.

Every problem with a file raises `KnowledgeBaseError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pgxguard.errors import KnowledgeBaseError
from pgxguard.kb.model import IUPAC, Build, GeneDefinition, NamedAllele, Position, canonical_chrom

__all__ = ["definition_from_json", "load_pharmcat_definition", "load_pharmcat_definitions",
           "parse_build"]

FILE_GLOB = "*_translation.json"
LOWEST_FUNCTION_GENES = frozenset({"DPYD", "RYR1"})
UNKNOWN_ALT_AS_REFERENCE_GENES = frozenset({"CACNA1S", "DPYD", "G6PD", "NUDT15", "RYR1", "TPMT"})

_HINT = "fix or remove the file; it must be a PharmCAT *_translation.json allele definition"
_BASES = re.compile(r"^[ACGTN]+$")
_BUILDS: tuple[tuple[tuple[str, ...], Build], ...] = (
    (("grch38", "b38", "hg38", "38"), "GRCh38"),
    (("grch37", "b37", "hg19", "37"), "GRCh37"),
)


def parse_build(value: str) -> Build | None:
    """`GRCh38.p13`, `GRCh38`, `b38`, `hg38` -> `GRCh38` (same for 37/hg19); else None."""
    v = value.strip().lower()
    for spellings, build in _BUILDS:
        for s in spellings:
            if v == s or (v.startswith(s) and not v[len(s)].isdigit()):
                return build
    return None


def load_pharmcat_definitions(directory: str | Path) -> dict[str, GeneDefinition]:
    """Read every `*_translation.json` in `directory` (not recursive): gene symbol -> definition."""
    d = Path(directory)
    if not d.is_dir():
        raise KnowledgeBaseError(
            "PharmCAT definition directory not found or not a directory", path=str(d),
            hint="give the folder holding the *_translation.json files")
    files = sorted(p for p in d.glob(FILE_GLOB) if p.is_file())
    if not files:
        raise KnowledgeBaseError(
            f"no PharmCAT definition files ({FILE_GLOB}) in this directory", path=str(d),
            hint="give the folder holding the *_translation.json files")
    out: dict[str, GeneDefinition] = {}
    seen_in: dict[str, Path] = {}
    for f in files:
        gd = load_pharmcat_definition(f)
        if gd.gene in out:
            raise KnowledgeBaseError(
                f"gene {gd.gene} is defined twice: here and in {seen_in[gd.gene].name}",
                path=str(f), hint="keep one definition file per gene")
        out[gd.gene] = gd
        seen_in[gd.gene] = f
    return out


def load_pharmcat_definition(path: str | Path) -> GeneDefinition:
    """Read one PharmCAT `*_translation.json` file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise KnowledgeBaseError(f"cannot read file: {e.strerror or e}", path=str(p),
                                 hint=_HINT) from e
    except UnicodeDecodeError as e:
        raise KnowledgeBaseError("file is not UTF-8 text", path=str(p), hint=_HINT) from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise KnowledgeBaseError(f"invalid JSON: {e.msg}", path=str(p), line=e.lineno,
                                 hint=_HINT) from e
    return _Parser(p).gene(data)


def definition_from_json(data: Any, origin: str | Path) -> GeneDefinition:
    """Parse an already-read `*_translation.json` document (`origin` names it in errors)."""
    return _Parser(Path(origin)).gene(data)


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, message: str) -> KnowledgeBaseError:
        return KnowledgeBaseError(message, path=str(self.path), hint=_HINT)

    def get(self, obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
        if key not in obj:
            raise self.fail(f"{where}: missing key {key!r}")
        value = obj[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.fail(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
        return value

    # --- file --------------------------------------------------------------------------------

    def gene(self, data: Any) -> GeneDefinition:
        if not isinstance(data, dict):
            raise self.fail("the top level must be a JSON object")
        gene = self.get(data, "gene", str, "file").strip()
        if not gene:
            raise self.fail("file: 'gene' is empty")
        raw_build = self.get(data, "genomeBuild", str, gene)
        build = parse_build(raw_build)
        if build is None:
            raise self.fail(
                f"{gene}: unknown genomeBuild {raw_build!r} (expected GRCh37 or GRCh38)")
        chrom = canonical_chrom(self.get(data, "chromosome", str, gene))
        if not chrom:
            raise self.fail(f"{gene}: 'chromosome' is empty")

        variants = self.get(data, "variants", list, gene)
        if not variants:
            raise self.fail(f"{gene}: 'variants' is empty (a definition needs positions)")
        positions = [self.position(v, i, gene, chrom) for i, v in enumerate(variants)]
        seen: dict[tuple[int, str], int] = {}
        for i, pos in enumerate(positions):
            k = (pos.pos, pos.ref)
            if k in seen:
                raise self.fail(f"{gene}: variants[{i}] repeats variants[{seen[k]}] "
                                f"({pos.chrom}:{pos.pos} {pos.ref})")
            seen[k] = i

        named = self.get(data, "namedAlleles", list, gene)
        if not named:
            raise self.fail(f"{gene}: 'namedAlleles' is empty")
        alleles: list[NamedAllele] = []
        structural: list[str] = []
        reference_index: int | None = None
        names: set[str] = set()
        for i, a in enumerate(named):
            allele, is_ref, is_sv = self.named_allele(a, i, gene, variants, positions)
            if allele.name in names:
                raise self.fail(f"{gene}: named allele {allele.name!r} is defined twice")
            names.add(allele.name)
            if is_ref:
                if reference_index is not None:
                    raise self.fail(
                        f"{gene}: more than one named allele is flagged reference "
                        f"({alleles[reference_index].name!r} and {allele.name!r})")
                if is_sv:
                    raise self.fail(f"{gene}: the reference allele {allele.name!r} cannot be "
                                    "a structural variant")
                reference_index = len(alleles)
            if is_sv:
                structural.append(allele.name)
            else:
                alleles.append(allele)
        if not alleles:
            raise self.fail(f"{gene}: no named allele defined by SNVs or indels")
        ref_at = reference_index if reference_index is not None else 0
        ref_allele = alleles[ref_at]
        missing = [positions[j].key for j, c in enumerate(ref_allele.cells) if c is None]
        if missing:
            raise self.fail(f"{gene}: the reference allele {ref_allele.name!r} has no cell at "
                            f"{', '.join(missing)} (it must define every position)")
        ordered = (ref_allele, *alleles[:ref_at], *alleles[ref_at + 1:])

        haploid = chrom if chrom in ("X", "M") else None
        return GeneDefinition(
            gene=gene, build=build, chrom=chrom, positions=tuple(positions), alleles=ordered,
            structural_alleles=tuple(structural), haploid_chrom=haploid,
            rule="lowest_function" if gene in LOWEST_FUNCTION_GENES else None,
            unknown_alt_as_reference=gene in UNKNOWN_ALT_AS_REFERENCE_GENES,
            source=f"PharmCAT definition file {self.path.name}")

    # --- columns ------------------------------------------------------------------------------

    def position(self, v: Any, i: int, gene: str, chrom: str) -> Position:
        where = f"{gene} variants[{i}]"
        if not isinstance(v, dict):
            raise self.fail(f"{where}: must be a JSON object")
        vchrom = v.get("chromosome")
        if vchrom is not None:
            if not isinstance(vchrom, str):
                raise self.fail(f"{where}: 'chromosome' has the wrong type")
            if canonical_chrom(vchrom) != chrom:
                raise self.fail(f"{where}: chromosome {vchrom!r} differs from the gene's "
                                f"chromosome {chrom!r}")
        pos = self.get(v, "position", int, where)
        if pos < 1:
            raise self.fail(f"{where}: position {pos} must be >= 1")
        ref = self.get(v, "ref", str, where).upper()
        if not _BASES.match(ref):
            raise self.fail(f"{where}: ref {ref!r} is not a DNA sequence (A, C, G, T, N)")
        raw_alts = self.get(v, "alts", list, where)
        alts: list[str] = []
        for alt in raw_alts:
            if not isinstance(alt, str) or not _BASES.match(alt.upper()):
                raise self.fail(f"{where}: alt {alt!r} is not a DNA sequence (A, C, G, T, N)")
            if alt.upper() == ref or alt.upper() in alts:
                raise self.fail(f"{where}: alt {alt!r} repeats the ref or another alt")
            alts.append(alt.upper())
        rsid = v.get("rsid")
        if rsid is not None and not isinstance(rsid, str):
            raise self.fail(f"{where}: 'rsid' has the wrong type")
        label = v.get("chromosomeHgvsName")
        if label is not None and not isinstance(label, str):
            raise self.fail(f"{where}: 'chromosomeHgvsName' has the wrong type")
        return Position(chrom=chrom, pos=pos, ref=ref, alts=tuple(alts), rsid=rsid or None,
                        label=label or None)

    # --- rows ---------------------------------------------------------------------------------

    def named_allele(self, a: Any, i: int, gene: str, variants: list[Any],
                     positions: list[Position]) -> tuple[NamedAllele, bool, bool]:
        where = f"{gene} namedAlleles[{i}]"
        if not isinstance(a, dict):
            raise self.fail(f"{where}: must be a JSON object")
        name = self.get(a, "name", str, where).strip()
        if not name:
            raise self.fail(f"{where}: 'name' is empty")
        where = f"{gene} named allele {name!r}"
        is_ref = a.get("reference", False)
        is_sv = a.get("structuralVariant", False)
        if not isinstance(is_ref, bool) or not isinstance(is_sv, bool):
            raise self.fail(f"{where}: 'reference' and 'structuralVariant' must be true or false")
        if a.get("alleles") is not None:
            raw = self.get(a, "alleles", list, where)
            from_cpic = False
        elif a.get("cpicAlleles") is not None:
            raw = self.get(a, "cpicAlleles", list, where)
            from_cpic = True
        else:
            raise self.fail(f"{where}: missing key 'alleles' (the definition cells)")
        if len(raw) != len(positions):
            raise self.fail(f"{where}: {len(raw)} cells for {len(positions)} variants "
                            "(cell count mismatch)")
        cells: list[str | None] = []
        for j, cell in enumerate(raw):
            if cell is None:
                cells.append(None)
                continue
            if not isinstance(cell, str) or not cell.strip():
                raise self.fail(f"{where}: cell {j + 1} ({cell!r}) must be a string or null")
            pos = positions[j]
            value = cell.strip()
            if from_cpic:
                value = self.cpic_to_vcf(value, variants[j], pos, where)
            cells.append(self.cell(value.upper(), pos, where))
        return NamedAllele(name=name, cells=tuple(cells)), is_ref, is_sv

    def cpic_to_vcf(self, value: str, variant: dict[str, Any], pos: Position, where: str) -> str:
        mapping = variant.get("cpicToVcfAlleleMap") or {}
        if not isinstance(mapping, dict):
            raise self.fail(f"{where}: 'cpicToVcfAlleleMap' of {pos.key} must be an object")
        mapped = mapping.get(value)
        if isinstance(mapped, str):
            return mapped
        if pos.is_snv and value.upper() in IUPAC:
            return value
        raise self.fail(f"{where}: CPIC allele {value!r} at {pos.key} has no VCF spelling in "
                        "'cpicToVcfAlleleMap'")

    def cell(self, value: str, pos: Position, where: str) -> str:
        if value == pos.ref or value in pos.alts:
            return value
        if pos.is_snv and len(value) == 1 and value in IUPAC:
            if len(IUPAC[value]) == 1:
                raise self.fail(f"{where}: base {value!r} at {pos.key} is neither the ref nor "
                                f"an alt ({', '.join(pos.alts) or 'none'})")
            return value
        raise self.fail(f"{where}: cell {value!r} at {pos.key} is neither the ref nor an alt "
                        f"({', '.join(pos.alts) or 'none'})"
                        + ("" if pos.is_snv else "; IUPAC codes are allowed only at SNVs"))
