"""billing integrity (issue 16)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

- ``billing_run.left_out``: how many active agreements a run did not bill (the reasons are audited).
- The stored invoice PDF is as immutable as the invoice: ``invoice_document`` refuses UPDATE and
  DELETE (PostgreSQL and SQLite triggers).
- PostgreSQL: TRUNCATE of ``invoice``, ``invoice_line`` and ``invoice_document`` is refused
  (statement triggers; SQLite has no TRUNCATE). Row triggers do not fire on TRUNCATE, so without
  these a single statement would empty every issued invoice.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_DOCUMENT_MESSAGE = "the stored invoice PDF is immutable; correct the invoice with a credit note"
_TRUNCATE_MESSAGE = "issued invoices are immutable; TRUNCATE of billing tables is refused"
_TRUNCATE_GUARDED = ("invoice", "invoice_line", "invoice_document")


def upgrade() -> None:
    with op.batch_alter_table('billing_run') as batch:
        batch.add_column(sa.Column('left_out', sa.Integer(), nullable=False, server_default='0'))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION invoice_document_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '{_DOCUMENT_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
            END $$""")
        op.execute("""
            CREATE TRIGGER invoice_document_immutable BEFORE UPDATE OR DELETE ON invoice_document
            FOR EACH ROW EXECUTE FUNCTION invoice_document_guard()""")
        op.execute(f"""
            CREATE FUNCTION billing_truncate_guard() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '{_TRUNCATE_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
            END $$""")
        for table in _TRUNCATE_GUARDED:
            op.execute(f"""
                CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION billing_truncate_guard()""")
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER invoice_document_no_{verb.lower()} BEFORE {verb} ON invoice_document
            BEGIN SELECT RAISE(ABORT, '{_DOCUMENT_MESSAGE}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in _TRUNCATE_GUARDED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS billing_truncate_guard()")
        op.execute("DROP TRIGGER IF EXISTS invoice_document_immutable ON invoice_document")
        op.execute("DROP FUNCTION IF EXISTS invoice_document_guard()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS invoice_document_no_{verb}")
    with op.batch_alter_table('billing_run') as batch:
        batch.drop_column('left_out')
