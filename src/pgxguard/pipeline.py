"""The call stage: genotype source -> normalise -> match -> gene rules -> phenotype.

`call()` is the one library entry point the CLI (`pgxguard call`) and later stages use.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pgxguard import __version__, priorities
from pgxguard import copynumber as cn
from pgxguard.alleles import sort_alleles, sort_key
from pgxguard.budget import checkpoint
from pgxguard.errors import InputError, OutsideCallError, VcfError
from pgxguard.io.atomic import write_text as write_atomic  # public name kept
from pgxguard.io.vcf import GeneGenotypes, VcfReader
from pgxguard.kb.model import GeneDefinition, KnowledgeBase
from pgxguard.match.lowest_function import (
    LowestFunctionCall,
    call_lowest_function,
    is_combination,
)
from pgxguard.match.matcher import MatchResult, match_gene
from pgxguard.match.types import SiteCall
from pgxguard.phenotype import (
    lowest_function_phenotype,
    lowest_of,
    phenotype_for,
    strand_phenotype,
)
from pgxguard.results import CallResult, GeneCall, SampleCall, origin_label

_SUBALLELE = re.compile(r"^(\*\d+)\.\d+$")
_TIE = re.compile(r"^\d+ diplotypes tie at score")
_CORE_NAME_GENES = frozenset({"SLCO1B1"})


def default_genes(kb: KnowledgeBase) -> list[str]:
    """The clinical genes: defined from the published CPIC/DPWG sources (research-use genes
    only when asked for by name or with `all`)."""
    return sorted(kb.clinical_genes, key=str)


def resolve_genes(kb: KnowledgeBase, definitions: dict[str, dict[str, GeneDefinition]],
                  genes: Sequence[str] | None) -> list[str]:
    if not genes:
        if definitions is kb.definitions:
            return default_genes(kb)
        return sorted(definitions)
    if len(genes) == 1 and genes[0].lower() == "all":
        return sorted(definitions)
    out = []
    lookup = {g.upper(): g for g in definitions}
    for g in genes:
        name = lookup.get(g.strip().upper())
        if name is None:
            if g.strip().upper() in {x.upper() for x in kb.outside_only_genes}:
                continue  # outside-call only genes (HLA-B...) are taken from --outside-calls
            raise InputError(f"unknown gene {g!r}",
                             hint=f"known genes: {', '.join(sorted(definitions))}")
        out.append(name)
    return out


def _copy_number_call(kb: KnowledgeBase, defn: GeneDefinition, sites: list[SiteCall | None],
                      warnings: list[str], copy_number: int, has_phenotypes: bool,
                      not_assessed: tuple[str, ...]) -> GeneCall:
    """Copy number 0: both copies deleted; anything the input calls inside contradicts it."""
    deletion = cn.DELETION_ALLELE[defn.gene]
    contradicting = cn.variant_sites(defn, sites)
    if contradicting:
        warnings.append(
            f"copy number 0 from the input but variant calls at {', '.join(contradicting)}: "
            "no call; check the copy-number and variant calls")
        return GeneCall(gene=defn.gene, warnings=tuple(dict.fromkeys(warnings)), source="none",
                        not_assessed=not_assessed, copy_number=copy_number)
    diplotype = (deletion, deletion)
    phenotype = activity = key = None
    if has_phenotypes:
        ph = phenotype_for(kb, defn.gene, diplotype)
        phenotype, activity, key = ph.phenotype, ph.activity_score, ph.lookup_key
        if ph.note:
            warnings.append(ph.note)
    return GeneCall(gene=defn.gene, diplotypes=(diplotype,), phenotype=phenotype,
                    activity_score=activity, warnings=tuple(dict.fromkeys(warnings)),
                    source="vcf", not_assessed=not_assessed, copy_number=copy_number,
                    lookup_key=key)


def _unphased_priority(defn: GeneDefinition, m: MatchResult,
                       diplotypes: tuple[tuple[str, ...], ...], warnings: list[str],
                       ) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, ...], ...]]:
    """PharmCAT's unphased priority rule (NAT2): (diplotypes, the alternatives a pick replaced)."""
    table = priorities.table_for(defn.gene)
    if table is None or m.phased or m.haploid or len(m.candidates) < 2:
        return diplotypes, ()
    if not table.fits(defn.allele_names):
        if len(diplotypes) > 1:
            warnings.append(f"PharmCAT's unphased {defn.gene} priority table was not applied: "
                            f"these {defn.gene} definitions do not use the nomenclature it is "
                            "written for (PharmVar)")
        return diplotypes, ()
    rows = table.rows_within(m.candidates)
    if len(rows) > 1:
        warnings.append(f"the {defn.gene} genotypes fit {len(rows)} rows of PharmCAT's unphased "
                        "priority table (missing positions?): no diplotype chosen")
        return diplotypes, ()
    if not rows:
        return diplotypes, ()
    pick = rows[0].pick
    others = tuple(d for d in m.candidates if d != pick)
    tie_note = f"{len(diplotypes)} diplotypes tie at score"
    warnings[:] = [w for w in warnings if not w.startswith(tie_note)]
    warnings.append(
        f"unphased {defn.gene} genotypes fit {len(m.candidates)} diplotypes "
        f"({', '.join('/'.join(d) for d in m.candidates)}): {'/'.join(pick)} reported, chosen by "
        f"PharmCAT's unphased priority table (population frequencies; "
        f"{table.source['name']}, PharmCAT commit {table.source['commit'][:10]})")
    return (pick,), others


def _gene_call(kb: KnowledgeBase, defn: GeneDefinition, sites: list[SiteCall | None],
               extra_warnings: Sequence[str], has_phenotypes: bool,
               copy_number: int | None = None) -> GeneCall:
    warnings = list(extra_warnings)
    # "MALE" is the source's marker for hemizygous G6PD, not a structural allele.
    not_assessed = tuple(sort_alleles([*defn.structural_alleles, *defn.unmapped_alleles]))
    if defn.research:
        warnings.append(f"{defn.gene}: research use only (pypgx definitions; no CPIC or DPWG "
                        "guidance)")
    if defn.unmapped_positions:
        warnings.append(f"{len(defn.unmapped_positions)} {defn.gene} positions have no "
                        f"{defn.build} coordinate in the sources: listed as missing"
                        + (f"; alleles defined only there not assessed "
                           f"({', '.join(defn.unmapped_alleles)})" if defn.unmapped_alleles
                           else ""))
    use_cn = copy_number is not None and cn.interprets(defn.gene)
    if copy_number is not None and not use_cn:
        if copy_number != 2:
            warnings.append(f"input copy number {copy_number} is not interpreted for "
                            f"{defn.gene}: the call assumes two copies")
        copy_number = None
    if use_cn:
        assert copy_number is not None
        deletion = cn.DELETION_ALLELE[defn.gene]
        # Whole-gene deletions and duplications are now assessed; hybrids still are not.
        not_assessed = tuple(a for a in not_assessed if a != deletion)
        warnings.append(f"copy number {copy_number} from the input (FORMAT/CN)")
        if not_assessed:
            warnings.append(
                f"hybrid and partial structural alleles not assessed ({', '.join(not_assessed)})"
                ": the input copy number shows whole-gene deletions and duplications only")
        if copy_number == 0:
            return _copy_number_call(kb, defn, sites, warnings, copy_number, has_phenotypes,
                                     not_assessed)
        if copy_number == 1:
            sites, hemi_warnings = cn.hemizygous_sites(defn, sites)
            warnings.extend(hemi_warnings)
    elif not_assessed:
        how = " or input copy number (FORMAT/CN)" if cn.interprets(defn.gene) else ""
        warnings.append(
            f"alleles not assessed ({', '.join(not_assessed)}): structural variants "
            f"(deletions, duplications, hybrids) and alleles without an SNV/indel definition "
            f"need an outside call (--outside-calls){how}")
    m: MatchResult = match_gene(defn, sites)
    warnings.extend(m.warnings)
    missing = m.missing_positions + defn.unmapped_positions
    if m.missing_positions:
        warnings.append(f"{len(m.missing_positions)} of {len(defn.positions)} positions missing")
    diplotypes = m.diplotypes
    alternatives: tuple[tuple[str, ...], ...] = ()
    if use_cn and copy_number == 1:
        diplotypes = tuple(tuple(sorted((d[0], cn.DELETION_ALLELE[defn.gene]), key=sort_key))
                           for d in diplotypes)
    elif use_cn and copy_number is not None and copy_number >= 3:
        diplotypes = cn.with_copies(diplotypes, copy_number)
    variants: tuple[str, ...] = ()
    phenotype = None
    activity = None
    lookup_key: str | None = None
    phenotypes: tuple[str | None, ...] = ()
    lowest: LowestFunctionCall | None = None
    if defn.rule == "lowest_function" and not m.haploid and m.reason_code in (None, "no_match"):
        # PharmCAT's DPYD/RYR1 rule: per-strand variants and combinations, or the variant list.
        lowest = call_lowest_function(defn, sites, m)
        warnings = [w for w in warnings if w != m.no_call_reason and not _TIE.match(w)]
        warnings.extend(lowest.warnings)
        diplotypes = lowest.diplotypes
        variants = lowest.variants
        if not diplotypes and not variants:  # not expected; never a silent no call
            warnings.append(f"no {defn.gene} named variant could be listed: no call")
    if lowest is not None and variants:
        warnings.append(f"unphased {defn.gene} data ({lowest.free_blocks} heterozygous sites or "
                        "blocks of unknown relative phase): no diplotype; the named variants "
                        "found are listed, a homozygous one twice")
        if has_phenotypes:
            ph, pair = lowest_function_phenotype(kb, defn.gene, variants)
            phenotype, activity, lookup_key = ph.phenotype, ph.activity_score, ph.lookup_key
            warnings.append(f"phenotype from the two lowest-function variants: {'/'.join(pair)} "
                            f"({defn.gene} rule)")
            if ph.note:
                warnings.append(ph.note)
    elif lowest is not None and diplotypes:
        if any(is_combination(x) for d in diplotypes for x in d):
            warnings.append(f"a {defn.gene} strand carries several named variants: written "
                            "[a + b] (PharmCAT's combination notation)")
        if len(diplotypes) > 1:
            warnings.append(f"{len(diplotypes)} {defn.gene} diplotypes possible: phase blocks "
                            "(FORMAT/PS) of unknown relative orientation")
        if has_phenotypes:
            found = [strand_phenotype(kb, defn.gene, s) for s in lowest.strands]
            k = lowest_of(kb, defn.gene, [pair for _, pair in found])
            ph, pair = found[k]
            phenotype, activity, lookup_key = ph.phenotype, ph.activity_score, ph.lookup_key
            if len(found) > 1 or any(len(x) > 1 for s in lowest.strands for x in s):
                how = ("the lowest-function variant on each strand" if len(found) == 1 else
                       "the lowest-function variant on each strand, of the lowest-function "
                       "possible diplotype")
                warnings.append(f"phenotype from {how}: {'/'.join(pair)} ({defn.gene} rule)")
            if len(found) > 1 and len({f[0].phenotype for f in found}) > 1:
                warnings.append("the possible diplotypes give " + "; ".join(
                    f"{'/'.join(p)}: {x.phenotype or 'no phenotype'}" for x, p in found))
            if ph.note:
                warnings.append(ph.note)
    elif diplotypes:
        diplotypes, alternatives = _unphased_priority(defn, m, diplotypes, warnings)
        if defn.gene in _CORE_NAME_GENES:
            diplotypes = tuple(dict.fromkeys(
                tuple(sorted((_SUBALLELE.sub(r"\1", a) for a in d), key=sort_key))
                for d in diplotypes))
        if has_phenotypes:
            results = [phenotype_for(kb, defn.gene, d, haploid_chrom=defn.haploid_chrom)
                       for d in diplotypes]
            phenotypes = tuple(r.phenotype for r in results)
            terms = set(phenotypes)
            scores = {r.activity_score for r in results}
            if len(terms) == 1:
                phenotype = phenotypes[0]
            else:
                warnings.append("tied diplotypes have different phenotypes: no single phenotype")
            if len(scores) == 1:
                activity = results[0].activity_score
            keys = {r.lookup_key for r in results}
            if len(keys) == 1:
                lookup_key = results[0].lookup_key
            notes = {r.note for r in results if r.note}
            warnings.extend(sorted(notes))
    return GeneCall(
        gene=defn.gene, diplotypes=diplotypes, variants=variants, phenotype=phenotype,
        activity_score=activity, missing_positions=missing,
        warnings=tuple(dict.fromkeys(warnings)), source="vcf" if diplotypes or variants else
        "none", phased=m.phased,
        score=None if alternatives or (lowest is not None and diplotypes != m.diplotypes)
        else m.score,
        not_assessed=not_assessed,
        phenotypes=phenotypes if len(set(phenotypes)) > 1 else (), copy_number=copy_number,
        alternatives=alternatives, lookup_key=lookup_key)


def _origin_text(oc: Any, alleles: tuple[str, ...]) -> tuple[dict[str, str] | None, str | None]:
    """The call's provenance as a dict and as the one line every output shows."""
    prov = dict(oc.provenance)
    if not prov:
        return None, None
    label = origin_label(prov)
    what = "/".join(alleles) if alleles else (oc.phenotype or "no result")
    extras = [f"{k} {v}" for k, v in oc.provenance
              if k not in ("caller", "version", "file", "sha256", "line", "where", "written")]
    where = f"line {prov['line']}" if "line" in prov else prov.get("where", "")
    written = prov.get("written")
    text = (f"{oc.gene} {what} from {label}"
            + (f" (written {written})" if written and written != what else "")
            + f"; {prov.get('file')}, {where}; SHA-256 {prov.get('sha256', '')[:12]}"
            + (f"; {'; '.join(extras)}" if extras else ""))
    return prov, text


def _outside_gene_call(kb: KnowledgeBase, oc: Any, replaced: GeneCall | None) -> GeneCall:
    alleles = tuple(
        a if c == 1 else f"{a}x{c}" for a, c in zip(oc.diplotype, oc.copies, strict=True))
    origin, origin_line = _origin_text(oc, alleles)
    warnings = [origin_line] if origin_line else [f"outside call (line {oc.line})"]
    if oc.no_result is not None:
        warnings += [f"no result: {oc.no_result}", *oc.notes]
        if replaced is not None and replaced.called:
            warnings.append(f"the VCF call {replaced.diplotype_text() or 'variants'} is not "
                            "used: the outside caller could not call this gene, and a VCF of "
                            "small variants cannot show its structural variants")
        return GeneCall(gene=oc.gene, warnings=tuple(dict.fromkeys(warnings)),
                        source="outside", phased=False, origin=origin,
                        not_assessed=replaced.not_assessed if replaced is not None else ())
    warnings += list(oc.notes)
    if replaced is not None and replaced.called:
        warnings.append(f"replaces the VCF call {replaced.diplotype_text() or 'variants'}")
    phenotype = oc.phenotype
    activity = oc.activity_score
    key: str | None = None
    rules = kb.phenotypes.get(oc.gene)
    if alleles:
        ph = phenotype_for(kb, oc.gene, alleles)
        if phenotype is None or phenotype == ph.phenotype:
            phenotype = ph.phenotype
            key = ph.lookup_key
            if activity is None:
                activity = ph.activity_score
            elif ph.activity_score is not None and abs(activity - ph.activity_score) > 1e-9:
                key = None
                warnings.append(f"activity score {activity:g} given, CPIC's table gives "
                                f"{ph.activity_score:g} for {'/'.join(alleles)}: no lookup key")
        if ph.note and oc.phenotype is None:
            warnings.append(ph.note)
    elif rules is not None and phenotype is not None:
        # A phenotype without a diplotype: a lookup key only where the table's key is the
        # phenotype itself, or an activity score the table publishes.
        if rules.method == "diplotype" and phenotype in rules.terms:
            key = phenotype
        elif rules.method == "activity" and activity is not None:
            text = str(float(activity))
            if rules.score_phenotypes().get(text) == phenotype:
                key = text
    return GeneCall(gene=oc.gene, diplotypes=(alleles,) if alleles else (),
                    phenotype=phenotype, activity_score=activity,
                    warnings=tuple(dict.fromkeys(warnings)), source="outside", phased=False,
                    lookup_key=key, origin=origin)


ASSUME_REFERENCE_WARNING = ("--assume-reference: positions absent from the VCF were taken as "
                            "homozygous reference")


def pattern_call(kb: KnowledgeBase, d: GeneDefinition, gg: GeneGenotypes, k: int) -> GeneCall:
    """The call of genotype pattern `k` of a gene: the one kernel both `call` and the cohort
    engine run, with the reader's warnings and copy number of that pattern."""
    extra = list(gg.gene_warnings) + gg.pattern_warnings[k]
    if gg.assumed_reference:
        extra.append(ASSUME_REFERENCE_WARNING)
    return _gene_call(kb, d, gg.patterns[k], extra, d.gene in kb.phenotypes,
                      copy_number=gg.copy_number(k))


def definitions_in_use(kb: KnowledgeBase, definitions: str | Path | None,
                       ) -> tuple[dict[str, dict[str, GeneDefinition]], dict[str, Any]]:
    """The allele definitions to match against (gene -> build -> definition) and the
    provenance every result records: the knowledge base's, or a directory of PharmCAT-format
    files (phenotypes still from the knowledge base); plus the gene-rule tables in force."""
    if definitions is None:
        return kb.definitions, {**kb.provenance(), "gene_rules": priorities.provenance()}
    from pgxguard.kb.pharmcat import FILE_GLOB, load_pharmcat_definitions

    loaded = load_pharmcat_definitions(definitions)
    defs_by_gene: dict[str, dict[str, GeneDefinition]] = {}
    for g, d in loaded.items():
        defs_by_gene.setdefault(g, {})[d.build] = d
    files = sorted(p for p in Path(definitions).glob(FILE_GLOB) if p.is_file())
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    prov = {"version": f"definitions:{Path(definitions).name}:{digest.hexdigest()[:12]}",
            "sources": [{"name": "PharmCAT-format definitions",
                         "path": str(Path(definitions).resolve()),
                         "files": sorted(d.source for d in loaded.values()),
                         "sha256": digest.hexdigest()}],
            "phenotypes_from": kb.provenance(), "gene_rules": priorities.provenance()}
    return defs_by_gene, prov


def _outside_paths(outside_calls: str | Path | Sequence[str | Path]) -> list[str | Path]:
    if isinstance(outside_calls, str | Path):
        return [outside_calls]
    return list(outside_calls)


def _outside_formats(outside_format: str | Sequence[str] | None, n: int) -> list[str | None]:
    """One format per outside-call file (None: recognised by content)."""
    if outside_format is None:
        return [None] * n
    formats: list[str | None] = (
        [outside_format] if isinstance(outside_format, str) else list(outside_format))
    if not formats:
        return [None] * n
    if len(formats) != n:
        raise InputError(f"{len(formats)} --outside-format values for {n} --outside-calls "
                         "files", hint="give one --outside-format per --outside-calls file, in "
                                       "the same order, or none")
    return formats


def call(input: str | Path | None, *, samples: Sequence[str] | None = None,
         genes: Sequence[str] | None = None,
         outside_calls: str | Path | Sequence[str | Path] | None = None,
         definitions: str | Path | None = None, assume_reference: bool = False,
         build: str | None = None, kb: KnowledgeBase | None = None,
         outside_sample: str | None = None,
         outside_format: str | Sequence[str] | None = None) -> CallResult:
    """Call diplotypes and phenotypes for every sample of a VCF/BCF (and/or outside calls).

    `outside_sample`: the outside-call file's sample whose rows belong to the (one) called VCF
    sample, when the two name the patient differently. `outside_calls`: one file or several
    (e.g. a CYP2D6 caller's and an HLA typer's output; a gene given by two files is an error).
    `outside_format`: the format of each file (`pgxguard.io.callers.FORMATS`, ``NAME=VERSION``
    to state a caller's version); None recognises it by content.
    """
    from pgxguard.kb.load import load_knowledge_base

    kb = kb or load_knowledge_base()
    defs_by_gene, kb_prov = definitions_in_use(kb, definitions)
    gene_list = resolve_genes(kb, defs_by_gene, genes)

    result_warnings: list[str] = []
    sample_names: list[str] = []
    per_sample: dict[str, list[GeneCall]] = {}
    input_info: dict[str, Any] = {}
    detected_build = build
    vcf_samples: list[str] | None = None
    if input is not None:
        reader = VcfReader(input, samples=samples, build=build)
        try:
            if reader.build is None:
                raise VcfError("cannot tell the genome build from the header or contig lengths",
                               path=str(input), hint="pass --build GRCh38 or --build GRCh37")
            detected_build = reader.build
            chosen = []
            for g in gene_list:
                if reader.build in defs_by_gene[g]:
                    chosen.append(defs_by_gene[g][reader.build])
                else:
                    result_warnings.append(f"{g}: no {reader.build} definition; not called")
            genos: list[GeneGenotypes] = reader.read_genes(chosen,
                                                           assume_reference=assume_reference)
            if chosen and sum(g.records for g in genos) == 0 and not assume_reference:
                raise VcfError(
                    f"no record overlaps any position of {', '.join(d.gene for d in chosen)} "
                    f"({reader.build})",
                    path=str(input),
                    hint="check the genome build and contig names, or pass a VCF that "
                         "covers the pharmacogenes")
            sample_names = list(reader.samples)
            vcf_samples = list(reader.all_samples)
            input_info = {"path": str(input), "samples": len(sample_names),
                          "indexed": reader.indexed, "build_detected": reader.build_detected}
        finally:
            reader.close()
        result_warnings.extend(reader.warnings)
        for s in sample_names:
            per_sample[s] = []
        for d, gg in zip(chosen, genos, strict=True):
            # Samples with identical genotypes share one pattern: call each pattern once.
            pattern_calls = []
            for k in range(len(gg.patterns)):
                checkpoint()
                pattern_calls.append(pattern_call(kb, d, gg, k))
            for j, s in enumerate(sample_names):
                per_sample[s].append(pattern_calls[int(gg.sample_pattern[j])])

    if outside_calls is not None:
        from pgxguard.outside_calls import assign_samples, read_for_call

        paths = _outside_paths(outside_calls)
        formats = _outside_formats(outside_format, len(paths))
        ocs = [read_for_call(kb, defs_by_gene, p, f) for p, f in zip(paths, formats, strict=True)]
        called, known = list(sample_names), vcf_samples
        if input is None and len(ocs) > 1:
            # several files and no VCF: the samples they name are the samples called
            named = list(dict.fromkeys(c.sample for oc in ocs for c in oc.calls if c.sample))
            called = known = named or ["sample"]
        origin_of: dict[tuple[str, str], str] = {}
        sources = []
        for oc in ocs:
            result_warnings.extend(oc.errors)
            if oc.source:
                sources.append(dict(oc.source))
            by_sample, sample_warnings = assign_samples(
                oc, called, vcf_samples=known, vcf_path=str(input) if input else None,
                outside_sample=outside_sample)
            result_warnings.extend(sample_warnings)
            for s, rows in by_sample.items():
                if s not in per_sample:
                    sample_names.append(s)
                    per_sample[s] = []
                calls = per_sample[s]
                for c in rows:
                    first = origin_of.setdefault((s, c.gene), oc.path)
                    if first != oc.path:
                        raise OutsideCallError(
                            f"{c.gene} of sample {s} is given by two outside-call files "
                            f"({first} and {oc.path})", path=oc.path,
                            hint="pass one result per gene: leave out one of the files or "
                                 "the gene's row")
                    idx = next((i for i, g in enumerate(calls) if g.gene == c.gene), None)
                    new = _outside_gene_call(kb, c, calls[idx] if idx is not None else None)
                    if idx is None:
                        calls.append(new)
                    else:
                        calls[idx] = new
        if sources:
            input_info = {**input_info, "outside_calls": sources}
    if input is None and outside_calls is None:
        raise InputError("nothing to call", hint="pass a VCF/BCF and/or --outside-calls TSV")

    out_samples = tuple(
        SampleCall(sample=s, genes=tuple(sorted(per_sample[s], key=lambda g: g.gene)))
        for s in sample_names)
    return CallResult(
        knowledge_base=kb_prov,
        tool={"name": "pgxguard", "version": __version__},
        build=detected_build,
        options={"genes": gene_list, "assume_reference": assume_reference,
                 "definitions": str(definitions) if definitions else None,
                 "outside_calls": (None if outside_calls is None else
                                   [str(p) for p in _outside_paths(outside_calls)]
                                   if not isinstance(outside_calls, str | Path)
                                   else str(outside_calls)),
                 "outside_sample": outside_sample,
                 "outside_format": (outside_format if outside_format is None or
                                    isinstance(outside_format, str) else list(outside_format)),
                 "samples": list(samples) if samples else None},
        input=input_info,
        samples=out_samples,
        warnings=tuple(result_warnings),
    )


# --- writers -----------------------------------------------------------------------------------

TSV_COLUMNS = ("sample", "gene", "diplotypes", "variants", "phenotype", "activity_score",
               "missing_positions", "not_assessed", "source", "warnings")


def to_tsv(result: CallResult) -> str:
    lines = ["\t".join(TSV_COLUMNS)]

    def clean(x: str) -> str:
        return x.replace("\t", " ").replace("\n", " ")

    for s in result.samples:
        for g in s.genes:
            row = [s.sample, g.gene, g.diplotype_text(), ", ".join(g.variants),
                   g.phenotype or "", "" if g.activity_score is None else f"{g.activity_score:g}",
                   "; ".join(g.missing_positions), ", ".join(g.not_assessed), g.source,
                   "; ".join(g.warnings)]
            lines.append("\t".join(clean(x) for x in row))
    return "\n".join(lines) + "\n"


def to_json_text(result: CallResult) -> str:
    return json.dumps(result.to_json(), indent=2) + "\n"


__all__ = ["call", "default_genes", "definitions_in_use", "to_json_text", "to_tsv",
           "write_atomic"]

