"""CDS client JWTs already accepted, by (iss, jti) digest, until they expire (replay check of
auth/cds_jwt.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cds_jwt_replay',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index('ix_cds_jwt_replay_expires_at', 'cds_jwt_replay', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_cds_jwt_replay_expires_at', table_name='cds_jwt_replay')
    op.drop_table('cds_jwt_replay')
