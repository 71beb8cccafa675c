"""a bucket's revision: late readings amend sealed buckets; the amended periods, for rescoring

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('reading_bucket') as batch:
        batch.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))
    op.create_table('reading_amendment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('first_bucket', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_bucket', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('buckets', sa.Integer(), nullable=False),
    sa.Column('amended_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('scored_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('flagged_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_reading_amendment_site', 'reading_amendment', ['site_id', 'amended_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_reading_amendment_site', table_name='reading_amendment')
    op.drop_table('reading_amendment')
    with op.batch_alter_table('reading_bucket') as batch:
        batch.drop_column('revision')
