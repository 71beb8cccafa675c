"""Ingest benchmark: pulled pages of buckets into PostgreSQL and SQLite, against a bare PostgreSQL COPY.

Scenario: SITES sites × ZONES zones × METRICS metrics × BUCKETS 15-minute buckets, in pages of PAGE
records as an agent sends them (JSON text). Each page is validated (``check_page``), bulk-inserted
with its natural key (``insert_rows``), its cursor saved and committed — one transaction per page,
exactly as the collector does. The same rows then go into an empty copy of the table with a bare
``COPY`` in one transaction, for the ratio.

    .venv/bin/python bench/bench_ingest.py [--sites 100] [--buckets 96]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from brand_hub import migrate  # noqa: E402
from brand_hub.collection.pages import check_page  # noqa: E402
from brand_hub.collection.store import advance, claim, ensure_targets, insert_rows  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402
from brand_hub.models import Franchisee, Site, SiteStatus  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
METRICS = ("co2_ppm", "temperature_c", "humidity_pct", "illuminance_lux", "noise_dba", "people_count")
ZONES = 10
PAGE = 1000


def pages_for(site_index: int, buckets: int) -> list[str]:
    """The JSON pages an agent would send for one site."""
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    records = []
    for b in range(buckets):
        at = (start + timedelta(minutes=15 * b)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for z in range(ZONES):
            for m, metric in enumerate(METRICS):
                value = 400.0 + (site_index + b + z + m) % 300 if metric == "co2_ppm" else 20.0 + (b + z) % 10
                records.append({"seq": len(records) + 1, "zone": f"zone-{z}", "metric": metric, "bucket_start": at,
                                "bucket_minutes": 15, "count": 15, "mean": value, "min": value - 1, "max": value + 1})
    pages = []
    for i in range(0, len(records), PAGE):
        chunk = records[i:i + PAGE]
        pages.append(json.dumps({"records": chunk, "cursor": str(chunk[-1]["seq"]), "more": i + PAGE < len(records)}))
    return pages


def seed_sites(url: str, count: int) -> list[int]:
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        partner = Franchisee(code="BENCH", legal_name="基准测试伙伴")
        session.add(partner)
        session.flush()
        sites = [Site(code=f"B{i:05d}", name_zh=f"基准站点{i}", franchisee_id=partner.id, city="上海",
                      status=SiteStatus.active, agent_url="http://127.0.0.1:1") for i in range(count)]
        session.add_all(sites)
        session.flush()
        ensure_targets(session=session, site_ids=[s.id for s in sites])
        session.commit()
    engine.dispose()
    return [s.id for s in sites]


def ingest(url: str, site_ids: list[int], site_pages: list[list[str]]) -> tuple[float, int]:
    """Validate, insert and commit page by page, as the collector does; returns (seconds, rows)."""
    engine = make_engine(url)
    rows = 0
    now = datetime.now(timezone.utc)
    lease = timedelta(minutes=5)
    started = time.perf_counter()
    for site_id, pages in zip(site_ids, site_pages):
        with Session(engine) as session:
            claim(session=session, site_id=site_id, owner="bench", now=now, lease=lease)
            session.commit()
        after = "0"
        for body in pages:
            page = check_page("readings", json.loads(body), site_id, after)
            with Session(engine) as session:
                insert_rows(session=session, stream="readings", rows=page.rows)
                advance(session=session, site_id=site_id, owner="bench", stream="readings", cursor=page.cursor,
                        now=now, lease=lease)
                session.commit()
            rows += len(page.rows)
            after = page.cursor
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, rows


def bare_copy(url: str, site_ids: list[int], site_pages: list[list[str]]) -> float:
    """The same rows with a bare COPY into an empty copy of the table (no validation, no keys checked)."""
    engine = make_engine(url)
    all_rows = []
    for site_id, pages in zip(site_ids, site_pages):
        for body in pages:
            for r in json.loads(body)["records"]:
                all_rows.append((site_id, r["zone"], r["metric"], r["bucket_start"], 15, r["count"], r["mean"],
                                 r["min"], r["max"]))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE reading_bucket_copy (LIKE reading_bucket INCLUDING ALL)"))
    raw = engine.raw_connection()
    try:
        started = time.perf_counter()
        with raw.driver_connection.cursor() as cur:
            with cur.copy("COPY reading_bucket_copy (site_id, zone, metric, bucket_start, bucket_minutes, count, "
                          "mean, min, max) FROM STDIN") as copy:
                for row in all_rows:
                    copy.write_row(row)
        raw.driver_connection.commit()
        seconds = time.perf_counter() - started
    finally:
        raw.close()
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--buckets", type=int, default=16, help="15-minute buckets per series (16 = 4 hours)")
    args = parser.parse_args()
    per_site = args.buckets * ZONES * len(METRICS)
    print(f"scenario: {args.sites} sites × {ZONES} zones × {len(METRICS)} metrics × {args.buckets} buckets "
          f"= {args.sites * per_site:,} buckets, pages of {PAGE}, one transaction per page")
    site_pages = [pages_for(i, args.buckets) for i in range(args.sites)]

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    pg_url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        migrate.upgrade(pg_url)
        ids = seed_sites(pg_url, args.sites)
        pg_seconds, rows = ingest(pg_url, ids, site_pages)
        again_seconds, _ = ingest(pg_url, ids, site_pages)    # re-reading every page: nothing new
        copy_seconds = bare_copy(pg_url, ids, site_pages)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    with tempfile.TemporaryDirectory() as tmp:
        sqlite_url = f"sqlite:///{tmp}/bench.sqlite"
        migrate.upgrade(sqlite_url)
        ids = seed_sites(sqlite_url, args.sites)
        sqlite_seconds, _ = ingest(sqlite_url, ids, site_pages)

    print(f"PostgreSQL  validate+insert+commit: {rows / pg_seconds:>10,.0f} buckets/s ({pg_seconds:.2f} s)")
    print(f"PostgreSQL  same pages re-read:     {rows / again_seconds:>10,.0f} buckets/s ({again_seconds:.2f} s, "
          f"0 new rows)")
    print(f"PostgreSQL  bare COPY:              {rows / copy_seconds:>10,.0f} buckets/s ({copy_seconds:.2f} s)")
    print(f"SQLite      validate+insert+commit: {rows / sqlite_seconds:>10,.0f} buckets/s ({sqlite_seconds:.2f} s)")
    print(f"ratio PostgreSQL ingest / bare COPY: {copy_seconds / pg_seconds:.2f} "
          f"(COPY is {pg_seconds / copy_seconds:.1f}× faster)")


if __name__ == "__main__":
    main()
