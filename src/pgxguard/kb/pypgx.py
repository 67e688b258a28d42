"""Read the pinned pypgx data tables: research genes, GRCh37 coordinates, MT-RNR1 positions.

The clinical knowledge base is built from the published CPIC/DPWG sources (`kb/build.py`);
pypgx fills only what those sources are silent on. This module converts pypgx's tables into
`GeneDefinition`s as before (rules below); `kb/build.py` takes from the result what it needs.

Source: the pypgx wheel (PyPI, MIT), pinned by version and sha256. pypgx itself is never imported;
its CSV tables (``pypgx/api/data/*.csv``) are read straight from the wheel zip. Run as
``python -m pgxguard.kb.build [--wheel PATH] [-o PATH]`` (the CLI's ``pgxguard kb build`` calls
:func:`build_knowledge_base` and :func:`write_snapshot`).

Conversion rules (for each build, GRCh37 and GRCh38):

1. Each gene of ``allele-table.csv`` with at least one allele having core variants on the build
   gets a definition. Alleles with ``SV == TRUE`` go to ``structural_alleles`` and never enter the
   table. The gene's default allele for the build (gene-table ``GRCh37Default``/``GRCh38Default``)
   is the reference named allele, placed FIRST; it must have no core variants on the build and
   defines every position with the reference sequence. If it does have core variants (the source
   contradicts itself: SULT1A1 ``*1``), the gene is left out on that build and a note is printed.
   A non-SV allele other than the default with no core variants on the build cannot be told apart
   from the reference: it is left out of the table and a note is printed.
2. Positions are the union of the core variants (``CHROM-POS-REF-ALT``, chromosome through
   :func:`canonical_chrom`, ``M`` for mitochondrial) of the alleles in the table. Core variants at
   the same POS with different REF are merged into one position whose ref is the longest REF; each
   alt is re-expressed over that span by appending the missing suffix of the longest REF
   (``C>CAT`` with ref ``CAT`` becomes ``CAT>CATAT``). A shorter REF that is not a prefix of the
   longest raises :class:`KnowledgeBaseError`. Positions are sorted by POS; alts are sorted.
   ``rsid`` (rsIDs of the merged variants, comma-joined; None when the source has none) and
   ``label`` (pypgx variant names, comma-joined) come from ``variant-table.csv``; ``synonyms``
   from its ``GRCh37Synonym``/``GRCh38Synonym`` columns, each synonym ``CHROM-POS-REF-ALT`` of a
   core variant stored as ``(syn_pos, syn_ref, syn_alt, alt as spelled at this position)``.
3. Cells: the reference allele holds the position's ref everywhere; every other allele holds the
   (re-expressed) alt at its core positions and None elsewhere. Two core variants of one allele
   at one merged position raise :class:`KnowledgeBaseError`.
4. Background completion: when the gene's nominal ``RefAllele`` differs from the build's default
   allele, has core variants on the build, and IS the default on the other build (so pypgx's
   definitions there are written relative to RefAllele), every other allele whose core on this
   build is exactly the lift of its core on the other build (via variant-table names) receives
   RefAllele's cells at the positions where it has no cell of its own (pypgx treats RefAllele's
   core as background: CYP2C19 ``*2`` on GRCh38 also carries ``*1``'s 10-94842866 G). Alleles pypgx
   re-encoded for this build (their core lists one of RefAllele's variants, or differs from the
   lift: CYP2D6 ``*10`` on GRCh37) are kept as given. When RefAllele is the default on neither
   build (NAT2, UGT2B15, ...), the definitions are relative to the genome and get no background.
   (Completing those too makes distinct alleles identical, e.g. UGT2B15 ``*4``/``*5``.)
5. Alleles with identical cells are all kept (they tie when matched); a note is printed.
6. ``NamedAllele.function``/``activity`` come from the allele table (``N/A`` -> None).
7. Flags: ``haploid_chrom`` is ``X`` for genes on chrX (G6PD) and ``M`` for mitochondrial genes
   (MT-RNR1); ``rule='lowest_function'`` for DPYD and RYR1; ``unknown_alt_as_reference`` for
   CACNA1S, DPYD, G6PD, NUDT15, RYR1 and TPMT; ``source='pypgx <version>'``.
8. Phenotypes: none (pypgx's tables are out of date; the clinical ones come from CPIC).
9. ``allele_functions``/``allele_activity``: every allele of the allele table, SV ones and genes
   without definitions included.
10. ``gene_drugs`` from ``cpic-table.csv`` (ATC codes split on ``,``; empty fields -> None);
    ``outside_only_genes`` are the genes of that table that have no definition (HLA-A, HLA-B, ...).
11. ``version`` = ``<schema>.<first 8 hex of the content digest>+pypgx-<version>``: derived from the
    compiled content, never from a date, so the same sources give the same snapshot byte for byte.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import logging
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from pgxguard.errors import KnowledgeBaseError
from pgxguard.kb.model import (
    BUILDS,
    SCHEMA_VERSION,
    Build,
    GeneDefinition,
    GeneDrug,
    KnowledgeBase,
    NamedAllele,
    Position,
    Source,
    canonical_chrom,
    content_checksum,
)

log = logging.getLogger(__name__)

PYPGX_VERSION = "0.27.0"
PYPGX_WHEEL = f"pypgx-{PYPGX_VERSION}-py3-none-any.whl"
PYPGX_WHEEL_SHA256 = "95303696c51a5d21f44f0f3771ecd142ac30f9c6c1025dcd642352fdd4544d40"
PYPGX_URL = f"https://pypi.org/project/pypgx/{PYPGX_VERSION}/"
PYPGX_LICENCE = "MIT"
DATA_PREFIX = "pypgx/api/data/"
TABLES = ("allele-table", "gene-table", "variant-table", "diplotype-table", "equation-table",
          "cpic-table")

LOWEST_FUNCTION_GENES = frozenset({"DPYD", "RYR1"})
UNKNOWN_ALT_AS_REFERENCE_GENES = frozenset({"CACNA1S", "DPYD", "G6PD", "NUDT15", "RYR1", "TPMT"})


Row = dict[str, str]
Variant = tuple[str, int, str, str]  # chrom, pos, ref, alt

_NA = ("", "N/A")
_VARIANT = re.compile(r"^([0-9A-Za-z]+)-([0-9]+)-([ACGTN]+)-([ACGTN]+)$")


def _na(value: str | None) -> str | None:
    if value is None:
        return None
    v = value.strip()
    return None if v in _NA else v


# --- reading the wheel ---------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_wheel(wheel: Path) -> str:
    """Check that `wheel` is the pinned pypgx wheel; return its sha256."""
    if not wheel.is_file():
        raise KnowledgeBaseError("pypgx wheel not found", path=str(wheel),
                                 hint=f"download it with `python -m pip download --no-deps "
                                      f"pypgx=={PYPGX_VERSION}` or omit --wheel")
    digest = sha256_file(wheel)
    if digest != PYPGX_WHEEL_SHA256:
        raise KnowledgeBaseError(
            f"sha256 {digest} differs from the pinned {PYPGX_WHEEL_SHA256} of {PYPGX_WHEEL}",
            path=str(wheel),
            hint=f"use the pypgx {PYPGX_VERSION} wheel from PyPI; a different version needs the "
                 "pins in pgxguard/kb/build.py updated and the conversion re-checked")
    return digest


def download_wheel(dest: Path) -> Path:
    """`pip download` the pinned pypgx wheel into `dest` (no dependencies) and verify it."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           f"pypgx=={PYPGX_VERSION}", "-d", str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        raise KnowledgeBaseError(f"could not run pip to download pypgx {PYPGX_VERSION}: {e}",
                                 hint="install pip, or download the wheel yourself and pass "
                                      "--wheel PATH") from e
    wheel = dest / PYPGX_WHEEL
    if proc.returncode != 0 or not wheel.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise KnowledgeBaseError(
            f"pip download of pypgx=={PYPGX_VERSION} failed: {' / '.join(tail) or 'no wheel'}",
            hint="check network access to PyPI, or download the wheel elsewhere and pass "
                 "--wheel PATH")
    verify_wheel(wheel)
    return wheel


def read_tables(wheel: Path) -> dict[str, list[Row]]:
    """The pypgx CSV tables, read from the wheel zip, as lists of row dicts."""
    tables: dict[str, list[Row]] = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            for name in TABLES:
                member = f"{DATA_PREFIX}{name}.csv"
                try:
                    raw = zf.read(member)
                except KeyError as e:
                    raise KnowledgeBaseError(f"{member} missing from the wheel",
                                             path=str(wheel)) from e
                text = raw.decode("utf-8-sig")
                tables[name] = list(csv.DictReader(io.StringIO(text, newline="")))
    except (zipfile.BadZipFile, OSError) as e:
        raise KnowledgeBaseError(f"cannot read the pypgx wheel: {e}", path=str(wheel),
                                 hint="download it again") from e
    return tables


# --- conversion ----------------------------------------------------------------------------------


def parse_variant(text: str, *, where: str) -> Variant:
    m = _VARIANT.match(text.strip())
    if not m:
        raise KnowledgeBaseError(f"{where}: cannot parse variant {text!r} (want CHROM-POS-REF-ALT)")
    return canonical_chrom(m.group(1)), int(m.group(2)), m.group(3), m.group(4)


def _variants(field: str | None, *, where: str) -> list[Variant]:
    value = _na(field)
    if value is None:
        return []
    return [parse_variant(v, where=where) for v in value.split(",") if v.strip()]


@dataclass(frozen=True, slots=True)
class _Merged:
    pos: int
    ref: str
    # original (chrom, pos, ref, alt) -> alt over the merged span
    repr: dict[Variant, str]


def _merge_positions(gene: str, build: Build, variants: set[Variant]) -> list[_Merged]:
    by_pos: dict[int, list[Variant]] = {}
    for v in variants:
        by_pos.setdefault(v[1], []).append(v)
    merged: list[_Merged] = []
    for pos in sorted(by_pos):
        group = sorted(by_pos[pos])
        longest = max((v[2] for v in group), key=len)
        reprs: dict[Variant, str] = {}
        for v in group:
            ref, alt = v[2], v[3]
            if not longest.startswith(ref):
                raise KnowledgeBaseError(
                    f"{gene} ({build}): variants at {v[0]}-{pos} have REF {ref!r} and "
                    f"{longest!r}; the shorter is not a prefix of the longer",
                    hint="the source table is inconsistent; fix it before building")
            reprs[v] = alt + longest[len(ref):]
        merged.append(_Merged(pos=pos, ref=longest, repr=reprs))
    return merged


def _build_definition(gene: str, build: Build, rows: list[Row], gene_row: Row,
                      variant_rows: dict[str, Row], lift: dict[Variant, Variant],
                      notes: list[str]) -> GeneDefinition | None:
    where = f"{gene} ({build})"
    default = gene_row[f"{build}Default"].strip()
    ref_allele = gene_row["RefAllele"].strip()
    structural = tuple(r["StarAllele"] for r in rows if r["SV"].strip().upper() == "TRUE")
    info = {r["StarAllele"]: r for r in rows}
    cores: dict[str, list[Variant]] = {}
    order: list[str] = []
    for r in rows:
        name = r["StarAllele"]
        if name in structural:
            continue
        core = _variants(r[f"{build}Core"], where=f"{where} allele {name!r}")
        if name == default:
            if core:
                notes.append(f"{where}: default allele {name!r} has core variants "
                             f"{[f'{c}-{p}-{rf}-{a}' for c, p, rf, a in core]}; it cannot be "
                             "the reference, so the gene is left out on this build")
                return None
            continue
        if not core:
            notes.append(f"{where}: allele {name!r} has no core variants on this build and "
                         f"cannot be told apart from the reference {default!r}; left out")
            continue
        if len(set(core)) != len(core):
            raise KnowledgeBaseError(f"{where}: allele {name!r} lists a core variant twice")
        cores[name] = core
        order.append(name)
    if default not in {r["StarAllele"] for r in rows}:
        raise KnowledgeBaseError(f"{where}: default allele {default!r} is not in the allele table")
    if default in structural:
        raise KnowledgeBaseError(f"{where}: default allele {default!r} is structural")

    chroms = {v[0] for core in cores.values() for v in core}
    gene_chrom = canonical_chrom(gene_row[f"{build}Region"].split(":")[0])
    if chroms != {gene_chrom}:
        raise KnowledgeBaseError(f"{where}: core variants on chromosomes {sorted(chroms)}, "
                                 f"gene region on {gene_chrom}")
    merged = _merge_positions(gene, build, {v for core in cores.values() for v in core})
    index: dict[Variant, tuple[int, str]] = {}
    for i, m in enumerate(merged):
        for v, alt in m.repr.items():
            index[v] = (i, alt)

    def cells_of(name: str) -> list[str | None]:
        cells: list[str | None] = [None] * len(merged)
        for v in cores[name]:
            i, alt = index[v]
            if cells[i] is not None:
                raise KnowledgeBaseError(
                    f"{where}: allele {name!r} has two core variants at {v[0]}-{merged[i].pos}")
            cells[i] = alt
        return cells

    table: dict[str, list[str | None]] = {name: cells_of(name) for name in order}
    other: Build = "GRCh38" if build == "GRCh37" else "GRCh37"
    if ref_allele != default and ref_allele in table:
        if gene_row[f"{other}Default"].strip() != ref_allele:
            notes.append(f"{where}: reference allele is {default!r} on both builds, not "
                         f"{ref_allele!r}; definitions are relative to the genome, no background")
        else:
            background = table[ref_allele]
            ref_core = set(cores[ref_allele])
            completed: list[str] = []
            kept: list[str] = []
            for name, cells in table.items():
                if name == ref_allele:
                    continue
                theirs = _variants(info[name][f"{other}Core"], where=f"{where} allele {name!r}")
                lifted = {lift.get(v) for v in theirs}
                if ref_core & set(cores[name]) or lifted != set(cores[name]):
                    kept.append(name)
                    continue
                completed.append(name)
                for i, b in enumerate(background):
                    if b is not None and cells[i] is None:
                        cells[i] = b
            notes.append(f"{where}: reference allele is {default!r}, not {ref_allele!r}; "
                         f"{ref_allele!r}'s core added as background to {len(completed)} "
                         f"alleles; {len(kept)} re-encoded by pypgx for {build} kept as given"
                         + (f": {kept}" if kept else ""))

    by_cells: dict[tuple[str | None, ...], list[str]] = {}
    for name in order:
        by_cells.setdefault(tuple(table[name]), []).append(name)
    for names in by_cells.values():
        if len(names) > 1:
            notes.append(f"{where}: alleles {names} have identical definitions (they tie)")

    def named(name: str, cells: Sequence[str | None]) -> NamedAllele:
        r = info[name]
        act = _na(r["ActivityScore"])
        return NamedAllele(name=name, cells=tuple(cells), function=_na(r["Function"]),
                           activity=None if act is None else float(act))

    positions: list[Position] = []
    for m in merged:
        names = sorted(f"{c}-{p}-{rf}-{a}" for c, p, rf, a in m.repr)
        rsids: list[str] = []
        synonyms: list[tuple[int, str, str, str]] = []
        for v, alt in sorted(m.repr.items()):
            label = f"{v[0]}-{v[1]}-{v[2]}-{v[3]}"
            vr = variant_rows.get(label)
            if vr is None:
                raise KnowledgeBaseError(f"{where}: core variant {label} is not in variant-table")
            rs = _na(vr["rsID"])
            if rs is not None and rs not in rsids:
                rsids.append(rs)
            for syn in _variants(vr[f"{build}Synonym"], where=f"{where} synonym of {label}"):
                if syn[0] != gene_chrom:
                    raise KnowledgeBaseError(f"{where}: synonym of {label} on chromosome {syn[0]}")
                synonyms.append((syn[1], syn[2], syn[3], alt))
        positions.append(Position(
            chrom=gene_chrom, pos=m.pos, ref=m.ref, alts=tuple(sorted(set(m.repr.values()))),
            rsid=",".join(rsids) or None, label=",".join(names), synonyms=tuple(synonyms)))
    for left, right in itertools.pairwise(positions):
        if right.pos <= left.end:
            notes.append(f"{where}: positions {left.label} and {right.label} overlap")

    alleles = [named(default, [p.ref for p in positions])]
    alleles += [named(name, table[name]) for name in order]
    return GeneDefinition(
        gene=gene, build=build, chrom=gene_chrom, positions=tuple(positions),
        alleles=tuple(alleles), structural_alleles=structural,
        haploid_chrom=gene_chrom if gene_chrom in ("X", "M") else None,
        rule="lowest_function" if gene in LOWEST_FUNCTION_GENES else None,
        unknown_alt_as_reference=gene in UNKNOWN_ALT_AS_REFERENCE_GENES,
        source=f"pypgx {PYPGX_VERSION}")


def _gene_drugs(rows: list[Row]) -> tuple[GeneDrug, ...]:
    out = []
    for r in rows:
        atc = _na(r["ATC"])
        out.append(GeneDrug(
            gene=r["Gene"].strip(), drug=r["Drug"].strip(), rxnorm=_na(r["RxNorm"]),
            atc=tuple(x.strip() for x in atc.split(",") if x.strip()) if atc else (),
            guideline=_na(r["Guideline"]), cpic_level=_na(r["CPICLevel"])))
    return tuple(out)


def compile_tables(tables: dict[str, list[Row]], *, wheel_sha256: str = PYPGX_WHEEL_SHA256,
                   notes: list[str] | None = None) -> KnowledgeBase:
    """Apply the conversion rules (module docstring) to the pypgx tables."""
    notes = [] if notes is None else notes
    genes = {r["Gene"]: r for r in tables["gene-table"]}
    alleles_by_gene: dict[str, list[Row]] = {}
    for r in tables["allele-table"]:
        alleles_by_gene.setdefault(r["Gene"], []).append(r)
    variant_rows: dict[Build, dict[str, dict[str, Row]]] = {b: {} for b in BUILDS}
    # lift[b]: the same variant on the other build -> its spelling on build b
    lift: dict[Build, dict[Variant, Variant]] = {b: {} for b in BUILDS}
    for r in tables["variant-table"]:
        for b in BUILDS:
            name = _na(r[f"{b}Name"])
            if name is not None:
                variant_rows[b].setdefault(r["Gene"], {})[name] = r
        n37, n38 = _na(r["GRCh37Name"]), _na(r["GRCh38Name"])
        if n37 and n38:
            v37 = parse_variant(n37, where="variant-table")
            v38 = parse_variant(n38, where="variant-table")
            lift["GRCh37"][v38] = v37
            lift["GRCh38"][v37] = v38

    definitions: dict[str, dict[str, GeneDefinition]] = {}
    for gene, rows in alleles_by_gene.items():
        if gene not in genes:
            raise KnowledgeBaseError(f"{gene}: in allele-table but not in gene-table")
        for b in BUILDS:
            if not any(_na(r[f"{b}Core"]) for r in rows):
                continue
            d = _build_definition(gene, b, rows, genes[gene], variant_rows[b].get(gene, {}),
                                  lift[b], notes)
            if d is not None:
                definitions.setdefault(gene, {})[b] = d

    functions: dict[str, dict[str, str]] = {}
    activity: dict[str, dict[str, float]] = {}
    for gene, rows in alleles_by_gene.items():
        for r in rows:
            if (f := _na(r["Function"])) is not None:
                functions.setdefault(gene, {})[r["StarAllele"]] = f
            if (a := _na(r["ActivityScore"])) is not None:
                activity.setdefault(gene, {})[r["StarAllele"]] = float(a)

    drugs = _gene_drugs(tables["cpic-table"])
    outside = tuple(sorted({d.gene for d in drugs} - set(definitions)))
    kb = KnowledgeBase(
        version="",
        sources=(Source(name="pypgx", version=PYPGX_VERSION, licence=PYPGX_LICENCE,
                        url=PYPGX_URL, sha256=wheel_sha256),),
        definitions=definitions,
        gene_drugs=drugs,
        outside_only_genes=outside,
        allele_functions=functions,
        allele_activity=activity,
    )
    body = kb.to_json()
    del body["version"], body["checksum"]
    digest = content_checksum(body)
    return replace(kb, version=f"{SCHEMA_VERSION}.{digest[:8]}+pypgx-{PYPGX_VERSION}")


def read_pypgx(wheel: Path | None = None, *,
               notes: list[str] | None = None) -> tuple[KnowledgeBase, dict[str, list[Row]]]:
    """pypgx's definitions (rules above) and its raw tables, from the pinned wheel (downloaded
    with pip when not given). Notes on the source data are appended to `notes`."""
    collected: list[str] = []
    if wheel is None:
        with tempfile.TemporaryDirectory(prefix="pgxguard-kb-") as tmp:
            path = download_wheel(Path(tmp))
            tables = read_tables(path)
            digest = PYPGX_WHEEL_SHA256
    else:
        digest = verify_wheel(Path(wheel))
        tables = read_tables(Path(wheel))
    kb = compile_tables(tables, wheel_sha256=digest, notes=collected)
    for n in collected:
        log.info("%s", n)
    if notes is not None:
        notes.extend(collected)
    return kb, tables
