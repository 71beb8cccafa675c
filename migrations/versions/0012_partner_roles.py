"""partner staff and their sites (issue 10)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("assigned_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "site_id", name="uq_site_assignment_user_site"),
    )
    op.create_index(op.f("ix_site_assignment_user_id"), "site_assignment", ["user_id"], unique=False)
    op.create_index(op.f("ix_site_assignment_site_id"), "site_assignment", ["site_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_site_assignment_site_id"), table_name="site_assignment")
    op.drop_index(op.f("ix_site_assignment_user_id"), table_name="site_assignment")
    op.drop_table("site_assignment")
