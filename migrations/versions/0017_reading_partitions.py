"""readings partitioned by month on PostgreSQL; the bucket's natural key is its primary key (issue 15)

PostgreSQL: ``reading_bucket`` (RANGE on ``bucket_start``) and the hourly rollup ``reading_hourly``
(RANGE on ``hour_start``) become declaratively partitioned tables, one partition per UTC month
(``reading_bucket_y2026m12``) for every month of the existing rows and from the current month to
three months ahead, plus a DEFAULT partition (``reading_bucket_default``) so that an insert never
fails for a month without its partition (see ``brand_hub.collection.partitions``). Each old table is
renamed, its rows moved, and it is dropped. The daily rollup stays one plain table (a 96th of the
15-minute rows, kept for good: docs/PRODUCTION.md).

Both databases: the bucket's surrogate ``id`` goes and its natural key (site_id, bucket_start, zone,
metric), until now a unique constraint, becomes the primary key ``pk_reading_bucket``: a partitioned
table's primary key must hold the partition key, nothing reads the id, and on billions of rows it
cost a second index as large as the key's. SQLite keeps plain tables.

Downgrade does the reverse: plain tables, the buckets with an id (numbered afresh) and the unique key.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""
from datetime import date, datetime, timezone

from alembic import op
import sqlalchemy as sa
import sqlmodel

import brand_hub.models.types

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

AHEAD_MONTHS = 3
KEY = ['site_id', 'bucket_start', 'zone', 'metric']
DATA = ['site_id', 'zone', 'metric', 'bucket_start', 'bucket_minutes', 'count', 'mean', 'min', 'max', 'revision']
HOURLY_KEY = ['site_id', 'hour_start', 'zone', 'metric']
HOURLY = ['site_id', 'hour_start', 'zone', 'metric', 'total', 'n', 'high', 'low', 'buckets', 'minutes']


def _columns():
    return [
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('zone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('metric', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('bucket_start', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('bucket_minutes', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('mean', sa.Float(), nullable=False),
        sa.Column('min', sa.Float(), nullable=False),
        sa.Column('max', sa.Float(), nullable=False),
        sa.Column('revision', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    ]


def _hourly_columns():
    return [
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('hour_start', brand_hub.models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('zone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('metric', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('total', sa.Float(), nullable=False),
        sa.Column('n', sa.BigInteger(), nullable=False),
        sa.Column('high', sa.Float(), nullable=False),
        sa.Column('low', sa.Float(), nullable=False),
        sa.Column('buckets', sa.Integer(), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['site_id'], ['site.id'], ),
    ]


def _shift(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _months(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = _shift(month, 1)
    return months


def partition_months(conn, table: str, key: str) -> list[date]:
    """Every UTC month holding a row of ``table``, and the current month to ``AHEAD_MONTHS`` ahead."""
    now = datetime.now(timezone.utc)
    current = date(now.year, now.month, 1)
    wanted = set(_months(current, _shift(current, AHEAD_MONTHS)))
    low, high = conn.execute(sa.text(f"SELECT date_trunc('month', min({key}) AT TIME ZONE 'UTC')::date, "
                                     f"date_trunc('month', max({key}) AT TIME ZONE 'UTC')::date FROM {table}")).one()
    if low is not None:
        wanted |= set(_months(low, high))
    return sorted(wanted)


def create_monthly_partitions(parent: str, months: list[date]) -> None:
    """``parent``'s monthly partitions (``<parent>_y2026m12``) and its DEFAULT partition."""
    for month in months:
        op.execute(f"CREATE TABLE {parent}_y{month.year:04d}m{month.month:02d} PARTITION OF {parent} "
                   f"FOR VALUES FROM ('{month.isoformat()} 00:00:00+00') TO ('{_shift(month, 1).isoformat()} 00:00:00+00')")
    op.execute(f"CREATE TABLE {parent}_default PARTITION OF {parent} DEFAULT")


def partition(conn, table: str, key: str, columns: list, pk: list[str], names: list[str], *, pk_taken: bool) -> None:
    """Rename the plain ``table``, create it partitioned with the same columns and key, move the rows, drop the old.

    ``pk_taken``: the old table's primary key already has the new one's name (an index name is the schema's).
    """
    op.rename_table(table, f'{table}_unpartitioned')
    if pk_taken:
        op.execute(f"ALTER TABLE {table}_unpartitioned RENAME CONSTRAINT pk_{table} TO pk_{table}_unpartitioned")
    months = partition_months(conn, f'{table}_unpartitioned', key)
    op.create_table(table, *columns, sa.PrimaryKeyConstraint(*pk, name=f'pk_{table}'),
                    postgresql_partition_by=f'RANGE ({key})')
    create_monthly_partitions(table, months)
    listed = ', '.join(names)
    op.execute(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {table}_unpartitioned")
    op.drop_table(f'{table}_unpartitioned')
    op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'postgresql':
        partition(conn, 'reading_bucket', 'bucket_start', _columns(), KEY, DATA, pk_taken=False)
        partition(conn, 'reading_hourly', 'hour_start', _hourly_columns(), HOURLY_KEY, HOURLY, pk_taken=True)
        return
    # SQLite: the buckets' natural key becomes the primary key and the id goes; the tables stay plain
    names = ', '.join(DATA)
    op.create_table('reading_bucket_keyed', *_columns(), sa.PrimaryKeyConstraint(*KEY, name='pk_reading_bucket'))
    op.execute(f"INSERT INTO reading_bucket_keyed ({names}) SELECT {names} FROM reading_bucket")
    op.drop_table('reading_bucket')
    op.rename_table('reading_bucket_keyed', 'reading_bucket')


def unpartition(table: str, columns: list, pk: list[str], names: list[str]) -> None:
    op.rename_table(table, f'{table}_partitioned')
    op.execute(f"ALTER TABLE {table}_partitioned RENAME CONSTRAINT pk_{table} TO pk_{table}_partitioned")
    op.create_table(table, *columns, sa.PrimaryKeyConstraint(*pk, name=f'pk_{table}'))
    listed = ', '.join(names)
    op.execute(f"INSERT INTO {table} ({listed}) SELECT {listed} FROM {table}_partitioned")
    op.drop_table(f'{table}_partitioned')   # with its partitions


def downgrade() -> None:
    names = ', '.join(DATA)
    if op.get_bind().dialect.name == 'postgresql':
        unpartition('reading_hourly', _hourly_columns(), HOURLY_KEY, HOURLY)
    op.rename_table('reading_bucket', 'reading_bucket_keyed')
    op.create_table('reading_bucket',
                    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    *_columns(), sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint(*KEY, name='uq_reading_bucket_key'))
    op.execute(f"INSERT INTO reading_bucket ({names}) SELECT {names} FROM reading_bucket_keyed "
               "ORDER BY bucket_start, site_id, zone, metric")
    op.drop_table('reading_bucket_keyed')   # on PostgreSQL with its partitions
