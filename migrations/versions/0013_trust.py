"""revenue plausibility, reviewed corrections, disputes, honest surveys (issue 11)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_run_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=False),
    sa.Column('franchisee_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('site_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('service_period', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('band', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('base', brand_hub.models.types.Money(precision=18, scale=2), nullable=False),
    sa.Column('rate', brand_hub.models.types.Money(precision=12, scale=6), nullable=False),
    sa.Column('amount', brand_hub.models.types.Money(precision=18, scale=2), nullable=False),
    sa.Column('estimated', sa.Boolean(), nullable=False),
    sa.Column('revenue_report_version', sa.Integer(), nullable=True),
    sa.Column('plan_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('plan_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreement.id'], ),
    sa.ForeignKeyConstraint(['franchisee_id'], ['franchisee.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['billing_run.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_billing_run_line_period'), 'billing_run_line', ['period'], unique=False)
    op.create_index('ix_billing_run_line_run', 'billing_run_line', ['run_id'], unique=False)
    op.create_table('correction_review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('status', sa.Enum('pending', 'accepted', 'refused', name='review_status', native_enum=False, length=32), nullable=False),
    sa.Column('why', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('previous_gross', brand_hub.models.types.Money(precision=18, scale=2), nullable=False),
    sa.Column('requested_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('decided_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['revenue_report.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id')
    )
    op.create_index(op.f('ix_correction_review_site_id'), 'correction_review', ['site_id'], unique=False)
    op.create_index(op.f('ix_correction_review_status'), 'correction_review', ['status'], unique=False)
    op.create_table('revenue_assessment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('signals', sa.JSON(), nullable=False),
    sa.Column('method_version', sa.Integer(), nullable=False),
    sa.Column('assessed_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['revenue_report.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('report_id')
    )
    op.create_index(op.f('ix_revenue_assessment_period'), 'revenue_assessment', ['period'], unique=False)
    op.create_index(op.f('ix_revenue_assessment_site_id'), 'revenue_assessment', ['site_id'], unique=False)
    op.create_index(op.f('ix_revenue_assessment_verdict'), 'revenue_assessment', ['verdict'], unique=False)
    op.create_table('invoice_dispute',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('invoice_line_id', sa.Integer(), nullable=False),
    sa.Column('franchisee_id', sa.Integer(), nullable=False),
    sa.Column('disputed_amount', brand_hub.models.types.Money(precision=18, scale=2), nullable=False),
    sa.Column('proposed_amount', brand_hub.models.types.Money(precision=18, scale=2), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('status', sa.Enum('open', 'accepted', 'partly_accepted', 'rejected', name='dispute_status', native_enum=False, length=32), nullable=False),
    sa.Column('opened_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('decided_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('decision_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('credited', brand_hub.models.types.Money(precision=18, scale=2), nullable=False),
    sa.Column('credit_note_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['credit_note_id'], ['credit_note.id'], ),
    sa.ForeignKeyConstraint(['franchisee_id'], ['franchisee.id'], ),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
    sa.ForeignKeyConstraint(['invoice_line_id'], ['invoice_line.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_invoice_dispute_franchisee_id'), 'invoice_dispute', ['franchisee_id'], unique=False)
    op.create_index(op.f('ix_invoice_dispute_invoice_line_id'), 'invoice_dispute', ['invoice_line_id'], unique=False)
    op.create_index('ix_invoice_dispute_invoice_status', 'invoice_dispute', ['invoice_id', 'status'], unique=False)
    op.create_index(op.f('ix_invoice_dispute_status'), 'invoice_dispute', ['status'], unique=False)
    op.create_table('dispute_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dispute_id'], ['invoice_dispute.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dispute_attachment_dispute_id'), 'dispute_attachment', ['dispute_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_dispute_attachment_dispute_id'), table_name='dispute_attachment')
    op.drop_table('dispute_attachment')
    op.drop_index(op.f('ix_invoice_dispute_status'), table_name='invoice_dispute')
    op.drop_index('ix_invoice_dispute_invoice_status', table_name='invoice_dispute')
    op.drop_index(op.f('ix_invoice_dispute_invoice_line_id'), table_name='invoice_dispute')
    op.drop_index(op.f('ix_invoice_dispute_franchisee_id'), table_name='invoice_dispute')
    op.drop_table('invoice_dispute')
    op.drop_index(op.f('ix_revenue_assessment_verdict'), table_name='revenue_assessment')
    op.drop_index(op.f('ix_revenue_assessment_site_id'), table_name='revenue_assessment')
    op.drop_index(op.f('ix_revenue_assessment_period'), table_name='revenue_assessment')
    op.drop_table('revenue_assessment')
    op.drop_index(op.f('ix_correction_review_status'), table_name='correction_review')
    op.drop_index(op.f('ix_correction_review_site_id'), table_name='correction_review')
    op.drop_table('correction_review')
    op.drop_index('ix_billing_run_line_run', table_name='billing_run_line')
    op.drop_index(op.f('ix_billing_run_line_period'), table_name='billing_run_line')
    op.drop_table('billing_run_line')
