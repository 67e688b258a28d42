"""The audit trail's hash chain, and its verification.

Each audit row carries `prev_hash` (the `row_hash` of the row before it; 64 zeros for the
first) and `row_hash` = SHA-256 of the row's own fields and `prev_hash` in a fixed JSON form
(`digest`). Changing, removing or inserting a row breaks the chain at that row, which
`verify` reports (`pgxguard audit verify`, `GET /audit/verify`). Rows cannot be updated or
deleted in the database at all (triggers, migration 0005); the chain shows it when someone
with the rights to drop those triggers did. Removing the newest rows leaves a shorter intact
chain: compare the head (`last_id`, `head`) with one recorded earlier (`anchor`).

The digest format ("pgxguard-audit-v1") must never change: rows written with it are verified
with it for as long as they exist.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pgxguard.service.models import AuditEvent

GENESIS = "0" * 64
FORMAT = "pgxguard-audit-v1"
MAX_BREAKS = 100


def _at(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest(*, id: int, at: datetime, user_id: int | None, username: str | None, action: str,
           patient_id: int | None, method: str, route: str, outcome: str,
           detail: str | None, prev_hash: str) -> str:
    payload = json.dumps([FORMAT, id, _at(at), user_id, username, action, patient_id, method,
                          route, outcome, detail, prev_hash],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def digest_of(row: AuditEvent) -> str:
    return digest(id=row.id, at=row.at, user_id=row.user_id, username=row.username,
                  action=row.action, patient_id=row.patient_id, method=row.method,
                  route=row.route, outcome=row.outcome, detail=row.detail,
                  prev_hash=row.prev_hash)


@dataclass
class Report:
    """What `verify` found: `ok` when every row links to the one before and hashes right."""

    rows: int = 0
    first_id: int | None = None
    last_id: int | None = None
    head: str = GENESIS
    breaks: list[dict[str, Any]] = field(default_factory=list)
    anchor: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.breaks and (self.anchor is None or bool(self.anchor["ok"]))

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rows": self.rows, "first_id": self.first_id,
                "last_id": self.last_id, "head": self.head, "breaks": self.breaks,
                "anchor": self.anchor}


def verify(session: Session, *, anchor: tuple[int, str] | None = None,
           batch: int = 5000) -> Report:
    """Walk the whole trail in id order and report every break (at most `MAX_BREAKS`).
    `anchor` = (id, row_hash) recorded earlier: that row must still be there, unchanged."""
    rep = Report()
    prev = GENESIS
    extra = 0
    stream = session.execute(select(AuditEvent).order_by(AuditEvent.id)
                             .execution_options(yield_per=batch)).scalars()
    for row in stream:
        rep.rows += 1
        if rep.first_id is None:
            rep.first_id = row.id
        problems = []
        if row.prev_hash != prev:
            problems.append("does not follow the row before it (a row before it was removed, "
                            "changed or inserted)")
        if digest_of(row) != row.row_hash:
            problems.append("its content does not match its hash (the row was changed)")
        if problems:
            if len(rep.breaks) < MAX_BREAKS:
                rep.breaks.append({"id": row.id, "problem": "; ".join(problems)})
            else:
                extra += 1
        if anchor is not None and row.id == anchor[0]:
            rep.anchor = {"id": anchor[0], "ok": row.row_hash == anchor[1],
                          "found": row.row_hash}
        prev = row.row_hash
        rep.last_id = row.id
    rep.head = prev
    if extra:
        rep.breaks.append({"id": None, "problem": f"{extra} more breaks not listed"})
    if anchor is not None and rep.anchor is None:
        rep.anchor = {"id": anchor[0], "ok": False, "found": None}
    return rep


__all__ = ["GENESIS", "Report", "digest", "digest_of", "verify"]
