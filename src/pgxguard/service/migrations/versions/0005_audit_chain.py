"""Tamper-evident audit trail: rows hash-chained (prev_hash, row_hash; existing rows chained in
id order here) and append-only in the database (triggers refuse UPDATE and DELETE, and
TRUNCATE on PostgreSQL).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-14
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from pgxguard.service.audit.chain import GENESIS, digest
from pgxguard.service.db import UTCDateTime

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "audit_events is append-only"


def _chain_existing_rows() -> None:
    conn = op.get_bind()
    events = sa.table("audit_events", sa.column("at", UTCDateTime()), *(sa.column(c) for c in (
        "id", "user_id", "username", "action", "patient_id", "method", "route", "outcome",
        "detail", "prev_hash", "row_hash")))
    prev = GENESIS
    for r in conn.execute(sa.select(events).order_by(events.c.id)).mappings().all():
        h = digest(id=r["id"], at=r["at"], user_id=r["user_id"], username=r["username"],
                   action=r["action"], patient_id=r["patient_id"], method=r["method"],
                   route=r["route"], outcome=r["outcome"], detail=r["detail"], prev_hash=prev)
        conn.execute(events.update().where(events.c.id == r["id"]).values(
            prev_hash=prev, row_hash=h))
        prev = h


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=True))
    _chain_existing_rows()
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('row_hash', existing_type=sa.String(length=64), nullable=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION pgxguard_audit_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END $$""")
        op.execute("CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON "
                   "audit_events FOR EACH ROW EXECUTE FUNCTION pgxguard_audit_append_only()")
        op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION pgxguard_audit_append_only()")
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_events_no_{what.lower()} BEFORE {what} ON "
                       f"audit_events BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION pgxguard_audit_append_only()")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('row_hash')
        batch_op.drop_column('prev_hash')
