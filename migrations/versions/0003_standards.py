"""brand standards and site configs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('standard',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('title_zh', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('title_en', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('ack_days', sa.Integer(), nullable=False),
    sa.Column('published_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'version', name='uq_standard_key_version')
    )
    op.create_index(op.f('ix_standard_key'), 'standard', ['key'], unique=False)
    op.create_table('site_config_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('desired_version', sa.Integer(), nullable=True),
    sa.Column('desired_hash', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('applied_hash', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('applied_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_delivery_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_delivery_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('drift_since', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('drifted_keys', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site_id')
    )
    op.create_table('site_config_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content', sa.JSON(), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('provenance', sa.JSON(), nullable=False),
    sa.Column('created_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site_id', 'version', name='uq_site_config_version')
    )
    op.create_index(op.f('ix_site_config_version_site_id'), 'site_config_version', ['site_id'], unique=False)
    op.create_table('standard_ack',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('standard_id', sa.Integer(), nullable=False),
    sa.Column('due_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.ForeignKeyConstraint(['standard_id'], ['standard.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site_id', 'standard_id', name='uq_standard_ack_site_standard')
    )
    op.create_index(op.f('ix_standard_ack_site_id'), 'standard_ack', ['site_id'], unique=False)
    op.create_index(op.f('ix_standard_ack_standard_id'), 'standard_ack', ['standard_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_standard_ack_standard_id'), table_name='standard_ack')
    op.drop_index(op.f('ix_standard_ack_site_id'), table_name='standard_ack')
    op.drop_table('standard_ack')
    op.drop_index(op.f('ix_site_config_version_site_id'), table_name='site_config_version')
    op.drop_table('site_config_version')
    op.drop_table('site_config_state')
    op.drop_index(op.f('ix_standard_key'), table_name='standard')
    op.drop_table('standard')
