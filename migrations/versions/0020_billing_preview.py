"""stored billing previews: the review and the billing-run diff keyed by the state of their inputs (issue 10)

``billing_preview`` keeps what the review and the diff pages computed. ``billing_change`` gets
a row, in the writing transaction, from every statement (PostgreSQL) or row (SQLite) that
inserts, updates or deletes in a table those pages read: the set of its rows is the state
of the inputs (``brand_hub.billing.preview.fingerprint``), whatever code or hand-written SQL
made the change.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0020'
down_revision = '0018'
branch_labels = None
depends_on = None

# the tables the billing previews read (brand_hub.billing.preview.INPUTS, frozen here as of this revision)
WATCHED = ("agreement", "franchisee", "site", "site_tenure", "revenue_report", "correction_review", "invoice",
           "invoice_line", "payment", "credit_note", "invoice_dispute", "billing_run", "billing_run_line")


def upgrade() -> None:
    op.create_table('billing_preview',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('computed_at', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('billing_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION billing_changed() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO billing_change DEFAULT VALUES;
                RETURN NULL;
            END $$""")
        for table in WATCHED:
            op.execute(f"CREATE TRIGGER {table}_billing_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       f"FOR EACH STATEMENT EXECUTE FUNCTION billing_changed()")
    else:
        for table in WATCHED:
            for verb in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_billing_change_{verb.lower()} AFTER {verb} ON {table} "
                           f"BEGIN INSERT INTO billing_change (id) VALUES (NULL); END")  # no DEFAULT VALUES in a trigger


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WATCHED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_billing_change ON {table}")
        op.execute("DROP FUNCTION IF EXISTS billing_changed()")
    else:
        for table in WATCHED:
            for verb in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_billing_change_{verb}")
    op.drop_table('billing_change')
    op.drop_table('billing_preview')
