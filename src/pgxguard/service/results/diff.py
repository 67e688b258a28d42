"""What changed per gene between two interpretations of the same result."""

from __future__ import annotations

from typing import Any

# The facts a prescriber or a report reads; warnings are compared separately (they carry text
# that may change wording without changing meaning).
FIELDS = ("diplotypes", "variants", "phenotype", "activity_score", "phenotypes",
          "missing_positions", "not_assessed", "source", "copy_number", "alternatives")


def _genes(calls: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for s in (calls or {}).get("samples", []):
        for g in s.get("genes", []):
            out[(str(s.get("sample")), str(g.get("gene")))] = g
    return out


def diff_calls(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """`{"changed": bool, "genes": [{"sample", "gene", "change", "fields"}], "unchanged"}`.

    `change` is `changed`, `added` (only in the new) or `removed` (only in the old); `fields`
    maps each changed field to `{"old", "new"}`.
    """
    a, b = _genes(old), _genes(new)
    genes: list[dict[str, Any]] = []
    unchanged: list[str] = []
    for key in sorted(set(a) | set(b)):
        sample, gene = key
        if key not in a:
            genes.append({"sample": sample, "gene": gene, "change": "added",
                          "fields": {f: {"old": None, "new": b[key].get(f)} for f in FIELDS}})
            continue
        if key not in b:
            genes.append({"sample": sample, "gene": gene, "change": "removed",
                          "fields": {f: {"old": a[key].get(f), "new": None} for f in FIELDS}})
            continue
        fields = {f: {"old": a[key].get(f), "new": b[key].get(f)} for f in FIELDS
                  if a[key].get(f) != b[key].get(f)}
        warn_old, warn_new = a[key].get("warnings", []), b[key].get("warnings", [])
        if warn_old != warn_new:
            fields["warnings"] = {"old": warn_old, "new": warn_new}
        if fields:
            genes.append({"sample": sample, "gene": gene, "change": "changed", "fields": fields})
        else:
            unchanged.append(gene)
    return {"changed": bool(genes), "genes": genes, "unchanged": unchanged}


__all__ = ["FIELDS", "diff_calls"]
