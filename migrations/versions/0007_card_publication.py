"""publication of a quarter's cards

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('card_publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=False),
    sa.Column('published_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('period', 'model_id', 'model_version', name='uq_card_publication_period_model')
    )
    op.create_index(op.f('ix_card_publication_period'), 'card_publication', ['period'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_card_publication_period'), table_name='card_publication')
    op.drop_table('card_publication')
