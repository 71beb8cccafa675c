"""renewals and card cure windows (issue 12)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plan_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('plan_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('plan_version', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('renewal_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('term_end', sa.Date(), nullable=False),
    sa.Column('outcome', sa.Enum('renew', 'renew_with_conditions', 'not_renewed', name='renewal_outcome',
                                 native_enum=False, length=32), nullable=False),
    sa.Column('new_end_date', sa.Date(), nullable=True),
    sa.Column('conditions', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('recommendation', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('decided_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreement.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('agreement_id', 'term_end', name='uq_renewal_decision_term')
    )
    op.create_index(op.f('ix_renewal_decision_agreement_id'), 'renewal_decision', ['agreement_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_renewal_decision_agreement_id'), table_name='renewal_decision')
    op.drop_table('renewal_decision')
    op.drop_table('plan_draft')
