"""revenue_report.franchisee_id: the partner that held the site in the report's month (issue 10: speed)

HQ's revenue-reports page counts each report for the partner whose tenure owns its month. Finding
that partner through ``site_tenure`` for every report on every request made the page the slowest of
the hub at 10,000 sites (p95 434 ms). The holder is now written with the report and rewritten when a
site moves (``brand_hub.tenure``); this revision adds the column, an index on (partner, month), and
fills it for the reports already stored by the same rule: the newest tenure owning the month, else
the site's current partner (a site never moved).

Both databases add the column in place (``ADD COLUMN … REFERENCES``): on SQLite, rebuilding the table
would drop the billing-change triggers on it and the foreign keys that point at it. SQLite adds no
NOT NULL column without a default, so the column is nullable on both; the application always sets it.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03
"""
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

BACKFILL = """
UPDATE revenue_report SET franchisee_id = COALESCE(
    (SELECT t.franchisee_id FROM site_tenure t
      WHERE t.site_id = revenue_report.site_id
        AND (t.first_month IS NULL OR revenue_report.period >= t.first_month)
        AND (t.last_month IS NULL OR revenue_report.period <= t.last_month)
      ORDER BY t.starts_on DESC, t.id DESC LIMIT 1),
    (SELECT s.franchisee_id FROM site s WHERE s.id = revenue_report.site_id))
"""


def upgrade() -> None:
    op.execute("ALTER TABLE revenue_report ADD COLUMN franchisee_id INTEGER REFERENCES franchisee (id)")
    op.execute(BACKFILL)
    op.create_index('ix_revenue_report_franchisee_period', 'revenue_report', ['franchisee_id', 'period'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_revenue_report_franchisee_period', table_name='revenue_report')
    op.execute("ALTER TABLE revenue_report DROP COLUMN franchisee_id")  # its foreign key goes with it
