"""HL7 FHIR R4 Bundles following the HL7 Genomics Reporting IG (STU3, 3.0.0).

Resources and profiles (http://hl7.org/fhir/uv/genomics-reporting/StructureDefinition/...):

- `Patient`: identified by the sample id (`identifier.system = SAMPLE_SYSTEM`).
- `DiagnosticReport` (`genomics-report`): code LOINC 81247-9, `result` -> every Observation
  below, extension `recommended-action` -> every Task.
- `Observation` (`genotype`, LOINC 84413-4 "Genotype display name"), one per gene, with the
  component gene studied (LOINC 48018-6, HGNC id where known). Ties: ONE Observation per gene
  whose value text lists every tied diplotype (`*1/*2 | *1/*3`, best first) and a note saying
  they are tied. We do not emit one Observation per tied diplotype: a receiver that reads "the
  genotype of gene X" must not be able to pick one of them up as if it were the result.
  No call: `dataAbsentReason` (`unknown`) with the reasons as text.
  Uncertainty travels in `Observation.note`: missing positions (count and list), structural
  variants not assessed, every warning, and whether the call came from an outside call.
- `Observation` (`haplotype`, LOINC 84414-2 "Haplotype name"): one per allele of an unambiguous
  diplotype (none for ties, whose haplotypes are not determined), `derivedFrom` of the genotype.
- `Observation` (`therapeutic-implication`): per gene with a phenotype (component
  therapeutic-implication = the phenotype term; LOINC 53040-2 "Genetic variation's effect on
  drug metabolism" when the term is a metaboliser status; activity score as a component), and
  per review recommendation (component medication-assessed LOINC 51963-7, the phenotypes the
  recommendation applies to, the verbatim text as `conclusion-string`; source, version,
  strength and guideline link in `note`). `derivedFrom` -> the genotype Observations it rests on.
- `Task` (`medication-recommendation`, status requested, intent proposal) per recommendation:
  `description` = verbatim text, `focus` -> a `MedicationStatement` of the medicine,
  `reasonReference` -> the implication. "result missing" items give a `followup-recommendation`
  Task whose description is the review's message.

Every `fullUrl` is a `urn:uuid:` derived (uuid5) from the content, so the same input gives the
same Bundle and all references resolve inside it. Validated in the tests with the R4B models of
`fhir.resources` 8.x (R4B leaves Observation, DiagnosticReport, Patient, Task, MedicationStatement
and Bundle as in R4).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pgxguard.call.results import CallResult
from pgxguard.guidance.model import Action, MedicineReview, Recommendation, ReviewResult
from pgxguard.report.view import (
    GeneRow,
    gene_row,
    guidance_kb,
    pick_sample,
    provenance,
    sorted_items,
)

IG = "http://hl7.org/fhir/uv/genomics-reporting"
PROFILE = {
    "report": f"{IG}/StructureDefinition/genomics-report",
    "genotype": f"{IG}/StructureDefinition/genotype",
    "haplotype": f"{IG}/StructureDefinition/haplotype",
    "implication": f"{IG}/StructureDefinition/therapeutic-implication",
    "medrec": f"{IG}/StructureDefinition/medication-recommendation",
    "followup": f"{IG}/StructureDefinition/followup-recommendation",
}
EXT_RECOMMENDED_ACTION = f"{IG}/StructureDefinition/recommended-action"
TBD = f"{IG}/CodeSystem/tbd-codes-cs"
LOINC = "http://loinc.org"
HGNC = "http://www.genenames.org/geneId"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
DMD = "https://dmd.nhs.uk"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
SAMPLE_SYSTEM = "urn:pgxguard:sample"
ACTION_SYSTEM = "urn:pgxguard:action-class"

# HGNC identifiers of pharmacogenes (www.genenames.org); genes not listed carry the symbol as
# text only, never a guessed code.
HGNC_IDS: dict[str, str] = {
    "CYP2B6": "HGNC:2615", "CYP2C19": "HGNC:2621", "CYP2C9": "HGNC:2623",
    "CYP2D6": "HGNC:2625", "CYP3A4": "HGNC:2637", "CYP3A5": "HGNC:2638",
    "CYP1A2": "HGNC:2596", "DPYD": "HGNC:3012", "G6PD": "HGNC:4057", "HLA-A": "HGNC:4931",
    "HLA-B": "HGNC:4932", "NAT2": "HGNC:7646", "NUDT15": "HGNC:23063",
    "SLCO1B1": "HGNC:10959", "TPMT": "HGNC:12014", "UGT1A1": "HGNC:12530",
    "VKORC1": "HGNC:23663",
}

# LOINC answer (list LL4049-4) used by the IG's medication-recommendation examples.
_LOINC_ACTION: dict[Action, tuple[str, str]] = {
    Action.AVOID: ("LA26421-0", "Consider alternative medication"),
    Action.USE_ALTERNATIVE: ("LA26421-0", "Consider alternative medication"),
}

_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/pgxguard/fhir")


def _cc(text: str, *codings: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text}
    if codings:
        out["coding"] = list(codings)
    return out


def _loinc(code: str, display: str) -> dict[str, str]:
    return {"system": LOINC, "code": code, "display": display}


def gene_concept(gene: str) -> dict[str, Any]:
    hgnc = HGNC_IDS.get(gene)
    if hgnc:
        return _cc(gene, {"system": HGNC, "code": hgnc, "display": gene})
    return _cc(gene)


def _gene_component(gene: str) -> dict[str, Any]:
    return {"code": _cc("Gene studied ID", _loinc("48018-6", "Gene studied [ID]")),
            "valueCodeableConcept": gene_concept(gene)}


_CATEGORY = [
    {"coding": [{"system": OBS_CATEGORY, "code": "laboratory", "display": "Laboratory"}]},
    {"coding": [{"system": V2_0074, "code": "GE", "display": "Genetics"}]},
]


class _Builder:
    """Collects resources, gives each a content-derived urn:uuid and resolvable references."""

    def __init__(self, seed: str, timestamp: str) -> None:
        self.seed = seed
        self.timestamp = timestamp
        self.entries: list[dict[str, Any]] = []
        self._ids: set[str] = set()

    def add(self, key: str, resource: dict[str, Any]) -> dict[str, str]:
        rid = str(uuid.uuid5(_NS, f"{self.seed}|{key}"))
        if rid in self._ids:
            raise ValueError(f"duplicate resource key {key!r}")
        self._ids.add(rid)
        resource = {"resourceType": resource.pop("resourceType"), "id": rid, **resource}
        self.entries.append({"fullUrl": f"urn:uuid:{rid}", "resource": resource})
        return {"reference": f"urn:uuid:{rid}"}

    def bundle(self, kind: str) -> dict[str, Any]:
        bid = str(uuid.uuid5(_NS, f"{self.seed}|bundle|{kind}"))
        return {"resourceType": "Bundle", "id": bid,
                "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{bid}"},
                "type": "collection", "timestamp": self.timestamp, "entry": self.entries}


def _timestamp(generated: datetime | None) -> str:
    return (generated or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _patient(b: _Builder, sample: str) -> dict[str, str]:
    ref = b.add(f"patient|{sample}", {
        "resourceType": "Patient",
        "identifier": [{"system": SAMPLE_SYSTEM, "value": sample}],
    })
    return {**ref, "display": sample}


def _notes(row: GeneRow) -> list[dict[str, str]]:
    notes: list[str] = []
    if row.tied:
        notes.append(f"Tied: {len(row.diplotypes)} diplotypes score equally and the data cannot "
                     f"tell them apart: {' | '.join(row.diplotypes)}")
        if row.tie_phenotypes:
            notes.append("Phenotypes of the tied diplotypes: " + "; ".join(
                f"{d}: {p or 'none'}" for d, p in zip(row.diplotypes, row.tie_phenotypes,
                                                       strict=False)))
    if row.missing_positions:
        notes.append(f"Missing positions ({len(row.missing_positions)}): "
                     + "; ".join(row.missing_positions))
    else:
        notes.append("Missing positions: none")
    if row.not_assessed:
        notes.append("Structural variants not assessed: " + ", ".join(row.not_assessed))
    notes.append(f"Source: {row.source}" + (" (phased data)" if row.phased else ""))
    notes.extend(f"Warning: {w}" for w in row.warnings)
    return [{"text": t} for t in notes]


def _genotype_obs(b: _Builder, subject: dict[str, str], row: GeneRow, issued: str,
                  method: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Genotype (and haplotype) Observations of one gene; returns (genotype ref, all refs)."""
    refs: list[dict[str, str]] = []
    hap_refs: list[dict[str, str]] = []
    if row.diplotypes and not row.tied:
        for i, allele in enumerate(row.alleles[0]):
            ref = b.add(f"haplotype|{row.gene}|{i}|{allele}", {
                "resourceType": "Observation",
                "meta": {"profile": [PROFILE["haplotype"]]},
                "status": "final", "category": _CATEGORY,
                "code": _cc("Haplotype name", _loinc("84414-2", "Haplotype name")),
                "subject": subject, "issued": issued,
                "valueCodeableConcept": _cc(f"{row.gene} {allele}"),
                "component": [_gene_component(row.gene)],
            })
            hap_refs.append({**ref, "display": f"{row.gene} {allele}"})
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [PROFILE["genotype"]]},
        "status": "final", "category": _CATEGORY,
        "code": _cc("Genotype display name", _loinc("84413-4", "Genotype display name")),
        "subject": subject, "issued": issued,
        "method": _cc(method),
    }
    if row.diplotypes:
        obs["valueCodeableConcept"] = _cc(f"{row.gene} " + " | ".join(row.diplotypes))
    elif row.variants:
        obs["valueCodeableConcept"] = _cc(
            f"{row.gene} variants found{'' if row.phased else ' (unphased)'}: "
            + ", ".join(row.variants))
    else:
        obs["dataAbsentReason"] = {
            "coding": [{"system": DATA_ABSENT, "code": "unknown", "display": "Unknown"}],
            "text": "no call: " + ("; ".join(row.warnings) or "no diplotype could be assigned"),
        }
    if row.tied or (not row.diplotypes and not row.variants):
        obs["interpretation"] = [_cc("indeterminate: tied diplotypes" if row.tied
                                     else "no call")]
    obs["component"] = [_gene_component(row.gene)]
    if hap_refs:
        obs["derivedFrom"] = hap_refs
    obs["note"] = _notes(row)
    ref = b.add(f"genotype|{row.gene}", obs)
    geno_ref = {**ref, "display": f"{row.gene} genotype"}
    refs.append(geno_ref)
    refs.extend(hap_refs)
    return geno_ref, refs


def _phenotype_obs(b: _Builder, subject: dict[str, str], row: GeneRow, issued: str,
                   geno: dict[str, str]) -> dict[str, str] | None:
    if not row.phenotype:
        return None
    comps: list[dict[str, Any]] = [
        {"code": _cc("Therapeutic implication",
                     {"system": TBD, "code": "therapeutic-implication"}),
         "valueCodeableConcept": _cc(row.phenotype)},
    ]
    if "metabolizer" in row.phenotype.lower():
        comps.append({"code": _cc("Genetic variation's effect on drug metabolism",
                                  _loinc("53040-2",
                                         "Genetic variation's effect on drug metabolism")),
                      "valueCodeableConcept": _cc(row.phenotype)})
    if row.activity_score is not None:
        comps.append({"code": _cc("Activity score"),
                      "valueQuantity": {"value": float(row.activity_score)}})
    comps.append(_gene_component(row.gene))
    ref = b.add(f"phenotype|{row.gene}", {
        "resourceType": "Observation",
        "meta": {"profile": [PROFILE["implication"]]},
        "status": "final", "category": _CATEGORY,
        "code": _cc("Therapeutic Implication",
                    {"system": TBD, "code": "therapeutic-implication"}),
        "subject": subject, "issued": issued,
        "derivedFrom": [geno],
        "component": comps,
    })
    return {**ref, "display": f"{row.gene} {row.phenotype}"}


def _medication_concept(item: MedicineReview) -> dict[str, Any]:
    med = item.medicine
    codings: list[dict[str, str]] = []
    single = len(med.components) <= 1
    if single and med.rxnorm:
        codings.append({"system": RXNORM, "code": med.rxnorm, "display": item.drug})
    if single:
        codings.extend({"system": ATC, "code": a} for a in med.atc)
    if med.dmd:
        codings.append({"system": DMD, "code": med.dmd, "display": med.name})
    return _cc(item.drug, *codings)


def _rec_note(rec: Recommendation, updates: tuple[str, ...] = ()) -> list[dict[str, str]]:
    parts = [f"Source: {rec.source} ({rec.source_version})"]
    if rec.strength:
        parts.append(f"Strength: {rec.strength}")
    if rec.population:
        parts.append(f"Population: {rec.population}")
    parts += [f"Implication (verbatim): {x}" for x in rec.implications]
    parts.append(f"Action class: {rec.action}" + (f" ({rec.action_basis})"
                                                   if rec.action_basis else ""))
    parts += list(updates)
    if rec.guideline_id:
        parts.append(f"Guideline: {rec.guideline_id}")
    if rec.guideline_url:
        parts.append(f"Guideline URL: {rec.guideline_url}")
    if rec.summary:
        parts.append(f"Summary (verbatim): {rec.summary}")
    return [{"text": p} for p in parts]


def _action_concept(action: Action) -> dict[str, Any]:
    codings = [{"system": ACTION_SYSTEM, "code": str(action), "display": str(action)}]
    if action in _LOINC_ACTION:
        code, display = _LOINC_ACTION[action]
        codings.insert(0, {"system": LOINC, "code": code, "display": display})
    return _cc(str(action), *codings)


def _review_resources(b: _Builder, subject: dict[str, str], review: ReviewResult, issued: str,
                      genotype_refs: dict[str, dict[str, str]]
                      ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Implications and Tasks of a review; returns (observation refs, task refs)."""
    obs_refs: list[dict[str, str]] = []
    task_refs: list[dict[str, str]] = []
    med_refs: dict[str, dict[str, str]] = {}
    for n, item in enumerate(sorted_items(review)):
        if item.action is Action.NO_GUIDANCE:
            continue
        med_key = f"{item.medicine.query}|{item.drug}"
        if med_key not in med_refs:
            med_refs[med_key] = {**b.add(f"medication|{med_key}", {
                "resourceType": "MedicationStatement",
                "status": "unknown",
                "medicationCodeableConcept": _medication_concept(item),
                "subject": subject,
                "note": [{"text": f"as written: {item.medicine.query}"}],
            }), "display": item.drug}
        focus = med_refs[med_key]
        med_component = {"code": _cc("Medication assessed",
                                     _loinc("51963-7", "Medication assessed [Type]")),
                         "valueCodeableConcept": _medication_concept(item)}
        if item.action is Action.RESULT_MISSING:
            text = "; ".join(item.messages) or (
                "no result for " + ", ".join(item.missing_genes))
            ref = b.add(f"followup|{n}|{med_key}", {
                "resourceType": "Task",
                "meta": {"profile": [PROFILE["followup"]]},
                "status": "requested", "intent": "proposal",
                "code": _action_concept(item.action),
                "description": text,
                "focus": focus, "for": subject, "authoredOn": issued,
                "input": [{"type": _cc("gene without a result"), "valueString": g}
                          for g in item.missing_genes] or None,
            })
            task_refs.append({**ref, "display": f"{item.drug}: {item.action}"})
            continue
        for k, rec in enumerate(item.recommendations):
            derived = [genotype_refs[g] for g in rec.genes if g in genotype_refs]
            comps: list[dict[str, Any]] = [med_component]
            for gene, ph in rec.phenotypes.items():
                comps.append({"code": _cc("Therapeutic implication",
                                          {"system": TBD, "code": "therapeutic-implication"}),
                              "valueCodeableConcept": _cc(f"{gene} {ph}")})
            comps.append({"code": _cc("Conclusion", {"system": TBD,
                                                     "code": "conclusion-string"}),
                          "valueString": rec.text})
            obs: dict[str, Any] = {
                "resourceType": "Observation",
                "meta": {"profile": [PROFILE["implication"]]},
                "status": "final", "category": _CATEGORY,
                "code": _cc("Therapeutic Implication",
                            {"system": TBD, "code": "therapeutic-implication"}),
                "subject": subject, "issued": issued,
                "component": comps,
                "note": _rec_note(rec, tuple(m for m in item.messages
                                             if m.startswith("CPIC updated"))),
            }
            if derived:
                obs["derivedFrom"] = derived
            impl = {**b.add(f"implication|{n}|{k}|{med_key}|{rec.source}", obs),
                    "display": f"{item.drug} ({rec.source})"}
            obs_refs.append(impl)
            task = {
                "resourceType": "Task",
                "meta": {"profile": [PROFILE["medrec"]]},
                "status": "requested", "intent": "proposal",
                "code": _action_concept(rec.action),
                "description": rec.text,
                "focus": focus, "for": subject, "authoredOn": issued,
                "reasonReference": impl,
                "note": _rec_note(rec),
            }
            ref = b.add(f"task|{n}|{k}|{med_key}|{rec.source}", task)
            task_refs.append({**ref, "display": f"{item.drug}: {rec.action} ({rec.source})"})
    for e in b.entries:  # drop empty optional lists (FHIR forbids empty arrays)
        r = e["resource"]
        if r.get("input") is None:
            r.pop("input", None)
    return obs_refs, task_refs


def _report(b: _Builder, subject: dict[str, str], issued: str, results: list[dict[str, str]],
            tasks: list[dict[str, str]], conclusion: str, kb_version: str | None) -> None:
    rep: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "meta": {"profile": [PROFILE["report"]]},
        "status": "final",
        "category": [{"coding": [{"system": V2_0074, "code": "GE", "display": "Genetics"}]}],
        "code": _cc("Pharmacogenomic report",
                    _loinc("81247-9", "Master HL7 genetic variant reporting panel")),
        "subject": subject, "issued": issued, "effectiveDateTime": issued,
        "conclusion": conclusion,
    }
    if tasks:
        rep["extension"] = [{"url": EXT_RECOMMENDED_ACTION, "valueReference": t} for t in tasks]
    if results:
        rep["result"] = results
    b.add(f"report|{kb_version}", rep)
    # the report first, as readers expect
    b.entries.insert(0, b.entries.pop())


def _provenance(b: _Builder, prov: dict[str, Any], issued: str) -> None:
    """A Provenance resource naming every knowledge-base source file (name, version, SHA-256,
    licence) the report rests on, with the sources' attributions and known limits."""
    report = b.entries[0]
    entities = [{"role": "source", "what": {"display": " ".join(x for x in (
        str(src.get("name", "")), str(src.get("version", "")),
        f"sha256:{src['sha256']}" if src.get("sha256") else "",
        f"({src.get('licence', '')})" if src.get("licence") else "") if x)}}
        for src in prov.get("all_sources", []) if isinstance(src, dict)]
    if not entities:
        return
    tool = prov.get("tool") or {}
    resource: dict[str, Any] = {
        "resourceType": "Provenance",
        "target": [{"reference": report["fullUrl"]}],
        "recorded": issued,
        "agent": [{"who": {"display": f"{tool.get('name', 'pgxguard')} "
                                      f"{tool.get('version', '')}".strip()}}],
        "entity": entities,
    }
    reasons = [_cc(x) for x in [*prov.get("attributions", []), *prov.get("limits", [])]]
    if reasons:  # FHIR elements are absent, never null or empty
        resource["reason"] = reasons
    b.add("provenance", resource)


def _seed(*parts: Any) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def report_bundle(calls: CallResult, review: ReviewResult | None, sample: str, *,
                  generated: datetime | None = None, preliminary: bool = False,
                  authorised: str | None = None,
                  interpreter: str | None = None) -> dict[str, Any]:
    """Calls (+ review) of one sample as a FHIR R4 `collection` Bundle (see module doc).

    `preliminary`: the result is not signed off yet (the service's sign-off): the report and
    its observations are `preliminary`, not `final`. `authorised`: who signed it off and when,
    stated in the report's conclusion; `interpreter`: that person's name, as the report's
    `resultsInterpreter` (a display-only reference: users are not FHIR Practitioners here)."""
    s = pick_sample(calls, sample)
    prov = provenance(calls, review)
    issued = _timestamp(generated)
    b = _Builder(_seed(s.to_json(), review.to_json() if review else None,
                       prov["kb_version"]), issued)
    subject = _patient(b, s.sample)
    results: list[dict[str, str]] = []
    geno_refs: dict[str, dict[str, str]] = {}
    rows = [gene_row(g) for g in s.genes]
    tool = prov["tool"]
    for row in rows:
        method = (f"outside call: {row.origin}" if row.origin else
                  "outside call (--outside-calls)" if row.source == "outside" else
                  f"{tool.get('name', 'pgxguard')} {tool.get('version', '')} star-allele "
                  f"matcher on {calls.build or 'unknown build'} VCF").strip()
        geno, refs = _genotype_obs(b, subject, row, issued, method)
        geno_refs[row.gene] = geno
        ph = _phenotype_obs(b, subject, row, issued, geno)
        results.extend(refs)
        if ph is not None:
            results.append(ph)
    tasks: list[dict[str, str]] = []
    if review is not None:
        obs, tasks = _review_resources(b, subject, review, issued, geno_refs)
        results.extend(obs)
    n_called = sum(r.called for r in rows)
    sv = [r.gene for r in rows if r.not_assessed]
    conclusion = (f"{n_called} of {len(rows)} genes called"
                  f" (knowledge base {prov['kb_version'] or 'unknown'})."
                  + (f" No call: {', '.join(r.gene for r in rows if not r.called)}."
                     if n_called < len(rows) else "")
                  + (f" Tied diplotypes: {', '.join(r.gene for r in rows if r.tied)}."
                     if any(r.tied for r in rows) else "")
                  + (f" Structural variants not assessed: {', '.join(sv)}." if sv else "")
                  # input problems (refused outside-call rows, htslib's warnings) travel too
                  + (f" Input warnings: {' | '.join(calls.warnings)}." if calls.warnings
                     else "")
                  + (" PROVISIONAL: not yet signed off by the laboratory." if preliminary
                     else "")
                  + (f" Authorised by {authorised}." if authorised else ""))
    _report(b, subject, issued, results, tasks, conclusion, prov["kb_version"])
    _provenance(b, prov, issued)
    bundle = b.bundle("report")
    for e in bundle["entry"]:
        res = e["resource"]
        if preliminary and res["resourceType"] in ("Observation", "DiagnosticReport") and \
                res.get("status") == "final":
            res["status"] = "preliminary"
        if interpreter and res["resourceType"] == "DiagnosticReport":
            res["resultsInterpreter"] = [{"display": interpreter}]
    return bundle


def review_bundle(review: ReviewResult, *, generated: datetime | None = None) -> dict[str, Any]:
    """A medication review alone as a FHIR R4 Bundle: genotype Observations rebuilt from each
    item's basis ("diplotype (phenotype)" text), implications, Tasks and a DiagnosticReport."""
    issued = _timestamp(generated)
    b = _Builder(_seed(review.to_json()), issued)
    subject = _patient(b, review.sample)
    geno_refs: dict[str, dict[str, str]] = {}
    results: list[dict[str, str]] = []
    for item in sorted_items(review):
        for gene, basis in item.basis.items():
            if gene in geno_refs:
                continue
            ref = b.add(f"genotype|{gene}", {
                "resourceType": "Observation",
                "meta": {"profile": [PROFILE["genotype"]]},
                "status": "final", "category": _CATEGORY,
                "code": _cc("Genotype display name",
                            _loinc("84413-4", "Genotype display name")),
                "subject": subject, "issued": issued,
                "valueCodeableConcept": _cc(f"{gene} {basis}"),
                "component": [_gene_component(gene)],
                "note": [{"text": "from the medication review's basis; see the call report "
                                  "for missing positions and structural variants"}],
            })
            geno_refs[gene] = {**ref, "display": f"{gene} genotype"}
            results.append(geno_refs[gene])
    obs, tasks = _review_resources(b, subject, review, issued, geno_refs)
    results.extend(obs)
    kb = guidance_kb(review).get("version")
    _report(b, subject, issued, results, tasks,
            f"Medication review of {len(review.items)} item(s) (knowledge base "
            f"{kb or 'unknown'}).", kb)
    return b.bundle("review")


__all__ = ["HGNC_IDS", "PROFILE", "gene_concept", "report_bundle",
           "review_bundle"]
