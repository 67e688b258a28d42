"""Medication reviews: run `pgxguard.guidance.review` on the patient's PGx profile (every
signed-off result merged per gene, `results.profile`) or on one named result, and store the
exact `ReviewResult` JSON shown with the profile it used. Stored reviews are immutable (see
`models.IMMUTABLE`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pgxguard.call.results import CallResult
from pgxguard.guidance.review import review
from pgxguard.kb.model import KnowledgeBase
from pgxguard.service.db import get_row, utcnow
from pgxguard.service.errors import ConflictError, ValidationFailedError
from pgxguard.service.models import MedicationReview, Patient, ResultVersion
from pgxguard.service.results import profile as profiles
from pgxguard.service.results import service as results


def create_review(session: Session, patient: Patient, medicines: Sequence[str], *,
                  user_id: int, kb: KnowledgeBase, all_drugs: bool = False,
                  result_id: int | None = None, require_signoff: bool = True
                  ) -> MedicationReview:
    """Review against the patient's PGx profile (each gene's newest signed-off call, genes in
    conflict "result incomplete"), or against the newest signed-off version of `result_id`:
    a provisional result never drives prescribing."""
    version: ResultVersion | None
    profile_json: str | None = None
    waiting = "a laboratory scientist has not signed it off yet"
    if result_id is not None:
        res = results.get_result(session, result_id)
        if res.patient_id != patient.id:
            raise ValidationFailedError(f"result {result_id} is not this patient's result")
        version = results.latest_usable(res, require_signoff)
        if version is None:
            if results.latest_usable(res, False) is None:
                raise ConflictError(f"result {result_id} was stored, not interpreted: it holds "
                                    "no calls to review against")
            raise ConflictError(f"result {result_id} is provisional: {waiting}",
                                hint="ask the laboratory to sign it off")
        calls = CallResult.from_json(json.loads(version.calls_json or "{}"),
                                     origin=f"result {version.result_id}")
    else:
        prof = profiles.patient_profile(session, patient.id, require_signoff=require_signoff)
        newest = prof.newest_version_id()
        if prof.calls is None or newest is None:
            pending = bool(prof.pending)
            raise ConflictError(
                f"patient {patient.id} has no signed-off PGx result"
                + (f": the result on record is provisional ({waiting})" if pending else ""),
                hint="ask the laboratory to sign it off" if pending else
                "upload a result first, or order a test")
        # the row names the newest version used; `profile_json` names every one, per gene
        version = session.get(ResultVersion, newest)
        assert version is not None
        calls = prof.calls
        profile_json = json.dumps(prof.to_json(), indent=2)
    rr = review(calls, list(medicines), sample=calls.samples[0].sample if calls.samples else None,
                all_drugs=all_drugs, kb=kb)
    row = MedicationReview(patient_id=patient.id, result_version_id=version.id,
                           medicines=json.dumps(list(medicines)),
                           review_json=json.dumps(rr.to_json(), indent=2),
                           profile_json=profile_json,
                           created_at=utcnow(), created_by=user_id)
    session.add(row)
    session.flush()
    return row


def get_review(session: Session, review_id: int) -> MedicationReview:
    return get_row(session, MedicationReview, review_id, "medication review")


def for_patient(session: Session, patient_id: int) -> list[MedicationReview]:
    return list(session.scalars(select(MedicationReview)
                                .where(MedicationReview.patient_id == patient_id)
                                .order_by(MedicationReview.id)))


def review_of(row: MedicationReview) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(row.review_json)
    return data


__all__ = ["create_review", "for_patient", "get_review", "review_of"]
