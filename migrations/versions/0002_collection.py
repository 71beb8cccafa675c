"""site agent collection (buckets, NPS, events, targets, quarantine)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('collection_quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('stream', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('cursor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('record', sa.JSON(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('received_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_collection_quarantine_site', 'collection_quarantine', ['site_id', 'received_at'], unique=False)
    op.create_table('collection_target',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('cursor_readings', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('cursor_nps', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('cursor_events', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('lease_owner', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('lease_until', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_attempt_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('newest_record_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('records_last_pull', sa.Integer(), nullable=False),
    sa.Column('quarantined_last_pull', sa.Integer(), nullable=False),
    sa.Column('agent_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('agent_buffer_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('buffer_depth', sa.Integer(), nullable=False),
    sa.Column('oldest_unpulled_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rejects', sa.JSON(), nullable=False),
    sa.Column('applied_config_hash', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('health_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site_id')
    )
    op.create_table('nps_response',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('answered_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site_id', 'record_id', name='uq_nps_response_key')
    )
    op.create_index('ix_nps_response_site_answered', 'nps_response', ['site_id', 'answered_at'], unique=False)
    op.create_table('ops_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('occurred_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ref', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site_id', 'record_id', name='uq_ops_event_key')
    )
    op.create_index('ix_ops_event_site_kind_at', 'ops_event', ['site_id', 'kind', 'occurred_at'], unique=False)
    op.create_table('reading_bucket',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('zone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('metric', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('bucket_start', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('bucket_minutes', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('mean', sa.Float(), nullable=False),
    sa.Column('min', sa.Float(), nullable=False),
    sa.Column('max', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site_id', 'bucket_start', 'zone', 'metric', name='uq_reading_bucket_key')
    )


def downgrade() -> None:
    op.drop_table('reading_bucket')
    op.drop_index('ix_ops_event_site_kind_at', table_name='ops_event')
    op.drop_table('ops_event')
    op.drop_index('ix_nps_response_site_answered', table_name='nps_response')
    op.drop_table('nps_response')
    op.drop_table('collection_target')
    op.drop_index('ix_collection_quarantine_site', table_name='collection_quarantine')
    op.drop_table('collection_quarantine')
