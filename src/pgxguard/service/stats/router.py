"""Aggregate counts for analysts and operators: no patient-level data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select

from pgxguard.service.auth.permissions import Perm
from pgxguard.service.deps import Ctx, require
from pgxguard.service.models import MedicationReview, Order, Patient, Result
from pgxguard.service.results import service as results

router = APIRouter(tags=["stats"])


class SummaryOut(BaseModel):
    patients: int
    results: int
    # results whose newest interpretation awaits laboratory sign-off
    results_awaiting_signoff: int
    results_by_kind: dict[str, int]
    reviews: int
    orders_by_status: dict[str, int]
    orders_by_test: dict[str, int]


@router.get("/stats/summary", response_model=SummaryOut)
def summary(ctx: Annotated[Ctx, require(Perm.STATS_READ)]) -> SummaryOut:
    s = ctx.session

    def count(model: type[Patient] | type[Result] | type[MedicationReview]) -> int:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)

    def grouped(col: object) -> dict[str, int]:
        rows = s.execute(select(col, func.count()).group_by(col))  # type: ignore[call-overload]
        return {str(k): int(v) for k, v in rows}

    return SummaryOut(patients=count(Patient), results=count(Result),
                      results_awaiting_signoff=results.count_awaiting_signoff(s),
                      results_by_kind=grouped(Result.kind), reviews=count(MedicationReview),
                      orders_by_status=grouped(Order.status),
                      orders_by_test=grouped(Order.test_code))
