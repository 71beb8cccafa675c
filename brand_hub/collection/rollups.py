"""Keeping the hourly and daily rollups of the readings equal to their buckets.

The rule is one: a rollup row is never adjusted by a delta; every hour a pulled page
(or an amendment, or the demo) touched is recomputed from its buckets, and every day
touched from its hours, with the same GROUP BY a fresh rebuild uses. So a rollup is
exact by construction — ``differences`` proves it against the 15-minute rows — and a
re-read page, a crash half way (the caller's transaction rolls back with the buckets)
or a rerun changes nothing.

PostgreSQL gets the touched hours as two arrays, unnested server-side: two statements
per page whatever its size. SQLite (the small install) runs the same statements per hour.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from sqlalchemy import bindparam, text
from sqlmodel import Session

from ..db import is_postgres
from ..models.types import UTCDateTime

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

# What an hour holds, from its buckets; what a day holds, from its hours.
# A floating-point sum depends on the order it adds in; PostgreSQL adds in whatever order its plan
# reads, so the sums are taken in time order there, and a rollup equals a fresh GROUP BY to the bit.
# (SQLite 3.40 has no ordered aggregates; it adds in the order of its one index on the key.)
_FROM_BUCKETS = ("SUM(rb.mean * rb.count{order}), SUM(rb.count), MAX(rb.max), MIN(rb.min), COUNT(*), "
                 "SUM(CASE WHEN rb.count < rb.bucket_minutes THEN rb.count ELSE rb.bucket_minutes END)")
_FROM_HOURS = "SUM(h.total{order}), SUM(h.n), MAX(h.high), MIN(h.low), SUM(h.buckets), SUM(h.minutes)"


def from_buckets(postgres: bool) -> str:
    """The aggregates of an hour from its buckets (``rb``)."""
    return _FROM_BUCKETS.format(order=" ORDER BY rb.bucket_start" if postgres else "")


def from_hours(postgres: bool) -> str:
    """The aggregates of a day from its hours (``h``)."""
    return _FROM_HOURS.format(order=" ORDER BY h.hour_start" if postgres else "")
_COLUMNS = "total, n, high, low, buckets, minutes"


def hour_of(at: datetime) -> datetime:
    at = at.astimezone(timezone.utc)
    return at.replace(minute=0, second=0, microsecond=0)


def day_of(at: datetime) -> datetime:
    return hour_of(at).replace(hour=0)


def refresh(*, session: Session, touched: Iterable[tuple[int, datetime]]) -> int:
    """Recompute the hours and days of ``touched`` (site id, bucket start) pairs; the hours recomputed."""
    hours = sorted({(site_id, hour_of(start)) for site_id, start in touched})
    if not hours:
        return 0
    days = sorted({(site_id, day_of(hour)) for site_id, hour in hours})
    if is_postgres(session):
        _refresh_pg(session, hours, days)
    else:
        _refresh_sqlite(session, hours, days)
    return len(hours)


# PostgreSQL: the touched hours' rows and their days' rows recomputed in one statement (one round
# trip). Its parts read the tables as they were when the statement began, so a day is summed from
# its untouched hours as they are plus its touched hours as just recomputed — the same rows, in the
# same order, as a fresh GROUP BY of the hours afterwards. A row whose value is unchanged is not
# rewritten; a row whose buckets (hours) are gone is removed.
_SET = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", "))
_CHANGED = "({t}) IS DISTINCT FROM ({e})".format(t=", ".join(f"{{table}}.{c}" for c in _COLUMNS.split(", ")),
                                                e=", ".join(f"excluded.{c}" for c in _COLUMNS.split(", ")))
_BUCKET = "site_id, zone, metric, bucket_start, bucket_minutes, count, mean, min, max"


def _pg_refresh(hours: str, buckets: str) -> str:
    """The CTEs recomputing the rollups of ``hours`` (a query of (site_id, start) pairs, CTE ``a``) from
    ``buckets`` (a query of those hours' buckets as they stand after the statement: ``start`` and
    the bucket columns, CTE ``b``)."""
    return (
        f"a AS MATERIALIZED ({hours}), b AS ({buckets}), "
        f"fresh (site_id, hour_start, zone, metric, {_COLUMNS}) AS MATERIALIZED ("
        f"SELECT rb.site_id, rb.start, rb.zone, rb.metric, {from_buckets(True)} FROM b rb "
        "WHERE rb.count > 0 GROUP BY rb.site_id, rb.start, rb.zone, rb.metric), "
        "gone_hours AS (DELETE FROM reading_hourly h USING a WHERE h.site_id = a.site_id AND h.hour_start = a.start "
        "AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.site_id = h.site_id AND f.hour_start = h.hour_start "
        "AND f.zone = h.zone AND f.metric = h.metric)), "
        f"put_hours AS (INSERT INTO reading_hourly (site_id, hour_start, zone, metric, {_COLUMNS}) SELECT * FROM fresh "
        f"ON CONFLICT (site_id, hour_start, zone, metric) DO UPDATE SET {_SET} "
        f"WHERE {_CHANGED.format(table='reading_hourly')}), "
        "d AS MATERIALIZED (SELECT DISTINCT site_id, date_trunc('day', start, 'UTC') AS start FROM a), "
        f"hours (site_id, day_start, hour_start, zone, metric, {_COLUMNS}) AS ("
        f"SELECT h.site_id, d.start, h.hour_start, h.zone, h.metric, {_COLUMNS.replace(', ', ', h.').join(['h.', ''])} "
        "FROM d JOIN reading_hourly h ON h.site_id = d.site_id AND h.hour_start >= d.start "
        "AND h.hour_start < d.start + interval '24 hours' "
        "WHERE NOT EXISTS (SELECT 1 FROM a WHERE a.site_id = h.site_id AND a.start = h.hour_start) "
        f"UNION ALL SELECT site_id, date_trunc('day', hour_start, 'UTC'), hour_start, zone, metric, {_COLUMNS} "
        "FROM fresh), "
        f"fresh_days (site_id, day_start, zone, metric, {_COLUMNS}) AS MATERIALIZED ("
        f"SELECT h.site_id, h.day_start, h.zone, h.metric, {from_hours(True)} FROM hours h "
        "GROUP BY h.site_id, h.day_start, h.zone, h.metric), "
        "gone_days AS (DELETE FROM reading_daily x USING d WHERE x.site_id = d.site_id AND x.day_start = d.start "
        "AND NOT EXISTS (SELECT 1 FROM fresh_days f WHERE f.site_id = x.site_id AND f.day_start = x.day_start "
        "AND f.zone = x.zone AND f.metric = x.metric)), "
        f"put_days AS (INSERT INTO reading_daily (site_id, day_start, zone, metric, {_COLUMNS}) "
        f"SELECT * FROM fresh_days ON CONFLICT (site_id, day_start, zone, metric) DO UPDATE SET {_SET} "
        f"WHERE {_CHANGED.format(table='reading_daily')})")


_IN_HOUR = ("rb.site_id = a.site_id AND rb.bucket_start >= a.start "
            "AND rb.bucket_start < a.start + interval '1 hour'")
_REFRESH_PG = "WITH " + _pg_refresh(
    "SELECT * FROM unnest(%(sites)s::int[], %(hours)s::timestamptz[]) AS a(site_id, start)",
    f"SELECT a.start, {_BUCKET.replace(', ', ', rb.').join(['rb.', ''])} FROM a JOIN reading_bucket rb ON {_IN_HOUR}"
) + " SELECT 1"


def refresh_written(written: str) -> str:
    """CTEs to put after a data-modifying CTE ``written`` (an upsert into ``reading_bucket`` RETURNING
    the bucket columns) in the same statement: they recompute the rollups of every hour it wrote,
    from the hour's other buckets as they were plus the ones it wrote (PostgreSQL)."""
    return _pg_refresh(
        f"SELECT DISTINCT site_id, date_trunc('hour', bucket_start, 'UTC') AS start FROM {written}",
        f"SELECT a.start, {_BUCKET.replace(', ', ', rb.').join(['rb.', ''])} FROM a JOIN reading_bucket rb "
        f"ON {_IN_HOUR} WHERE NOT EXISTS (SELECT 1 FROM {written} w WHERE w.site_id = rb.site_id "
        "AND w.bucket_start = rb.bucket_start AND w.zone = rb.zone AND w.metric = rb.metric) "
        f"UNION ALL SELECT date_trunc('hour', w.bucket_start, 'UTC'), {_BUCKET.replace(', ', ', w.').join(['w.', ''])} "
        f"FROM {written} w")


def _refresh_pg(session: Session, hours: list[tuple[int, datetime]], days: list[tuple[int, datetime]]) -> None:
    with session.connection().connection.driver_connection.cursor() as cursor:
        cursor.execute(_REFRESH_PG, {"sites": [s for s, _ in hours], "hours": [h for _, h in hours]})


def _span_statements(table: str, column: str, select: str, source: str, source_column: str, unit: str):
    """DELETE and INSERT … SELECT of one site's span [start, end) of whole hours (days) of ``table`` (SQLite)."""
    params = (bindparam("start", type_=UTCDateTime), bindparam("end", type_=UTCDateTime))
    alias = "rb" if source == "reading_bucket" else "h"
    at = _SQLITE_TRUNC[unit].format(column=f"{alias}.{source_column}")
    delete = text(f"DELETE FROM {table} WHERE site_id = :site_id AND {column} >= :start AND {column} < :end"
                  ).bindparams(*params)
    where = "AND rb.count > 0" if alias == "rb" else ""
    insert = text(f"INSERT INTO {table} (site_id, {column}, zone, metric, {_COLUMNS}) "
                  f"SELECT {alias}.site_id, {at}, {alias}.zone, {alias}.metric, {select} "
                  f"FROM {source} {alias} WHERE {alias}.site_id = :site_id AND {alias}.{source_column} >= :start "
                  f"AND {alias}.{source_column} < :end {where} GROUP BY {at}, {alias}.zone, {alias}.metric"
                  ).bindparams(*params)
    return delete, insert


def _spans(starts: list[tuple[int, datetime]], length: timedelta) -> list[tuple[int, datetime, datetime]]:
    """Sorted (site, start) pairs as runs of adjacent hours (days): one pair of statements per run."""
    runs: list[tuple[int, datetime, datetime]] = []
    for site_id, start in starts:
        if runs and runs[-1][0] == site_id and runs[-1][2] == start:
            runs[-1] = (site_id, runs[-1][1], start + length)
        else:
            runs.append((site_id, start, start + length))
    return runs


def _refresh_sqlite(session: Session, hours: list[tuple[int, datetime]], days: list[tuple[int, datetime]]) -> None:
    for (table, column, select, source, source_column, unit), spans, length in (
            (("reading_hourly", "hour_start", from_buckets(False), "reading_bucket", "bucket_start", "hour"),
             hours, HOUR),
            (("reading_daily", "day_start", from_hours(False), "reading_hourly", "hour_start", "day"), days, DAY)):
        delete, insert = _span_statements(table, column, select, source, source_column, unit)
        for site_id, start, end in _spans(spans, length):
            args = {"site_id": site_id, "start": start, "end": end}
            session.execute(delete, args)
            session.execute(insert, args)


def rebuild(*, session: Session, site_ids: list[int] | None = None, start: datetime | None = None,
            end: datetime | None = None) -> int:
    """Recompute the rollups of some sites (default: all) over [start, end) (default: everything).

    For a backfill, a repair, or data written around the ingest path (the demo's history).
    Whole hours and days around the span are recomputed, and hours whose buckets are gone
    are removed. Returns the hours recomputed.
    """
    if site_ids is not None and not site_ids:
        return 0
    args: dict = {}
    bucket_where, hour_where = ["rb.count > 0"], ["1 = 1"]
    if site_ids is not None:
        args["site_ids"] = list(site_ids)
        bucket_where.append("rb.site_id IN :site_ids")
        hour_where.append("h.site_id IN :site_ids")
    if start is not None:
        args["start"] = hour_of(start)
        bucket_where.append("rb.bucket_start >= :start")
        hour_where.append("h.hour_start >= :start")
    if end is not None:
        args["end"] = hour_of(end - timedelta(microseconds=1)) + HOUR
        bucket_where.append("rb.bucket_start < :end")
        hour_where.append("h.hour_start < :end")
    hour = _trunc(session, "hour", "rb.bucket_start")
    found = session.execute(_bound(text(
        f"SELECT DISTINCT rb.site_id, {hour} FROM reading_bucket rb WHERE {' AND '.join(bucket_where)} "
        f"UNION SELECT h.site_id, h.hour_start FROM reading_hourly h WHERE {' AND '.join(hour_where)}"), args)).all()
    return refresh(session=session, touched={(int(site_id), _aware(at)) for site_id, at in found})


def _bound(stmt, args: dict):
    if "site_ids" in args:
        stmt = stmt.bindparams(bindparam("site_ids", expanding=True))
    for name in ("start", "end"):
        if name in args:
            stmt = stmt.bindparams(bindparam(name, type_=UTCDateTime))
    return stmt.bindparams(**args) if args else stmt


# SQLite stores times as naive-UTC text in SQLAlchemy's format; these keep that format.
_SQLITE_TRUNC = {"hour": "strftime('%Y-%m-%d %H:00:00.000000', {column})",
                 "day": "strftime('%Y-%m-%d 00:00:00.000000', {column})"}


def _trunc(session: Session, unit: str, column: str) -> str:
    if is_postgres(session):
        return f"date_trunc('{unit}', {column}, 'UTC')"
    return _SQLITE_TRUNC[unit].format(column=column)


def as_utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive time is taken as UTC already (as ``UTCDateTime`` stores it)."""
    return _aware(at).astimezone(timezone.utc)


def _aware(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def differences(*, session: Session, site_ids: list[int] | None = None) -> int:
    """Rows where a rollup differs from a fresh GROUP BY of the rows below it (0 when exact)."""
    hour, day = _trunc(session, "hour", "rb.bucket_start"), _trunc(session, "day", "h.hour_start")
    postgres = is_postgres(session)
    scope_rb = scope_h = ""
    args: dict = {}
    if site_ids is not None:
        scope_rb, scope_h = " AND rb.site_id IN :site_ids", " AND h.site_id IN :site_ids"
        args["site_ids"] = list(site_ids)
    fresh_hours = (f"SELECT rb.site_id, {hour} AS at, rb.zone, rb.metric, {from_buckets(postgres)} FROM reading_bucket rb "
                   f"WHERE rb.count > 0{scope_rb} GROUP BY rb.site_id, {hour}, rb.zone, rb.metric")
    kept_hours = f"SELECT h.site_id, h.hour_start, h.zone, h.metric, {_COLUMNS} FROM reading_hourly h WHERE 1 = 1{scope_h}"
    fresh_days = (f"SELECT h.site_id, {day} AS at, h.zone, h.metric, {from_hours(postgres)} FROM reading_hourly h "
                  f"WHERE 1 = 1{scope_h} GROUP BY h.site_id, {day}, h.zone, h.metric")
    kept_days = (f"SELECT d.site_id, d.day_start, d.zone, d.metric, {_COLUMNS} FROM reading_daily d WHERE 1 = 1"
                 + scope_h.replace("h.", "d."))
    found = 0
    for a, b in ((fresh_hours, kept_hours), (kept_hours, fresh_hours), (fresh_days, kept_days),
                 (kept_days, fresh_days)):
        found += session.execute(_bound(text(f"SELECT COUNT(*) FROM ({a} EXCEPT {b}) x"), args)).scalar_one()
    return int(found)


# New hours and days (PostgreSQL ingest): when a batch holds every bucket an hour has (the hour had none
# before, the common case), the hour's rollup is computed here from the batch's rows and COPYed, instead
# of re-reading ``reading_bucket``; a day none of whose hours existed before, likewise from those hours.
# The arithmetic is PostgreSQL's, step by step, so the rows equal what ``from_buckets`` and ``from_hours``
# compute (``differences`` finds none): float8 products and sums in IEEE double, the sum taken in time
# order from its first term (a strict aggregate starts from its first input, not from 0), max and min as
# float8larger / float8smaller keep a value (the later one on a tie), the counts exact integers.
Aggregates = tuple[float, int, float, float, int, int]   # total, n, high, low, buckets, minutes


def hour_from_buckets(buckets: list[tuple]) -> Aggregates | None:
    """One series' hour from its buckets, in time order, each a tuple in ``reading_bucket``'s COPY order
    (site id, zone, metric, start, bucket_minutes, count, mean, min, max, revision); None when none held
    readings (count > 0), as the GROUP BY would have no row."""
    total = high = low = None
    n = held = minutes = 0
    for _site, _zone, _metric, _start, length, count, mean, bottom, top, _revision in buckets:
        if count <= 0:
            continue
        value = mean * count
        if total is None:
            total, high, low = value, top, bottom
        else:
            total += value
            high = high if high > top else top
            low = low if low < bottom else bottom
        n += count
        held += 1
        minutes += count if count < length else length
    return None if total is None else (total, n, high, low, held, minutes)


def day_from_hours(hours: list[tuple[datetime, Aggregates]]) -> Aggregates:
    """One series' day from its hours (start, aggregates), as ``from_hours`` sums them in hour order."""
    hours = sorted(hours, key=_first)
    total, n, high, low, held, minutes = hours[0][1]
    for _start, (h_total, h_n, h_high, h_low, h_held, h_minutes) in hours[1:]:
        total += h_total
        n += h_n
        high = high if high > h_high else h_high
        low = low if low < h_low else h_low
        held += h_held
        minutes += h_minutes
    return total, n, high, low, held, minutes


def _first(item):
    return item[0]


# The days of (site, day) pairs recomputed from their hours as they stand (PostgreSQL), when a new hour
# lands in a day that already had hours.
_REFRESH_DAYS_PG = (
    "WITH d AS MATERIALIZED (SELECT * FROM unnest(%(sites)s::int[], %(days)s::timestamptz[]) AS d(site_id, start)), "
    f"fresh_days (site_id, day_start, zone, metric, {_COLUMNS}) AS MATERIALIZED ("
    f"SELECT h.site_id, d.start, h.zone, h.metric, {from_hours(True)} FROM d JOIN reading_hourly h "
    "ON h.site_id = d.site_id AND h.hour_start >= d.start AND h.hour_start < d.start + interval '24 hours' "
    "GROUP BY h.site_id, d.start, h.zone, h.metric), "
    "gone_days AS (DELETE FROM reading_daily x USING d WHERE x.site_id = d.site_id AND x.day_start = d.start "
    "AND NOT EXISTS (SELECT 1 FROM fresh_days f WHERE f.site_id = x.site_id AND f.day_start = x.day_start "
    "AND f.zone = x.zone AND f.metric = x.metric)) "
    f"INSERT INTO reading_daily (site_id, day_start, zone, metric, {_COLUMNS}) "
    f"SELECT * FROM fresh_days ON CONFLICT (site_id, day_start, zone, metric) DO UPDATE SET {_SET} "
    f"WHERE {_CHANGED.format(table='reading_daily')}")


def refresh_days_pg(cursor, days: list[tuple[int, datetime]]) -> None:
    """Recompute the daily rollups of ``days`` (site id, day start) from their hours, on a psycopg cursor."""
    if days:
        cursor.execute(_REFRESH_DAYS_PG, {"sites": [s for s, _ in days], "days": [d for _, d in days]})
