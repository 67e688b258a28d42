"""Read genotype calls back from a FHIR R4 Bundle written by `pgxguard.report.fhir.report_bundle`.

Only what the Bundle states is taken: per gene the genotype Observation's value (diplotypes, ties
joined by ` | `; allele names from the haplotype Observations when the call is unambiguous),
the phenotype and activity score of the therapeutic-implication Observation, and every note
(missing positions, structural variants not assessed, warnings) carried as a warning, so the
extracted result is never more certain than the report. A Bundle without genotype Observations
is stored as it is, not interpreted.

With a knowledge base, each gene passes the same checks as an outside-call TSV row
(`pgxguard.io.outside.RowChecker`): known gene and allele names (HLA names normalised),
a phenotype of the gene's vocabulary (abbreviations expanded), diplotype and phenotype in
agreement. A gene that fails is kept as "no call" with the reason, and the reason is listed in
the result's warnings: it is never read as a negative or normal result.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

from pgxguard.call.results import CallResult, GeneCall, SampleCall
from pgxguard.call.rules.lowest_function import combination_members, is_combination
from pgxguard.errors import InputError
from pgxguard.io.notation import NotationError
from pgxguard.io.outside import RowChecker
from pgxguard.kb.model import KnowledgeBase
from pgxguard.report.fhir import PROFILE

GENE_STUDIED = "48018-6"
GENOTYPE = "84413-4"
HAPLOTYPE = "84414-2"
MEDICATION_ASSESSED = "51963-7"
_KB = re.compile(r"\(knowledge base ([^)]+)\)")


# Uploaded JSON may hold anything anywhere: every access goes through these, so a value of the
# wrong type reads as absent instead of raising (a type-confused Bundle is a 422 or is stored
# as not interpreted, never a 500).
def _d(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _l(x: Any) -> list[Any]:
    return x if isinstance(x, list) else []


def _dicts(x: Any) -> list[dict[str, Any]]:
    return [e for e in _l(x) if isinstance(e, dict)]


def _text(x: Any) -> str:
    return x if isinstance(x, str) else ""


def _codes(concept: Any) -> set[str]:
    return {c["code"] for c in _dicts(_d(concept).get("coding"))
            if isinstance(c.get("code"), str) and c["code"]}


def _profiles(res: dict[str, Any]) -> set[str]:
    return {p for p in _l(_d(res.get("meta")).get("profile")) if isinstance(p, str)}


def _gene(res: dict[str, Any]) -> str | None:
    for comp in _dicts(res.get("component")):
        if GENE_STUDIED in _codes(comp.get("code")):
            v = _d(comp.get("valueCodeableConcept"))
            return _text(v.get("text")) or next(
                (_text(c.get("display")) for c in _dicts(v.get("coding"))
                 if _text(c.get("display"))), "") or None
    return None


def _is(res: dict[str, Any], profile: str, loinc: str | None = None) -> bool:
    return PROFILE[profile] in _profiles(res) or (
        loinc is not None and loinc in _codes(res.get("code")))


def parse_bundle(data: bytes, filename: str) -> dict[str, Any]:
    """The Bundle as a dict (the service checks its size and depth first: `prescan`)."""
    import json

    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except RecursionError as e:
        raise InputError("JSON nested too deeply", path=filename,
                         hint="upload a FHIR R4 Bundle in JSON") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"not a JSON document ({e})", path=filename,
                         hint="upload a FHIR R4 Bundle in JSON") from e
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        raise InputError("not a FHIR Bundle (resourceType must be 'Bundle')", path=filename,
                         hint="upload the Bundle written by `pgxguard report --format fhir`")
    if not isinstance(doc.get("entry", []), list):
        raise InputError("Bundle.entry must be a list", path=filename)
    return doc


def extract_calls(doc: dict[str, Any], filename: str,
                  kb: KnowledgeBase | None = None) -> CallResult | None:
    """The calls a pgxguard report Bundle states, or None when it holds no genotype.

    With `kb`, every gene is checked against it (module docstring); refusals are warnings.
    """
    resources: dict[str, dict[str, Any]] = {}
    for e in _dicts(doc.get("entry")):
        if isinstance(e.get("resource"), dict):
            resources[_text(e.get("fullUrl"))] = e["resource"]
    genotypes = [r for r in resources.values()
                 if r.get("resourceType") == "Observation" and _is(r, "genotype", GENOTYPE)]
    if not genotypes:
        return None
    patients = [r for r in resources.values() if r.get("resourceType") == "Patient"]
    sample = "sample"
    if patients:
        ids = _dicts(patients[0].get("identifier"))
        if ids and _text(ids[0].get("value")):
            sample = _text(ids[0]["value"])
    phenos: dict[str, dict[str, Any]] = {}
    for r in resources.values():
        if r.get("resourceType") == "Observation" and _is(r, "implication"):
            g = _gene(r)
            comp_codes = {c for comp in _dicts(r.get("component"))
                          for c in _codes(comp.get("code"))}
            if g and MEDICATION_ASSESSED not in comp_codes:
                phenos.setdefault(g, r)
    kb_version = None
    for r in resources.values():
        if r.get("resourceType") == "DiagnosticReport":
            m = _KB.search(_text(r.get("conclusion")))
            if m:
                kb_version = m.group(1)
    genes: dict[str, GeneCall] = {}
    for obs in genotypes:
        gene = _gene(obs)
        if gene is None or gene in genes:
            continue
        genes[gene] = _gene_call(gene, obs, resources, phenos.get(gene), filename)
    if not genes:
        raise InputError("the Bundle's genotype Observations name no gene (component "
                         f"{GENE_STUDIED} 'gene studied')", path=filename,
                         hint="upload the Bundle written by `pgxguard report --format fhir`")
    refused: list[str] = []
    if kb is not None:
        from pgxguard.outside_calls import kb_vocabulary

        checker = RowChecker(kb_vocabulary(kb))
        for name, found in list(genes.items()):
            try:
                genes[name] = checked_gene_call(found, checker, kb)
            except NotationError as e:
                refused.append(f"{filename}: {e.message} ({e.hint})")
                genes[name] = GeneCall(gene=found.gene, warnings=(
                    *found.warnings, f"refused: {e.message} ({e.hint})"), source="none")
    return CallResult(
        knowledge_base={"version": kb_version, "sources": [
            {"name": "FHIR Bundle", "file": filename, "bundle_id": _text(doc.get("id")) or None}]},
        samples=(SampleCall(sample=sample, genes=tuple(sorted(genes.values(),
                                                               key=lambda g: g.gene))),),
        tool={"name": "pgxguard", "note": "calls extracted from a FHIR Bundle"},
        input={"path": filename, "format": "FHIR Bundle"},
        warnings=("calls read from a FHIR Bundle; they were made elsewhere and are not "
                  "re-called", *refused))


def checked_gene_call(g: GeneCall, checker: RowChecker,
                      kb: KnowledgeBase | None = None) -> GeneCall:
    """`g` with names and phenotype normalised as an outside-call row would be, or
    `NotationError` when a row saying the same would be refused.

    DPYD/RYR1 combinations (`[a + b]`, one strand) are checked member by member; with `kb` the
    phenotype must agree with the pair the lowest-function rule looks up."""
    gene = checker.gene(g.gene)
    phenotype = g.phenotype or ""
    score = "" if g.activity_score is None else repr(g.activity_score)
    for v in g.variants:  # lowest-function genes: named variants, each must be known
        checker.allele(v, gene, v)
    notes: list[str] = []
    diplotypes: list[tuple[str, ...]] = []
    combos = any(is_combination(a) for d in g.diplotypes for a in d)
    for d in g.diplotypes:
        if combos:
            for a in d:
                for member in combination_members(a):
                    checker.allele(member, gene, a)
            diplotypes.append(d)
            continue
        c = checker.check(gene, "/".join(d), "", "")
        if not c.diplotype:  # one HLA allele: a status, as a TSV row would read it
            phenotype = phenotype or (c.phenotype or "")
            continue
        diplotypes.append(tuple(a if n == 1 else f"{a}x{n}"
                                for a, n in zip(c.diplotype, c.copies, strict=True)))
        if phenotype or score:  # each (tied) diplotype must agree with what is stated
            notes += checker.check(gene, "/".join(d), phenotype, score).notes
    if combos and (phenotype or score):
        if kb is not None and gene in kb.phenotypes:
            from pgxguard.call.phenotype import lowest_of, strand_phenotype

            ref = next(iter(kb.definitions[gene].values())).reference_allele
            found = [strand_phenotype(kb, gene, [() if a == ref else combination_members(a)
                                                 for a in d]) for d in diplotypes]
            pair = found[lowest_of(kb, gene, [p for _, p in found])][1]
            notes += checker.check(gene, "/".join(pair), phenotype, score).notes
        else:
            notes.append("the phenotype of a combination could not be checked without the "
                         "knowledge base")
    stated = g.phenotype
    if phenotype:
        c = checker.check(gene, "", phenotype, score)
        stated = c.phenotype
        notes += c.notes
    return dataclasses.replace(g, gene=gene, diplotypes=tuple(diplotypes), phenotype=stated,
                               warnings=tuple(dict.fromkeys((*g.warnings, *notes))))


def _gene_call(gene: str, obs: dict[str, Any], resources: dict[str, dict[str, Any]],
               pheno: dict[str, Any] | None, filename: str) -> GeneCall:
    notes = [_text(n.get("text")) for n in _dicts(obs.get("note")) if _text(n.get("text"))]
    warnings = [n for n in notes if n != "Missing positions: none"
                and not n.startswith("Source: ")]
    warnings.append("extracted from a FHIR Bundle")
    value = _text(_d(obs.get("valueCodeableConcept")).get("text"))
    text = value.removeprefix(gene).strip()
    diplotypes: tuple[tuple[str, ...], ...] = ()
    variants: tuple[str, ...] = ()
    haps = []
    for ref in _dicts(obs.get("derivedFrom")):
        r = resources.get(_text(ref.get("reference")))
        if r is not None and _is(r, "haplotype", HAPLOTYPE):
            haps.append(_text(_d(r.get("valueCodeableConcept")).get("text"))
                        .removeprefix(gene).strip())
    if "dataAbsentReason" in obs or not text:
        warnings.append("no call in the Bundle")
    elif text.startswith("variants found"):
        variants = tuple(v.strip() for v in text.split(":", 1)[-1].split(",") if v.strip())
    elif haps and " | " not in text and "/".join(haps) == text:
        diplotypes = (tuple(haps),)
    else:
        parsed = [tuple(a.strip() for a in d.split("/")) for d in text.split(" | ")]
        if all(1 <= len(d) <= 2 and all(d) for d in parsed):
            diplotypes = tuple(parsed)
        else:
            warnings.append(f"genotype {value!r} could not be read into allele names")
    phenotype = None
    activity = None
    if pheno is not None:
        for comp in _dicts(pheno.get("component")):
            code = _d(comp.get("code"))
            if "therapeutic-implication" in _codes(code) and phenotype is None:
                phenotype = _text(_d(comp.get("valueCodeableConcept")).get("text")) or None
            elif code.get("text") == "Activity score" and "valueQuantity" in comp:
                value_ = _d(comp["valueQuantity"]).get("value")
                if isinstance(value_, bool) or not isinstance(value_, int | float) or \
                        not math.isfinite(value_):
                    raise InputError(f"{gene}: the activity score is not a number "
                                     f"({value_!r})", path=filename,
                                     hint="valueQuantity.value must be a JSON number")
                activity = float(value_)
    return GeneCall(gene=gene, diplotypes=diplotypes, variants=variants, phenotype=phenotype,
                    activity_score=activity, warnings=tuple(warnings),
                    source="outside" if diplotypes or variants or phenotype else "none")


__all__ = ["checked_gene_call", "extract_calls", "parse_bundle"]
