"""compliance flags, plans, mail outbox

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('flag_evaluation_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sites', sa.Integer(), nullable=False),
    sa.Column('observations', sa.Integer(), nullable=False),
    sa.Column('opened', sa.Integer(), nullable=False),
    sa.Column('resolved', sa.Integer(), nullable=False),
    sa.Column('events', sa.Integer(), nullable=False),
    sa.Column('errors', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('flag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('franchisee_id', sa.Integer(), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('open_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('severity', sa.Enum('info', 'minor', 'warning', 'major', 'critical', name='flag_severity', native_enum=False, length=32), nullable=False),
    sa.Column('state', sa.Enum('pending', 'open', 'acknowledged', 'plan_submitted', 'plan_accepted', 'escalated', 'waived', 'no_data', 'resolved', name='flag_state', native_enum=False, length=32), nullable=False),
    sa.Column('pending_since', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_seen_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('clear_since', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('waived_until', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ack_due_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ack_reminded_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('occurrence', sa.Integer(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('created_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['franchisee_id'], ['franchisee.id'], ),
    sa.ForeignKeyConstraint(['previous_id'], ['flag.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('open_key')
    )
    op.create_index(op.f('ix_flag_franchisee_id'), 'flag', ['franchisee_id'], unique=False)
    op.create_index(op.f('ix_flag_opened_at'), 'flag', ['opened_at'], unique=False)
    op.create_index('ix_flag_rule_state', 'flag', ['rule', 'state'], unique=False)
    op.create_index(op.f('ix_flag_site_id'), 'flag', ['site_id'], unique=False)
    op.create_index(op.f('ix_flag_state'), 'flag', ['state'], unique=False)
    op.create_table('corrective_action_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('what', sa.Text(), nullable=False),
    sa.Column('who', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('submitted', 'accepted', 'rejected', name='plan_status', native_enum=False, length=32), nullable=False),
    sa.Column('submitted_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('answer', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('answered_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('overdue_notified_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['flag_id'], ['flag.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_corrective_action_plan_flag_id'), 'corrective_action_plan', ['flag_id'], unique=False)
    op.create_table('flag_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('to_state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], ),
    sa.ForeignKeyConstraint(['flag_id'], ['flag.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_flag_event_flag_id'), 'flag_event', ['flag_id'], unique=False)
    op.create_table('outbox_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.Enum('queued', 'sending', 'sent', 'failed', name='outbox_state', native_enum=False, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('sent_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['flag.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key'),
    sa.UniqueConstraint('message_id')
    )
    op.create_index(op.f('ix_outbox_message_flag_id'), 'outbox_message', ['flag_id'], unique=False)
    op.create_index('ix_outbox_state_next', 'outbox_message', ['state', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_outbox_state_next', table_name='outbox_message')
    op.drop_index(op.f('ix_outbox_message_flag_id'), table_name='outbox_message')
    op.drop_table('outbox_message')
    op.drop_index(op.f('ix_flag_event_flag_id'), table_name='flag_event')
    op.drop_table('flag_event')
    op.drop_index(op.f('ix_corrective_action_plan_flag_id'), table_name='corrective_action_plan')
    op.drop_table('corrective_action_plan')
    op.drop_index(op.f('ix_flag_state'), table_name='flag')
    op.drop_index(op.f('ix_flag_site_id'), table_name='flag')
    op.drop_index('ix_flag_rule_state', table_name='flag')
    op.drop_index(op.f('ix_flag_opened_at'), table_name='flag')
    op.drop_index(op.f('ix_flag_franchisee_id'), table_name='flag')
    op.drop_table('flag')
    op.drop_table('flag_evaluation_run')
