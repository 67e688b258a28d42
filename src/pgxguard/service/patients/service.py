"""Patients: plain functions taking a Session (the caller commits)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from pgxguard.service.db import get_row, utcnow
from pgxguard.service.errors import ConflictError, ValidationFailedError
from pgxguard.service.models import Patient
from pgxguard.service.patients.nhs import normalise_nhs_number


def create_patient(session: Session, *, nhs_number: str, family_name: str, given_name: str,
                   date_of_birth: date, created_by: int) -> Patient:
    nhs = normalise_nhs_number(nhs_number)
    family, given = family_name.strip(), given_name.strip()
    if not family or not given:
        raise ValidationFailedError("family and given name must not be empty")
    if date_of_birth > date.today():
        raise ValidationFailedError(f"date of birth {date_of_birth} is in the future")
    if session.scalar(select(Patient.id).where(Patient.nhs_number == nhs)) is not None:
        raise ConflictError(f"a patient with NHS number {nhs} already exists",
                            hint="search with GET /patients?nhs_number=...")
    p = Patient(nhs_number=nhs, family_name=family, given_name=given,
                date_of_birth=date_of_birth, created_at=utcnow(), created_by=created_by)
    session.add(p)
    session.flush()
    return p


def get_patient(session: Session, patient_id: int) -> Patient:
    return get_row(session, Patient, patient_id, "patient")


def find_by_nhs_number(session: Session, nhs_number: str) -> Patient | None:
    return session.scalar(select(Patient).where(
        Patient.nhs_number == normalise_nhs_number(nhs_number)))


def search(session: Session, *, family_name: str | None = None, limit: int = 50) -> list[Patient]:
    q = select(Patient).order_by(Patient.family_name, Patient.given_name, Patient.id).limit(limit)
    if family_name:
        q = q.where(Patient.family_name.ilike(family_name.strip() + "%"))
    return list(session.scalars(q))


__all__ = ["create_patient", "find_by_nhs_number", "get_patient", "search"]
