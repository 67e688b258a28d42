"""Medication review: a patient's calls x medicines -> prioritised, verbatim guidance.

For each medicine (a combination: each component that has guidance), the drug's guidance entries
(`GuidanceKB.for_drug`) are matched against the patient's gene results: an entry applies when all
its conditions hold (see `knowledge.py`). Then:

* the genes the drug's guidance needs are the genes of its evaluable conditions; a needed gene
  with no result (absent from the calls, no call, or not tested) gives the message
  ``no result for GENE: consider testing``; a gene whose tied diplotypes give different
  phenotypes (or disagree on what a condition asks) gives a message saying so; either makes the
  action at least ``result missing`` -- never ``standard``;
* action = the most urgent of the matched entries' actions and ``result missing`` when it applies;
* a drug with guidance but no entry for the patient's (complete) results: ``standard``, with a
  message that the sources list no recommendation for these results; when some of the drug's
  entries are keyed on something pgxguard cannot evaluate, ``result missing`` instead;
* a drug without guidance: ``no PGx guidance``.

Items are sorted by `Action.priority`, then medicine and drug name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pgxguard.errors import InputError, SampleError
from pgxguard.guidance.knowledge import (
    EVALUABLE,
    Condition,
    GuidanceEntry,
    GuidanceKB,
    norm_phenotype,
)
from pgxguard.guidance.medicines import MedicineIndex, default_index
from pgxguard.guidance.model import (
    Action,
    Medicine,
    MedicineReview,
    Recommendation,
    ReviewResult,
)
from pgxguard.io.notation import statuses_of
from pgxguard.kb.model import KnowledgeBase
from pgxguard.results import CallResult, GeneCall, SampleCall

ACTIONABLE = frozenset({Action.AVOID, Action.USE_ALTERNATIVE, Action.ADJUST_DOSE, Action.MONITOR})


@dataclass(frozen=True, slots=True)
class _GeneState:
    gene: str
    call: GeneCall | None
    missing: bool
    ambiguous: str | None  # why the phenotype cannot be decided, or None


def _state(sample: SampleCall, gene: str) -> _GeneState:
    try:
        g = sample.gene(gene)
    except KeyError:
        return _GeneState(gene, None, True, None)
    if not g.called or g.source == "none":
        return _GeneState(gene, g, True, None)
    distinct = {p for p in g.phenotypes if p is not None}
    if len(distinct) > 1:
        why = (f"{gene}: tied diplotypes {g.diplotype_text()} give different phenotypes "
               f"({', '.join(sorted(distinct))}); no single result to apply")
        return _GeneState(gene, g, False, why)
    return _GeneState(gene, g, False, None)


def _allele_matches(have: str, want: str, gene: str) -> bool:
    h = have.removeprefix(gene)
    w = want.removeprefix(gene)
    return h == w or h.startswith(w + ":")


def _genotypes(call: GeneCall, rsid: str, kb: KnowledgeBase) -> list[str] | None:
    by_build = kb.definitions.get(call.gene, {})
    for build in ("GRCh38", "GRCh37"):
        d = by_build.get(build)
        if d is None:
            continue
        for i, p in enumerate(d.positions):
            if not p.is_snv or rsid not in (p.rsid or "").split(","):
                continue
            out = []
            for dip in call.diplotypes:
                bases = []
                for name in dip:
                    try:
                        cell = d.allele(name).cells[i]
                    except KeyError:
                        return None
                    base = p.ref if cell is None else cell
                    if base not in ("A", "C", "G", "T"):
                        return None
                    bases.append(base)
                out.append("".join(sorted(bases)))
            return out or None
    return None


def _evaluate(c: Condition, st: _GeneState, kb: KnowledgeBase) -> bool | None:
    """True / False, or None when the result cannot decide it."""
    if c.kind == "missing":
        return st.missing
    if c.kind == "unsupported" or st.missing or st.call is None:
        return False if c.kind == "unsupported" else None
    g = st.call
    if c.kind == "phenotype":
        if st.ambiguous or g.phenotype is None:
            return None
        return norm_phenotype(g.phenotype, g.gene) in c.values
    if c.kind == "activity":
        if g.activity_score is None:
            return None
        return any(abs(g.activity_score - float(v)) < 1e-9 for v in c.values)
    if c.kind == "allele":
        if not g.diplotypes:
            # An outside call may state the status only (HLA-B "*57:01 positive").
            stated = statuses_of(g.phenotype).get(c.values[0].removeprefix(g.gene))
            if stated is None:
                return None
            return not stated if c.negate else stated
        hits = {any(_allele_matches(a, c.values[0], g.gene) for a in dip)
                for dip in g.diplotypes}
        if len(hits) > 1:
            return None
        hit = hits.pop()
        return not hit if c.negate else hit
    if c.kind == "diplotype":
        if not g.diplotypes:
            return None
        wanted = {tuple(sorted(v.split("/"))) for v in c.values}
        res = {tuple(sorted(d)) in wanted for d in g.diplotypes}
        return res.pop() if len(res) == 1 else None
    if c.kind == "genotype" and c.rsid:
        gts = _genotypes(g, c.rsid, kb)
        if gts is None:
            return None
        res = {gt in c.values for gt in gts}
        return res.pop() if len(res) == 1 else None
    return None


def _basis(st: _GeneState) -> str:
    g = st.call
    if g is None or st.missing:
        return "no result"
    dip = g.diplotype_text() or " + ".join(g.variants) or "no diplotype"
    facts = [g.phenotype or "no phenotype"]
    if g.activity_score is not None:
        facts.append(f"activity score {g.activity_score:g}")
    return f"{dip} ({'; '.join(facts)})"


def _recommendation(e: GuidanceEntry) -> Recommendation:
    return Recommendation(
        source=e.source, source_version=e.source_version, drug=e.drug, genes=e.genes,
        phenotypes={c.gene: (c.label if c.kind != "allele" or c.label.startswith("HLA")
                             else f"{c.gene}{c.label} carrier") for c in e.conditions},
        text=e.text, action=e.action, summary=e.summary, strength=None,
        guideline_id=e.guideline_id, guideline_url=e.guideline_url)


def review_drug(medicine: Medicine, drug: str, sample: SampleCall, guidance: GuidanceKB,
                kb: KnowledgeBase) -> MedicineReview:
    """The review of one drug (a component of `medicine`) for one sample."""
    entries = guidance.for_drug(drug)
    if not entries:
        return MedicineReview(medicine=medicine, drug=drug, action=Action.NO_GUIDANCE,
                              messages=(f"no CPIC or DPWG guidance for {drug} in the knowledge "
                                        f"base {guidance.version}",))
    needed = list(dict.fromkeys(c.gene for e in entries for c in e.conditions
                                if c.kind in EVALUABLE and c.gene != "-"))
    states = {g: _state(sample, g) for g in needed}
    for e in entries:
        for c in e.conditions:
            if c.gene not in states and c.gene != "-":
                states[c.gene] = _state(sample, c.gene)
    messages: list[str] = []
    missing = [g for g in needed if states[g].missing]
    messages += [f"no result for {g}: consider testing" for g in missing]
    ambiguous = [g for g in needed if states[g].ambiguous]
    messages += [str(states[g].ambiguous) for g in ambiguous]

    matched: list[GuidanceEntry] = []
    undecided: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for e in entries:
        results = [_evaluate(c, states.get(c.gene, _GeneState(c.gene, None, True, None)), kb)
                   for c in e.conditions]
        if all(r is True for r in results):
            if (e.source, e.text) not in seen:
                seen.add((e.source, e.text))
                matched.append(e)
        elif None in results and False not in results:
            undecided.update(c.gene for c, r in zip(e.conditions, results, strict=True)
                             if r is None)
    for g in sorted(undecided):
        if g in states and not states[g].missing and not states[g].ambiguous:
            messages.append(f"{g}: some guidance rows are keyed on a {g} fact the result does "
                            "not give (e.g. an activity score or a full diplotype)")
    unsupported = sorted({f"{e.source} {c.gene} '{c.label}'" for e in entries
                          for c in e.conditions if c.kind not in EVALUABLE or c.gene == "-"})
    if unsupported:
        messages.append("not evaluated from calls: " + "; ".join(unsupported))

    actions = [e.action for e in matched]
    if missing or ambiguous:
        actions.append(Action.RESULT_MISSING)
    if not actions:
        if unsupported:
            actions.append(Action.RESULT_MISSING)
        else:
            sources = sorted({e.source for e in entries})
            messages.append(f"{' and '.join(sources)} list no recommendation for these results")
            actions.append(Action.STANDARD)
    action = min(actions, key=lambda a: a.priority)
    matched.sort(key=lambda e: (e.source, e.action.priority))
    return MedicineReview(
        medicine=medicine, drug=drug, action=action,
        recommendations=tuple(_recommendation(e) for e in matched),
        basis={g: _basis(states[g]) for g in needed},
        missing_genes=tuple(missing + ambiguous), messages=tuple(messages))


def _pick_sample(calls: CallResult, sample: str | None) -> SampleCall:
    names = [s.sample for s in calls.samples]
    if sample is None:
        if len(names) != 1:
            raise SampleError(f"the calls hold {len(names)} samples; choose one with --sample",
                              hint=f"samples: {', '.join(names[:20]) or 'none'}")
        return calls.samples[0]
    try:
        return calls.sample(sample)
    except KeyError as e:
        raise SampleError(f"sample {sample!r} is not in the calls",
                          hint=f"samples: {', '.join(names[:20])}") from e


def split_medicines(text: str) -> list[str]:
    """`"a, b\\nc"` -> `["a", "b", "c"]` (commas, semicolons and new lines separate)."""
    return [p.strip() for line in text.splitlines() for p in line.replace(";", ",").split(",")
            if p.strip() and not p.strip().startswith("#")]


def review(calls: CallResult, medicines: Sequence[str] | str, *, sample: str | None = None,
           all_drugs: bool = False, guidance: GuidanceKB | None = None,
           kb: KnowledgeBase | None = None, index: MedicineIndex | None = None) -> ReviewResult:
    """Review `medicines` (names as written, or one comma-separated string) for one sample.

    `all_drugs=True` adds the "PGx passport": every drug of the guidance knowledge base whose
    action for this patient is avoid / use alternative / adjust dose / monitor.
    """
    from pgxguard import __version__
    from pgxguard.guidance.load import load_guidance
    from pgxguard.kb.load import load_knowledge_base

    meds = split_medicines(medicines) if isinstance(medicines, str) else [
        m.strip() for m in medicines if m.strip()]
    if not meds and not all_drugs:
        raise InputError("the medication list is empty",
                         hint="give medicines as 'a, b, c' or a file with one per line, "
                              "or use --all for every actionable medicine")
    gkb = guidance or load_guidance()
    akb = kb or load_knowledge_base()
    idx = index or default_index(akb, gkb)
    sc = _pick_sample(calls, sample)
    resolved = [idx.resolve(m) for m in meds]

    items: list[MedicineReview] = []
    for med in resolved:
        comps = [c for c in med.components if gkb.for_drug(c)]
        if not comps:
            items.append(review_drug(med, med.components[0], sc, gkb, akb))
            continue
        items += [review_drug(med, c, sc, gkb, akb) for c in comps]
    if all_drugs:
        listed = {i.drug for i in items}
        for d in gkb.drugs:
            if d in listed:
                continue
            med = Medicine(query=d, name=d, components=(d,), matched_by="generic",
                           mapping_source=f"guidance knowledge base {gkb.version}")
            item = review_drug(med, d, sc, gkb, akb)
            if item.action in ACTIONABLE:
                items.append(item)
    items.sort(key=lambda i: (i.action.priority, i.medicine.name.lower(), i.drug))
    kb_prov: dict[str, Any] = {"guidance": gkb.provenance(), "alleles": calls.knowledge_base}
    return ReviewResult(
        sample=sc.sample, items=tuple(items), knowledge_base=kb_prov,
        calls={"knowledge_base": calls.knowledge_base, "tool": calls.tool, "build": calls.build,
               "input": calls.input},
        tool={"name": "pgxguard", "version": __version__},
        options={"medicines": meds, "all_drugs": all_drugs})


__all__ = ["ACTIONABLE", "review", "review_drug", "split_medicines"]
