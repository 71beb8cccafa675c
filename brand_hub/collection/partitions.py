"""Readings partitioned by month, created ahead, and dropped whole when older than the retention.

On PostgreSQL the readings tables (``PARTITIONED``: the 15-minute ``reading_bucket``, and the
hourly rollup once it exists) are natively partitioned by RANGE on their time column, one
partition a UTC month, named ``<table>_y2026m12``, plus a DEFAULT partition ``<table>_default``
(migration 0017 converts the tables; these functions keep them).

Why a DEFAULT partition as well as partitions created ahead: the write path must never fail
for want of a partition. Partitions are made ``readings_partitions_ahead_months`` ahead every
day, yet a row can still arrive for a month that has none: an agent with a wrong clock, a
backfill of history older than the first partition, a scheduler stopped for months. Such a row
lands in the DEFAULT partition instead of failing the page; ``ensure_partitions`` then finds
its month there and moves it into a partition of its own, so the DEFAULT stays empty and
creating the next month's partition (which must check the DEFAULT holds none of its rows) costs
nothing. The price: ``DETACH PARTITION … CONCURRENTLY`` is refused while a DEFAULT exists, so
retention detaches with a plain DETACH, a brief metadata-only lock taken under ``LOCK_TIMEOUT``
(a detach stuck behind a long dashboard query gives up and is tried at the next run, rather
than queueing every insert behind it).

Retention (``readings_retention_months`` for 15-minute rows, ``readings_hourly_retention_months``
for the hourly rollup): a partition whose whole month lies before the first day of the month
``months`` before the current one is detached and dropped; never a row-by-row DELETE. SQLite (the
small-install path, no partitions) deletes by range instead, and so does the daily rollup, one plain
table everywhere, when ``readings_daily_retention_months`` is set (0, the default, keeps it for good). Every drop and every range delete is
audited (actor ``system``) and logged.

Services here take the caller's session and never commit; the two jobs at the bottom
(``readings-partitions``, ``readings-retention`` in ``brand_hub.jobs``) commit one partition at a time.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import delete, text
from sqlmodel import Session

from .. import audit
from ..db import is_postgres, make_engine, session_scope
from ..models import metadata
from ..settings import Settings

log = logging.getLogger(__name__)

# Each readings table, its time column (the partition key where partitioned) and the setting holding its
# retention in months (0: kept for good). The first two are partitioned on PostgreSQL (migration 0017);
# the daily rollup stays one plain table, trimmed by range when it has a retention.
PARTITIONED: dict[str, tuple[str, str]] = {
    "reading_bucket": ("bucket_start", "readings_retention_months"),
    "reading_hourly": ("hour_start", "readings_hourly_retention_months"),
    "reading_daily": ("day_start", "readings_daily_retention_months"),
}
LOCK_TIMEOUT = "5s"   # how long a create, attach or detach waits for the table's lock before giving up this run
_MONTHLY = re.compile(r"_y(\d{4})m(\d{2})$")


@dataclass(frozen=True)
class Partition:
    table: str      # the partitioned parent
    name: str       # the partition table
    month: date     # first day of its UTC month

    @property
    def end(self) -> date:
        return shift_month(self.month, 1)


def month_of(moment: datetime | date) -> date:
    """The first day of the UTC month holding ``moment``."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(timezone.utc) if moment.tzinfo else moment
    return date(moment.year, moment.month, 1)


def shift_month(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_y{month.year:04d}m{month.month:02d}"


def default_name(table: str) -> str:
    return f"{table}_default"


def retention_cutoff(now: datetime, months: int) -> datetime:
    """Rows before this instant are older than the retention: the first of the month ``months`` back."""
    first = shift_month(month_of(now), -months)
    return datetime(first.year, first.month, 1, tzinfo=timezone.utc)


def _bound(month: date) -> str:
    return f"{month.isoformat()} 00:00:00+00"


def is_partitioned(session: Session, table: str) -> bool:
    """True when ``table`` is a partitioned table in the session's schema (PostgreSQL only)."""
    if not is_postgres(session):
        return False
    kind = session.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}).scalar()
    return kind == "p"


def partitioned_tables(session: Session) -> list[str]:
    return [table for table in PARTITIONED if is_partitioned(session, table)]


def partitions(*, session: Session, table: str) -> list[Partition]:
    """The monthly partitions of ``table``, oldest first (the DEFAULT partition is not among them)."""
    names = session.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = to_regclass(:t)"), {"t": table}).scalars().all()
    found = []
    for name in names:
        match = _MONTHLY.search(name)
        if match and name == partition_name(table, date(int(match[1]), int(match[2]), 1)):
            found.append(Partition(table, name, date(int(match[1]), int(match[2]), 1)))
    return sorted(found, key=lambda p: p.month)


def stray_months(*, session: Session, table: str) -> list[date]:
    """The months of the rows waiting in ``table``'s DEFAULT partition (none, normally)."""
    key = PARTITIONED[table][0]
    rows = session.execute(text(
        f"SELECT DISTINCT date_trunc('month', {key} AT TIME ZONE 'UTC')::date FROM {default_name(table)}"))
    return sorted(rows.scalars().all())


def missing_months(*, session: Session, table: str, now: datetime, ahead: int) -> list[date]:
    """Months that need a partition: this month and ``ahead`` more, and every month with rows in the DEFAULT."""
    have = {p.month for p in partitions(session=session, table=table)}
    current = month_of(now)
    wanted = {shift_month(current, n) for n in range(ahead + 1)} | set(stray_months(session=session, table=table))
    return sorted(wanted - have)


def create_partition(*, session: Session, table: str, month: date, actor: audit.Actor = audit.SYSTEM) -> Partition:
    """Create ``table``'s partition for ``month``, moving into it any of its rows waiting in the DEFAULT.

    A month with nothing in the DEFAULT is one ``CREATE TABLE … PARTITION OF``. Otherwise the partition
    is built beside the table, filled from the DEFAULT, and attached (PostgreSQL refuses a partition whose
    rows the DEFAULT still holds), all in the caller's transaction.
    """
    key = PARTITIONED[table][0]
    name, low, high = partition_name(table, month), _bound(month), _bound(shift_month(month, 1))
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    session.execute(text(f"CREATE TABLE IF NOT EXISTS {default_name(table)} PARTITION OF {table} DEFAULT"))
    waiting = session.execute(text(f"SELECT count(*) FROM {default_name(table)} WHERE {key} >= :low AND {key} < :high"),
                              {"low": low, "high": high}).scalar()
    if not waiting:
        session.execute(text(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM ('{low}') TO ('{high}')"))
    else:
        session.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING ALL)"))
        session.execute(text(f"WITH moved AS (DELETE FROM {default_name(table)} WHERE {key} >= :low AND {key} < :high "
                             f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"), {"low": low, "high": high})
        session.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')"))
    audit.record(session=session, actor=actor, action="readings.partition_create", entity_type="partition",
                 entity_id=name, after={"table": table, "from": low, "to": high, "rows_moved": waiting})
    log.info("partition %s created (%s to %s, %d rows moved from the default)", name, low, high, waiting)
    return Partition(table, name, month)


def ensure_partitions(*, session: Session, now: datetime, ahead: int,
                      actor: audit.Actor = audit.SYSTEM) -> list[Partition]:
    """Every partition that should exist and does not: this month to ``ahead`` months on, and the months
    of any rows waiting in the DEFAULT. Idempotent; nothing on SQLite."""
    created = []
    for table in partitioned_tables(session):
        for month in missing_months(session=session, table=table, now=now, ahead=ahead):
            created.append(create_partition(session=session, table=table, month=month, actor=actor))
    return created


def expired_partitions(*, session: Session, table: str, now: datetime, months: int) -> list[Partition]:
    """``table``'s partitions wholly older than the retention (their month ends by the cutoff)."""
    cutoff = month_of(retention_cutoff(now, months))
    return [p for p in partitions(session=session, table=table) if p.end <= cutoff]


def drop_partition(*, session: Session, partition: Partition, actor: audit.Actor = audit.SYSTEM) -> None:
    """Detach and drop one partition (its whole month at once), audited."""
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    session.execute(text(f"ALTER TABLE {partition.table} DETACH PARTITION {partition.name}"))
    session.execute(text(f"DROP TABLE {partition.name}"))
    audit.record(session=session, actor=actor, action="readings.partition_drop", entity_type="partition",
                 entity_id=partition.name, before={"table": partition.table, "from": _bound(partition.month),
                                                   "to": _bound(partition.end)})
    log.info("partition %s detached and dropped (retention)", partition.name)


def delete_expired_rows(*, session: Session, table: str, now: datetime, months: int,
                        actor: audit.Actor = audit.SYSTEM) -> int:
    """The small-install path (SQLite, or a table not partitioned): delete the rows before the cutoff by range."""
    cutoff = retention_cutoff(now, months)
    model = metadata.tables[table]
    deleted = session.execute(delete(model).where(model.c[PARTITIONED[table][0]] < cutoff)).rowcount or 0
    if deleted:
        audit.record(session=session, actor=actor, action="readings.retention_delete", entity_type="table",
                     entity_id=table, before={"rows": deleted, "before": cutoff})
        log.info("%s: %d rows older than %s deleted (retention)", table, deleted, cutoff.date())
    return deleted


def retention_months(settings: Settings, table: str) -> int:
    return getattr(settings, PARTITIONED[table][1])


# ---------------------------------------------------------------- the jobs (each commits its own work)


def create_partitions_ahead(*, settings: Settings, now: datetime | None = None) -> list[str]:
    """Job ``readings-partitions``: the partitions of this month and the next ones, and of any stray rows."""
    now = now or datetime.now(timezone.utc)
    engine = make_engine(settings.database_url)
    created: list[str] = []
    try:
        with session_scope(engine) as session:
            for table in partitioned_tables(session):
                for month in missing_months(session=session, table=table, now=now,
                                            ahead=settings.readings_partitions_ahead_months):
                    created.append(create_partition(session=session, table=table, month=month).name)
                    session.commit()   # one partition a transaction: each lock held as briefly as possible
        log.info("readings partitions created: %d", len(created))
        return created
    finally:
        engine.dispose()


def apply_retention(*, settings: Settings, now: datetime | None = None) -> list[str]:
    """Job ``readings-retention``: drop whole partitions older than each table's retention (PostgreSQL),
    or delete those rows by range (SQLite). Stray rows in a DEFAULT partition are first moved to their
    month's partition, so they go with it. Returns what went (partition names, or ``table:rows``)."""
    now = now or datetime.now(timezone.utc)
    create_partitions_ahead(settings=settings, now=now)
    engine = make_engine(settings.database_url)
    gone: list[str] = []
    try:
        with session_scope(engine) as session:
            partitioned = set(partitioned_tables(session))
            for table in PARTITIONED:
                months = retention_months(settings, table)
                if not months:
                    continue
                if table in partitioned:
                    for partition in expired_partitions(session=session, table=table, now=now, months=months):
                        drop_partition(session=session, partition=partition)
                        session.commit()
                        gone.append(partition.name)
                elif table in metadata.tables:
                    deleted = delete_expired_rows(session=session, table=table, now=now, months=months)
                    session.commit()
                    if deleted:
                        gone.append(f"{table}:{deleted}")
        log.info("readings retention: %s", ", ".join(gone) or "nothing older than the retention")
        return gone
    finally:
        engine.dispose()
