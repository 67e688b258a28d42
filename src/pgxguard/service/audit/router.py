"""Read the audit log (administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from pgxguard.service.audit import service
from pgxguard.service.auth.permissions import Perm
from pgxguard.service.deps import Ctx, require
from pgxguard.service.ids import OptionalRowIdQuery

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    user_id: int | None
    username: str | None
    action: str
    patient_id: int | None
    method: str
    route: str
    outcome: str
    detail: str | None


@router.get("/audit", response_model=list[AuditOut])
def read_audit(ctx: Annotated[Ctx, require(Perm.AUDIT_READ)],
               patient_id: OptionalRowIdQuery = None, user_id: OptionalRowIdQuery = None,
               before_id: OptionalRowIdQuery = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditOut]:
    """Newest first; page with `before_id`."""
    rows = service.events(ctx.session, patient_id=patient_id, user_id=user_id, limit=limit,
                          before_id=before_id)
    return [AuditOut.model_validate(r) for r in rows]
