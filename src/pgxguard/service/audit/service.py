"""Audit log: every read and write of patient data, every refusal, sign-in and sign-out, and
every read of the log itself.

`record()` adds the row to the caller's session, so it commits (or rolls back) together with the
write it describes. Refusals and failures are recorded by the app's error handler in a session
of their own (`record_failure`), since the request's transaction is rolled back.

Rows are hash-chained (`chain.py`): `record()` takes the chain's lock (PostgreSQL: a
transaction-scoped advisory lock; SQLite: every writing transaction is already exclusive),
reads the newest row and writes the next id with its hash. The lock is held until the caller
commits, so rows join the chain in commit order.

Details never hold patient identifiers (NHS numbers, names, searched text, file names):
administrators read this log and see no patient data. `redact()` also masks them in rows
written before that rule.
"""

from __future__ import annotations

import re

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from pgxguard.service.audit.chain import GENESIS, digest
from pgxguard.service.db import utcnow
from pgxguard.service.models import AuditEvent

# pg_advisory_xact_lock key of the audit chain (any constant; "pgxguard-audit").
_CHAIN_LOCK = 0x70677861756474


def _clean(value: str | None, length: int | None = None) -> str | None:
    """As the column will hold it: NUL is refused by PostgreSQL text, lengths by VARCHAR."""
    if value is None:
        return None
    value = value.replace("\x00", "\N{REPLACEMENT CHARACTER}")
    return value[:length] if length else value


def record(session: Session, *, action: str, method: str, route: str, outcome: str = "ok",
           user_id: int | None = None, username: str | None = None,
           patient_id: int | None = None, detail: str | None = None) -> AuditEvent:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    last = session.execute(select(AuditEvent.id, AuditEvent.row_hash)
                           .order_by(AuditEvent.id.desc()).limit(1)).first()
    fields = {"id": (last[0] + 1) if last else 1, "at": utcnow(), "user_id": user_id,
              "username": _clean(username, 64), "action": _clean(action, 64) or "",
              "patient_id": patient_id, "method": _clean(method, 10) or "",
              "route": _clean(route, 200) or "", "outcome": _clean(outcome, 40) or "",
              "detail": _clean(detail), "prev_hash": last[1] if last else GENESIS}
    row = AuditEvent(**fields, row_hash=digest(**fields))  # type: ignore[arg-type]
    session.add(row)
    session.flush()  # the next record() in this transaction chains onto this row
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


# Rows written before details were kept free of identifiers held search terms, NHS numbers
# and upload file names: masked when shown.
_SEARCH_TERM = re.compile(r"\b(nhs_number|family_name|identifier|q|patient)=[^;]*")
_NHS_LIKE = re.compile(r"(?<!\d)\d{3}[\s-]?\d{3}[\s-]?\d{4}(?!\d)")
_UPLOAD_NAME = re.compile(r"\((vcf|outside_calls|fhir_bundle), [^)]*\)")


def redact(detail: str | None) -> str | None:
    """An audit detail as administrators may see it: no patient identifiers."""
    if detail is None:
        return None
    out = _SEARCH_TERM.sub(lambda m: f"{m.group(1)}=[redacted]", detail)
    out = _UPLOAD_NAME.sub(lambda m: f"({m.group(1)})", out)
    return _NHS_LIKE.sub("[redacted]", out)


__all__ = ["events", "record", "record_failure", "redact"]
