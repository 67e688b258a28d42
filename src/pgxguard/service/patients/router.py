"""Patients: register, find by NHS number or family name, read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from pgxguard.service.auth.permissions import Perm
from pgxguard.service.deps import Ctx, require
from pgxguard.service.ids import RowId
from pgxguard.service.patients import service
from pgxguard.service.patients.schemas import PatientIn, PatientOut

router = APIRouter(prefix="/patients", tags=["patients"])


@router.post("", status_code=201, response_model=PatientOut)
def create_patient(body: PatientIn,
                   ctx: Annotated[Ctx, require(Perm.PATIENTS_WRITE)]) -> PatientOut:
    p = service.create_patient(ctx.session, nhs_number=body.nhs_number,
                               family_name=body.family_name, given_name=body.given_name,
                               date_of_birth=body.date_of_birth, created_by=ctx.user.id)
    ctx.audit("patient.create", p.id)
    ctx.commit()
    return PatientOut.model_validate(p)


@router.get("", response_model=list[PatientOut])
def find_patients(ctx: Annotated[Ctx, require(Perm.PATIENTS_READ)],
                  nhs_number: Annotated[str | None, Query(max_length=20)] = None,
                  family_name: Annotated[str | None, Query(max_length=200)] = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[PatientOut]:
    if nhs_number is not None:
        found = service.find_by_nhs_number(ctx.session, nhs_number)
        patients = [found] if found else []
    else:
        patients = service.search(ctx.session, family_name=family_name, limit=limit)
    # what was searched by, never the value (administrators read the audit log)
    query = "by NHS number" if nhs_number else "by family name"
    if patients:
        for p in patients:
            ctx.audit("patient.search", p.id, detail=query)
    else:
        ctx.audit("patient.search", None, detail=query, outcome="no match")
    ctx.commit()
    return [PatientOut.model_validate(p) for p in patients]


@router.get("/{patient_id}", response_model=PatientOut)
def read_patient(patient_id: RowId,
                 ctx: Annotated[Ctx, require(Perm.PATIENTS_READ)]) -> PatientOut:
    p = service.get_patient(ctx.session, patient_id)
    ctx.audit("patient.read", p.id)
    ctx.commit()
    return PatientOut.model_validate(p)
