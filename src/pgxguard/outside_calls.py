"""Outside calls against the knowledge base: the vocabulary rows are checked with, and which
called sample each row belongs to.

Everything a row may say is derived from the `KnowledgeBase` in use (and the allele definitions
in use), never from names written into the code: the genes, each gene's allele names, its
phenotype terms and how a diplotype or an activity score maps onto them. HLA allele statuses
(``*57:01`` for HLA-B) are the alleles the knowledge base lists for an HLA gene plus those the
guidance's allele-status conditions use; the guidance is loaded only when an HLA status needs
checking.

Samples (`assign_samples`): a row without a sample applies to every called sample. A row naming
a sample the VCF does not have is an error naming both sample lists, unless the user maps the
file's sample onto the (one) called sample with ``--outside-sample NAME``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Sequence
from pathlib import Path

from pgxguard.call.phenotype import HAPLOID_MARKER, phenotype_for
from pgxguard.errors import InputError, OutsideCallError
from pgxguard.io.notation import is_hla
from pgxguard.io.outside import OutsideCall, OutsideCalls, Vocabulary, read_outside_calls
from pgxguard.kb.model import GeneDefinition, KnowledgeBase

__all__ = ["assign_samples", "kb_vocabulary", "read_for_call"]


@functools.lru_cache(maxsize=1)
def _guidance_statuses() -> dict[str, frozenset[str]]:
    """HLA gene -> alleles whose status the bundled guidance's conditions test."""
    from pgxguard.guidance.load import load_guidance

    out: dict[str, set[str]] = {}
    for e in load_guidance().entries:
        for c in e.conditions:
            if c.kind == "allele_status" and is_hla(c.gene) and c.value:
                out.setdefault(c.gene, set()).add(c.value.removeprefix(c.gene))
    return {g: frozenset(v) for g, v in out.items()}


def kb_vocabulary(kb: KnowledgeBase,
                  definitions: dict[str, dict[str, GeneDefinition]] | None = None,
                  ) -> Vocabulary:
    """What outside calls are checked against, all taken from `kb` (and `definitions`)."""
    defs = definitions if definitions is not None else kb.definitions
    alleles: dict[str, set[str]] = {}
    for g in set(kb.allele_functions) | set(defs) | set(kb.definitions) | set(kb.phenotypes):
        names = set(kb.allele_functions.get(g, {}))
        for by_build in (defs.get(g, {}), kb.definitions.get(g, {})):
            for d in by_build.values():
                names |= {a.name for a in d.alleles} | set(d.structural_alleles)
        rules = kb.phenotypes.get(g)
        if rules is not None:
            names |= set(rules.functions) | {a for r in rules.rows for a in r.alleles}
        names.discard(HAPLOID_MARKER)  # the tables' marker for a hemizygous call, not an allele
        alleles[g] = names
    phenotypes = {g: r.terms for g, r in kb.phenotypes.items()}
    haploid = {g: d.haploid_chrom for g, by in kb.definitions.items() for d in by.values()}

    def expected(gene: str, diplotype: tuple[str, ...],
                 ) -> tuple[str | None, float | None, str | None]:
        ph = phenotype_for(kb, gene, diplotype, haploid_chrom=haploid.get(gene))
        return ph.phenotype, ph.activity_score, ph.note

    def by_score(gene: str, score: float) -> str | None:
        rules = kb.phenotypes.get(gene)
        if rules is None or rules.method != "activity":
            return None
        return rules.score_phenotypes().get(str(float(score)))

    def statuses(gene: str) -> Collection[str]:
        listed = set(kb.allele_functions.get(gene, {}))
        return listed | _guidance_statuses().get(gene, frozenset())

    return Vocabulary(genes=set(alleles) | set(kb.outside_only_genes), alleles=alleles,
                      strict_alleles=True, phenotypes=phenotypes, statuses=statuses,
                      expected=expected, by_score=by_score)


def assign_samples(oc: OutsideCalls, called: Sequence[str], *,
                   vcf_samples: Sequence[str] | None, vcf_path: str | None = None,
                   outside_sample: str | None = None,
                   ) -> tuple[dict[str, list[OutsideCall]], list[str]]:
    """Per called sample, the outside calls that apply to it; and warnings.

    `vcf_samples`: every sample of the VCF (None when there is no VCF); `called`: the samples
    being called. Raises `OutsideCallError` for rows naming a sample the VCF lacks (unless
    mapped) and `InputError` for a mapping that cannot apply.
    """
    named = list(dict.fromkeys(c.sample for c in oc.calls if c.sample))
    warnings: list[str] = list(oc.notes)
    if oc.unnamed_sample and vcf_samples is not None and len(called) > 1:
        raise OutsideCallError(
            f"the file names no sample (one {oc.source.get('caller', 'caller')} output per "
            f"sample), but {len(called)} VCF samples are called",
            path=oc.path, hint="add --sample NAME for the VCF sample this output belongs to")
    if oc.unnamed_sample and oc.calls and vcf_samples is not None and len(called) == 1:
        warnings.append(f"{oc.path}: the file names no sample; its calls are applied to VCF "
                        f"sample {called[0]}")
    if outside_sample is not None:
        if outside_sample not in named:
            raise OutsideCallError(f"no row for sample {outside_sample!r} (--outside-sample)",
                                   path=oc.path, hint="samples in the file: "
                                   f"{', '.join(named) or 'none (no sample column)'}")
        if vcf_samples is not None and len(called) != 1:
            raise InputError(f"--outside-sample {outside_sample} maps one sample's outside calls "
                             f"onto one VCF sample, but {len(called)} samples are called",
                             hint="add --sample NAME for the VCF sample they belong to")
        others = [s for s in named if s != outside_sample]
        if others:
            warnings.append(f"{oc.path}: rows for sample(s) {', '.join(others)} ignored "
                            f"(--outside-sample {outside_sample})")
        target = list(called) if vcf_samples is not None else [outside_sample]
        mine = [c for c in oc.calls if c.sample in (None, outside_sample)]
        if vcf_samples is not None and called[0] != outside_sample:
            warnings.append(f"{oc.path}: outside calls of sample {outside_sample} applied to "
                            f"VCF sample {called[0]} (--outside-sample)")
        return {s: list(mine) for s in target}, warnings
    if vcf_samples is None:
        samples = sorted(named, key=str) or ["sample"]
        return {s: [c for c in oc.calls if c.applies_to(s)] for s in samples}, warnings
    unknown = [s for s in named if s not in set(vcf_samples)]
    if unknown:
        shown = ", ".join(list(vcf_samples)[:20]) + (" ..." if len(vcf_samples) > 20 else "")
        vcf = f"the VCF ({vcf_path})" if vcf_path else "the VCF"
        raise OutsideCallError(
            f"outside-call rows name sample(s) {', '.join(unknown)} that {vcf} does not have",
            path=oc.path,
            hint=f"VCF samples: {shown}; outside-call samples: {', '.join(named)}; pass "
                 "--outside-sample NAME to apply sample NAME's rows to the VCF sample, or "
                 "correct the sample column")
    return {s: [c for c in oc.calls if c.applies_to(s)] for s in called}, warnings


def read_for_call(kb: KnowledgeBase, definitions: dict[str, dict[str, GeneDefinition]],
                  path: str | Path, fmt: str | None = None) -> OutsideCalls:
    """Read and check an outside-call file against the knowledge base in use.

    `fmt`: the format (`pgxguard.io.callers.FORMATS`), optionally ``NAME=VERSION`` to state
    the caller's version when its output does not; None: recognised by content.
    """
    from pgxguard.call.phenotype import activity_of
    from pgxguard.io.callers import FORMATS, detect_format, read_caller_output

    vocab = kb_vocabulary(kb, definitions)
    name, _, version = (fmt or "").partition("=")
    name = name.strip().lower()
    if name and (name not in FORMATS or name == "cyrius-tsv"):
        raise InputError(f"unknown outside-call format {fmt!r}",
                         hint=f"use one of {', '.join(f for f in FORMATS if f != 'cyrius-tsv')}")
    p = Path(path)
    if not p.is_file():
        raise OutsideCallError("outside-call file not found", path=str(p),
                               hint="check the path of the outside-call file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise OutsideCallError(f"cannot read the outside-call file: {e.strerror or e}",
                               path=str(p), hint="check the file's permissions") from e
    if not name:
        genes = {g.upper() for g in (vocab.genes or ())}
        try:
            name = detect_format(data, genes)
        except OutsideCallError as e:
            e.path = str(p)
            e.args = (e._format(),)
            raise
    if name == "pgxguard":
        if version:
            raise InputError("a version is stated only for a caller's output",
                             hint="use --outside-format NAME=VERSION with a caller's format")
        return read_outside_calls(p, vocabulary=vocab)
    oc = read_caller_output(p, data, name, vocab,
                            lambda gene, allele: activity_of(kb, gene, allele))
    if version.strip():
        src = {**oc.source, "version": version.strip(), "version_from": "--outside-format"}
        calls = tuple(dataclasses.replace(c, provenance=_with_version(c.provenance,
                                                                      version.strip()))
                      for c in oc.calls)
        oc = dataclasses.replace(oc, calls=calls, source=src)
    return oc


def _with_version(prov: tuple[tuple[str, str], ...], version: str,
                  ) -> tuple[tuple[str, str], ...]:
    out = [kv for kv in prov if kv[0] != "version"]
    return (out[0], ("version", f"{version} (stated with --outside-format)"), *out[1:])
