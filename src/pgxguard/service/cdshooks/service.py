"""CDS Hooks 2.0: turn an EHR's hook call into cards, from the patient's PGx profile.

The flow of a call (see router.py): `service_for` + `check_request` (422 on a malformed call),
`find_patient` (context.patientId or the NHS number of the prefetched Patient), `snapshot` (the
database reads: latest interpreted result and open test orders), then `run_hook` (no database):

* order-select / order-sign: the draft MedicationRequests (order-select: only the `selections`)
  are resolved with the guidance medicine resolver (RxNorm, dm+d, ATC codes, then display and
  text); an unrecognised one gets an info card saying it was not checked (never silence).
  The guidance review of the resolved medicines gives one card per medicine (CPIC and DPWG
  inside) through `report.cards.cds_cards`. A medicine that prompts a directory test
  (`test_directory.tsv` trigger_drugs) whose genes the patient has no result for gets a
  warning card suggesting the test (a FHIR R4 ServiceRequest to create: subject, status,
  intent, the test coded in `DIRECTORY_SYSTEM`), or an info card when an order for it is
  already open; a "result incomplete" card suggests the directory test of each gene the result
  on record lacks.
* patient-view: the "PGx passport" (review with all_drugs), avoid / use alternative / adjust dose
  items only, so the chart shows what matters and nothing else; and a "result incomplete"
  warning card per gene in conflict (signed-off results disagree), which no medicine's card
  shows until that medicine is ordered.

Nothing is stored but the audit row: a CDS call is a look-up, not a medication review on record.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from pgxguard.call.results import CallResult, GeneCall
from pgxguard.errors import PgxError
from pgxguard.guidance.knowledge import GuidanceKB
from pgxguard.guidance.load import load_guidance
from pgxguard.guidance.medicines import MedicineIndex, default_index
from pgxguard.guidance.model import Action, Medicine, MedicineReview, ReviewResult
from pgxguard.guidance.review import CONFLICT, conflict_reason, genes_needed, review
from pgxguard.kb.model import KnowledgeBase
from pgxguard.report.cards import SUMMARY_MAX, cds_cards
from pgxguard.report.view import guidance_kb, markdown_escape
from pgxguard.service.cdshooks.schemas import DiscoveryOut, HookRequest, ServiceOut
from pgxguard.service.errors import NotFoundError, ValidationFailedError
from pgxguard.service.ids import MAX_ROW_ID
from pgxguard.service.models import Order, Patient
from pgxguard.service.orders.directory import (
    DIRECTORY_SYSTEM,
    DirectoryTest,
    for_missing_genes,
    prompted_by_drug,
)
from pgxguard.service.orders.service import Status
from pgxguard.service.patients.nhs import normalise_nhs_number
from pgxguard.service.results import profile as profiles

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
DMD = ("https://dmd.nhs.uk", "http://snomed.info/sct")  # dm+d codes are SNOMED CT ids
# FHIR R4 ServiceRequest category (value set servicerequest-category): SNOMED CT
LAB_PROCEDURE = {"system": "http://snomed.info/sct", "code": "108252007",
                 "display": "Laboratory procedure"}
OPEN_ORDER = (Status.REQUESTED, Status.SAMPLE_RECEIVED, Status.IN_ANALYSIS)
PASSPORT_ACTIONS = frozenset({Action.AVOID, Action.USE_ALTERNATIVE, Action.ADJUST_DOSE})
_NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/pgxguard/cds-hooks/service")
_INDICATOR_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class HookService:
    id: str
    hook: str
    title: str
    description: str
    prefetch: dict[str, str]
    orders: bool  # reads context.draftOrders

    def out(self) -> ServiceOut:
        return ServiceOut(hook=self.hook, title=self.title, description=self.description,
                          id=self.id, prefetch=dict(self.prefetch),
                          usageRequirements="Authorization: Bearer <pgxguard token of a "
                                            "prescriber account>; the patient is found by "
                                            "context.patientId or the NHS number of prefetch "
                                            "'patient'")


_PATIENT = {"patient": "Patient/{{context.patientId}}"}
SERVICES: dict[str, HookService] = {s.id: s for s in (
    HookService("pgxguard-order-select", "order-select", "pgxguard: PGx check of selected orders",
                "Checks the selected medication orders against the patient's pharmacogenomic "
                "result (CPIC and DPWG guidance, verbatim) and suggests a PGx test when one is "
                "needed and missing.", _PATIENT, orders=True),
    HookService("pgxguard-order-sign", "order-sign", "pgxguard: PGx check before signing",
                "Checks every draft medication order against the patient's pharmacogenomic "
                "result before signing and suggests a PGx test when one is needed and missing.",
                _PATIENT, orders=True),
    HookService("pgxguard-patient-view", "patient-view", "pgxguard: PGx passport",
                "Shows the medicines the patient's pharmacogenomic result says to avoid, "
                "replace or dose differently.", _PATIENT, orders=False),
)}


def discovery() -> DiscoveryOut:
    return DiscoveryOut(services=[s.out() for s in SERVICES.values()])


def service_for(service_id: str) -> HookService:
    s = SERVICES.get(service_id)
    if s is None:
        raise NotFoundError(f"no CDS service {service_id!r}",
                            hint="services: " + ", ".join(SERVICES) + " (GET /cds-services)")
    return s


def check_request(svc: HookService, req: HookRequest) -> None:
    """What pydantic cannot say: the hook matches the service, order hooks carry draftOrders,
    order-select carries selections."""
    if req.hook != svc.hook:
        raise ValidationFailedError(f"hook {req.hook!r} sent to service {svc.id!r}, which "
                                    f"answers {svc.hook!r}", hint="see GET /cds-services")
    if svc.orders and req.context.draftOrders is None:
        raise ValidationFailedError(f"{svc.hook}: context.draftOrders (a FHIR Bundle) is "
                                    "required")
    if svc.hook == "order-select" and req.context.selections is None:
        raise ValidationFailedError("order-select: context.selections is required (ids such "
                                    "as 'MedicationRequest/123')")
    if not req.context.patientId and nhs_number_of(req) is None:
        raise ValidationFailedError("no patient: give context.patientId or a prefetch "
                                    f"'patient' with an identifier of system "
                                    f"{NHS_NUMBER_SYSTEM}")


def printable(text: str) -> str:
    """`text` with control characters replaced: it goes into the audit log (and PostgreSQL
    refuses NUL in text)."""
    return "".join(c if c.isprintable() else "?" for c in text)


# --- patient -------------------------------------------------------------------------------

def nhs_number_of(req: HookRequest) -> str | None:
    pat = (req.prefetch or {}).get("patient")
    if not isinstance(pat, dict) or pat.get("resourceType") != "Patient":
        return None
    idents = pat.get("identifier")
    for ident in idents if isinstance(idents, list) else ():
        if isinstance(ident, dict) and ident.get("system") == NHS_NUMBER_SYSTEM:
            value = ident.get("value")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


@dataclass(frozen=True, slots=True)
class PatientRef:
    id: int
    nhs_number: str


# Statements built once (the hot path): plain Core selects of the few columns a hook needs.
_PATIENT_BY_ID = select(Patient.id, Patient.nhs_number).where(Patient.id == bindparam("v"))
_PATIENT_BY_NHS = select(Patient.id, Patient.nhs_number).where(
    Patient.nhs_number == bindparam("v"))
_OPEN_ORDERS = (select(Order.id, Order.test_code, Order.status, Order.created_at)
                .where(Order.patient_id == bindparam("pid"),
                       Order.status.in_([s.value for s in OPEN_ORDER]))
                .order_by(Order.id))


def find_patient(session: Session, req: HookRequest) -> PatientRef | None:
    """The NHS number of the prefetched Patient when there is one (it identifies the person
    whatever the EHR's ids); else context.patientId as this service's patient id. None: no
    match (the caller answers with no cards)."""
    nhs = nhs_number_of(req)
    if nhs is not None:
        try:
            key: object = normalise_nhs_number(nhs)
        except PgxError:  # not a valid NHS number: cannot be one of ours
            return None
        stmt = _PATIENT_BY_NHS
    else:
        pid = (req.context.patientId or "").removeprefix("Patient/").strip()
        # an id the INTEGER column cannot hold names nobody (PostgreSQL refused it: a 500)
        if not (pid.isascii() and pid.isdigit()) or len(pid) > 10 or int(pid) > MAX_ROW_ID:
            return None
        key, stmt = int(pid), _PATIENT_BY_ID
    row = session.connection().execute(stmt, {"v": key}).first()
    return PatientRef(row[0], row[1]) if row is not None else None


# --- what the database holds, read once -------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OpenOrder:
    id: int
    test_code: str
    status: str
    created: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The patient's data a hook needs, read in one short transaction."""

    patient_id: int
    nhs_number: str
    version_id: int | None = None  # the result version in use (newest signed-off one)
    result_id: int | None = None
    version: int | None = None
    calls: CallResult | None = None  # parsed
    open_orders: tuple[OpenOrder, ...] = ()
    # (result id, version) of a newer interpretation awaiting laboratory sign-off, if any
    pending: tuple[int, int] | None = None
    # the profile's identity (versions in use, resolutions) and its results, as text
    profile_key: Hashable = None
    sources: str = ""


def snapshot(session: Session, patient: PatientRef, *, orders: bool,
             cache: HookCache | None = None, require_signoff: bool = True) -> Snapshot:
    """Read what the hook needs: the patient's PGx profile (`results.profile`: every
    signed-off result merged per gene, reading ids and statuses, not the stored inputs; the
    calls JSON only when `cache` does not hold them parsed) and open test orders."""
    conn = session.connection()
    hc = cache or HookCache(1)
    prof = profiles.patient_profile(
        session, patient.id, require_signoff=require_signoff,
        load_calls=lambda vid, load: hc.calls(vid, load, origin=f"result version {vid}"))
    pending = prof.pending[-1] if prof.pending else None
    open_orders: tuple[OpenOrder, ...] = ()
    if orders:
        open_orders = tuple(OpenOrder(r[0], r[1], r[2], r[3].date().isoformat())
                            for r in conn.execute(_OPEN_ORDERS, {"pid": patient.id}))
    if prof.calls is None:
        return Snapshot(patient.id, patient.nhs_number, open_orders=open_orders,
                        pending=pending)
    newest = prof.sources[0]
    return Snapshot(patient.id, patient.nhs_number, version_id=newest.version_id,
                    result_id=newest.result_id, version=newest.version, calls=prof.calls,
                    open_orders=open_orders, pending=pending, profile_key=prof.key,
                    sources=prof.sources_text())


class _LRU:
    """A small bounded, thread-safe LRU map (values are immutable or never mutated)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class HookCache:
    """What a hook call computes that depends only on immutable inputs, kept between calls:
    parsed calls per result version (versions are never changed), medicine resolution per text
    (per medicine index), and each medicine's cards per (result version, knowledge bases). Keys
    hold object ids, so each entry also keeps the objects and is used only when they match."""

    def __init__(self, size: int = 4096) -> None:
        self._calls = _LRU(256)
        self._meds = _LRU(size)
        self._cards = _LRU(size)

    def calls(self, version_id: int, load: Callable[[], str | None], *,
              origin: str) -> CallResult | None:
        """The parsed calls of a result version; `load()` gives the JSON on a miss."""
        hit = self._calls.get(version_id)
        if hit is None:
            text = load()
            if not text:
                return None
            hit = CallResult.from_json(json.loads(text), origin=origin)
            self._calls.put(version_id, hit)
        calls: CallResult = hit
        return calls

    def medicine(self, index: MedicineIndex, text: str) -> Medicine | None:
        hit = self._meds.get((id(index), text))
        if hit is not None and hit[0] is index:
            med: Medicine | None = hit[1]
            return med
        try:
            med = index.resolve(text, suggest=False)
        except PgxError:
            med = None
        self._meds.put((id(index), text), (index, med))
        return med

    def cards(self, key: tuple[Hashable, ...], keep: tuple[Any, ...],
              make: Callable[[], tuple[int, list[dict[str, Any]]]]
              ) -> tuple[int, list[dict[str, Any]]]:
        hit = self._cards.get(key)
        if hit is not None and all(a is b for a, b in zip(hit[0], keep, strict=True)):
            value: tuple[int, list[dict[str, Any]]] = hit[1]
            return value
        value = make()
        self._cards.put(key, (keep, value))
        return value


# --- medicines from the draft orders ---------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DraftMedicine:
    ref: str  # "MedicationRequest/abc"
    candidates: tuple[str, ...]  # codes and names to try, most specific first


def _candidates(resource: dict[str, Any]) -> tuple[str, ...]:
    concept = resource.get("medicationCodeableConcept")
    if concept is None and isinstance(resource.get("medication"), dict):  # FHIR R5 shape
        concept = resource["medication"].get("concept")
    if not isinstance(concept, dict):
        return ()
    codes: list[str] = []
    names: list[str] = []
    codings = concept.get("coding")
    for coding in codings if isinstance(codings, list) else ():
        if not isinstance(coding, dict):
            continue
        system, code = coding.get("system"), coding.get("code")
        if isinstance(code, str) and code.strip() and (system in (RXNORM, ATC) or system in DMD):
            codes.append(code.strip())
        if isinstance(coding.get("display"), str) and coding["display"].strip():
            names.append(coding["display"].strip())
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        names.append(concept["text"].strip())
    return tuple(dict.fromkeys(codes + names))


def draft_medicines(req: HookRequest, *, selected_only: bool) -> tuple[list[DraftMedicine],
                                                                        list[str]]:
    """The MedicationRequests of context.draftOrders (only the selections for order-select)."""
    bundle = req.context.draftOrders
    notes: list[str] = []
    if bundle is None:
        return [], notes
    wanted = set(req.context.selections or ()) if selected_only else None
    found: list[DraftMedicine] = []
    seen: set[str] = set()
    for i, entry in enumerate(bundle.entry):
        res = entry.resource or {}
        rtype = res.get("resourceType")
        ref = f"{rtype}/{res['id']}" if res.get("id") else f"{rtype}[{i}]"
        if wanted is not None and ref not in wanted:
            continue
        seen.add(ref)
        if rtype != "MedicationRequest":
            continue
        # no medicationCodeableConcept (code or text): kept, so it gets a "could not check" card
        found.append(DraftMedicine(ref, _candidates(res)))
    for missing in sorted((wanted or set()) - seen):
        notes.append(f"selection {missing} is not in context.draftOrders; skipped")
    return found, notes


def resolve(drafts: Iterable[DraftMedicine], index: MedicineIndex,
            cache: HookCache | None = None
            ) -> tuple[list[tuple[str, Medicine]], list[DraftMedicine]]:
    """(name as resolved, Medicine) per draft, de-duplicated; and the drafts not recognised."""
    cache = cache or HookCache(64)
    out: list[tuple[str, Medicine]] = []
    notes: list[DraftMedicine] = []
    names: set[str] = set()
    for d in drafts:
        for c in d.candidates:
            med = cache.medicine(index, c)
            if med is None:
                continue
            if med.name not in names:
                names.add(med.name)
                out.append((c, med))
            break
        else:
            notes.append(d)
    return out, notes


# --- cards ----------------------------------------------------------------------------------

def _cut(text: str) -> str:
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def _with_uuid(card: dict[str, Any]) -> dict[str, Any]:
    key = json.dumps(card, sort_keys=True, ensure_ascii=False)
    return {"uuid": str(uuid.uuid5(_NS, key)), **card}


def _test_concept(test: DirectoryTest) -> dict[str, Any]:
    return {"coding": [{"system": DIRECTORY_SYSTEM, "code": test.code, "display": test.name}],
            "text": test.name}


def subject_of(req: HookRequest, snap: Snapshot) -> dict[str, Any]:
    """The FHIR Reference to the patient as the EHR knows them: its context.patientId (else the
    id of the prefetched Patient), with the NHS number as identifier."""
    ident = {"system": NHS_NUMBER_SYSTEM, "value": snap.nhs_number}
    pid = (req.context.patientId or "").removeprefix("Patient/").strip()
    if not pid:
        pat = (req.prefetch or {}).get("patient")
        pid = str(pat.get("id") or "") if isinstance(pat, dict) else ""
    return {"reference": f"Patient/{pid}", "identifier": ident} if pid else {"identifier": ident}


def order_suggestion(test: DirectoryTest, drug: str, med: Medicine | None,
                     subject: dict[str, Any], snap: Snapshot) -> dict[str, Any]:
    """A CDS Hooks suggestion creating a FHIR R4 ServiceRequest (draft proposal) for `test`:
    coded from the test directory, with the patient as subject and the medicine as reason."""
    reason: dict[str, Any] = {"text": drug}
    if med is not None and med.rxnorm and med.components == (drug,):
        reason["coding"] = [{"system": RXNORM, "code": med.rxnorm, "display": drug}]
    resource = {
        "resourceType": "ServiceRequest", "status": "draft", "intent": "proposal",
        "category": [{"coding": [LAB_PROCEDURE], "text": "Pharmacogenomic test"}],
        "code": _test_concept(test),
        "subject": subject,
        "reasonCode": [reason],
    }
    return {
        "label": _cut(f"Order {test.name}"),
        "uuid": str(uuid.uuid5(_NS, f"suggest|{test.code}|{drug}|{snap.patient_id}")),
        "isRecommended": True,
        "actions": [{"type": "create", "description": f"Order {test.code}: {test.name}",
                     "resource": resource}],
    }


def _suggest_test_card(test: DirectoryTest, drug: str, med: Medicine, subject: dict[str, Any],
                       snap: Snapshot) -> dict[str, Any]:
    genes = ", ".join(test.genes)
    detail = [f"{markdown_escape(test.name)} ({test.code}) is offered "
              f"{markdown_escape(test.clinical_context)}.",
              f"No {markdown_escape(genes)} result is on record for this patient and no order "
              "for this test is open.", "", f"_{markdown_escape(test.source_note)}_"]
    return _with_uuid({
        "summary": _cut(f"{drug}: no {genes} result – consider ordering {test.name}"),
        "indicator": "warning",
        "detail": "\n".join(detail),
        "source": {"label": "pgxguard test directory", "topic": _test_concept(test)["coding"][0]},
        "suggestions": [order_suggestion(test, drug, med, subject, snap)],
        "selectionBehavior": "at-most-one",
    })


def unchecked_card(draft: DraftMedicine) -> dict[str, Any]:
    """An info card for a draft medication the service could not check (never silence)."""
    what = draft.candidates[-1] if draft.candidates else draft.ref
    why = (f"pgxguard could not match {markdown_escape(what)} ({draft.ref}) to a medicine "
           "of its knowledge base by RxNorm, dm+d or ATC code, or by name"
           if draft.candidates else
           f"{draft.ref} has no medication code or text (medicationCodeableConcept)")
    return _with_uuid({
        "summary": _cut(f"Could not check {what} against the PGx result"),
        "indicator": "info",
        "detail": f"{why}, so it was **not checked** against the patient's pharmacogenomic "
                  "result. Check the medicine's name or code; a PGx recommendation may "
                  "still apply.",
        "source": {"label": "pgxguard"},
    })


def _pending_card(snap: Snapshot) -> dict[str, Any]:
    assert snap.pending is not None
    rid, ver = snap.pending
    last = (f"result {snap.result_id} version {snap.version}, the last one signed off"
            if snap.sources.count(",") == 0 else
            f"the patient's profile ({snap.sources}), merged per gene")
    uses = (f"Cards below use {last}." if snap.calls is not None else
            "No signed-off result is on record yet, so no PGx guidance is shown and no test is "
            "suggested.")
    return _with_uuid({
        "summary": _cut(f"PGx result {rid} (version {ver}) is awaiting laboratory sign-off"),
        "indicator": "info",
        "detail": f"A laboratory scientist has not yet signed off result {rid} version {ver}. "
                  f"{uses} Guidance from it will be shown once it is authorised.",
        "source": {"label": "pgxguard results"},
    })


def _conflict_card(g: GeneCall, gkb: GuidanceKB) -> dict[str, Any]:
    """A gene whose signed-off results disagree: the conflict's own message (the one the order
    hooks' "result incomplete" cards show) and the medicines whose guidance uses the gene."""
    drugs = [d for d in gkb.drugs if g.gene in genes_needed(gkb, d)]
    detail = [markdown_escape(conflict_reason(g)) + "."]
    if drugs:
        detail += ["", f"Medicines whose CPIC or DPWG guidance uses {markdown_escape(g.gene)} "
                       f"(guidance knowledge base {markdown_escape(gkb.version)}): "
                       f"{markdown_escape(', '.join(drugs))}."]
    return _with_uuid({
        "summary": _cut(f"{g.gene}: result incomplete – signed-off results disagree"),
        "indicator": "warning",
        "detail": "\n".join(detail),
        "source": {"label": "pgxguard results"},
    })


def _in_progress_card(test: DirectoryTest, drug: str, order: OpenOrder) -> dict[str, Any]:
    status = order.status.replace("_", " ")
    return _with_uuid({
        "summary": _cut(f"{drug}: {test.name} already ordered ({status})"),
        "indicator": "info",
        "detail": f"Test order {order.id} ({test.code}), requested on {order.created}, is "
                  f"**{status}**. Guidance for {markdown_escape(drug)} will be shown once the "
                  "result is reported.",
        "source": {"label": "pgxguard test orders", "topic": _test_concept(test)["coding"][0]},
    })


def covered_genes(calls: CallResult | None) -> set[str]:
    if calls is None or not calls.samples:
        return set()
    # a gene whose signed-off results disagree (profile conflict) has results: no new test
    return {g.gene for g in calls.samples[0].genes
            if (g.called and g.source != "none") or g.source == CONFLICT}


def _label_kb(cards: list[dict[str, Any]], rr: ReviewResult) -> list[dict[str, Any]]:
    """Name the knowledge-base version in each guidance card's source label."""
    kb = guidance_kb(rr).get("version")
    if not kb:
        return cards
    out = []
    for c in cards:
        label = str(c.get("source", {}).get("label", ""))
        if kb not in label:
            c = {**c, "source": {**c["source"], "label": f"{label} · pgxguard KB {kb}".strip()}}
        out.append(c)
    return out


@dataclass
class HookOutcome:
    cards: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    medicines: list[str] = field(default_factory=list)

    def audit_detail(self, req: HookRequest, snap: Snapshot) -> str:
        res = (f"profile: {snap.sources}" if snap.result_id is not None
               else "no interpreted result")
        parts = [f"hookInstance {req.hookInstance}", res,
                 f"medicines: {', '.join(self.medicines) or 'none'}", f"{len(self.cards)} cards"]
        if self.notes:
            parts.append("notes: " + "; ".join(self.notes))
        return printable("; ".join(parts))[:1000]


def _medicine_cards(calls: CallResult, query: str, med: Medicine, handled: dict[str, set[str]],
                    *, gkb: GuidanceKB, kb: KnowledgeBase, index: MedicineIndex,
                    subject: dict[str, Any], snap: Snapshot
                    ) -> tuple[int, list[dict[str, Any]]]:
    """(priority of the most urgent item, cards) of one medicine: one card per ingredient with
    guidance (CPIC and DPWG inside it). A "result incomplete" card suggests the directory tests
    of the genes the result on record lacks (not of genes tested without a usable call: the
    same test would not help), unless an order for them is open."""
    sample = calls.samples[0].sample if calls.samples else None
    rr = review(calls, [query], sample=sample, guidance=gkb, kb=kb, index=index)
    # A "result incomplete" item that a test card speaks for would say it twice.
    kept = tuple(i for i in rr.items if not (
        i.action is Action.RESULT_INCOMPLETE and i.drug in handled
        and set(i.missing_genes) <= handled[i.drug]))
    priority = min((i.action.priority for i in rr.items), default=len(Action))
    have = covered_genes(calls)
    open_codes = {o.test_code for o in snap.open_orders}

    def suggest(item: MedicineReview) -> list[dict[str, Any]]:
        if snap.pending is not None:
            return []  # a newer result awaits sign-off: do not order again
        lacking = [g for g in item.missing_genes if g not in have]
        tests = [t for t in for_missing_genes(item.drug, lacking) if t.code not in open_codes]
        return [order_suggestion(t, item.drug, med, subject, snap) for t in tests]

    cards = cds_cards(dataclasses.replace(rr, items=kept), suggest=suggest)
    for c in cards:  # several tests (one per missing gene) may each be chosen
        if len(c.get("suggestions", ())) > 1:
            c["selectionBehavior"] = "any"
    return priority, _label_kb(cards, rr)


def run_hook(svc: HookService, req: HookRequest, snap: Snapshot, kb: KnowledgeBase,
             cache: HookCache | None = None) -> HookOutcome:
    """The cards of one hook call (no database access). Order hooks review each medicine on
    its own (the review of one drug does not depend on the others), so `cache` can keep each
    medicine's cards for the result version."""
    cache = cache or HookCache(64)
    calls = snap.calls
    gkb = load_guidance()
    out = HookOutcome()
    if not svc.orders:
        pending = [_pending_card(snap)] if snap.pending is not None else []
        if calls is None:
            out.cards = pending
            return out
        sample = calls.samples[0].sample if calls.samples else None
        rr = review(calls, [], sample=sample, all_drugs=True, guidance=gkb, kb=kb)
        rr = dataclasses.replace(rr, items=tuple(i for i in rr.items
                                                 if i.action in PASSPORT_ACTIONS))
        out.medicines = [i.drug for i in rr.items]
        conflicts = [g for s in calls.samples[:1] for g in s.genes if g.source == CONFLICT]
        out.notes = [f"{g.gene}: signed-off results disagree" for g in conflicts]
        out.cards = (_label_kb(cds_cards(rr), rr) + [_conflict_card(g, gkb) for g in conflicts]
                     + pending)
        return out

    index = default_index(kb, gkb)
    drafts, out.notes = draft_medicines(req, selected_only=svc.hook == "order-select")
    meds, unresolved = resolve(drafts, index, cache)
    out.notes += [f"{d.ref}: medicine {d.candidates[-1]!r} not recognised" if d.candidates
                  else f"{d.ref}: no medicationCodeableConcept (code or text)"
                  for d in unresolved]
    out.medicines = [m.name for _, m in meds]
    unchecked = [unchecked_card(d) for d in unresolved]
    if not meds:
        out.cards = unchecked
        return out

    have = covered_genes(calls)
    subject = subject_of(req, snap)
    subject_key = json.dumps(subject, sort_keys=True)
    test_cards: list[dict[str, Any]] = []
    suggested: set[str] = set()
    groups: list[tuple[int, str, list[dict[str, Any]]]] = []
    for query, med in meds:
        handled: dict[str, set[str]] = {}  # drug -> genes a test card speaks for
        for drug in med.components:
            for test in prompted_by_drug(drug):
                if set(test.genes) <= have:
                    continue
                handled.setdefault(drug, set()).update(test.genes)
                if test.code in suggested:
                    continue
                suggested.add(test.code)
                order = next((o for o in snap.open_orders if o.test_code == test.code), None)
                if order is None and snap.pending is not None:
                    continue  # the result is there, awaiting sign-off: do not order it again
                test_cards.append(_in_progress_card(test, drug, order) if order else
                                  _suggest_test_card(test, drug, med, subject, snap))
        if calls is not None:
            # everything the cards depend on besides the (immutable) result version
            key = (snap.profile_key, id(kb), id(gkb), query, subject_key,
                   tuple(sorted((d, tuple(sorted(g))) for d, g in handled.items())),
                   tuple(sorted(o.test_code for o in snap.open_orders)), snap.pending)
            prio, cards = cache.cards(
                key, (kb, gkb),
                functools.partial(_medicine_cards, calls, query, med, handled, gkb=gkb, kb=kb,
                                  index=index, subject=subject, snap=snap))
            groups.append((prio, med.name.lower(), cards))
    groups.sort(key=lambda g: (g[0], g[1]))
    out.cards = [card for g in groups for card in g[2]] + test_cards + unchecked
    if snap.pending is not None:
        out.cards.append(_pending_card(snap))
    out.cards.sort(key=lambda c: _INDICATOR_ORDER.get(str(c.get("indicator")), 3))
    return out


__all__ = ["SERVICES", "HookCache", "HookOutcome", "HookService", "PatientRef", "Snapshot",
           "check_request", "covered_genes", "discovery", "draft_medicines", "find_patient",
           "order_suggestion", "printable", "resolve", "run_hook", "service_for", "snapshot",
           "subject_of", "unchecked_card"]
