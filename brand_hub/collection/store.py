"""Writing pulled pages: bulk inserts keyed by natural keys, quarantine, cursors and leases.

All functions take the caller's session and never commit: the cycle commits a page's
rows, its quarantined records and its cursor together, so a crash re-reads, never skips.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, func, or_, select as sa_select, text, update
from sqlalchemy.sql import Select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from ..db import is_postgres
from ..models.types import UTCDateTime
from ..models.collection import (CollectionTarget, NpsResponse, OpsEvent, QuarantinedRecord, ReadingAmendment,
                                 ReadingBucket)

NATURAL_KEYS = {
    "readings": (ReadingBucket, ("site_id", "zone", "metric", "bucket_start")),
    "nps": (NpsResponse, ("site_id", "record_id")),
    "events": (OpsEvent, ("site_id", "record_id")),
}
_BUCKET_COLUMNS = ("site_id", "zone", "metric", "bucket_start", "bucket_minutes", "count", "mean", "min", "max",
                   "revision")
# The one rule for a bucket the hub already has: a higher revision (a late reading amended it at
# the site) replaces it; the same or a lower one (a re-read page, an older copy) changes nothing.
BUCKET_UPSERT = ("ON CONFLICT (site_id, zone, metric, bucket_start) DO UPDATE SET "
                 "bucket_minutes = excluded.bucket_minutes, count = excluded.count, mean = excluded.mean, "
                 "min = excluded.min, max = excluded.max, revision = excluded.revision "
                 "WHERE excluded.revision > reading_bucket.revision")


class LeaseLost(Exception):
    """Another collector holds the site now (our lease ran out): this page must not be kept."""


def insert_rows(*, session: Session, stream: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows; a natural key already there is skipped (a re-read changes nothing), except that a
    bucket of a higher revision replaces the hub's copy (``BUCKET_UPSERT``)."""
    if not rows:
        return
    model, keys = NATURAL_KEYS[stream]
    if stream == "readings":
        _upsert_buckets(session, _latest_revisions(rows))
        return
    insert = pg_insert if is_postgres(session) else sqlite_insert
    stmt = insert(model.__table__).on_conflict_do_nothing(index_elements=list(keys))
    session.execute(stmt, rows)


def _latest_revisions(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per natural key, its highest revision (one statement may not touch a row twice)."""
    latest: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        key = (row["site_id"], row["zone"], row["metric"], row["bucket_start"])
        row = dict(row, revision=row.get("revision", 0))
        if key not in latest or row["revision"] > latest[key]["revision"]:
            latest[key] = row
    return list(latest.values())


def _upsert_buckets(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert or amend a page's buckets in one statement; note the amended ones for rescoring.

    PostgreSQL: the columns as arrays, unnested server-side (close to COPY speed). SQLite:
    a multi-row VALUES. Both with ``BUCKET_UPSERT``; RETURNING gives the rows written, of
    which those with a revision above 0 are amendments.
    """
    names = ", ".join(_BUCKET_COLUMNS)
    if is_postgres(session):
        columns = {name: [row[name] for row in rows] for name in _BUCKET_COLUMNS}
        cursor = session.connection().connection.driver_connection.cursor()
        cursor.execute(
            f"INSERT INTO reading_bucket ({names}) "
            "SELECT * FROM unnest(%s::int[], %s::text[], %s::text[], %s::timestamptz[], %s::int[], %s::int[], "
            "%s::float8[], %s::float8[], %s::float8[], %s::int[]) "
            f"{BUCKET_UPSERT} RETURNING site_id, bucket_start, revision",
            [columns[name] for name in _BUCKET_COLUMNS])
        written = cursor.fetchall()
    else:
        written = []
        values = ", ".join(f"(:{name})" for name in _BUCKET_COLUMNS)
        stmt = (text(f"INSERT INTO reading_bucket ({names}) VALUES ({values}) {BUCKET_UPSERT} "
                     "RETURNING site_id, bucket_start, revision")
                .bindparams(bindparam("bucket_start", type_=UTCDateTime))
                .columns(site_id=Integer, bucket_start=UTCDateTime, revision=Integer))
        for row in rows:   # RETURNING with executemany is not portable across SQLite drivers
            written.extend(session.execute(stmt, row).all())
    _note_amendments(session, [(site_id, start) for site_id, start, revision in written if revision > 0])


def _note_amendments(session: Session, amended: list[tuple[int, datetime]]) -> None:
    """One ``ReadingAmendment`` per site: the span of buckets a late reading changed."""
    spans: dict[int, list[datetime]] = {}
    for site_id, start in amended:
        spans.setdefault(site_id, []).append(start)
    for site_id, starts in spans.items():
        session.add(ReadingAmendment(site_id=site_id, first_bucket=min(starts), last_bucket=max(starts),
                                     buckets=len(starts)))


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


def done_since(cycle_start: datetime):
    """The target was pulled (or its pull failed) at or after ``cycle_start``: done for this cycle."""
    return or_(CollectionTarget.last_success_at >= cycle_start, CollectionTarget.last_error_at >= cycle_start)


@dataclass(frozen=True)
class Claimed:
    """A site whose lease a collector just took: what its pull starts from."""

    site_id: int
    cursors: dict[str, str]
    agent_buffer_id: str


def claim_next(*, session: Session, sites: Select, owner: str, now: datetime, lease: timedelta,
               cycle_start: datetime) -> Claimed | None:
    """Take the lease of one site of ``sites`` that is due in this cycle, in one statement; None when none is free.

    Due: not pulled (nor failed) since ``cycle_start``, and no live lease on it (a dead collector's
    lease that ran out is taken over). The least recently attempted goes first. On PostgreSQL the
    candidate row is locked with SKIP LOCKED, so collectors claiming at the same moment each get a
    different site and none waits; on SQLite the statement holds the database's one write lock.
    """
    # on the session's connection, as Core: the ORM's bulk UPDATE would look for loaded targets to synchronise
    row = session.connection().execute(_claim_statement(sites), {
        "now": now, "until": now + lease, "owner": owner, "cycle_start": cycle_start}).first()
    if row is None:
        return None
    return Claimed(site_id=row.site_id, agent_buffer_id=row.agent_buffer_id,
                   cursors={"readings": row.cursor_readings, "nps": row.cursor_nps, "events": row.cursor_events})


@lru_cache(maxsize=16)
def _claim_statement(sites: Select):
    """``claim_next``'s statement for a cycle's ``sites``, built once (a cycle runs it once a site)."""
    now, cycle_start = bindparam("now", type_=UTCDateTime), bindparam("cycle_start", type_=UTCDateTime)
    free = or_(CollectionTarget.lease_until.is_(None), CollectionTarget.lease_until < now)
    due = and_(free, ~func.coalesce(done_since(cycle_start), False), CollectionTarget.site_id.in_(sites))
    candidate = (sa_select(CollectionTarget.id).where(due)
                 .order_by(CollectionTarget.last_attempt_at.is_not(None), CollectionTarget.last_attempt_at,
                           CollectionTarget.id)
                 .limit(1).with_for_update(skip_locked=True).scalar_subquery())
    return (update(CollectionTarget).where(CollectionTarget.id == candidate, free)
            .values(lease_owner=bindparam("owner"), lease_until=bindparam("until", type_=UTCDateTime),
                    last_attempt_at=now)
            .returning(CollectionTarget.site_id, CollectionTarget.cursor_readings, CollectionTarget.cursor_nps,
                       CollectionTarget.cursor_events, CollectionTarget.agent_buffer_id))


def undone(*, session: Session, sites: Select, owner: str, cycle_start: datetime) -> tuple[int, datetime | None]:
    """How many of ``sites`` are not done in this cycle, leaving out those ``owner`` pulls right now; and when the
    first lease on one of them runs out."""
    pending = and_(CollectionTarget.site_id.in_(sites), ~func.coalesce(done_since(cycle_start), False),
                   or_(CollectionTarget.lease_owner.is_(None), CollectionTarget.lease_owner != owner))
    count, first_expiry = session.execute(
        sa_select(func.count(), func.min(CollectionTarget.lease_until)).where(pending)).one()
    return count, first_expiry


_ADVANCE = {stream: update(CollectionTarget)
            .where(CollectionTarget.site_id == bindparam("site"), CollectionTarget.lease_owner == bindparam("owner"))
            .values({f"cursor_{stream}": bindparam("cursor"), "lease_until": bindparam("until", type_=UTCDateTime)})
            for stream in ("readings", "nps", "events")}


def advance(*, session: Session, site_id: int, owner: str, stream: str, cursor: str, now: datetime,
            lease: timedelta) -> None:
    """Save the stream's cursor and renew the lease, only if we still hold it (else ``LeaseLost``)."""
    result = session.connection().execute(_ADVANCE[stream], {"site": site_id, "owner": owner, "cursor": cursor,
                                                            "until": now + lease})
    if result.rowcount != 1:
        raise LeaseLost(f"site {site_id}: lease taken over by another collector")


def keep_health(*, session: Session, site_id: int, owner: str | None, **health: Any) -> bool:
    """Record what the agent says of itself; only while ``owner`` holds the lease (None: whoever does)."""
    stmt = update(CollectionTarget).where(CollectionTarget.site_id == site_id)
    if owner is not None:
        stmt = stmt.where(CollectionTarget.lease_owner == owner)
    return session.connection().execute(stmt.values(**health)).rowcount == 1


def release(*, session: Session, site_id: int, owner: str, newest: datetime | None = None, failed: bool = False,
            **health: Any) -> None:
    """Give the lease back and record the outcome of the pull (only if we still hold it), in one statement.

    ``newest``: the newest record pulled, kept if newer than the one known; ``failed``: one more
    consecutive failure.
    """
    if newest is not None:
        later = or_(CollectionTarget.newest_record_at.is_(None), CollectionTarget.newest_record_at < newest)
        health["newest_record_at"] = case((later, bindparam("newest", newest, type_=UTCDateTime)),
                                          else_=CollectionTarget.newest_record_at)
    if failed:
        health["consecutive_failures"] = CollectionTarget.consecutive_failures + 1
    session.connection().execute(update(CollectionTarget)
                                 .where(CollectionTarget.site_id == site_id, CollectionTarget.lease_owner == owner)
                                 .values(lease_owner=None, lease_until=None, **health))
