"""brand-health scores

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('site_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('card', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('coverage', sa.Float(), nullable=False),
    sa.Column('indicators', sa.JSON(), nullable=False),
    sa.Column('computed_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site_id', 'period', 'model_id', 'model_version', name='uq_site_score_site_period_model')
    )
    op.create_index(op.f('ix_site_score_period'), 'site_score', ['period'], unique=False)
    op.create_index(op.f('ix_site_score_site_id'), 'site_score', ['site_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_site_score_site_id'), table_name='site_score')
    op.drop_index(op.f('ix_site_score_period'), table_name='site_score')
    op.drop_table('site_score')
