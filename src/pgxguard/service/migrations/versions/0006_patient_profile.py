"""One PGx profile per patient: resolutions of genes whose signed-off results disagree, and the
profile a medication review used.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('gene_resolutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('gene', sa.String(length=32), nullable=False),
    sa.Column('chosen_version_id', sa.Integer(), nullable=False),
    sa.Column('overrides', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['chosen_version_id'], ['result_versions.id'], ),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gene_resolutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gene_resolutions_patient_id'), ['patient_id'],
                              unique=False)
    with op.batch_alter_table('medication_reviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('profile_json', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('medication_reviews', schema=None) as batch_op:
        batch_op.drop_column('profile_json')
    with op.batch_alter_table('gene_resolutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gene_resolutions_patient_id'))
    op.drop_table('gene_resolutions')
