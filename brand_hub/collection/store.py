"""Writing pulled pages: bulk inserts keyed by natural keys, quarantine, cursors and leases.

All functions take the caller's session and never commit: the cycle commits a page's
rows, its quarantined records and its cursor together, so a crash re-reads, never skips.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, func, or_, select as sa_select, text, update
from sqlalchemy.sql import Select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from ..db import is_postgres
from . import rollups
from .pages import STREAMS, CheckedPage
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


_CURSOR_COLUMN = {"readings": "cursor_readings", "nps": "cursor_nps", "events": "cursor_events"}


class LeaseLost(Exception):
    """Another collector holds the site now (our lease ran out): this page must not be kept."""


class UnknownSite(ValueError):
    """Readings for a site the hub does not have: refused before anything is written (the readings
    tables have no foreign key to ``site`` since migration 0021; this is its check, once per site)."""


def insert_rows(*, session: Session, stream: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows; a natural key already there is skipped (a re-read changes nothing), except that a
    bucket of a higher revision replaces the hub's copy (``BUCKET_UPSERT``)."""
    if not rows:
        return
    model, keys = NATURAL_KEYS[stream]
    if stream == "readings":
        _upsert_buckets(session, rows)
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
    """Insert or amend a page's buckets; note the amended ones for rescoring; refresh their rollups.

    PostgreSQL: ``COPY`` into a staging table, then one statement (``_staged_upsert``); SQLite:
    a VALUES row at a time. Both with ``BUCKET_UPSERT``, both hand back the rows written, of
    which those with a revision above 0 are amendments.
    """
    _lock_sites(session, set(map(_SITE_ID, rows)))
    if is_postgres(session):
        _note_amendments(session, _ingest_pg(session, rows))
        return
    written = _upsert_sqlite(session, _latest_revisions(rows))
    _note_amendments(session, _spans([(site_id, start) for site_id, start, revision in written if revision > 0]))
    rollups.refresh(session=session, touched=[(site_id, start) for site_id, start, _revision in written])


def _lock_sites(session: Session, site_ids: set[int]) -> None:
    """The readings' sites must exist (``UnknownSite`` otherwise), and stay until the commit: on PostgreSQL
    their rows are locked FOR KEY SHARE, as the foreign key's trigger did once per row, so a concurrent
    delete of one waits and then meets the trigger that refuses to delete a site with readings."""
    ids = sorted(site_ids)
    if is_postgres(session):
        found = session.connection().exec_driver_sql(
            "SELECT id FROM site WHERE id = ANY(%(ids)s) ORDER BY id FOR KEY SHARE", {"ids": ids}).scalars().all()
    else:
        found = session.execute(text("SELECT id FROM site WHERE id IN :ids")
                                .bindparams(bindparam("ids", expanding=True)), {"ids": ids}).scalars().all()
    missing = set(ids) - set(found)
    if missing:
        raise UnknownSite(f"readings for unknown site id(s) {sorted(missing)[:10]}: nothing kept")


def _upsert_sqlite(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, datetime, int]]:
    """The rows (one per key) into a per-connection staging table in one executemany, then into
    ``reading_bucket`` by one ``INSERT … SELECT`` with ``BUCKET_UPSERT``, returning the rows it wrote (a
    statement a row cost half a millisecond of SQLAlchemy each: the demo's 300,000 readings took a minute)."""
    names = ", ".join(_BUCKET_COLUMNS)
    session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ({_SQLITE_STAGE_COLUMNS})"))
    session.execute(text(f"DELETE FROM {STAGE}"))  # whatever a failed statement may have left
    session.execute(_SQLITE_STAGE_INSERT, rows)
    # "WHERE true": SQLite's parser needs it between a SELECT and its ON CONFLICT
    written = session.execute(text(f"INSERT INTO reading_bucket ({names}) SELECT {names} FROM {STAGE} WHERE true "
                                   f"{BUCKET_UPSERT} RETURNING site_id, bucket_start, revision")
                              .columns(site_id=Integer, bucket_start=UTCDateTime, revision=Integer)).all()
    session.execute(text(f"DELETE FROM {STAGE}"))
    return written


_SITE_ID = itemgetter("site_id")


# PostgreSQL: a batch's buckets of hours that already hold readings are COPYed into this per-connection
# staging table (emptied first, and at commit), then moved into ``reading_bucket`` by one INSERT … SELECT.
# They come one per key (``_buckets`` keeps, of a key repeated in the batch, its highest revision), as one
# statement may not touch a row twice.
STAGE = "reading_bucket_stage"
_STAGE_COLUMNS = ("site_id int4, zone text, metric text, bucket_start timestamptz, bucket_minutes int4, "
                  "count int4, mean float8, min float8, max float8, revision int4")
_STAGE_TYPES = ("int4", "text", "text", "timestamptz", "int4", "int4", "float8", "float8", "float8", "int4")
# SQLite: the same staging table's name, a table of the connection's too (``_upsert_sqlite``)
_SQLITE_STAGE_COLUMNS = ("site_id INTEGER, zone VARCHAR, metric VARCHAR, bucket_start DATETIME, bucket_minutes INTEGER, "
                         "count INTEGER, mean FLOAT, min FLOAT, max FLOAT, revision INTEGER")
_SQLITE_STAGE_INSERT = (text(f"INSERT INTO {STAGE} ({', '.join(_BUCKET_COLUMNS)}) "
                             f"VALUES ({', '.join(':' + name for name in _BUCKET_COLUMNS)})")
                        .bindparams(bindparam("bucket_start", type_=UTCDateTime)))
_STAGED = f"SELECT {', '.join(_BUCKET_COLUMNS)} FROM {STAGE}"


def _staged_upsert(source: str) -> str:
    """Move the staged buckets into ``reading_bucket`` (``BUCKET_UPSERT``) and refresh the rollups of
    the hours written, in one statement; its rows are the amended buckets' span per site."""
    return (f"WITH written AS (INSERT INTO reading_bucket ({', '.join(_BUCKET_COLUMNS)}) {source} {BUCKET_UPSERT} "
            f"RETURNING {', '.join(_BUCKET_COLUMNS)}), {rollups.refresh_written('written')} "
            "SELECT site_id, min(bucket_start), max(bucket_start), count(*) FROM written WHERE revision > 0 "
            "GROUP BY site_id")


_UPSERT_STAGED = _staged_upsert(_STAGED)


Span = tuple[datetime, datetime, int]    # first and last bucket start, buckets


def _copy_upsert_pg(session: Session, buckets: list[tuple]) -> dict[int, Span]:
    """COPY the buckets (``_AS_BUCKET`` tuples, one per key, as ``_buckets`` gives them) into the staging table;
    upsert them and refresh the rollups of the hours written in one statement. Returns, per site, the span of
    the buckets amended."""
    connection = session.connection().connection.driver_connection
    with connection.cursor() as cursor:
        # one round trip (no parameters: a simple query may hold several statements); the memory lets
        # a batch of many sites' pages sort and hold its written rows without spilling to disk
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ({_STAGE_COLUMNS}) ON COMMIT DELETE ROWS; "
                       f"TRUNCATE {STAGE}; SET LOCAL work_mem = '32MB'")
        with cursor.copy(f"COPY {STAGE} ({', '.join(_BUCKET_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_STAGE_TYPES)
            write = copy.write_row
            for bucket in buckets:
                write(bucket)
        cursor.execute(_UPSERT_STAGED)
        return {site_id: (first, last, buckets) for site_id, first, last, buckets in cursor.fetchall()}


# Of the (site, hour) pairs a batch touches, those that already hold readings (a bucket, or an hourly
# rollup whose buckets retention dropped), and of their days, those that already hold hours: one round trip.
_ALREADY_THERE = (
    "SELECT site_id, start, old_hour, old_day FROM (SELECT a.site_id, a.start, "
    "EXISTS (SELECT 1 FROM reading_bucket rb WHERE rb.site_id = a.site_id AND rb.bucket_start >= a.start "
    "AND rb.bucket_start < a.start + interval '1 hour') "
    "OR EXISTS (SELECT 1 FROM reading_hourly h WHERE h.site_id = a.site_id AND h.hour_start = a.start) AS old_hour, "
    "EXISTS (SELECT 1 FROM reading_hourly h WHERE h.site_id = a.site_id AND h.hour_start >= a.day "
    "AND h.hour_start < a.day + interval '24 hours') "
    "OR EXISTS (SELECT 1 FROM reading_daily x WHERE x.site_id = a.site_id AND x.day_start = a.day) AS old_day "
    "FROM (SELECT site_id, start, date_trunc('day', start, 'UTC') AS day "
    "FROM unnest(%(sites)s::int[], %(hours)s::timestamptz[]) AS u(site_id, start)) a) t WHERE old_hour OR old_day")
_HOURLY_COLUMNS = "site_id, hour_start, zone, metric, total, n, high, low, buckets, minutes"
_HOURLY_TYPES = ("int4", "timestamptz", "text", "text", "float8", "int8", "float8", "float8", "int4", "int4")


def _ingest_pg(session: Session, rows: list[dict[str, Any]]) -> dict[int, Span]:
    """Write a batch's buckets and their rollups on PostgreSQL; per site, the span of the buckets amended.

    The hours the batch touches are sorted in two, with one query. A new hour (no bucket nor rollup
    there yet: pages of readings the hub has not seen, the common case) has all its buckets in the
    batch: they are COPYed straight into ``reading_bucket``, and the hour's rollup, computed from them
    here (``_buckets``), straight into ``reading_hourly``; its day too when the day had no hours
    (``rollups.day_from_hours``), else the day is recomputed from its hours. An hour that already
    holds readings (a re-read, a late or amended bucket) goes through the staging table and the one
    upsert with ``BUCKET_UPSERT``, re-reading its buckets for the rollup (``_copy_upsert_pg``).
    A concurrent writer of the same new hour (none while the site's lease is held) makes the COPY fail
    on the key, and the batch is kept again from the start.
    """
    buckets, hourly, hour_of = _buckets(rows)
    connection = session.connection().connection.driver_connection
    with connection.cursor() as cursor:
        hours = {(site_id, hour) for site_id, hour, _zone, _metric in hourly}
        cursor.execute(_ALREADY_THERE, {"sites": [s for s, _ in hours], "hours": [h for _, h in hours]})
        old_hours, old_days = set(), set()
        for site_id, start, old_hour, old_day in cursor.fetchall():
            if old_hour:
                old_hours.add((site_id, start))
            if old_day:
                old_days.add((site_id, rollups.day_of(start)))
        if len(old_hours) == len(hours):        # every hour already held readings (a re-read batch)
            new_buckets, old_buckets, hourly = [], buckets, {}
        elif old_hours:
            new_buckets, old_buckets = [], []
            for bucket in buckets:
                (old_buckets if (bucket[0], hour_of[bucket[3]]) in old_hours else new_buckets).append(bucket)
            hourly = {key: rollup for key, rollup in hourly.items() if key[:2] not in old_hours}
        else:
            new_buckets, old_buckets = buckets, []
        if new_buckets:
            with cursor.copy(f"COPY reading_bucket ({', '.join(_BUCKET_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_STAGE_TYPES)
                write = copy.write_row
                for bucket in new_buckets:
                    write(bucket)
        revised = max(map(_REVISION, new_buckets), default=0) > 0      # amendments: rare; looked for in C
        spans = _spans([(bucket[0], bucket[3]) for bucket in new_buckets if bucket[9] > 0] if revised else [])
        hourly_rows = [(*key, *rollup[1:]) for key, rollup in hourly.items() if rollup is not None]
        _copy(cursor, "reading_hourly", hourly_rows)
        if old_buckets:     # their hours' days are recomputed by the same statement
            for site_id, (first, last, count) in _copy_upsert_pg(session, old_buckets).items():
                if site_id in spans:
                    first, last, count = (min(first, spans[site_id][0]), max(last, spans[site_id][1]),
                                          count + spans[site_id][2])
                spans[site_id] = (first, last, count)
        # a new hour's day: from the batch's hours when it had none, else recomputed from its hours as they
        # now stand (also when an hour of it already held readings: the upsert may have written none of it)
        old_days |= {(site_id, rollups.day_of(hour)) for site_id, hour in old_hours}
        daily, recompute = _days(hourly, old_days)
        _copy(cursor, "reading_daily", daily)
        rollups.refresh_days_pg(cursor, sorted(recompute))
    return spans


def _days(hourly: dict[tuple[int, datetime, str, str], Rollup | None],
          old_days: set[tuple[int, datetime]]) -> tuple[list[tuple], set[tuple[int, datetime]]]:
    """The daily rollups of the batch's new hours (``_buckets``' rollups) whose day had no hours before, to be
    COPYed (``_HOURLY_COLUMNS``); and the (site id, day) pairs that had, to be recomputed from their hours.

    A series' hours come in time order as its buckets did: each is added to its day as it comes, in hour
    order as ``rollups.day_from_hours`` adds; a day whose hours do not, gets ``day_from_hours`` of them."""
    days: dict[tuple[int, datetime, str, str], Rollup | None] = {}
    recompute, unordered = set(), set()
    day_of: dict[datetime, datetime] = {}
    rollup_of = days.get
    for (site_id, hour, zone, metric), rollup in hourly.items():
        if rollup is None:
            continue
        day = day_of.get(hour)
        if day is None:
            day = day_of[hour] = hour.replace(hour=0)
        if (site_id, day) in old_days:
            recompute.add((site_id, day))
            continue
        key = (site_id, day, zone, metric)
        _last, total, n, high, low, held, minutes = rollup
        there = rollup_of(key)
        if there is None:
            days[key] = (hour, total, n, high, low, held, minutes)
        elif hour > there[0]:
            _hour, d_total, d_n, d_high, d_low, d_held, d_minutes = there
            days[key] = (hour, d_total + total, d_n + n, d_high if d_high > high else high,
                         d_low if d_low < low else low, d_held + held, d_minutes + minutes)
        else:
            unordered.add(key)
    if unordered:
        hours: dict[tuple, list] = {}
        for (site_id, hour, zone, metric), rollup in hourly.items():
            key = (site_id, day_of.get(hour), zone, metric)
            if rollup is not None and key in unordered:
                hours.setdefault(key, []).append((hour, rollup[1:]))
        for key, these in hours.items():
            days[key] = (None, *rollups.day_from_hours(these))
    return [(*key, *rollup[1:]) for key, rollup in days.items()], recompute


# A row as COPYed into ``reading_bucket`` (``_BUCKET_COLUMNS``, ``_STAGE_TYPES``): one tuple per bucket.
_AS_BUCKET = itemgetter(*_BUCKET_COLUMNS)
_REVISION = itemgetter(_BUCKET_COLUMNS.index("revision"))
Rollup = tuple   # (last bucket start, *rollups.Aggregates)


def _buckets(rows: list[dict[str, Any]]) -> tuple[list[tuple], dict[tuple[int, datetime, str, str], Rollup | None],
                                                  dict[datetime, datetime]]:
    """A batch's rows as buckets to write, with the rollup of every hour they touch, in one pass.

    Returns the buckets (``_AS_BUCKET`` tuples, their start in UTC; of a key repeated, its highest
    revision, the first of them on a tie, as the upsert keeps the first written); per (site id, hour,
    zone, metric), the hour's rollup from them (its last bucket start, then ``rollups.Aggregates``;
    None when none held readings); and the hour of each bucket start.

    An agent's page gives a series one bucket per start, in time order: each is added to its hour's
    rollup as it comes, PostgreSQL's arithmetic in time order (``rollups.hour_from_buckets``), and no
    bucket is held per series. A series where a start does not follow the one before (a page out of
    order, a key repeated, a bucket without readings) has its buckets sorted, made unique and its
    hour computed again from them.
    """
    try:
        buckets = list(map(_AS_BUCKET, rows))
    except KeyError:    # rows written around check_page may leave the revision out: 0
        buckets = [_AS_BUCKET(row if "revision" in row else dict(row, revision=0)) for row in rows]
    times: dict[datetime, tuple[datetime, datetime]] = {}     # a bucket start as given: in UTC, and its hour
    hourly: dict[tuple[int, datetime, str, str], Rollup | None] = {}
    unordered = set()
    known_time, rollup_of, utc, moved = times.get, hourly.get, timezone.utc, False
    for site_id, zone, metric, given, length, count, mean, bottom, top, _revision in buckets:
        known = known_time(given)
        if known is None:
            start = given if given.tzinfo is utc else rollups.as_utc(given)
            known = times[given] = (start, start.replace(minute=0, second=0, microsecond=0))
            moved = moved or start is not given
        start, hour = known
        key = (site_id, hour, zone, metric)
        if count > 0:
            rollup = rollup_of(key, False)
            if rollup is False:
                hourly[key] = (start, mean * count, count, top, bottom, 1, count if count < length else length)
                continue
            if rollup is not None and start > rollup[0]:
                _last, total, n, high, low, held, minutes = rollup
                hourly[key] = (start, total + mean * count, n + count, high if high > top else top,
                               low if low < bottom else bottom, held + 1,
                               minutes + (count if count < length else length))
                continue
        hourly[key] = None
        unordered.add(key)
    if unordered:
        buckets = _ordered(buckets, unordered, times, hourly)
    if moved:       # a start given in another time zone (or naive, taken as UTC): written in UTC
        buckets = [(s, z, m, times[given][0], *rest) for s, z, m, given, *rest in buckets]
    return buckets, hourly, dict(times.values())


def _ordered(buckets: list[tuple], unordered: set, times: dict, hourly: dict) -> list[tuple]:
    """``_buckets`` for the series not in time order: of a key repeated, its highest revision (the first
    on a tie); their buckets in time order, their hours computed from them."""
    kept, series = [], {}
    for bucket in buckets:
        key = (bucket[0], times[bucket[3]][1], bucket[1], bucket[2])
        if key in unordered:
            latest = series.setdefault(key, {})
            there = latest.get(bucket[3])
            if there is None or bucket[9] > there[9]:
                latest[bucket[3]] = bucket
        else:
            kept.append(bucket)
    for key, latest in series.items():
        these = [latest[start] for start in sorted(latest, key=lambda given: times[given][0])]
        kept.extend(these)
        aggregates = rollups.hour_from_buckets(these)
        hourly[key] = None if aggregates is None else (None, *aggregates)
    return kept


def _copy(cursor, table: str, rows: list[tuple]) -> None:
    """COPY rollup rows (``_HOURLY_COLUMNS``, the time column being the table's) into ``table``."""
    if not rows:
        return
    columns = _HOURLY_COLUMNS if table == "reading_hourly" else _HOURLY_COLUMNS.replace("hour_start", "day_start")
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_HOURLY_TYPES)
        for row in rows:
            copy.write_row(row)


def _spans(amended: list[tuple[int, datetime]]) -> dict[int, Span]:
    """Per site, the first and last of the amended buckets and how many they are."""
    starts: dict[int, list[datetime]] = {}
    for site_id, start in amended:
        starts.setdefault(site_id, []).append(start)
    return {site_id: (min(s), max(s), len(s)) for site_id, s in starts.items()}


def _note_amendments(session: Session, amended: dict[int, Span]) -> None:
    """One ``ReadingAmendment`` per site: the span of buckets a late reading changed."""
    for site_id, (first, last, buckets) in amended.items():
        session.add(ReadingAmendment(site_id=site_id, first_bucket=first, last_bucket=last, buckets=buckets))


def quarantine(*, session: Session, site_id: int, stream: str, cursor: str, bad: list[tuple[Any, str]],
               at: datetime) -> None:
    if not bad:
        return
    rows = [_quarantined(site_id, stream, cursor, record, reason, at) for record, reason in bad]
    if is_postgres(session):
        _copy_quarantined(session, rows)
    else:
        session.execute(QuarantinedRecord.__table__.insert(), rows)


def _quarantined(site_id: int, stream: str, cursor: str, record_as_sent: Any, reason: str, at: datetime) -> dict:
    return {"site_id": site_id, "stream": stream, "cursor": cursor, "record": record_as_sent, "reason": reason[:300],
            "received_at": at}


_QUARANTINE_COLUMNS = ("site_id", "stream", "cursor", "record", "reason", "received_at")


def _copy_quarantined(session: Session, bad: list[dict]) -> None:
    """The quarantined records with one COPY (PostgreSQL): a batch's few hundred rows cost a tenth of their
    INSERTs. The record as sent is dumped with ``json.dumps``, as the column's type would."""
    from psycopg.types.json import Json

    connection = session.connection().connection.driver_connection
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY collection_quarantine ({', '.join(_QUARANTINE_COLUMNS)}) FROM STDIN") as copy:
            copy.set_types(["int4", "text", "text", "json", "text", "timestamptz"])
            for row in bad:
                copy.write_row((row["site_id"], row["stream"], row["cursor"], Json(row["record"]), row["reason"],
                                row["received_at"]))


@dataclass
class Pulled:
    """One checked page of one site's stream, to be kept with ``store_pages``."""
    site_id: int
    stream: str
    page: CheckedPage


def store_pages(*, session: Session, owner: str, pulled: list[Pulled], now: datetime, lease: timedelta) -> set[int]:
    """Keep several pulled pages (of several sites) in the caller's transaction, as ``advance`` would
    one by one: each page's rows, its quarantined records and its cursor together, for the sites whose
    lease ``owner`` still holds. Returns the sites whose lease was lost: nothing of theirs is kept.

    One COPY and one upsert for all the pages' buckets, one insert per other stream, one for the
    quarantine and one cursor update per stream. The sites' targets are locked first, so no other
    collector can claim them before the commit. A site's pages must come in the order they were read.
    """
    if not pulled:
        return set()
    sites = sorted({p.site_id for p in pulled})
    held = set(session.exec(select(CollectionTarget.site_id).where(CollectionTarget.site_id.in_(sites),
                                                                 CollectionTarget.lease_owner == owner)
                            .order_by(CollectionTarget.site_id).with_for_update()).all())
    kept = [p for p in pulled if p.site_id in held]
    for stream in STREAMS:
        rows = [row for p in kept if p.stream == stream for row in p.page.rows]
        if rows:
            insert_rows(session=session, stream=stream, rows=rows)
    bad = [_quarantined(p.site_id, p.stream, p.page.cursor, record, reason, now)
           for p in kept for record, reason in p.page.bad]
    if bad and is_postgres(session):
        _copy_quarantined(session, bad)
    elif bad:
        session.execute(QuarantinedRecord.__table__.insert(), bad)
    cursors: dict[str, dict[int, str]] = {}
    for p in kept:                      # the last page of a site's stream has its cursor
        cursors.setdefault(p.stream, {})[p.site_id] = p.page.cursor
    for stream, by_site in cursors.items():
        result = session.execute(text(f"UPDATE collection_target SET {_CURSOR_COLUMN[stream]} = :cursor, "
                                      "lease_until = :until WHERE site_id = :site_id AND lease_owner = :owner")
                                 .bindparams(bindparam("until", type_=UTCDateTime)),
                                 [{"cursor": cursor, "until": now + lease, "site_id": site_id, "owner": owner}
                                  for site_id, cursor in by_site.items()])
        if result.rowcount != len(by_site):     # only where the lock was not taken (SQLite): start over
            raise LeaseLost(f"{len(by_site) - result.rowcount} site(s): lease taken over by another collector")
    return set(sites) - held


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
