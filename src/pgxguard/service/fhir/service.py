"""FHIR R4 resources built from the service's own rows (plain functions taking a Session).

- `Patient/{id}`: the service patient (NHS number identifier, name, birth date).
- `ServiceRequest/{id}`: a test order (code = the directory test, reasonCode = trigger drug).
- `DiagnosticReport/{id}`, `Observation/{id}`: exactly the resources of the Genomics Reporting
  Bundle that `pgxguard report --format fhir` writes (`report.fhir.report_bundle`), built from a
  stored result version's calls. The report builder names a sample-derived Patient; here every
  `subject` points at `Patient/{service patient id}` instead, and every id is prefixed with
  `r{result id}-v{version}-` so it is unique across results, stable across reads (the builder's
  ids are content-derived and `issued` is the version's time), and leads back to its version.
- The patient's PGx profile (`results.profile`), when it merges two or more signed-off results:
  the same resources built from the merged calls, ids prefixed `p{patient id}-`, the report's
  identifier (system `urn:pgxguard:profile`, value `{patient id}:{result}/{version},...`,
  newest sign-off first) naming the result versions it merges. A gene
  whose results disagree is a no call there, and the conclusion says why. With one result the
  profile is that result's in-use version, whose own report stands for it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pgxguard import __version__
from pgxguard.call.results import CallResult
from pgxguard.errors import BadSearchError
from pgxguard.report.fhir import SAMPLE_SYSTEM, report_bundle
from pgxguard.service.errors import NotFoundError, ServiceError
from pgxguard.service.ids import MAX_ROW_ID
from pgxguard.service.models import Order, Patient, Result, ResultVersion, User
from pgxguard.service.orders.directory import DIRECTORY_SYSTEM
from pgxguard.service.orders.service import Status
from pgxguard.service.patients.nhs import normalise_nhs_number
from pgxguard.service.results import profile as profiles
from pgxguard.service.results import service as results
from pgxguard.service.results.service import INTERPRETED

NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
TEST_DIRECTORY_SYSTEM = DIRECTORY_SYSTEM
USER_SYSTEM = "urn:pgxguard:user"
RESULT_SYSTEM = "urn:pgxguard:result"
PROFILE_SYSTEM = "urn:pgxguard:profile"
ORDER_STATUS_EXT = "urn:pgxguard:fhir:order-status"
FHIR_VERSION = "4.0.1"

# Test order status -> ServiceRequest.status (the lab's finer state goes in an extension).
ORDER_STATUS: dict[Status, str] = {
    Status.REQUESTED: "active", Status.SAMPLE_RECEIVED: "active",
    Status.IN_ANALYSIS: "active", Status.REPORTED: "completed", Status.CANCELLED: "revoked",
}
RESULT_TYPES = ("DiagnosticReport", "Observation")
_RESULT_ID = re.compile(r"^r([0-9]+)-v([0-9]+)-[A-Za-z0-9.-]{1,40}$")
_PROFILE_ID = re.compile(r"^p([0-9]+)-[A-Za-z0-9.-]{1,40}$")
_PATIENT_REF = re.compile(r"^(?:Patient/)?([0-9]+)$")


def _row_id(text: str) -> int | None:
    """The row id a FHIR id names, or None when it cannot name one (not canonical digits:
    `01` is another id than `1`; or beyond the INTEGER columns, which the database refuses)."""
    if not text.isascii() or not text.isdigit() or len(text) > 10 or text != str(int(text)):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _patient_ref(p: Patient) -> dict[str, str]:
    return {"reference": f"Patient/{p.id}", "display": f"{p.given_name} {p.family_name}"}


# --- Patient ---------------------------------------------------------------------------------

def patient_resource(p: Patient) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": str(p.id),
            "identifier": [{"system": NHS_SYSTEM, "value": p.nhs_number}],
            "name": [{"use": "official", "family": p.family_name, "given": [p.given_name]}],
            "birthDate": p.date_of_birth.isoformat()}


def get_patient(session: Session, patient_id: str) -> Patient:
    pid = _row_id(patient_id)
    p = session.get(Patient, pid) if pid is not None else None
    if p is None:
        raise NotFoundError(f"no Patient with id {patient_id!r}")
    return p


def find_patients(session: Session, identifier: str) -> tuple[list[Patient], str | None]:
    """Patients matching a token `[system|]value`; (matches, warning for the outcome)."""
    system, sep, value = identifier.rpartition("|")
    if sep and system and system != NHS_SYSTEM:
        return [], f"only identifiers of system {NHS_SYSTEM} are searchable"
    try:
        nhs = normalise_nhs_number(value)
    except ServiceError as e:
        return [], e.detail  # an invalid number matches nobody; say why
    p = session.scalar(select(Patient).where(Patient.nhs_number == nhs))
    return ([p] if p else []), None


def patient_id_param(value: str) -> int | None:
    """The id in a `patient` search parameter (`123` or `Patient/123`); None when it is
    well-formed but cannot name a patient (so nothing matches)."""
    m = _PATIENT_REF.match(value.strip())
    if m is None:
        raise BadSearchError(f"invalid patient parameter {value!r}",
                             hint="use patient=123 or patient=Patient/123")
    return _row_id(m.group(1))


# --- ServiceRequest --------------------------------------------------------------------------

def get_order(session: Session, order_id: str) -> Order:
    oid = _row_id(order_id)
    o = session.get(Order, oid) if oid is not None else None
    if o is None:
        raise NotFoundError(f"no ServiceRequest with id {order_id!r}")
    return o


def orders_of(session: Session, patient_id: int) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.patient_id == patient_id)
                                .order_by(Order.id)))


def service_request(session: Session, o: Order) -> dict[str, Any]:
    status = Status(o.status)
    patient = session.get(Patient, o.patient_id)
    requester = session.get(User, o.created_by)
    res: dict[str, Any] = {
        "resourceType": "ServiceRequest", "id": str(o.id),
        "extension": [{"url": ORDER_STATUS_EXT, "valueCode": status.value}],
        "status": ORDER_STATUS[status], "intent": "order",
        "code": {"coding": [{"system": TEST_DIRECTORY_SYSTEM, "code": o.test_code,
                             "display": o.test_name}], "text": o.test_name},
        "subject": _patient_ref(patient) if patient else {"reference": f"Patient/{o.patient_id}"},
        "authoredOn": _iso(o.created_at),
    }
    if requester is not None:
        res["requester"] = {"identifier": {"system": USER_SYSTEM, "value": requester.username},
                            "display": requester.username}
    if o.trigger_drug:
        res["reasonCode"] = [{"text": o.trigger_drug}]
    notes = [f"Genes: {o.genes.replace(',', ', ')}"]
    if o.reason:
        notes.append(f"Reason: {o.reason}")
    notes.extend(f"{e.to_status} at {_iso(e.at)}" + (f": {e.note}" if e.note else "")
                 for e in o.events)
    res["note"] = [{"text": t} for t in notes]
    return res


# --- DiagnosticReport and Observation -------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ResultResources:
    """The report resources of one result version, rehomed onto the service patient."""

    result: Result
    version: ResultVersion
    resources: list[dict[str, Any]]


def _walk_refs(node: Any, mapping: dict[str, dict[str, str]]) -> None:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str) and ref in mapping:
            new = mapping[ref]
            node["reference"] = new["reference"]
            if "display" in new:
                node["display"] = new["display"]
        for v in node.values():
            _walk_refs(v, mapping)
    elif isinstance(node, list):
        for v in node:
            _walk_refs(v, mapping)


def build_result_resources(session: Session, result: Result,
                           version: ResultVersion) -> ResultResources:
    """Resources of `report_bundle` for this version; none when it holds no calls."""
    if version.status != INTERPRETED or not version.calls_json:
        return ResultResources(result, version, [])
    calls = CallResult.from_json(json.loads(version.calls_json), origin=f"result {result.id}")
    sample = calls.samples[0].sample
    so = version.signoff
    bundle = report_bundle(calls, None, sample, generated=version.created_at,
                           preliminary=so is None,
                           authorised=f"{so.username} on {so.at:%Y-%m-%d %H:%M} UTC"
                           if so is not None else None,
                           interpreter=so.username if so is not None else None)
    out = _rehome(session, bundle, result.patient_id, f"r{result.id}-v{version.version}-")
    based_on = [{"reference": f"ServiceRequest/{oid}"} for oid in session.scalars(
        select(Order.id).where(Order.result_id == result.id).order_by(Order.id))]
    for res in out:
        if res["resourceType"] == "DiagnosticReport":
            res["identifier"] = [{"system": RESULT_SYSTEM,
                                  "value": f"{result.id}/{version.version}"}]
            if based_on:
                res["basedOn"] = based_on
            res["specimen"] = [{"identifier": {"system": SAMPLE_SYSTEM, "value": sample},
                                "display": f"sample {sample}"}]
    return ResultResources(result, version, out)


def _rehome(session: Session, bundle: dict[str, Any], patient_id: int,
            prefix: str) -> list[dict[str, Any]]:
    """The bundle's resources but its Patient, ids prefixed, every reference to the builder's
    sample-derived Patient pointing at the service patient."""
    patient = session.get(Patient, patient_id)
    subject = _patient_ref(patient) if patient else {"reference": f"Patient/{patient_id}"}
    mapping: dict[str, dict[str, str]] = {}
    out: list[dict[str, Any]] = []
    for e in bundle["entry"]:
        res = e["resource"]
        if res["resourceType"] == "Patient":
            mapping[e["fullUrl"]] = subject
            continue
        res["id"] = prefix + res["id"]
        mapping[e["fullUrl"]] = {"reference": f"{res['resourceType']}/{res['id']}"}
        out.append(res)
    _walk_refs(out, mapping)
    return out


def build_profile_resources(session: Session, patient_id: int,
                            require_signoff: bool = True) -> list[dict[str, Any]]:
    """Resources of `report_bundle` for the patient's profile when it merges two or more
    results (none otherwise: one result's own report is its profile)."""
    prof = profiles.patient_profile(session, patient_id, require_signoff=require_signoff)
    if prof.calls is None or len(prof.sources) < 2:
        return []
    signed = [s for s in prof.sources if s.signed_off_at is not None]
    bundle = report_bundle(
        prof.calls, None, prof.calls.samples[0].sample,
        generated=max((s.signed_off_at for s in signed if s.signed_off_at), default=None),
        preliminary=len(signed) < len(prof.sources),
        authorised="; ".join(f"{s.label()}: {s.signed_off_by} on "
                             f"{s.signed_off_at:%Y-%m-%d %H:%M} UTC" for s in signed) or None)
    out = _rehome(session, bundle, patient_id, f"p{patient_id}-")
    for res in out:
        if res["resourceType"] == "DiagnosticReport":
            res["identifier"] = [{"system": PROFILE_SYSTEM, "value": f"{patient_id}:" + ",".join(
                f"{s.result_id}/{s.version}" for s in prof.sources)}]
    return out


def find_result_resource(session: Session, resource_type: str, fhir_id: str,
                         require_signoff: bool = True) -> tuple[dict[str, Any], int]:
    """A DiagnosticReport or Observation by id (from any version of any result, or the
    patient's current profile) and the id of the patient it is about."""
    p = _PROFILE_ID.match(fhir_id)
    pid = _row_id(p.group(1)) if p else None
    if pid is not None and session.get(Patient, pid) is not None:
        for res in build_profile_resources(session, pid, require_signoff):
            if res["resourceType"] == resource_type and res["id"] == fhir_id:
                return res, pid
    m = _RESULT_ID.match(fhir_id)
    rid, number = (_row_id(m.group(1)), _row_id(m.group(2))) if m else (None, None)
    if rid is not None and number is not None:
        result = session.get(Result, rid)
        version = next((v for v in result.versions if v.version == number),
                       None) if result else None
        if result is not None and version is not None:
            built = build_result_resources(session, result, version)
            for res in built.resources:
                if res["resourceType"] == resource_type and res["id"] == fhir_id:
                    return res, result.patient_id
    raise NotFoundError(f"no {resource_type} with id {fhir_id!r}")


def patient_result_resources(session: Session, patient_id: int, resource_type: str,
                             require_signoff: bool = True) -> list[dict[str, Any]]:
    """`resource_type` resources of the patient's profile (when it merges several results),
    then of the latest version of each of the patient's results."""
    out = [res for res in build_profile_resources(session, patient_id, require_signoff)
           if res["resourceType"] == resource_type]
    for r in results.for_patient(session, patient_id):
        built = build_result_resources(session, r, results.latest(r))
        out.extend(res for res in built.resources if res["resourceType"] == resource_type)
    return out


# --- Bundles and the CapabilityStatement ----------------------------------------------------

def searchset(base_url: str, self_url: str, resources: Iterable[dict[str, Any]],
              outcome: dict[str, Any] | None = None) -> dict[str, Any]:
    """A `searchset` Bundle; `outcome` (an OperationOutcome) is added with mode `outcome`."""
    base = base_url.rstrip("/") + "/fhir/"
    entries: list[dict[str, Any]] = [
        {"fullUrl": f"{base}{r['resourceType']}/{r['id']}", "resource": r,
         "search": {"mode": "match"}} for r in resources]
    total = len(entries)
    if outcome is not None:
        entries.append({"resource": outcome, "search": {"mode": "outcome"}})
    bundle: dict[str, Any] = {"resourceType": "Bundle", "id": str(uuid.uuid4()),
                              "type": "searchset", "timestamp": _iso(datetime.now(UTC)),
                              "total": total, "link": [{"relation": "self", "url": self_url}]}
    if entries:
        bundle["entry"] = entries
    return bundle


def _rest_resource(rtype: str, profile: str | None, search: list[tuple[str, str, str]],
                   ) -> dict[str, Any]:
    out: dict[str, Any] = {"type": rtype,
                           "interaction": [{"code": "read"}, {"code": "search-type"}],
                           "searchParam": [{"name": n, "type": t, "documentation": d}
                                           for n, t, d in search]}
    if profile:
        out["supportedProfile"] = [profile]
    return out


def capability_statement(base_url: str) -> dict[str, Any]:
    from pgxguard.report.fhir import PROFILE

    patient = [("patient", "reference", "Patient/{id} or {id} of the service patient")]
    return {
        "resourceType": "CapabilityStatement", "status": "active",
        "date": _iso(datetime.now(UTC)), "publisher": "pgxguard", "kind": "instance",
        "software": {"name": "pgxguard", "version": __version__},
        "implementation": {"description": "pgxguard clinical service: FHIR R4 read API",
                           "url": base_url.rstrip("/") + "/fhir"},
        "fhirVersion": FHIR_VERSION, "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Read-only. Every read of patient data is audited.",
            "security": {"description": "Send 'Authorization: Bearer <token>' (token from "
                                        "POST /auth/token); the role decides what may be read."},
            "resource": [
                _rest_resource("Patient", None, [
                    ("identifier", "token", f"{NHS_SYSTEM}|<NHS number>")]),
                _rest_resource("ServiceRequest", None, patient),
                _rest_resource("DiagnosticReport", PROFILE["report"], patient),
                _rest_resource("Observation", None, patient),
            ]}],
    }


__all__ = ["NHS_SYSTEM", "ORDER_STATUS", "PROFILE_SYSTEM", "RESULT_TYPES", "BadSearchError",
           "ResultResources", "build_profile_resources", "build_result_resources",
           "capability_statement",
           "find_patients", "find_result_resource", "get_order", "get_patient", "orders_of",
           "patient_id_param", "patient_resource", "patient_result_resources", "searchset",
           "service_request"]
