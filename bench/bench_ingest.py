"""Ingest benchmark: pulled pages of buckets into PostgreSQL (and SQLite), against a bare PostgreSQL COPY.

Scenario: SITES sites × ZONES zones × METRICS metrics × BUCKETS 15-minute buckets, in pages of PAGE
records as an agent sends them. Ingest is what the hub does with a page the client has decoded:
validate it (``check_page``), write its buckets (COPY into a staging table, one upsert, the rollups of
the hours it touched), its quarantined records and its cursor, and commit. Measured two ways:

- per page: one transaction per page (``insert_rows``, ``quarantine``, ``advance``), as the cycle did before it
  handed its pages to a group-commit writer;
- batched: BATCH sites' pages per transaction (``store_pages``), as a cycle that groups pages can;
- batched, overlapped: the same, with the next batch checked (a thread) while one is written;
- threads + one writer: THREADS pulling threads check their sites' pages and hand them to one
  ``PageWriter`` (group commit), the shape of the cycle (``brand_hub.collection.cycle``).

The same rows then go into an empty copy of ``reading_bucket`` with a bare ``COPY`` in one transaction
(no validation, no keys checked against existing rows, no rollups), for the ratio. The readings have no
foreign key to site since migration 0021 (the ingest checks the batch's sites once), so neither has one.
Decoding the JSON is the client's part of pulling; its throughput is printed apart.

Each round starts from empty tables and measures every figure, the bare COPY last; the load of the
machine moves between rounds, so the ratios are taken within a round and their median printed.

    .venv/bin/python bench/bench_ingest.py [--sites 100] [--buckets 16] [--batch 25] [--page 1000] [--rounds 3]
                                           [--threads 16] [--no-sqlite]
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from brand_hub import migrate  # noqa: E402
from brand_hub.collection import rollups  # noqa: E402
from brand_hub.collection.pages import check_page  # noqa: E402
from brand_hub.collection.store import (Pulled, advance, claim, ensure_targets, insert_rows, quarantine,  # noqa: E402
                                        store_pages)
from brand_hub.collection.writer import PageWriter  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402
from brand_hub.models import Franchisee, Site, SiteStatus  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
METRICS = ("co2_ppm", "temperature_c", "humidity_pct", "illuminance_lux", "noise_dba", "people_count")
ZONES = 10
NOW = datetime.now(timezone.utc)
LEASE = timedelta(minutes=5)


def pages_for(site_index: int, buckets: int, page_size: int = 1000) -> list[str]:
    """The JSON pages an agent would send for one site (a few records fail validation, as in life)."""
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
    for i in range(0, len(records), page_size):
        chunk = records[i:i + page_size]
        pages.append(json.dumps({"records": chunk, "cursor": str(chunk[-1]["seq"]),
                                 "more": i + page_size < len(records)}))
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
        for site in sites:
            claim(session=session, site_id=site.id, owner="bench", now=NOW, lease=LEASE)
        session.commit()
    engine.dispose()
    return [s.id for s in sites]


def per_page(engine, site_ids: list[int], site_bodies: list[list[dict]]) -> tuple[float, int]:
    """Validate, write and commit page by page, as the cycle does; returns (seconds, rows kept)."""
    rows = 0
    started = time.perf_counter()
    for site_id, bodies in zip(site_ids, site_bodies):
        after = "0"
        for body in bodies:
            page = check_page("readings", body, site_id, after)
            with Session(engine) as session:
                insert_rows(session=session, stream="readings", rows=page.rows)
                quarantine(session=session, site_id=site_id, stream="readings", cursor=page.cursor, bad=page.bad,
                           at=NOW)
                advance(session=session, site_id=site_id, owner="bench", stream="readings", cursor=page.cursor,
                        now=NOW, lease=LEASE)
                session.commit()
            rows += len(page.rows)
            after = page.cursor
    return time.perf_counter() - started, rows


def batched(engine, site_ids: list[int], site_bodies: list[list[dict]], batch: int) -> tuple[float, int]:
    """Validate every page, keep BATCH sites' pages per transaction with ``store_pages``."""
    rows = 0
    started = time.perf_counter()
    for first in range(0, len(site_ids), batch):
        pulled = []
        for site_id, bodies in zip(site_ids[first:first + batch], site_bodies[first:first + batch]):
            after = "0"
            for body in bodies:
                page = check_page("readings", body, site_id, after)
                pulled.append(Pulled(site_id, "readings", page))
                rows += len(page.rows)
                after = page.cursor
        with Session(engine) as session:
            lost = store_pages(session=session, owner="bench", pulled=pulled, now=NOW, lease=LEASE)
            session.commit()
        assert not lost
    return time.perf_counter() - started, rows


def overlapped(engine, site_ids: list[int], site_bodies: list[list[dict]], batch: int) -> tuple[float, int]:
    """``batched``, with the pages of the next batch checked in a thread while one batch is written."""
    ready: queue.Queue = queue.Queue(maxsize=2)

    def check() -> None:
        for first in range(0, len(site_ids), batch):
            pulled = []
            for site_id, bodies in zip(site_ids[first:first + batch], site_bodies[first:first + batch]):
                after = "0"
                for body in bodies:
                    page = check_page("readings", body, site_id, after)
                    pulled.append(Pulled(site_id, "readings", page))
                    after = page.cursor
            ready.put(pulled)
        ready.put(None)

    rows = 0
    started = time.perf_counter()
    checker = threading.Thread(target=check)
    checker.start()
    while (pulled := ready.get()) is not None:
        with Session(engine) as session:
            lost = store_pages(session=session, owner="bench", pulled=pulled, now=NOW, lease=LEASE)
            session.commit()
        assert not lost
        rows += sum(len(p.page.rows) for p in pulled)
    checker.join()
    return time.perf_counter() - started, rows


def threads_and_writer(engine, site_ids: list[int], site_bodies: list[list[dict]], threads: int,
                       batch: int) -> tuple[float, int]:
    """THREADS pulling threads check pages and hand them to one ``PageWriter``, as a cycle would."""
    def pull(site_id: int, bodies: list[dict]) -> int:
        after, kept = "0", 0
        for body in bodies:
            page = check_page("readings", body, site_id, after)
            writer.keep(site_id=site_id, stream="readings", page=page)
            kept += len(page.rows)
            after = page.cursor
        return kept

    started = time.perf_counter()
    with PageWriter(engine=engine, owner="bench", lease=LEASE, clock=lambda: NOW, batch=batch) as writer:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            rows = sum(pool.map(pull, site_ids, site_bodies))
    return time.perf_counter() - started, rows


def bare_copy(engine, site_ids: list[int], site_bodies: list[list[dict]]) -> float:
    """The same rows with a bare COPY into an empty copy of the table (no validation, no keys checked)."""
    all_rows = []
    for site_id, bodies in zip(site_ids, site_bodies):
        after = "0"
        for body in bodies:
            page = check_page("readings", body, site_id, after)
            after = page.cursor
            all_rows.extend((site_id, r["zone"], r["metric"], r["bucket_start"], r["bucket_minutes"], r["count"],
                             r["mean"], r["min"], r["max"]) for r in page.rows)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS reading_bucket_copy"))
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
    return seconds


def start_over(engine) -> None:
    """Empty the readings, rollups, amendments and quarantine; cursors back to 0 (leases kept)."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE reading_bucket, reading_hourly, reading_daily, reading_amendment, "
                          "collection_quarantine"))
        conn.execute(text("UPDATE collection_target SET cursor_readings = '0'"))


def check(engine, rows: int) -> str:
    with Session(engine) as session:
        stored = session.execute(text("SELECT COUNT(*) FROM reading_bucket")).scalar_one()
        off = rollups.differences(session=session)
    assert stored == rows and off == 0, (stored, rows, off)
    return f"{stored:,} buckets stored, rollups exact"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--buckets", type=int, default=16, help="15-minute buckets per series (16 = 4 hours)")
    parser.add_argument("--batch", type=int, default=25, help="sites' pages per transaction when batched")
    parser.add_argument("--page", type=int, default=1000, help="records per page")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=16, help="pulling threads handing pages to one writer")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    per_site = args.buckets * ZONES * len(METRICS)
    texts = [pages_for(i, args.buckets, args.page) for i in range(args.sites)]
    started = time.perf_counter()
    site_bodies = [[json.loads(t) for t in pages] for pages in texts]
    decode_seconds = time.perf_counter() - started
    print(f"scenario: {args.sites} sites × {ZONES} zones × {len(METRICS)} metrics × {args.buckets} buckets "
          f"= {args.sites * per_site:,} records in pages of {args.page} ({sum(map(len, texts))} pages), "
          f"~1.7% of them invalid (quarantined); batched = {args.batch} sites' pages per transaction")

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    pg_url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    figures: dict[str, list[float]] = {}
    checks: dict[str, str] = {}

    def timed(name: str, seconds: float) -> None:
        figures.setdefault(name, []).append(seconds)

    try:
        migrate.upgrade(pg_url)
        ids = seed_sites(pg_url, args.sites)
        engine = make_engine(pg_url)
        for _ in range(args.rounds):
            start_over(engine)
            seconds, rows = per_page(engine, ids, site_bodies)
            timed("page", seconds)
            checks["page"] = check(engine, rows)
            timed("page again", per_page(engine, ids, site_bodies)[0])    # re-reading every page: nothing new
            start_over(engine)
            timed("batch", batched(engine, ids, site_bodies, args.batch)[0])
            checks["batch"] = check(engine, rows)
            timed("batch again", batched(engine, ids, site_bodies, args.batch)[0])
            start_over(engine)
            timed("overlap", overlapped(engine, ids, site_bodies, args.batch)[0])
            checks["overlap"] = check(engine, rows)
            start_over(engine)
            timed("threads", threads_and_writer(engine, ids, site_bodies, args.threads, args.batch)[0])
            checks["threads"] = check(engine, rows)
            timed("copy", bare_copy(engine, ids, site_bodies))
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite_url = f"sqlite:///{tmp}/bench.sqlite"
            migrate.upgrade(sqlite_url)
            ids = seed_sites(sqlite_url, args.sites)
            engine = make_engine(sqlite_url)
            timed("sqlite", per_page(engine, ids, site_bodies)[0])
            engine.dispose()

    def line(label: str, name: str, note: str = "") -> None:
        seconds = statistics.median(figures[name])
        print(f"{label:<46}{rows / seconds:>10,.0f} buckets/s ({seconds:.2f} s){note}")

    print(f"medians of {args.rounds} round(s); machine load average {os.getloadavg()[0]:.1f} at the end "
          f"(on {os.cpu_count()} cores: the ratios fall as other work takes the cores)")
    line("PostgreSQL ingest, one commit per page:", "page", f"  [{checks['page']}]")
    line("PostgreSQL ingest, batched:", "batch", f"  [{checks['batch']}]")
    line("PostgreSQL ingest, batched, overlapped:", "overlap", f"  [{checks['overlap']}]")
    line(f"PostgreSQL ingest, {args.threads} threads + one writer:", "threads", f"  [{checks['threads']}]")
    line("PostgreSQL same pages re-read, per page:", "page again", "  [0 new rows]")
    line("PostgreSQL same pages re-read, batched:", "batch again", "  [0 new rows]")
    line("PostgreSQL bare COPY of the same rows:", "copy")
    if "sqlite" in figures:
        line("SQLite ingest, one commit per page:", "sqlite")
    figures["json"] = [decode_seconds]
    line("(JSON decoding, the client's part):", "json")
    for label, name in (("one commit per page", "page"), ("batched", "batch"), ("batched, overlapped", "overlap"),
                        (f"{args.threads} threads + one writer", "threads")):
        ratios = [copy / seconds for copy, seconds in zip(figures["copy"], figures[name])]
        print(f"ratio PostgreSQL ingest / bare COPY, {label}: {statistics.median(ratios):.2f} "
              f"(rounds: {', '.join(f'{r:.2f}' for r in ratios)}; target ≥ 0.5)")


if __name__ == "__main__":
    main()
