"""Read and verify the audit log (administrators). Both are audited themselves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from pgxguard.service.audit import chain, service
from pgxguard.service.auth.permissions import Perm
from pgxguard.service.deps import Ctx, require
from pgxguard.service.ids import OptionalRowIdQuery
from pgxguard.service.models import AuditEvent

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    """One audit row as administrators see it: metadata, no patient identifiers (the patient
    is the service's internal id; search terms, NHS numbers and file names are never shown)."""

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
    row_hash: str

    @classmethod
    def of(cls, r: AuditEvent) -> AuditOut:
        return cls(id=r.id, at=r.at, user_id=r.user_id, username=r.username, action=r.action,
                   patient_id=r.patient_id, method=r.method, route=r.route, outcome=r.outcome,
                   detail=service.redact(r.detail), row_hash=r.row_hash)


class BreakOut(BaseModel):
    id: int | None
    problem: str


class AnchorOut(BaseModel):
    id: int
    ok: bool
    found: str | None


class VerifyOut(BaseModel):
    """`ok` is true when every row follows the one before it and matches its hash (and the
    anchor, when given, is still there unchanged). Record `last_id` and `head` somewhere
    else: passed back as the anchor later, they show whether the newest rows were removed."""

    ok: bool
    rows: int
    first_id: int | None
    last_id: int | None
    head: str
    breaks: list[BreakOut]
    anchor: AnchorOut | None


@router.get("/audit", response_model=list[AuditOut])
def read_audit(ctx: Annotated[Ctx, require(Perm.AUDIT_READ)],
               patient_id: OptionalRowIdQuery = None, user_id: OptionalRowIdQuery = None,
               before_id: OptionalRowIdQuery = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditOut]:
    """Newest first; page with `before_id`."""
    rows = service.events(ctx.session, patient_id=patient_id, user_id=user_id, limit=limit,
                          before_id=before_id)
    out = [AuditOut.of(r) for r in rows]
    filters = {"patient_id": patient_id, "user_id": user_id, "before_id": before_id,
               "limit": limit}
    ctx.audit("audit.read", None, detail=", ".join(
        f"{k}={v}" for k, v in filters.items() if v is not None) + f": {len(out)} rows")
    ctx.commit()
    return out


@router.get("/audit/verify", response_model=VerifyOut)
def verify_audit(ctx: Annotated[Ctx, require(Perm.AUDIT_READ)],
                 anchor_id: OptionalRowIdQuery = None,
                 anchor_hash: Annotated[str | None, Query(
                     pattern="^[0-9a-f]{64}$", description="row_hash recorded for anchor_id")
                 ] = None) -> dict[str, Any]:
    """Check the whole hash chain: every break is listed (at most 100)."""
    anchor = (anchor_id, anchor_hash) if anchor_id is not None and anchor_hash else None
    report = chain.verify(ctx.session, anchor=anchor).as_dict()
    ctx.audit("audit.verify", None, outcome="ok" if report["ok"] else "broken",
              detail=f"{report['rows']} rows, {len(report['breaks'])} breaks, head "
                     f"{report['last_id']}:{report['head']}")
    ctx.commit()
    return report
