"""FHIR R4 read API under /fhir: Patient, ServiceRequest, DiagnosticReport, Observation.

Responses are `application/fhir+json`; errors on /fhir paths are OperationOutcomes (see
`outcome.py` and the app's error handlers). `GET /fhir/metadata` is public, as FHIR clients
(and SMART launchers) read it before signing in; it holds no patient data.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from pgxguard.service.auth.permissions import Perm
from pgxguard.service.deps import Ctx, require
from pgxguard.service.fhir import service
from pgxguard.service.fhir.outcome import FHIR_JSON, FhirResponse, operation_outcome
from pgxguard.service.models import Patient

router = APIRouter(prefix="/fhir", tags=["fhir"], default_response_class=FhirResponse)

_OBJECT: dict[int | str, dict[str, Any]] = {
    200: {"content": {FHIR_JSON: {"schema": {"type": "object"}}}}}
FhirId = Annotated[str, Path(max_length=64, description="FHIR logical id")]
PatientParam = Annotated[str, Query(max_length=80, description="Patient/{id} or {id}")]


def _base(request: Request) -> str:
    """The service's public address for absolute FHIR URLs: `PGXGUARD_PUBLIC_BASE_URL`, never
    the request's Host header (required in production; development falls back to the
    request's own base URL)."""
    configured: str | None = request.app.state.settings.public_base_url
    return configured.rstrip("/") + "/" if configured else str(request.base_url)


def _self_url(request: Request) -> str:
    query = request.url.query
    return _base(request).rstrip("/") + request.url.path + (f"?{query}" if query else "")


def _search(ctx: Ctx, resources: list[dict[str, Any]],
            outcome: dict[str, Any] | None = None) -> FhirResponse:
    return FhirResponse(service.searchset(_base(ctx.request), _self_url(ctx.request),
                                          resources, outcome))


def _patient_of(ctx: Ctx, value: str) -> Patient | None:
    pid = service.patient_id_param(value)
    return ctx.session.get(Patient, pid) if pid is not None else None


@router.get("/metadata", responses=_OBJECT)
def metadata(request: Request) -> FhirResponse:
    """CapabilityStatement (public): what this FHIR server reads and searches."""
    return FhirResponse(service.capability_statement(_base(request)))


@router.get("/Patient/{patient_id}", responses=_OBJECT)
def read_patient(patient_id: FhirId,
                 ctx: Annotated[Ctx, require(Perm.PATIENTS_READ)]) -> FhirResponse:
    p = service.get_patient(ctx.session, patient_id)
    ctx.audit("fhir.patient.read", p.id)
    ctx.commit()
    return FhirResponse(service.patient_resource(p))


@router.get("/Patient", responses=_OBJECT)
def search_patients(ctx: Annotated[Ctx, require(Perm.PATIENTS_READ)],
                    identifier: Annotated[str, Query(
                        max_length=100, description=f"{service.NHS_SYSTEM}|9434765919")],
                    ) -> FhirResponse:
    found, warning = service.find_patients(ctx.session, identifier)
    for p in found:
        ctx.audit("fhir.patient.search", p.id, detail="by identifier")
    if not found:
        ctx.audit("fhir.patient.search", None, detail="by identifier",
                  outcome="no match")
    ctx.commit()
    outcome = operation_outcome(warning, None, 200, "warning") if warning else None
    return _search(ctx, [service.patient_resource(p) for p in found], outcome)


@router.get("/ServiceRequest/{order_id}", responses=_OBJECT)
def read_service_request(order_id: FhirId,
                         ctx: Annotated[Ctx, require(Perm.ORDERS_READ)]) -> FhirResponse:
    o = service.get_order(ctx.session, order_id)
    out = service.service_request(ctx.session, o)
    ctx.audit("fhir.servicerequest.read", o.patient_id, detail=f"order {o.id}")
    ctx.commit()
    return FhirResponse(out)


@router.get("/ServiceRequest", responses=_OBJECT)
def search_service_requests(ctx: Annotated[Ctx, require(Perm.ORDERS_READ)],
                            patient: PatientParam) -> FhirResponse:
    p = _patient_of(ctx, patient)
    out = [service.service_request(ctx.session, o)
           for o in service.orders_of(ctx.session, p.id)] if p else []
    ctx.audit("fhir.servicerequest.search", p.id if p else None, detail="by patient",
              outcome="ok" if out else "no match")
    ctx.commit()
    return _search(ctx, out)


def _read_result_resource(ctx: Ctx, rtype: str, fhir_id: str) -> FhirResponse:
    res, patient_id = service.find_result_resource(ctx.session, rtype, fhir_id,
                                                   ctx.settings.require_signoff)
    ctx.audit(f"fhir.{rtype.lower()}.read", patient_id, detail=f"{rtype}/{fhir_id}")
    ctx.commit()
    return FhirResponse(res)


def _search_result_resources(ctx: Ctx, rtype: str, patient: str) -> FhirResponse:
    p = _patient_of(ctx, patient)
    out = service.patient_result_resources(ctx.session, p.id, rtype,
                                           ctx.settings.require_signoff) if p else []
    ctx.audit(f"fhir.{rtype.lower()}.search", p.id if p else None,
              detail=f"by patient: {len(out)} {rtype}",
              outcome="ok" if out else "no match")
    ctx.commit()
    return _search(ctx, out)


@router.get("/DiagnosticReport/{report_id}", responses=_OBJECT)
def read_diagnostic_report(report_id: FhirId,
                           ctx: Annotated[Ctx, require(Perm.RESULTS_READ)]) -> FhirResponse:
    """The Genomics Reporting DiagnosticReport of one result version."""
    return _read_result_resource(ctx, "DiagnosticReport", report_id)


@router.get("/DiagnosticReport", responses=_OBJECT)
def search_diagnostic_reports(ctx: Annotated[Ctx, require(Perm.RESULTS_READ)],
                              patient: PatientParam) -> FhirResponse:
    """The patient's PGx profile (when it merges several signed-off results: identifier
    system urn:pgxguard:profile), then one DiagnosticReport per result (its latest version)."""
    return _search_result_resources(ctx, "DiagnosticReport", patient)


@router.get("/Observation/{observation_id}", responses=_OBJECT)
def read_observation(observation_id: FhirId,
                     ctx: Annotated[Ctx, require(Perm.RESULTS_READ)]) -> FhirResponse:
    """A genotype, haplotype or therapeutic-implication Observation."""
    return _read_result_resource(ctx, "Observation", observation_id)


@router.get("/Observation", responses=_OBJECT)
def search_observations(ctx: Annotated[Ctx, require(Perm.RESULTS_READ)],
                        patient: PatientParam) -> FhirResponse:
    """Every Observation of the patient's profile (when it merges several results), then of
    the latest version of each of the patient's results."""
    return _search_result_resources(ctx, "Observation", patient)
