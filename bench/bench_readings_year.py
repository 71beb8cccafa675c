"""Benchmark: a 10,000-site year of readings on PostgreSQL, sized from a sample; retention drops a month.

A 10,000-site year is about 14 billion 15-minute rows (10,000 sites × 5 zones × 8 metrics × 96 a
day × 365): too big to insert on a small machine. So the bench loads a representative sample
(defaults: 50 sites × 5 zones × 8 metrics, the 31 days of 2025-03 plus 3 days of 2025-04) into a
private schema migrated to head (partitioned tables, monthly partitions), with COPY, then builds the
hourly and daily rollups from it with the rollups' own aggregates. It prints, per resolution
(15-minute, hourly, daily): rows, disk (``pg_total_relation_size``: heap, key index and TOAST of the
month's partition), bytes a row, and extrapolates rows a day and disk a year for 100, 1,000 and
10,000 sites.

Then retention: the ``readings-retention`` job itself (``apply_retention``, 15-minute retention 3
months, "now" 2025-07-05) detaches and drops 2025-03's partition; target < 5 s. Baseline, same run:
an unpartitioned copy of the same rows (same primary key) and ``DELETE`` of the same month's rows,
then the ``VACUUM`` the delete makes necessary. Both after a CHECKPOINT; WAL written is shown for each.

    .venv/bin/python bench/bench_readings_year.py [--sites 50] [--zones 5] [--url URL] [--keep]
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from brand_hub import migrate  # noqa: E402
from brand_hub.collection import partitions  # noqa: E402
from brand_hub.collection.rollups import from_buckets, from_hours  # noqa: E402
from brand_hub.db import make_engine, session_scope  # noqa: E402
from brand_hub.settings import Settings  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
METRICS = ("co2_ppm", "temperature_c", "humidity_pct", "illuminance_lux", "noise_dba", "people_count",
           "zone_occupied", "energy_kwh")
ZONES = ("open-desk", "meeting-room-1", "meeting-room-2", "phone-booths", "lounge", "kitchen", "event-space")
MONTH = date(2025, 3, 1)
DAYS, EXTRA_DAYS = 31, 3              # the month to drop, and a few days of the next (kept)
NOW = datetime(2025, 7, 5, 3, 0, tzinfo=timezone.utc)   # 15-minute retention 3 months: 2025-03 is older
NETWORKS = (100, 1_000, 10_000)


def _values(step: int, zone: int, site: int) -> tuple[float, ...]:
    local_hour = (step // 4 + 8) % 24
    busy = 9 <= local_hour < 21 and (step // 96 + 3) % 7 < 5
    people = (3 + (site + zone + step) % 5) if busy else 0
    co2 = 520 + people * 90 + (step * 7 + zone * 13) % 160 + (site % 17) * 0.25
    return (co2, 22.0 + (step % 9) * 0.3 + zone * 0.05, 40 + (step + zone) % 15 + 0.5, 380.0 if busy else 12.0,
            46 + (step + site) % 9 + 0.1, people, 1 if people else 0, 2.5 if busy else 0.6)


def load(engine, sites: int, zones: int) -> int:
    """The sites, the month's partitions, and the buckets by COPY (into the partitioned table, routed)."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO franchisee (code, legal_name, name_en, unified_credit_code, contact_name, "
                          "contact_email, contact_phone, address, status, created_at) VALUES ('BENCH', '基准伙伴', "
                          "'', '', '', '', '', '', 'active', now())"))
        conn.execute(text(
            "INSERT INTO site (code, name_zh, name_en, franchisee_id, city, region, tier, address, timezone, "
            "opening_hours, area_m2, desks, status, agent_url, agent_token_hash, created_at, updated_at) "
            "SELECT 'B' || lpad(n::text, 5, '0'), '基准门店' || n, '', 1, '上海', 'east', 'standard', '', "
            "'Asia/Shanghai', '{}'::json, 900, 120, 'active', '', '', now(), now() FROM generate_series(1, :n) n"),
            {"n": sites})
    with session_scope(engine) as session:
        for table in ("reading_bucket", "reading_hourly"):
            for month in (MONTH, partitions.shift_month(MONTH, 1)):
                partitions.create_partition(session=session, table=table, month=month)
        session.commit()
    start = datetime(MONTH.year, MONTH.month, 1, tzinfo=timezone.utc)
    stamps = [(start + timedelta(minutes=15 * s)).strftime("%Y-%m-%d %H:%M:%S+00")
              for s in range((DAYS + EXTRA_DAYS) * 96)]
    site_ids = [row[0] for row in engine.connect().execute(text("SELECT id FROM site ORDER BY id"))]
    raw = engine.raw_connection()
    total = 0
    try:
        cur = raw.cursor()
        with cur.copy("COPY reading_bucket (site_id, zone, metric, bucket_start, bucket_minutes, count, mean, min, "
                      "max, revision) FROM STDIN") as copy:
            for n, site in enumerate(site_ids):
                lines = []
                for step, stamp in enumerate(stamps):
                    for zone in range(zones):
                        for metric, value in zip(METRICS, _values(step, zone, n)):
                            lines.append(f"{site}\t{ZONES[zone]}\t{metric}\t{stamp}\t15\t15\t{value}\t{value - 0.5}\t"
                                         f"{value + 0.5}\t0\n")
                copy.write("".join(lines).encode())
                total += len(lines)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:   # the rollups, with the aggregates brand_hub.collection.rollups keeps them by
        conn.execute(text(
            "INSERT INTO reading_hourly (site_id, hour_start, zone, metric, total, n, high, low, buckets, minutes) "
            f"SELECT rb.site_id, date_trunc('hour', rb.bucket_start, 'UTC'), rb.zone, rb.metric, {from_buckets(True)} "
            "FROM reading_bucket rb WHERE rb.count > 0 GROUP BY 1, 2, 3, 4"))
        conn.execute(text(
            "INSERT INTO reading_daily (site_id, day_start, zone, metric, total, n, high, low, buckets, minutes) "
            f"SELECT h.site_id, date_trunc('day', h.hour_start, 'UTC'), h.zone, h.metric, {from_hours(True)} "
            "FROM reading_hourly h GROUP BY 1, 2, 3, 4"))
        conn.execute(text("ANALYZE reading_bucket; ANALYZE reading_hourly; ANALYZE reading_daily"))
    return total


def sizes(conn) -> dict[str, tuple[int, int]]:
    """Per resolution: (rows, bytes) of the sample month (the daily table: its month's share of the table)."""
    b, h = partitions.partition_name("reading_bucket", MONTH), partitions.partition_name("reading_hourly", MONTH)
    out = {}
    for label, table in (("15-minute", b), ("hourly", h)):
        rows = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
        out[label] = (rows, conn.execute(text(f"SELECT pg_total_relation_size('{table}')")).scalar())
    rows_all = conn.execute(text("SELECT count(*) FROM reading_daily")).scalar()
    rows = conn.execute(text("SELECT count(*) FROM reading_daily WHERE day_start < :end"),
                        {"end": datetime(2025, 4, 1, tzinfo=timezone.utc)}).scalar()
    out["daily"] = (rows, conn.execute(text("SELECT pg_total_relation_size('reading_daily')")).scalar() * rows // rows_all)
    return out


def _wal(conn) -> int:
    return int(conn.execute(text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")).scalar())


def gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n < 1e12 else f"{n / 1e12:,.2f} TB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=PG_URL)
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--zones", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    args = parser.parse_args()
    schema = f"bench_year_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.url}?options=-csearch_path%3D{schema}"
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        per_day = args.zones * len(METRICS) * 96
        print(f"scenario: {args.sites} sites × {args.zones} zones × {len(METRICS)} metrics × 96 buckets a day, "
              f"{MONTH:%Y-%m} ({DAYS} days) + {EXTRA_DAYS} days of the next month, PostgreSQL schema {schema}; "
              f"readings partitioned by month (migration 0017)")
        started = time.perf_counter()
        rows = load(engine, args.sites, args.zones)
        print(f"loaded {rows:,} 15-minute rows by COPY and built the rollups in {time.perf_counter() - started:.1f} s")

        with engine.connect() as conn:
            measured = sizes(conn)
        site_days = args.sites * DAYS
        print("\nper resolution, the sample month, and extrapolated (rows and bytes scale with sites × days):")
        print(f"{'resolution':<10} {'rows':>12} {'disk':>10} {'B/row':>6} | " + " | ".join(
            f"{n:,} sites: rows/day, disk/year" for n in NETWORKS))
        for label, (count, size) in measured.items():
            per_row = size / count
            cells = []
            for n in NETWORKS:
                day_rows = count / site_days * n
                cells.append(f"{day_rows / 1e6:,.2f} M, {gb(day_rows * 365 * per_row)}")
            print(f"{label:<10} {count:>12,} {size / 1e6:>8,.0f} MB {per_row:>6.0f} | " + " | ".join(cells))
        print(f"(15-minute rows a day at 10,000 sites by count: {10_000 * per_day:,}; "
              f"a year: {10_000 * per_day * 365 / 1e9:,.1f} billion)")

        # the baseline: the same rows in one plain table with the same key, the month deleted row by row
        month_end = datetime(2025, 4, 1, tzinfo=timezone.utc)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE reading_bucket_flat (LIKE reading_bucket INCLUDING DEFAULTS)"))
            conn.execute(text("INSERT INTO reading_bucket_flat SELECT * FROM reading_bucket"))
            conn.execute(text("ALTER TABLE reading_bucket_flat ADD PRIMARY KEY (site_id, bucket_start, zone, metric)"))
            conn.execute(text("ANALYZE reading_bucket_flat"))
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
            wal = _wal(conn)
            started = time.perf_counter()
            deleted = conn.execute(text("DELETE FROM reading_bucket_flat WHERE bucket_start >= :a AND bucket_start < :b"),
                                   {"a": datetime(2025, 3, 1, tzinfo=timezone.utc), "b": month_end}).rowcount
            conn.commit()
            delete_s = time.perf_counter() - started
            conn.execution_options(isolation_level="AUTOCOMMIT")
            started = time.perf_counter()
            conn.execute(text("VACUUM reading_bucket_flat"))
            vacuum_s = time.perf_counter() - started
            delete_wal = _wal(conn) - wal
            conn.execute(text("CHECKPOINT"))
            wal = _wal(conn)

        settings = Settings(env="testing", database_url=url, instance_path=Path("/tmp/bench-readings-year"),
                            readings_retention_months=3, readings_hourly_retention_months=37)
        started = time.perf_counter()
        ahead = partitions.create_partitions_ahead(settings=settings, now=NOW)   # the job of the night before
        ahead_s = time.perf_counter() - started
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
            wal = _wal(conn)
        started = time.perf_counter()
        gone = partitions.apply_retention(settings=settings, now=NOW)
        drop_s = time.perf_counter() - started
        with engine.connect() as conn:
            drop_wal = _wal(conn) - wal
            left = conn.execute(text("SELECT count(*) FROM reading_bucket")).scalar()
        print(f"\nretention of {MONTH:%Y-%m} ({deleted:,} 15-minute rows):")
        print(f"  readings-partitions job, {len(ahead)} partitions made ahead: {ahead_s:.2f} s")
        print(f"  readings-retention job (detach + drop {', '.join(gone)}, audited, its own engine): "
              f"{drop_s:.2f} s, WAL {drop_wal / 1e6:,.1f} MB — target < 5 s: {'met' if drop_s < 5 else 'MISSED'}")
        print(f"  baseline, unpartitioned copy: DELETE {delete_s:.2f} s + VACUUM {vacuum_s:.2f} s = "
              f"{delete_s + vacuum_s:.2f} s, WAL {delete_wal / 1e6:,.1f} MB")
        print(f"  ratio job / (DELETE + VACUUM): {drop_s / (delete_s + vacuum_s):.3f}; rows kept after the drop: {left:,}")
        scale = 10_000 / args.sites
        print(f"  at 10,000 sites the month is {deleted * scale / 1e9:,.2f} billion rows: the DELETE + VACUUM grows "
              f"with it (≈ {(delete_s + vacuum_s) * scale / 3600:,.1f} h by linear extrapolation), the drop does not "
              "(one catalog change and the unlink of the month's files)")
        engine.dispose()
    finally:
        if not args.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
