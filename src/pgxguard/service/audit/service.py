"""Audit log: every read and write of patient data, and every refusal of one.

`record()` adds the row to the caller's session, so it commits (or rolls back) together with the
write it describes. Refusals and failures are recorded by the app's error handler in a session
of their own (`record_failure`), since the request's transaction is rolled back.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pgxguard.service.db import utcnow
from pgxguard.service.models import AuditEvent


def record(session: Session, *, action: str, method: str, route: str, outcome: str = "ok",
           user_id: int | None = None, username: str | None = None,
           patient_id: int | None = None, detail: str | None = None) -> AuditEvent:
    row = AuditEvent(at=utcnow(), user_id=user_id, username=username, action=action,
                     patient_id=patient_id, method=method, route=route[:200],
                     outcome=outcome[:40], detail=detail)
    session.add(row)
    return row


def record_failure(sessions: sessionmaker[Session], **kw: object) -> None:
    with sessions() as s:
        record(s, **kw)  # type: ignore[arg-type]
        s.commit()


def events(session: Session, *, patient_id: int | None = None, user_id: int | None = None,
           limit: int = 100, before_id: int | None = None) -> list[AuditEvent]:
    q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if patient_id is not None:
        q = q.where(AuditEvent.patient_id == patient_id)
    if user_id is not None:
        q = q.where(AuditEvent.user_id == user_id)
    if before_id is not None:
        q = q.where(AuditEvent.id < before_id)
    return list(session.scalars(q))


__all__ = ["events", "record", "record_failure"]
