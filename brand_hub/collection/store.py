"""Writing pulled pages: bulk inserts keyed by natural keys, quarantine, cursors and leases.

All functions take the caller's session and never commit: the cycle commits a page's
rows, its quarantined records and its cursor together, so a crash re-reads, never skips.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from ..db import is_postgres
from ..models.collection import CollectionTarget, NpsResponse, OpsEvent, QuarantinedRecord, ReadingBucket

NATURAL_KEYS = {
    "readings": (ReadingBucket, ("site_id", "zone", "metric", "bucket_start")),
    "nps": (NpsResponse, ("site_id", "record_id")),
    "events": (OpsEvent, ("site_id", "record_id")),
}
_BUCKET_COLUMNS = ("site_id", "zone", "metric", "bucket_start", "bucket_minutes", "count", "mean", "min", "max")


class LeaseLost(Exception):
    """Another collector holds the site now (our lease ran out): this page must not be kept."""


def insert_rows(*, session: Session, stream: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows; rows whose natural key is already there are skipped (a re-read changes nothing)."""
    if not rows:
        return
    model, keys = NATURAL_KEYS[stream]
    if stream == "readings" and is_postgres(session):
        _insert_buckets_postgres(session, rows)
        return
    insert = pg_insert if is_postgres(session) else sqlite_insert
    stmt = insert(model.__table__).on_conflict_do_nothing(index_elements=list(keys))
    session.execute(stmt, rows)


def _insert_buckets_postgres(session: Session, rows: list[dict[str, Any]]) -> None:
    """One statement per page: the columns as arrays, unnested server-side (close to COPY speed)."""
    columns = {name: [row[name] for row in rows] for name in _BUCKET_COLUMNS}
    cursor = session.connection().connection.driver_connection.cursor()
    cursor.execute(
        "INSERT INTO reading_bucket (site_id, zone, metric, bucket_start, bucket_minutes, count, mean, min, max) "
        "SELECT * FROM unnest(%s::int[], %s::text[], %s::text[], %s::timestamptz[], %s::int[], %s::int[], "
        "%s::float8[], %s::float8[], %s::float8[]) "
        "ON CONFLICT (site_id, zone, metric, bucket_start) DO NOTHING",
        [columns[name] for name in _BUCKET_COLUMNS])


def quarantine(*, session: Session, site_id: int, stream: str, cursor: str, bad: list[tuple[Any, str]],
               at: datetime) -> None:
    for record_as_sent, reason in bad:
        session.add(QuarantinedRecord(site_id=site_id, stream=stream, cursor=cursor, record=record_as_sent,
                                      reason=reason[:300], received_at=at))


def ensure_targets(*, session: Session, site_ids: list[int]) -> None:
    """A target row for every site that has none yet."""
    if not site_ids:
        return
    insert = pg_insert if is_postgres(session) else sqlite_insert
    session.execute(insert(CollectionTarget.__table__).on_conflict_do_nothing(index_elements=["site_id"]),
                    [{"site_id": i, "cursor_readings": "0", "cursor_nps": "0", "cursor_events": "0",
                      "last_error": "", "consecutive_failures": 0, "records_last_pull": 0,
                      "quarantined_last_pull": 0, "agent_version": "", "agent_buffer_id": "", "buffer_depth": 0, "rejects": {},
                      "applied_config_hash": ""} for i in site_ids])


def claim(*, session: Session, site_id: int, owner: str, now: datetime, lease: timedelta) -> CollectionTarget | None:
    """Take the site's lease if nobody holds a live one; None when another collector has it.

    On PostgreSQL the row is locked with SKIP LOCKED, so a collector never waits behind
    another; the conditional update makes the claim safe on SQLite too.
    """
    free = or_(CollectionTarget.lease_until.is_(None), CollectionTarget.lease_until < now,
               CollectionTarget.lease_owner == owner)
    target = session.exec(select(CollectionTarget).where(CollectionTarget.site_id == site_id, free)
                          .with_for_update(skip_locked=True)).first()
    if target is None:
        return None
    result = session.execute(update(CollectionTarget).where(CollectionTarget.site_id == site_id, free)
                             .values(lease_owner=owner, lease_until=now + lease, last_attempt_at=now))
    if result.rowcount != 1:
        return None
    session.refresh(target)
    return target


def advance(*, session: Session, site_id: int, owner: str, stream: str, cursor: str, now: datetime,
            lease: timedelta) -> None:
    """Save the stream's cursor and renew the lease, only if we still hold it (else ``LeaseLost``)."""
    column = {"readings": "cursor_readings", "nps": "cursor_nps", "events": "cursor_events"}[stream]
    result = session.execute(update(CollectionTarget)
                             .where(CollectionTarget.site_id == site_id, CollectionTarget.lease_owner == owner)
                             .values({column: cursor, "lease_until": now + lease}))
    if result.rowcount != 1:
        raise LeaseLost(f"site {site_id}: lease taken over by another collector")


def release(*, session: Session, site_id: int, owner: str, **health: Any) -> None:
    """Give the lease back and record the outcome of the pull (only if we still hold it)."""
    session.execute(update(CollectionTarget)
                    .where(CollectionTarget.site_id == site_id, CollectionTarget.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None, **health))
