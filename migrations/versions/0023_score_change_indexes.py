"""site_score: indexes that tell in one probe whether a period's scores changed (issue 10: speed)

The scores pages keep figures computed from a period's stored scores (the cards' sensitivity, the
network's populations a scorecard is ranked in) while those scores stay the same; asking "did they
change?" read the whole period (count, newest id and time) on every request.

Revision ID: 0023
Revises: 0018
Create Date: 2026-12-03
"""
from alembic import op

revision = '0023'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_site_score_period_id', 'site_score', ['period', 'id'], unique=False)
    op.create_index('ix_site_score_period_model_at', 'site_score', ['period', 'model_id', 'model_version',
                                                                   'computed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_site_score_period_model_at', table_name='site_score')
    op.drop_index('ix_site_score_period_id', table_name='site_score')
