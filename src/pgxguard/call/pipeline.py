"""The call stage: genotype source -> normalise -> match -> gene rules -> phenotype.

`call()` is the one library entry point the CLI (`pgxguard call`) and later stages use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pgxguard import __version__
from pgxguard.alleles import sort_alleles
from pgxguard.budget import checkpoint
from pgxguard.call.options import CallOptions
from pgxguard.call.phenotype import phenotype_for, phenotype_step
from pgxguard.call.results import CallResult, GeneCall, SampleCall, origin_label
from pgxguard.call.rules import priorities, rules_for
from pgxguard.call.rules.base import Draft, GeneContext, RuleWarning
from pgxguard.errors import InputError, OutsideCallError, VcfError
from pgxguard.io.vcf import GeneGenotypes, VcfReader
from pgxguard.kb.model import GeneDefinition, KnowledgeBase
from pgxguard.match.types import SiteCall


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


def _definition_notes(ctx: GeneContext) -> list[RuleWarning]:
    """What the definitions in use say about every call of the gene."""
    defn = ctx.defn
    notes = []
    if defn.research:
        notes.append(ctx.warn("definitions.research", f"{defn.gene}: research use only (pypgx "
                              "definitions; no CPIC or DPWG guidance)"))
    if defn.unmapped_positions:
        notes.append(ctx.warn(
            "definitions.unmapped",
            f"{len(defn.unmapped_positions)} {defn.gene} positions have no {defn.build} "
            "coordinate in the sources: listed as missing"
            + (f"; alleles defined only there not assessed ({', '.join(defn.unmapped_alleles)})"
               if defn.unmapped_alleles else "")))
    return notes


def _gene_call(kb: KnowledgeBase, defn: GeneDefinition, sites: Sequence[SiteCall | None],
               extra_warnings: Sequence[str], has_phenotypes: bool,
               copy_number: int | None = None) -> GeneCall:
    """One gene's call: the gene's rules in order (`call.rules.rules_for`), then the phenotype
    step; warnings a later rule supersedes (by code) are left out."""
    ctx = GeneContext(kb, defn, has_phenotypes)
    warnings = [ctx.warn("input", w) for w in extra_warnings] + _definition_notes(ctx)
    superseded: set[str] = set()
    # "MALE" is the source's marker for hemizygous G6PD, not a structural allele.
    draft = Draft(sites=tuple(sites), copy_number=copy_number,
                  not_assessed=tuple(sort_alleles([*defn.structural_alleles,
                                                   *defn.unmapped_alleles])))
    for rule in rules_for(defn):
        r = rule(ctx, draft)
        draft = r.draft
        warnings.extend(r.warnings)
        superseded |= r.supersedes
        if draft.final:
            break
    ph = phenotype_step(ctx, draft)
    warnings.extend(ph.warnings)
    m = draft.match
    called = bool(draft.diplotypes or draft.variants)
    return GeneCall(
        gene=defn.gene, diplotypes=draft.diplotypes, variants=draft.variants,
        phenotype=ph.phenotype, activity_score=ph.activity_score,
        missing_positions=() if m is None else m.missing_positions + defn.unmapped_positions,
        warnings=tuple(dict.fromkeys(w.message for w in warnings if w.code not in superseded)),
        source="vcf" if called else "none", phased=m is not None and m.phased,
        score=None if m is None or draft.rescored else m.score,
        not_assessed=draft.not_assessed, phenotypes=ph.phenotypes,
        copy_number=draft.copy_number, alternatives=draft.alternatives,
        lookup_key=ph.lookup_key)


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


def call(input: str | Path | None, options: CallOptions | None = None, *,
         kb: KnowledgeBase | None = None, **option_fields: Any) -> CallResult:
    """Call diplotypes and phenotypes for every sample of a VCF/BCF (and/or outside calls).

    `options` says what to call (`CallOptions`); keyword arguments naming its fields replace
    them (`call(vcf, genes=["CYP2C19"])`). `outside_calls` may be several files (e.g. a CYP2D6
    caller's and an HLA typer's output; a gene given by two files is an error).
    """
    from pgxguard.kb.load import load_knowledge_base

    opts = CallOptions.of(options, **option_fields)
    samples, build, assume_reference = opts.samples, opts.build, opts.assume_reference
    kb = kb or load_knowledge_base()
    defs_by_gene, kb_prov = definitions_in_use(kb, opts.definitions)
    gene_list = resolve_genes(kb, defs_by_gene, opts.genes)

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

    if opts.outside_calls is not None:
        from pgxguard.outside_calls import assign_samples, read_for_call

        paths = opts.outside_paths()
        formats = opts.outside_formats()
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
                outside_sample=opts.outside_sample)
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
    if input is None and opts.outside_calls is None:
        raise InputError("nothing to call", hint="pass a VCF/BCF and/or --outside-calls TSV")

    out_samples = tuple(
        SampleCall(sample=s, genes=tuple(sorted(per_sample[s], key=lambda g: g.gene)))
        for s in sample_names)
    return CallResult(
        knowledge_base=kb_prov,
        tool={"name": "pgxguard", "version": __version__},
        build=detected_build,
        options=opts.record(gene_list),
        input=input_info,
        samples=out_samples,
        warnings=tuple(result_warnings),
    )


__all__ = ["call", "default_genes", "definitions_in_use", "pattern_call", "resolve_genes"]
