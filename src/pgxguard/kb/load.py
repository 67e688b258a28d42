"""Load a knowledge-base snapshot (gzip JSON written by `pgxguard.kb.build`)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

from pgxguard.errors import KnowledgeBaseError
from pgxguard.kb.model import KnowledgeBase
from pgxguard.snapshot import decode_snapshot_text, gc_paused, read_snapshot_file_text

SNAPSHOT_NAME = "pgxguard-kb.json.gz"
_REBUILD = "rebuild it with `pgxguard kb build` or reinstall pgxguard"


def _decode(raw: bytes, origin: str) -> KnowledgeBase:
    with gc_paused():
        data, text = decode_snapshot_text(raw, origin, what="knowledge base", hint=_REBUILD)
        return KnowledgeBase.from_json(data, origin=origin, text=text)


@functools.lru_cache(maxsize=1)
def _bundled() -> KnowledgeBase:
    res = resources.files("pgxguard.kb").joinpath("data", SNAPSHOT_NAME)
    origin = str(res)
    try:
        raw = res.read_bytes()
    except OSError as e:
        raise KnowledgeBaseError("the bundled knowledge-base snapshot is missing", path=origin,
                                 hint=_REBUILD) from e
    return _decode(raw, origin)


def load_knowledge_base(path: str | Path | None = None) -> KnowledgeBase:
    """Load `path`, or the snapshot bundled with pgxguard (cached) when no path is given."""
    if path is None:
        return _bundled()
    with gc_paused():
        data, text = read_snapshot_file_text(
            path, what="knowledge base",
            hint="check the path, or build one with `pgxguard kb build -o PATH`")
        return KnowledgeBase.from_json(data, origin=str(path), text=text)


def kb_info(kb: KnowledgeBase) -> dict[str, Any]:
    """A JSON-ready summary: version, sources and, per gene, what the definitions hold."""
    genes: dict[str, Any] = {}
    for gene in kb.genes:
        by_build = kb.definitions[gene]
        any_def = next(iter(by_build.values()))
        pheno = kb.phenotypes.get(gene)
        genes[gene] = {
            "builds": sorted(by_build),
            "positions": {b: len(d.positions) for b, d in sorted(by_build.items())},
            "named_alleles": {b: len(d.alleles) for b, d in sorted(by_build.items())},
            "reference_allele": {b: d.reference_allele for b, d in sorted(by_build.items())},
            "structural_alleles": list(any_def.structural_alleles),
            "phenotype_method": pheno.method if pheno else None,
            "rule": any_def.rule,
            "research": any_def.research,
            "required_positions": list(any_def.required_positions),
            "unmapped_positions": {b: len(d.unmapped_positions)
                                   for b, d in sorted(by_build.items())},
            "haploid_chrom": any_def.haploid_chrom,
            "unknown_alt_as_reference": any_def.unknown_alt_as_reference,
        }
    from pgxguard.guidance.load import load_guidance

    gkb = load_guidance()
    return {
        **kb.provenance(),
        "clinical_genes": list(kb.clinical_genes),
        "guidance": {"version": gkb.version, "snapshot_date": gkb.snapshot_date,
                     "guidelines": len(gkb.guidelines), "recommendations": len(gkb.entries),
                     "drugs": len(gkb.drugs)},
        "genes": genes,
        "phenotype_genes": sorted(kb.phenotypes),
        "outside_only_genes": list(kb.outside_only_genes),
        "gene_drug_pairs": len(kb.gene_drugs),
    }


__all__ = ["SNAPSHOT_NAME", "kb_info", "load_knowledge_base"]
