"""hourly and daily rollups of the readings (issue 15)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_AGGREGATES = (
    ('total', sa.Float()), ('n', sa.BigInteger()), ('high', sa.Float()), ('low', sa.Float()),
    ('buckets', sa.Integer()), ('minutes', sa.Integer()),
)


def _rollup(name: str, at: str) -> None:
    op.create_table(name,
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column(at, brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('zone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('metric', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    *[sa.Column(column, kind, nullable=False) for column, kind in _AGGREGATES],
    sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    sa.PrimaryKeyConstraint('site_id', at, 'zone', 'metric', name=f'pk_{name}')
    )


def upgrade() -> None:
    _rollup('reading_hourly', 'hour_start')
    _rollup('reading_daily', 'day_start')
    # The readings already there, rolled up once (new pages keep them current).
    postgres = op.get_bind().dialect.name == 'postgresql'
    hour = "date_trunc('hour', rb.bucket_start, 'UTC')" if postgres else \
        "strftime('%Y-%m-%d %H:00:00.000000', rb.bucket_start)"
    day = "date_trunc('day', h.hour_start, 'UTC')" if postgres else \
        "strftime('%Y-%m-%d 00:00:00.000000', h.hour_start)"
    # sums in time order on PostgreSQL, as brand_hub.collection.rollups takes them
    order_b, order_h = (" ORDER BY rb.bucket_start", " ORDER BY h.hour_start") if postgres else ("", "")
    op.execute(
        "INSERT INTO reading_hourly (site_id, hour_start, zone, metric, total, n, high, low, buckets, minutes) "
        f"SELECT rb.site_id, {hour}, rb.zone, rb.metric, SUM(rb.mean * rb.count{order_b}), SUM(rb.count), MAX(rb.max), "
        "MIN(rb.min), COUNT(*), SUM(CASE WHEN rb.count < rb.bucket_minutes THEN rb.count ELSE rb.bucket_minutes END) "
        f"FROM reading_bucket rb WHERE rb.count > 0 GROUP BY rb.site_id, {hour}, rb.zone, rb.metric")
    op.execute(
        "INSERT INTO reading_daily (site_id, day_start, zone, metric, total, n, high, low, buckets, minutes) "
        f"SELECT h.site_id, {day}, h.zone, h.metric, SUM(h.total{order_h}), SUM(h.n), MAX(h.high), MIN(h.low), "
        f"SUM(h.buckets), SUM(h.minutes) FROM reading_hourly h GROUP BY h.site_id, {day}, h.zone, h.metric")


def downgrade() -> None:
    op.drop_table('reading_daily')
    op.drop_table('reading_hourly')
