"""Writers of a `CallResult`: the JSON contract, the TSV (one row per sample x gene), and the
atomic file write every command's `--output` uses."""

from __future__ import annotations

import json

from pgxguard.call.results import CallResult
from pgxguard.io.atomic import write_text as write_atomic  # the one atomic writer

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


__all__ = ["TSV_COLUMNS", "to_json_text", "to_tsv", "write_atomic"]
