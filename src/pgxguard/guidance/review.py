"""Medication review: a patient's calls x medicines -> prioritised, verbatim guidance.

For each medicine (a combination: each component that has guidance), the drug's CPIC and DPWG
recommendations (`GuidanceKB.for_drug`) are matched by their lookup keys against the patient's
gene results (`knowledge.py` gives the condition kinds): a recommendation applies when every
gene of its key matches. Then (docs/guidance.md, "From recommendations to one badge"):

* a gene the drug's guidance needs that has no result (untested, no call), an indeterminate
  phenotype, or tied diplotypes that disagree makes the item at least ``result incomplete``,
  naming the gene and what would settle it -- never ``standard``; recommendations filed under
  "No Result" for such a gene are still shown;
* the badge is the most urgent class among the matched recommendations that recommend something
  (``no recommendation`` rows do not vote) and ``result incomplete`` when it applies; CPIC and
  DPWG disagreeing is stated;
* when nothing matched for a complete result, or only rows without a recommendation:
  ``no recommendation`` (``standard`` needs a recommendation that says so);
* CPIC changes after the knowledge base's snapshot (change log) are flagged on the drug;
* a drug without guidance: ``no PGx guidance``, unless CPIC published guidance for it after the
  snapshot (``result incomplete``, with the date).

Items are sorted by `Action.priority`, then medicine and drug name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pgxguard.call.results import CallResult, GeneCall, SampleCall
from pgxguard.errors import InputError, SampleError
from pgxguard.guidance.knowledge import (
    Condition,
    GuidanceEntry,
    GuidanceKB,
    norm_phenotype,
)
from pgxguard.guidance.medicines import MedicineIndex, default_index, split_medicines
from pgxguard.guidance.model import (
    Action,
    Medicine,
    MedicineReview,
    Recommendation,
    ReviewResult,
)
from pgxguard.io.notation import statuses_of
from pgxguard.kb.model import KnowledgeBase

ACTIONABLE = frozenset({Action.AVOID, Action.USE_ALTERNATIVE, Action.ADJUST_DOSE, Action.MONITOR})
NO_RESULT = "No Result"
NO_RESULT_BASIS = "no result"  # the basis of a gene the result does not hold or call
_INDETERMINATE = {"indeterminate", "n/a"}
# `GeneCall.source` of a gene whose results disagree (the service's patient profile, until the
# laboratory resolves it): the gene's warnings say which results and calls; never a call to act on.
CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class _GeneState:
    gene: str
    call: GeneCall | None
    missing: bool
    # Why the result cannot decide the guidance (indeterminate, ties), or None.
    incomplete: str | None


def conflict_reason(g: GeneCall) -> str:
    """Why a gene in conflict cannot be used: its warnings (the service's profile names the
    results and calls that disagree), shown alike in reviews and every card."""
    return "; ".join(g.warnings) or f"{g.gene}: results disagree; the laboratory must resolve it"


def genes_needed(guidance: GuidanceKB, drug: str) -> list[str]:
    """The genes the guidance of `drug` is keyed on (its entries' evaluable conditions and
    its guidelines), in order."""
    return list(dict.fromkeys(
        [c.gene for e in guidance.for_drug(drug) for c in e.conditions
         if c.kind != "unsupported"]
        + [g for gl in guidance.guidelines_for(drug) for g in gl.genes]))


def _state(sample: SampleCall, gene: str, kb: KnowledgeBase) -> _GeneState:
    try:
        g = sample.gene(gene)
    except KeyError:
        return _GeneState(gene, None, True, None)
    if g.source == CONFLICT:
        return _GeneState(gene, g, False, conflict_reason(g))
    if not g.called or g.source == "none":
        return _GeneState(gene, g, True, None)
    distinct = {p for p in g.phenotypes if p is not None}
    if len(distinct) > 1:
        return _GeneState(gene, g, False, (
            f"{gene}: tied diplotypes {g.diplotype_text()} give different phenotypes "
            f"({', '.join(sorted(distinct))}); phased data or a confirmatory test would settle "
            "it"))
    if g.phenotype is not None and g.phenotype.strip().lower() in _INDETERMINATE:
        return _GeneState(gene, g, False, (
            f"{gene}: phenotype Indeterminate for {g.diplotype_text() or 'this result'} (an "
            "allele of uncertain or unknown function); CPIC gives no phenotype to act on"))
    # A gene CPIC publishes no diplotype table for (CYP4F2, named by the warfarin guideline;
    # IFNL3, whose table has no rows) never has a phenotype: its called diplotype is complete.
    rules = kb.phenotypes.get(gene)
    if g.phenotype is None and g.diplotypes and g.lookup_key is None and \
            rules is not None and rules.rows and not gene.startswith("HLA-"):
        why = next((w for w in g.warnings if "no function" in w or "not in CPIC" in w), None)
        return _GeneState(gene, g, False, (
            f"{gene}: no phenotype for {g.diplotype_text()}"
            + (f" ({why})" if why else "") + "; a confirmatory test would settle it"))
    return _GeneState(gene, g, False, None)


def _allele_matches(have: str, want: str, gene: str) -> bool:
    h = have.removeprefix(gene)
    w = want.removeprefix(gene)
    return h == w or h.startswith(w + ":")


def _is_score(key: str) -> bool:
    k = key.lstrip("\u2265")
    return key == "n/a" or k.replace(".", "", 1).isdigit()


def _same(a: str, b: str, gene: str) -> bool:
    return norm_phenotype(a, gene) == norm_phenotype(b, gene)


def _evaluate(c: Condition, st: _GeneState) -> bool | None:
    """True / False, or None when the result cannot decide it."""
    if c.kind == "no_result":
        return st.missing
    if c.kind == "unsupported" or st.missing or st.call is None:
        return False
    g = st.call
    if c.kind == "lookup":
        # Calls saved before lookup keys existed carry the activity score: its published form
        key = g.lookup_key or (str(float(g.activity_score)) if g.activity_score is not None
                               else None)
        if key is not None and c.value == key:
            return True
        if g.phenotype is not None and not st.incomplete and _same(c.value, g.phenotype, g.gene):
            return True
        if key is None and (g.phenotype is None or st.incomplete or _is_score(c.value)):
            return None  # a score-keyed row and a result without a score: cannot decide
        return False
    if c.kind == "allele_status":
        if not g.diplotypes:
            # An outside call may state the status only (HLA-B "*57:01 positive").
            stated = statuses_of(g.phenotype).get(c.value.removeprefix(g.gene))
            if stated is None:
                return None
            return stated if c.positive else not stated
        hits = {any(_allele_matches(a, c.value, g.gene) for a in dip) for dip in g.diplotypes}
        if len(hits) > 1:
            return None
        hit = hits.pop()
        return hit if c.positive else not hit
    if c.kind == "diplotype":
        if not g.diplotypes:
            return None
        wanted = tuple(sorted(c.value.split("/")))
        res = {tuple(sorted(d)) == wanted for d in g.diplotypes}
        return res.pop() if len(res) == 1 else None
    return None


def _basis(st: _GeneState) -> str:
    g = st.call
    if g is None or st.missing:
        return NO_RESULT_BASIS
    if g.source == CONFLICT:
        return "results disagree (unresolved)"
    dip = g.diplotype_text() or " + ".join(g.variants) or "no diplotype"
    facts = [g.phenotype or "no phenotype"]
    if g.activity_score is not None:
        facts.append(f"activity score {g.activity_score:g}")
    elif g.lookup_key and g.lookup_key != g.phenotype:
        facts.append(f"activity score {g.lookup_key}")
    return f"{dip} ({'; '.join(facts)})"


def _recommendation(e: GuidanceEntry, guidance: GuidanceKB) -> Recommendation:
    return Recommendation(
        source=e.source,
        source_version=(f"{e.guideline_name}, ClinPGx/PharmGKB annotation "
                        f"({e.file.rsplit('/', 1)[-1]}, {guidance.snapshot_date})"),
        drug=e.drug, genes=e.genes,
        phenotypes={c.gene: c.label for c in e.conditions},
        text=e.text, action=e.action, summary=None, strength=e.strength,
        guideline_id=e.guideline_id, guideline_url=e.guideline_url,
        population=e.population if e.population not in (None, "general") else None,
        implications=e.implications, recommendation_id=e.recommendation_id,
        guideline_name=e.guideline_name, text_html=e.text_html, action_basis=e.action_basis)


def _messages(guidance: GuidanceKB, drug: str, genes: Sequence[str],
              states: dict[str, _GeneState]) -> list[str]:
    out: list[str] = []
    for m in guidance.messages:
        if m.drugs and drug not in m.drugs:
            continue
        if not m.gene:
            if m.drugs:
                out.append(f"PharmCAT note: {m.text}")
            continue
        st = states.get(m.gene)
        if m.gene not in genes or st is None or st.call is None or st.missing:
            continue
        dips = {"/".join(sorted(d)) for d in st.call.diplotypes}
        if m.diplotypes and not dips & {"/".join(sorted(x.split("/"))) for x in m.diplotypes}:
            continue
        called = {a for d in st.call.diplotypes for a in d}
        if m.alleles and not called & set(m.alleles):
            continue
        out.append(f"PharmCAT note ({m.gene}): {m.text}")
    return out


def _updates(guidance: GuidanceKB, drug: str, genes: tuple[str, ...]) -> tuple[str, ...]:
    by: dict[tuple[str, str], list[str]] = {}
    for c in guidance.changes_for(drug, genes):
        by.setdefault((c.subject, c.kind), []).append(c.date)
    out = []
    for (subject, kind), dates in sorted(by.items()):
        what = ("recommendations" if kind == "RECOMMENDATION" else
                f"{subject} allele function assignments")
        out.append(f"CPIC updated the {drug} {what} on {max(dates)}, after this knowledge base's "
                   f"guidance snapshot ({guidance.snapshot_date}): check cpicpgx.org")
    return tuple(out)


def review_drug(medicine: Medicine, drug: str, sample: SampleCall, guidance: GuidanceKB,
                kb: KnowledgeBase) -> MedicineReview:
    """The review of one drug (a component of `medicine`) for one sample."""
    entries = guidance.for_drug(drug)
    guidelines = guidance.guidelines_for(drug)
    if not entries and not guidelines:
        updates = _updates(guidance, drug, ())
        if updates:
            return MedicineReview(medicine=medicine, drug=drug, action=Action.RESULT_INCOMPLETE,
                                  messages=(f"no CPIC or DPWG guidance for {drug} in the "
                                            f"knowledge base {guidance.version}", *updates))
        return MedicineReview(medicine=medicine, drug=drug, action=Action.NO_GUIDANCE,
                              messages=(f"no CPIC or DPWG guidance for {drug} in the knowledge "
                                        f"base {guidance.version}",))
    needed = genes_needed(guidance, drug)
    states = {g: _state(sample, g, kb) for g in needed}
    messages: list[str] = []
    missing = [g for g in needed if states[g].missing]
    messages += [f"no result for {g}: consider testing" for g in missing]
    incomplete = [g for g in needed if states[g].incomplete]
    messages += [str(states[g].incomplete) for g in incomplete]

    matched: list[GuidanceEntry] = []
    undecided: set[str] = set()
    for e in entries:
        results = [_evaluate(c, states[c.gene]) if c.gene in states else False
                   for c in e.conditions]
        if all(r is True for r in results):
            matched.append(e)
        elif None in results and False not in results:
            undecided.update(c.gene for c, r in zip(e.conditions, results, strict=True)
                             if r is None)
    for g in sorted(undecided - set(incomplete) - set(missing)):
        messages.append(f"{g}: some recommendations are keyed on a {g} fact the result does not "
                        "give (e.g. an activity score or a full diplotype)")
    unsupported = sorted({f"{e.source} {c.gene} '{c.label}'" for e in entries
                          for c in e.conditions if c.kind == "unsupported"})
    if unsupported:
        messages.append("not evaluated from genotypes: " + "; ".join(unsupported))
    for gl in guidelines:
        if gl.recommendations == 0:
            messages.append(f"{gl.name}: no structured recommendations in the source (a dosing "
                            f"algorithm or free text); see {gl.url}")

    votes = [e for e in matched if e.action is not Action.NO_RECOMMENDATION]
    actions = [e.action for e in votes]
    if missing or incomplete or undecided:
        actions.append(Action.RESULT_INCOMPLETE)
    if not actions:
        actions.append(Action.NO_RECOMMENDATION)
        if not matched:
            sources = sorted({e.source for e in entries} | {g.source for g in guidelines})
            messages.append(f"{' and '.join(sources)} list no recommendation for these results")
    action = min(actions, key=lambda a: a.priority)
    by_source: dict[str, Action] = {}
    for e in votes:
        cur = by_source.get(e.source)
        if cur is None or e.action.priority < cur.priority:
            by_source[e.source] = e.action
    if len(set(by_source.values())) > 1:
        messages.append("CPIC and DPWG differ: " + "; ".join(
            f"{s} {a}" for s, a in sorted(by_source.items()))
            + f"; the more cautious ({min(by_source.values(), key=lambda a: a.priority)}) is "
              "shown")
    genes_used = tuple(needed)
    messages += _messages(guidance, drug, genes_used, states)
    updates = _updates(guidance, drug, genes_used)
    messages += list(updates)
    seen: set[tuple[str, str, str | None]] = set()
    recs: list[Recommendation] = []
    for e in sorted(matched, key=lambda e: (e.source, e.action.priority, e.population or "")):
        key = (e.source, e.text, e.population)
        if key not in seen:
            seen.add(key)
            recs.append(_recommendation(e, guidance))
    return MedicineReview(
        medicine=medicine, drug=drug, action=action, recommendations=tuple(recs),
        basis={g: _basis(states[g]) for g in needed},
        missing_genes=tuple(missing + incomplete), messages=tuple(dict.fromkeys(messages)))


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


__all__ = ["ACTIONABLE", "CONFLICT", "NO_RESULT_BASIS", "conflict_reason", "genes_needed",
           "review", "review_drug", "split_medicines"]
