"""Benchmark: score a network for one quarter of 15-minute buckets on PostgreSQL.

Scenario (defaults): 200 sites, 2026-Q3 (92 days), 5 zones, 8 metrics, 15-minute
buckets = 200 × 8,832 × 5 × 8 ≈ 70.7 million ``reading_bucket`` rows, loaded with
COPY into a private schema (dropped at the end unless --keep). Then:

1. one bare SQL ``GROUP BY`` (site, metric, hour) over the same rows, every
   aggregate fetched to the client, and
2. ``score_period`` for all sites with the brand's model (SQL aggregation per site
   to hourly rows, open-hours logic in Python), committed once: first with one reading
   thread, then with ``--workers`` threads reading ahead on their own connections,

and prints wall times, the ratio between them and the peak memory of scoring.

    .venv/bin/python bench/bench_score.py [--sites 200] [--days 92] [--zones 5] [--workers 2] [--url URL] [--keep]
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from brand_hub import audit, migrate  # noqa: E402
from brand_hub.db import make_engine, session_scope  # noqa: E402
from brand_hub.scores import load_model, score_period  # noqa: E402
from brand_hub.settings import Settings  # noqa: E402
from scoring.periods import parse_period  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
METRICS = ("co2_ppm", "temperature_c", "humidity_pct", "illuminance_lux", "noise_dba", "people_count",
           "zone_occupied", "energy_kwh")
HOURS = {d: [["09:00", "21:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [["10:00", "18:00"]],
                                                                                   "sun": []}
START = datetime(2026, 6, 30, 16, tzinfo=timezone.utc)      # 2026-07-01 00:00 in Shanghai


def _values(step: int, zone: int, site: int) -> tuple[float, ...]:
    """Cheap, believable readings: busy in the local daytime, quieter at night."""
    local_hour = (step // 4 + 8) % 24
    busy = 9 <= local_hour < 21 and (step // 96 + 3) % 7 < 5
    people = (3 + (site + zone + step) % 5) if busy else 0
    co2 = 520 + people * 90 + (step * 7 + zone * 13) % 160
    return (co2, 22.0 + (step % 9) * 0.3, 40 + (step + zone) % 15, 380.0 if busy else 12.0,
            46 + (step + site) % 9, people, 1 if people else 0, 2.5 if busy else 0.6)


def load(url: str, sites: int, days: int, zones: int) -> int:
    """Create the sites and COPY the buckets in (indexes built after the load)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO franchisee (code, legal_name, name_en, unified_credit_code, contact_name, "
                          "contact_email, contact_phone, address, status, created_at) VALUES ('BENCH', '基准伙伴', "
                          "'', '', '', '', '', '', 'active', now())"))
        for n in range(sites):
            conn.execute(text(
                "INSERT INTO site (code, name_zh, name_en, franchisee_id, city, region, tier, address, timezone, "
                "opening_hours, area_m2, desks, status, agent_url, agent_token_hash, created_at, updated_at) "
                "VALUES (:code, :name, '', 1, '上海', 'east', 'standard', '', 'Asia/Shanghai', CAST(:hours AS JSON), "
                "900, 120, 'active', '', '', now(), now())"),
                {"code": f"B{n:04d}", "name": f"基准门店{n}", "hours": __import__("json").dumps(HOURS)})
        conn.execute(text("ALTER TABLE reading_bucket DROP CONSTRAINT pk_reading_bucket"))
    steps = days * 96
    stamps = [(START + timedelta(minutes=15 * s)).strftime("%Y-%m-%d %H:%M:%S+00") for s in range(steps)]
    raw = engine.raw_connection()
    total = 0
    try:
        cur = raw.cursor()
        with cur.copy("COPY reading_bucket (site_id, zone, metric, bucket_start, bucket_minutes, count, mean, min, "
                      "max) FROM STDIN") as copy:
            for site in range(1, sites + 1):
                lines = []
                for step, stamp in enumerate(stamps):
                    for zone in range(zones):
                        for metric, value in zip(METRICS, _values(step, zone, site)):
                            lines.append(f"{site}\tz{zone}\t{metric}\t{stamp}\t15\t15\t{value}\t{value}\t{value}\n")
                copy.write("".join(lines).encode())
                total += len(lines)
        raw.commit()
    finally:
        raw.close()
    with engine.begin() as conn:
        # the key exactly as the migration makes it (it is also the index the scoring reads by)
        conn.execute(text("ALTER TABLE reading_bucket ADD CONSTRAINT pk_reading_bucket "
                          "PRIMARY KEY (site_id, bucket_start, zone, metric)"))
        conn.execute(text("ANALYZE reading_bucket"))
    engine.dispose()
    return total


def _load_in_child(url, sites, days, zones, out):
    out.put(load(url, sites, days, zones))


def _bare_in_child(url, out) -> None:
    """The baseline: one GROUP BY with every aggregate the scoring needs, all fetched to the client
    (wrapped in SELECT count(*), PostgreSQL would drop the unused aggregates)."""
    engine = make_engine(url)
    start, end = parse_period("2026-Q3").bounds("Asia/Shanghai")
    started = time.perf_counter()
    groups = 0
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=50_000).execute(text(
            "SELECT site_id, metric, date_trunc('hour', bucket_start) AS h, sum(mean * count), sum(count), "
            "max(max), min(min), count(*), sum(bucket_minutes) "
            "FROM reading_bucket WHERE bucket_start >= :a AND bucket_start < :b GROUP BY 1, 2, 3"),
            {"a": start, "b": end})
        for part in result.partitions():
            groups += len(part)
    engine.dispose()
    out.put((time.perf_counter() - started, groups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=PG_URL)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--days", type=int, default=92)
    parser.add_argument("--zones", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument("--workers", type=int, default=2, help="reading threads for the second scoring run")
    args = parser.parse_args()
    schema = f"bench_score_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.url}?options=-csearch_path%3D{schema}"
    try:
        migrate.upgrade(url)
        started = time.perf_counter()
        queue = multiprocessing.get_context("spawn").Queue()   # load in a child: its memory is not ours
        child = multiprocessing.get_context("spawn").Process(target=_load_in_child,
                                                             args=(url, args.sites, args.days, args.zones, queue))
        child.start()
        while True:  # a child that dies must not leave us waiting for ever
            try:
                rows = queue.get(timeout=5)
                break
            except Exception:
                if not child.is_alive():
                    raise SystemExit(f"the loading process failed (exit code {child.exitcode}); see above")
        child.join()
        load_s = time.perf_counter() - started
        print(f"scenario: {args.sites} sites × {args.days} days × {args.zones} zones × {len(METRICS)} metrics, "
              f"15-minute buckets, PostgreSQL schema {schema}")
        print(f"loaded {rows:,} rows with COPY in {load_s:.1f} s ({rows / load_s:,.0f} rows/s, indexes after)")

        engine = make_engine(url)
        # the baseline runs in a child too, so the memory figure below is the scoring's own
        queue = multiprocessing.get_context("spawn").Queue()
        child = multiprocessing.get_context("spawn").Process(target=_bare_in_child, args=(url, queue))
        child.start()
        bare_s, groups = queue.get()
        child.join()
        print(f"bare GROUP BY (site, metric, hour) over the same rows, all aggregates fetched: {bare_s:.1f} s, "
              f"{groups:,} groups")

        settings = Settings(env="testing", database_url=url, instance_path=Path("/tmp/bench-score"))
        model = load_model(settings=settings)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        timings = {}
        for workers in (1, args.workers):  # one reader, then the product's default of parallel readers
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM site_score"))
            started = time.perf_counter()
            with session_scope(engine) as session:
                report = score_period(session=session, period=parse_period("2026-Q3"), model=model,
                                      actor=audit.Actor("bench"), workers=workers)
                session.commit()
            timings[workers] = time.perf_counter() - started
            statuses = {}
            for row in report.scores:
                statuses[row.card] = statuses.get(row.card, 0) + 1
            print(f"score_period, {workers} reading thread(s): {len(report.scores)} sites in {timings[workers]:.1f} s "
                  f"({timings[workers] / max(len(report.scores), 1) * 1000:.0f} ms/site), "
                  f"{len(report.failures)} failed, cards {statuses}")
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for workers, seconds in timings.items():
            print(f"ratio scoring ({workers} thread(s)) / bare GROUP BY: {seconds / bare_s:.2f}")
        print(f"peak memory (max RSS of this process; the load and the baseline ran in children): "
              f"{rss_before / 1024:.0f} MB before scoring, {rss_after / 1024:.0f} MB after "
              f"(+{(rss_after - rss_before) / 1024:.0f} MB)")
        engine.dispose()
    finally:
        if not args.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
