"""Compile the clinical knowledge base from CPIC's and DPWG's published sources.

Run as ``pgxguard kb build [--sources DIR] [--wheel PATH] [-o PATH]`` or
``python -m pgxguard.kb.build``. Inputs:

* the kb-sources tree (`kb/sources.py`): PharmCAT's allele definition files, CPIC's function and
  phenotype tables, guideline annotations (compiled separately by `guidance/build.py`), curated
  messages, CPIC's change log; every file checked against `FILES.tsv` (commit, date, SHA-256);
* the pinned pypgx 0.27.0 wheel (MIT), only where the published sources are silent: GRCh37
  coordinates of the same variants, MT-RNR1 positions, and research genes without guidance.

Rules (each one tested; `docs/semantics.md` explains them to users):

1. **Definitions (GRCh38)**: every ``pharmcat/definitions/*_translation.json`` as published
   (`kb/pharmcat.py`: reference named allele first, VCF-style cells, IUPAC codes kept), then
   PharmCAT's ``exemptions.json``: ``ignoredAlleles`` are removed; ``ignoredPositions`` (input
   variants PharmCAT ignores, G6PD and RYR1) need nothing more, as those genes read an unknown
   ALT as reference (noted); ``requiredPositions`` are kept as
   `GeneDefinition.required_positions`. ``extraPositions`` are not used for calling (noted).
2. **Phenotypes**: every ``pharmcat/phenotype/*.json``: allele functions (``haplotypes``), activity
   values, and every diplotype row (alleles from ``diplotypekey``, so names holding ``/`` are
   safe) with its phenotype, activity score and lookup key, kept as published. Checked: the
   activity score of every row whose alleles all have a numeric activity value is their sum; a row
   with an ``n/a`` allele is ``Indeterminate``; each published score has one phenotype.
3. **Consistency**: every allele a phenotype table names must be defined, be a copy-number form
   (``*1x2``, ``*1x≥3``) or core name (SLCO1B1 ``*45`` of ``*45.001``) of a defined allele, be
   ignored by the exemptions, or be listed in `PHENOTYPE_ONLY` below with the reason it cannot
   be called from a VCF; anything else is a `KnowledgeBaseError`. Those alleles are reported as
   *not assessed* in every call of the gene. Defined alleles missing from the phenotype table
   have no function: their diplotypes get no phenotype (listed in the build notes).
4. **GRCh37**: each GRCh38 position is mapped through pypgx's variant table (same variant on
   both builds: position, REF and ALT checked; a REF that differs between builds, as at CYP2C19
   rs3758581, is taken from GRCh37). Positions pypgx does not list are placed by the gene's
   GRCh38-GRCh37 offset only when they lie between two checked positions with the same offset
   (no assembly difference between them); their GRCh37 REF is unconfirmed
   (`Position.ref_confirmed` False: a disagreeing VCF REF makes them missing and
   --assume-reference never fills them). Other positions are not placed: they are listed in
   `GeneDefinition.unmapped_positions` and every GRCh37 result lists them as missing; alleles
   defined only there are `unmapped_alleles` (not assessed).
5. **MT-RNR1** has guidance and a CPIC phenotype table but no definition file: its positions come
   from pypgx (both builds), its allele names must equal the CPIC table's.
6. **Research genes**: pypgx's other genes, ``research=True``, no phenotype, left out of the
   default gene set ("research use: no clinical guidance").
7. ``gene_drugs`` (ATC and RxNorm codes of CPIC gene-drug pairs, for medicine names) come from
   pypgx's ``cpic-table.csv``; ``outside_only_genes`` are the genes guidance is keyed on without a
   definition (HLA-A, HLA-B) plus pypgx's genes without definitions.
8. ``version`` = ``<schema>.<first 8 hex of the content digest>+cpic-<newest source date>``,
   derived from the content, so the same sources give the same snapshot byte for byte.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pgxguard.alleles import sort_alleles
from pgxguard.errors import KnowledgeBaseError
from pgxguard.kb.model import (
    SCHEMA_VERSION,
    GeneDefinition,
    KnowledgeBase,
    NamedAllele,
    PhenotypeRow,
    PhenotypeRules,
    Position,
    Source,
    content_checksum,
    row_key,
)
from pgxguard.kb.pharmcat import definition_from_json
from pgxguard.kb.pypgx import (
    PYPGX_LICENCE,
    PYPGX_URL,
    PYPGX_VERSION,
    PYPGX_WHEEL_SHA256,
    Row,
    Variant,
    parse_variant,
    read_pypgx,
)
from pgxguard.kb.sources import SourceTree
from pgxguard.snapshot import snapshot_bytes as _snapshot_bytes
from pgxguard.snapshot import write_snapshot_file

__all__ = ["DEFAULT_SNAPSHOT", "PHENOTYPE_ONLY", "build_knowledge_base", "compile_sources",
           "main", "snapshot_bytes", "write_snapshot"]

log = logging.getLogger(__name__)

DEFAULT_SNAPSHOT = Path(__file__).parent / "data" / "pgxguard-kb.json.gz"
DEFINITIONS = "pharmcat/definitions/"
PHENOTYPES = "pharmcat/phenotype/"
EXEMPTIONS = "pharmcat/definitions/exemptions.json"
MT_RNR1 = "MT-RNR1"

# Alleles CPIC's phenotype tables name that the allele definition files (2025-11-19) do not
# define by SNVs/indels, reviewed one by one. They cannot be called from a VCF (only from an
# outside call) and are reported as not assessed. A new such allele fails the build until it is
# reviewed here.
_SV = "structural variant (deletion, duplication or hybrid): needs a copy-number or outside call"
_NOT_DEFINED = ("named by CPIC's function table but not defined in PharmCAT's definition file: "
                "only an outside call can report it")
PHENOTYPE_ONLY: dict[str, dict[str, str]] = {
    "CYP2B6": {"*29": _SV, "*30": _SV},
    "CYP2C19": {"*36": _SV, "*37": _SV},
    "CYP2D6": {"*5": _SV, "*13": _SV, "*61": _SV, "*63": _SV, "*68": _SV},
    "G6PD": {"Villeurbanne": _NOT_DEFINED},
    "SLCO1B1": {"*48": _NOT_DEFINED, "*49": _NOT_DEFINED},
}
# Names spelt differently in the two files of one gene (phenotype table -> definition file).
RENAMED: dict[str, dict[str, str]] = {"G6PD": {"Telti/Kobe": "Telti, Kobe"}}

LIMITS = (
    "Guidance is the 2024-05-29 publication of CPIC and DPWG guideline annotations; CPIC "
    "updates after it are flagged per drug from CPIC's change log (check cpicpgx.org).",
    "The CYP2D6 (2024-08-27), RYR1 (2023-12-19) and G6PD (2023-08-08) phenotype tables are older "
    "than their definition files: alleles defined later have no function here, so diplotypes "
    "with them get no phenotype.",
    "HLA-A and HLA-B have guidance but no definitions: outside calls only.",
    "GRCh37 coordinates come from pypgx 0.27.0's variant table or, between two checked variants, "
    "from the gene's GRCh38-GRCh37 offset; positions with neither are listed as missing on "
    "GRCh37.",
)

_COPIES = re.compile(r"^(?P<base>.+?)x(?P<n>\d+|\u2265\d+)$")
_SUBALLELE = re.compile(r"^(?P<core>\*\d+)\.\d+$")


# --- definitions ---------------------------------------------------------------------------------


def apply_exemptions(d: GeneDefinition, ex: dict[str, Any], notes: list[str]) -> GeneDefinition:
    """Rule 1: PharmCAT's ignored alleles / ignored positions / required positions."""
    ignored = set(ex.get("ignoredAlleles") or ())
    unknown = ignored - set(d.allele_names)
    if unknown:
        notes.append(f"{d.gene}: exemptions ignore {sorted(unknown)}, which the definition file "
                     "does not name (nothing to remove)")
    alleles = [a for a in d.alleles if a.name not in ignored]
    for p in ex.get("ignoredPositions") or ():
        # Input variants PharmCAT ignores (a deletion overlapping a defined SNV, a non-defining
        # SNP); not definition columns. Unknown ALTs read as reference for these genes anyway.
        if not d.unknown_alt_as_reference:
            raise KnowledgeBaseError(f"{d.gene}: ignored input variant at {p.get('position')} "
                                     "for a gene that does not read unknown ALTs as reference",
                                     path=EXEMPTIONS, hint="extend pgxguard to ignore it")
        notes.append(f"{d.gene}: PharmCAT ignores input variant {p.get('chromosome')}:"
                     f"{p.get('position')} {p.get('ref')}>{','.join(p.get('alts') or ())}; "
                     "read here as reference (unknown ALT rule)")
    required = tuple(int(x) for x in ex.get("requiredPositions") or ())
    missing_req = [r for r in required if r not in {p.pos for p in d.positions}]
    if missing_req:
        raise KnowledgeBaseError(f"{d.gene}: required positions {missing_req} are not "
                                 "definition positions", path=EXEMPTIONS)
    if ignored & set(d.allele_names):
        notes.append(f"{d.gene}: exemptions remove alleles {sorted(ignored)}")
    if ex.get("extraPositions"):
        notes.append(f"{d.gene}: {len(ex['extraPositions'])} extra position(s) of PharmCAT's "
                     "exemptions (reported by PharmCAT, not used for calling) are not read")
    return replace(d, alleles=tuple(alleles), required_positions=required)


# --- phenotype tables ----------------------------------------------------------------------------


def _score(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def phenotype_rules(doc: Any, rel: str, version: str) -> PhenotypeRules:
    """Rule 2 for one phenotype file, with its internal checks."""
    if not isinstance(doc, dict) or not isinstance(doc.get("gene"), str):
        raise KnowledgeBaseError("not a phenotype file (no 'gene')", path=rel)
    gene = doc["gene"]
    functions = doc.get("haplotypes") or {}
    values = doc.get("activityValues") or {}
    if not isinstance(functions, dict) or not isinstance(values, dict):
        raise KnowledgeBaseError(f"{gene}: 'haplotypes'/'activityValues' must be objects",
                                 path=rel)
    rows: list[PhenotypeRow] = []
    for n, r in enumerate(doc.get("diplotypes") or (), start=1):
        where = f"{gene} diplotypes[{n}]"
        key = r.get("diplotypekey")
        if not isinstance(key, dict) or not key:
            raise KnowledgeBaseError(f"{where}: no 'diplotypekey'", path=rel)
        alleles: list[str] = []
        for name, count in key.items():
            if count not in (1, 2):
                raise KnowledgeBaseError(f"{where}: allele count {count!r}", path=rel)
            alleles += [name] * count
        if len(alleles) not in (1, 2):
            raise KnowledgeBaseError(f"{where}: {len(alleles)} alleles", path=rel)
        unknown = [a for a in alleles if a not in functions]
        if unknown:
            raise KnowledgeBaseError(f"{where}: alleles {unknown} have no function in the file's "
                                     "own function table", path=rel)
        phen, look = r.get("generesult"), r.get("lookupkey")
        if not isinstance(phen, str) or not isinstance(look, str):
            raise KnowledgeBaseError(f"{where}: missing generesult or lookupkey", path=rel)
        score = r.get("activityScore")
        if values:
            if not isinstance(score, str):
                raise KnowledgeBaseError(f"{where}: activity gene row without activityScore",
                                         path=rel)
            vals = [values.get(a) for a in alleles]
            nums = [_score(v) for v in vals]
            if any(v == "n/a" for v in vals):
                if phen != "Indeterminate":
                    raise KnowledgeBaseError(f"{where}: an n/a allele but phenotype {phen!r}",
                                             path=rel)
            elif all(x is not None for x in nums):
                total = sum(x for x in nums if x is not None)
                if _score(score) is None or abs(total - float(score)) > 1e-9:
                    raise KnowledgeBaseError(f"{where}: activity score {score} is not the sum "
                                             f"of {vals}", path=rel)
        else:
            score = None
        rows.append(PhenotypeRow(alleles=row_key(alleles), phenotype=phen, activity_score=score,
                                 lookup_key=look))
    rules = PhenotypeRules(gene=gene, method="activity" if values else "diplotype",
                           rows=tuple(rows), functions={k: str(v) for k, v in functions.items()},
                           activity_values={k: str(v) for k, v in values.items()},
                           source=f"{rel} ({version})")
    seen: dict[str, str] = {}
    for r in rules.rows:
        if r.activity_score is not None and seen.setdefault(r.activity_score,
                                                            r.phenotype) != r.phenotype:
            raise KnowledgeBaseError(f"{gene}: activity score {r.activity_score} has phenotypes "
                                     f"{seen[r.activity_score]!r} and {r.phenotype!r}", path=rel)
    return rules


def phenotype_only_alleles(d: GeneDefinition, rules: PhenotypeRules,
                           ignored: set[str]) -> tuple[str, ...]:
    """Rule 3: the table's alleles that cannot be called from a VCF; unknown ones are errors."""
    defined = set(d.allele_names) | set(d.structural_alleles)
    cores = {m.group("core") for n in defined if (m := _SUBALLELE.match(n))}
    renamed = RENAMED.get(d.gene, {})
    reviewed = PHENOTYPE_ONLY.get(d.gene, {})
    out: list[str] = []
    unexplained: list[str] = []

    def known(name: str) -> bool:
        return name in defined or name in cores or renamed.get(name) in defined

    for name in rules.functions:
        if known(name) or name in ignored:
            continue
        m = _COPIES.match(name)
        if m and (known(m.group("base")) or m.group("base") in reviewed):
            continue
        if name in reviewed:
            out.append(name)
            continue
        unexplained.append(name)
    if unexplained:
        raise KnowledgeBaseError(
            f"{d.gene}: the phenotype table names alleles no definition names: "
            f"{sorted(unexplained)}",
            hint="review them and list them in pgxguard/kb/build.py PHENOTYPE_ONLY (with the "
                 "reason they cannot be called) or RENAMED, then rebuild")
    stale = set(reviewed) - set(rules.functions)
    if stale:
        raise KnowledgeBaseError(f"{d.gene}: PHENOTYPE_ONLY lists {sorted(stale)}, which the "
                                 "phenotype table no longer names", hint="remove them")
    return tuple(sort_alleles(out))


def rename_rows(rules: PhenotypeRules) -> PhenotypeRules:
    """Apply `RENAMED` so table rows use the definition file's spelling."""
    ren = RENAMED.get(rules.gene)
    if not ren:
        return rules
    rows = tuple(replace(r, alleles=row_key([ren.get(a, a) for a in r.alleles]))
                 for r in rules.rows)
    funcs = {ren.get(k, k): v for k, v in rules.functions.items()}
    vals = {ren.get(k, k): v for k, v in rules.activity_values.items()}
    return replace(rules, rows=rows, functions=funcs, activity_values=vals)


# --- GRCh37 --------------------------------------------------------------------------------------


def lift_index(tables: dict[str, list[Row]]) -> dict[Variant, Variant]:
    """pypgx's variant table: the same variant on GRCh38 -> its GRCh37 spelling."""
    out: dict[Variant, Variant] = {}
    for r in tables["variant-table"]:
        n37, n38 = (r.get("GRCh37Name") or "").strip(), (r.get("GRCh38Name") or "").strip()
        if n37 and n38 and "N/A" not in (n37, n38):
            out[parse_variant(n38, where="variant-table")] = parse_variant(
                n37, where="variant-table")
    return out


def lift_definition(d: GeneDefinition, lift: dict[Variant, Variant],
                    notes: list[str]) -> GeneDefinition:
    """Rule 4: the GRCh37 definition of a GRCh38 definition."""
    placed: dict[int, Position] = {}
    offsets: dict[int, int] = {}
    for i, p in enumerate(d.positions):
        hits = [lift.get((p.chrom, p.pos, p.ref, a)) for a in p.alts]
        found = [h for h in hits if h is not None]
        if not found or len({(h[1], h[2]) for h in found}) != 1:
            continue
        pos37, ref37 = found[0][1], found[0][2]
        if p.is_snv:
            if len(ref37) != 1:
                continue
            alts = tuple(sorted({p.ref, *p.alts} - {ref37}))
            placed[i] = replace(p, pos=pos37, ref=ref37, alts=alts, synonyms=())
        elif len(found) == len(p.alts) and all(h[2] == p.ref for h in found) and \
                [h[3] for h in found] == list(p.alts):
            placed[i] = replace(p, pos=pos37, synonyms=())  # same spelling, shifted
        else:
            continue
        offsets[i] = p.pos - pos37
    mapped = sorted(offsets)
    interpolated = 0
    for i, p in enumerate(d.positions):
        if i in placed:
            continue
        before = [k for k in mapped if d.positions[k].pos < p.pos]
        after = [k for k in mapped if d.positions[k].pos > p.pos]
        if before and after and offsets[before[-1]] == offsets[after[0]]:
            placed[i] = replace(p, pos=p.pos - offsets[before[-1]], synonyms=(),
                                ref_confirmed=False)
            interpolated += 1
    keep = sorted(placed)
    dropped = [i for i in range(len(d.positions)) if i not in placed]
    unmapped_alleles: list[str] = []
    alleles: list[NamedAllele] = []
    ref_cells = d.alleles[0].cells
    for k, a in enumerate(d.alleles):
        own = [i for i, c in enumerate(a.cells) if c is not None and c != ref_cells[i]]
        if k and own and all(i in dropped for i in own):
            unmapped_alleles.append(a.name)
            continue
        alleles.append(replace(a, cells=tuple(a.cells[i] for i in keep)))
    if dropped:
        notes.append(f"{d.gene} (GRCh37): {len(mapped)} positions checked in pypgx's variant "
                     f"table, {interpolated} placed by offset, {len(dropped)} not placed; "
                     f"{len(unmapped_alleles)} alleles defined only there")
    return replace(
        d, build="GRCh37", positions=tuple(placed[i] for i in keep), alleles=tuple(alleles),
        unmapped_positions=tuple(f"GRCh38 {d.chrom}:{d.positions[i].pos} "
                                 f"({d.positions[i].rsid or d.positions[i].ref})"
                                 for i in dropped),
        unmapped_alleles=tuple(unmapped_alleles),
        required_positions=tuple(placed[i].pos for i in keep
                                 if d.positions[i].pos in d.required_positions),
        source=f"{d.source}; GRCh37 coordinates via pypgx {PYPGX_VERSION}")


# --- assembly ------------------------------------------------------------------------------------


def _file_source(tree: SourceTree, rel: str) -> Source:
    info = tree.info(rel)
    licence, url, attribution = info.licence
    return Source(name=rel, version=f"{info.date} {info.commit[:10]}", licence=licence, url=url,
                  sha256=info.sha256, commit=info.commit, date=info.date,
                  attribution=attribution)


def compile_sources(tree: SourceTree, pypgx_kb: KnowledgeBase, tables: dict[str, list[Row]],
                    *, wheel_sha256: str = PYPGX_WHEEL_SHA256,
                    notes: list[str] | None = None) -> KnowledgeBase:
    """Apply the rules of the module docstring."""
    notes = [] if notes is None else notes
    exemptions = tree.read_json(EXEMPTIONS)
    if not isinstance(exemptions, dict):
        raise KnowledgeBaseError("exemptions.json must be an object", path=EXEMPTIONS)

    phenotypes: dict[str, PhenotypeRules] = {}
    for rel in tree.listed(PHENOTYPES, ".json"):
        rules = rename_rows(phenotype_rules(tree.read_json(rel), rel,
                                            tree.info(rel).date))
        if rules.gene in phenotypes:
            raise KnowledgeBaseError(f"{rules.gene} has two phenotype files", path=rel)
        phenotypes[rules.gene] = rules

    definitions: dict[str, dict[str, GeneDefinition]] = {}
    lift = lift_index(tables)
    for rel in tree.listed(DEFINITIONS, "_translation.json"):
        d = definition_from_json(tree.read_json(rel), tree.root / rel)
        d = replace(d, source=f"{rel} ({tree.info(rel).date}, PharmCAT "
                              f"{tree.info(rel).commit[:10]})")
        if d.build != "GRCh38":
            raise KnowledgeBaseError(f"{d.gene}: expected a GRCh38 definition", path=rel)
        ex = exemptions.get(d.gene, {})
        d = apply_exemptions(d, ex, notes)
        if d.gene in phenotypes:
            only = phenotype_only_alleles(d, phenotypes[d.gene],
                                          set(ex.get("ignoredAlleles") or ()))
            d = replace(d, structural_alleles=only)
            no_function = [a for a in d.allele_names if a not in phenotypes[d.gene].functions
                           and (m := _SUBALLELE.match(a)) is None]
            no_function += [a for a in d.allele_names if (m := _SUBALLELE.match(a))
                            and m.group("core") not in phenotypes[d.gene].functions]
            if no_function:
                listed = ", ".join(sort_alleles(no_function)[:8])
                notes.append(f"{d.gene}: {len(no_function)} defined alleles have no function in "
                             f"CPIC's table (no phenotype): {listed}"
                             + (" ..." if len(no_function) > 8 else ""))
        definitions[d.gene] = {"GRCh38": d, "GRCh37": lift_definition(d, lift, notes)}

    # MT-RNR1 (rule 5)
    mt = pypgx_kb.definitions.get(MT_RNR1)
    if mt is None or MT_RNR1 not in phenotypes:
        raise KnowledgeBaseError("MT-RNR1: needs pypgx's definition and CPIC's phenotype table")
    extra = set(mt["GRCh38"].allele_names) - set(phenotypes[MT_RNR1].functions)
    if extra:
        raise KnowledgeBaseError(f"MT-RNR1: pypgx alleles {sorted(extra)} are not in CPIC's "
                                 "table")
    mt_missing = tuple(sort_alleles(set(phenotypes[MT_RNR1].functions)
                                    - set(mt["GRCh38"].allele_names)))
    definitions[MT_RNR1] = {
        b: replace(x, structural_alleles=mt_missing,
                   source=f"pypgx {PYPGX_VERSION} positions; names as CPIC's table")
        for b, x in mt.items()}
    if mt_missing:
        notes.append(f"MT-RNR1: {list(mt_missing)} in CPIC's table are not defined by pypgx "
                     "(not assessed)")

    # Research genes (rule 6)
    research = sorted(set(pypgx_kb.definitions) - set(definitions))
    for g in research:
        definitions[g] = {b: replace(x, research=True,
                                     source=f"pypgx {PYPGX_VERSION} (research use: no clinical "
                                            "guidance)")
                          for b, x in pypgx_kb.definitions[g].items()}
    unused = sorted(set(phenotypes) - set(definitions))
    if unused:
        raise KnowledgeBaseError(f"phenotype tables without definitions: {unused}")

    functions = {g: dict(r.functions) for g, r in phenotypes.items()}
    activity = {g: {a: v for a, x in r.activity_values.items() if (v := _score(x)) is not None}
                for g, r in phenotypes.items() if r.activity_values}
    outside = tuple(sorted({"HLA-A", "HLA-B"} | set(pypgx_kb.outside_only_genes)))
    sources = (*(_file_source(tree, rel) for rel in sorted(tree.read)),
               Source(name="pypgx", version=PYPGX_VERSION, licence=PYPGX_LICENCE, url=PYPGX_URL,
                      sha256=wheel_sha256,
                      attribution="GRCh37 coordinates, MT-RNR1 positions, research genes, "
                                  "medicine codes"))
    newest = max(tree.info(rel).date for rel in tree.read)
    kb = KnowledgeBase(
        version="", sources=sources, definitions=definitions, phenotypes=phenotypes,
        gene_drugs=pypgx_kb.gene_drugs, outside_only_genes=outside,
        allele_functions=functions, allele_activity=activity, limits=LIMITS)
    body = kb.to_json()
    del body["version"], body["checksum"]
    digest = content_checksum(body)
    return replace(kb, version=f"{SCHEMA_VERSION}.{digest[:8]}+cpic-{newest}")


def build_knowledge_base(sources: str | Path | None = None, wheel: Path | None = None, *,
                         notes: list[str] | None = None) -> KnowledgeBase:
    """Build the knowledge base from a kb-sources tree and the pinned pypgx wheel."""
    collected: list[str] = []
    tree = SourceTree(sources)
    pypgx_kb, tables = read_pypgx(wheel, notes=[])
    kb = compile_sources(tree, pypgx_kb, tables, notes=collected)
    for n in collected:
        log.info("%s", n)
    if notes is not None:
        notes.extend(collected)
    return kb


def snapshot_bytes(kb: KnowledgeBase) -> bytes:
    """The deterministic gzip JSON of `kb` (sorted keys, gzip mtime 0)."""
    return _snapshot_bytes(kb.to_json())


def write_snapshot(kb: KnowledgeBase, path: str | Path = DEFAULT_SNAPSHOT) -> Path:
    """Write `kb` to `path` atomically."""
    return write_snapshot_file(kb.to_json(), path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pgxguard.kb.build",
                                     description="Compile the knowledge base from kb-sources.")
    parser.add_argument("--sources", type=Path, default=None, help="the kb-sources tree")
    parser.add_argument("--wheel", type=Path, default=None, help="the pinned pypgx wheel")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_SNAPSHOT)
    args = parser.parse_args(argv)
    notes: list[str] = []
    try:
        kb = build_knowledge_base(args.sources, args.wheel, notes=notes)
        out = write_snapshot(kb, args.output)
    except KnowledgeBaseError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    print(f"wrote {out}: knowledge base {kb.version}, {len(kb.clinical_genes)} clinical genes, "
          f"{len(kb.genes) - len(kb.clinical_genes)} research genes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
