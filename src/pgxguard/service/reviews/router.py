"""Medication reviews: run and store (immutable), list, read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from pgxguard.service.auth.permissions import Perm
from pgxguard.service.deps import Ctx, require
from pgxguard.service.ids import RowId
from pgxguard.service.models import MedicationReview, ResultVersion
from pgxguard.service.patients import service as patients
from pgxguard.service.reviews import service
from pgxguard.service.reviews.schemas import ReviewIn, ReviewOut

router = APIRouter(tags=["reviews"])


def _out(ctx: Ctx, row: MedicationReview) -> ReviewOut:
    version = ctx.session.get(ResultVersion, row.result_version_id)
    assert version is not None  # foreign key
    return ReviewOut.of(row, version)


@router.post("/patients/{patient_id}/reviews", status_code=201, response_model=ReviewOut)
def create_review(patient_id: RowId, body: ReviewIn,
                  ctx: Annotated[Ctx, require(Perm.REVIEWS_CREATE)]) -> ReviewOut:
    """Check medicines against the patient's PGx profile (every signed-off result merged per
    gene; `result_id` reviews one result instead): CPIC and DPWG guidance, verbatim."""
    p = patients.get_patient(ctx.session, patient_id)
    ctx.about(p.id)
    row = service.create_review(ctx.session, p, body.medicines, user_id=ctx.user.id,
                                kb=ctx.knowledge_base(), all_drugs=body.all_drugs,
                                result_id=body.result_id,
                                require_signoff=ctx.settings.require_signoff)
    ctx.audit("review.create", p.id, detail=f"review {row.id}")
    ctx.commit()
    return _out(ctx, row)


@router.get("/patients/{patient_id}/reviews", response_model=list[ReviewOut])
def list_reviews(patient_id: RowId,
                 ctx: Annotated[Ctx, require(Perm.REVIEWS_READ)]) -> list[ReviewOut]:
    p = patients.get_patient(ctx.session, patient_id)
    out = [_out(ctx, r) for r in service.for_patient(ctx.session, p.id)]
    ctx.audit("review.list", p.id)
    ctx.commit()
    return out


@router.get("/reviews/{review_id}", response_model=ReviewOut)
def read_review(review_id: RowId, ctx: Annotated[Ctx, require(Perm.REVIEWS_READ)]) -> ReviewOut:
    row = service.get_review(ctx.session, review_id)
    ctx.audit("review.read", row.patient_id, detail=f"review {row.id}")
    ctx.commit()
    return _out(ctx, row)
