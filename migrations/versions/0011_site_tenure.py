"""ownership of a site over time (issue 17)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""
from datetime import date, datetime, timezone

from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('site_tenure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('franchisee_id', sa.Integer(), nullable=False),
    sa.Column('agreement_id', sa.Integer(), nullable=True),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('held_from', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('held_until', brand_hub.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
    sa.Column('last_month', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
    sa.Column('first_quarter', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
    sa.Column('last_quarter', sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
    sa.Column('created_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['agreement_id'], ['agreement.id'], ),
    sa.ForeignKeyConstraint(['franchisee_id'], ['franchisee.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('site_tenure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_site_tenure_franchisee_id'), ['franchisee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_site_tenure_site_id'), ['site_id'], unique=False)
        batch_op.create_index('ix_site_tenure_site_partner', ['site_id', 'franchisee_id'], unique=False)

    # Data: every existing site gets one open tenure of its partner (and agreement), from its
    # opening date (or the day it was created). Bounds stay open: the first holder owns the past.
    site = sa.table('site', sa.column('id', sa.Integer()), sa.column('franchisee_id', sa.Integer()),
                    sa.column('agreement_id', sa.Integer()), sa.column('opened_on', sa.Date()),
                    sa.column('created_at', brand_hub.models.types.UTCDateTime(timezone=True)))
    tenure = sa.table('site_tenure', sa.column('site_id', sa.Integer()), sa.column('franchisee_id', sa.Integer()),
                      sa.column('agreement_id', sa.Integer()), sa.column('starts_on', sa.Date()),
                      sa.column('created_at', brand_hub.models.types.UTCDateTime(timezone=True)),
                      sa.column('created_by', sa.String(200)))
    bind = op.get_bind()
    now = datetime.now(timezone.utc)
    rows = []
    for site_id, franchisee_id, agreement_id, opened_on, created_at in bind.execute(
            sa.select(site.c.id, site.c.franchisee_id, site.c.agreement_id, site.c.opened_on, site.c.created_at)):
        starts_on = opened_on or (created_at.date() if created_at is not None else date.today())
        rows.append({"site_id": site_id, "franchisee_id": franchisee_id, "agreement_id": agreement_id,
                     "starts_on": starts_on, "created_at": now, "created_by": "migration 0011"})
    if rows:
        op.bulk_insert(tenure, rows)


def downgrade() -> None:
    with op.batch_alter_table('site_tenure', schema=None) as batch_op:
        batch_op.drop_index('ix_site_tenure_site_partner')
        batch_op.drop_index(batch_op.f('ix_site_tenure_site_id'))
        batch_op.drop_index(batch_op.f('ix_site_tenure_franchisee_id'))
    op.drop_table('site_tenure')
