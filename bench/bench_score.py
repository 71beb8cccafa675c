"""Benchmark: score a network for one quarter on PostgreSQL, reading the hourly rollup set-based.

Scenario (defaults): 1,000 sites in Asia/Shanghai, 2026-Q3 (92 days), 2 zones, 8 metrics. The
readings are seeded straight into the rollups the scoring reads (``reading_hourly``: one row per
site, hour, zone and metric, each the aggregate of four full 15-minute buckets; ``reading_daily``
summed from it as ``collection.rollups`` sums it), set-based in a private schema (dropped at the end
unless --keep), as production holds it: in the seeded months' partitions of ``reading_hourly``
(made first, as the ``readings-partitions`` job makes them; until 2026-12-03 every row landed in the
DEFAULT partition), in time order (a day of every site at a time, as the rollups write hours; until
then site by site, which favoured reading by site), key built after the load, then ANALYZE. A
template of 45 sites by ``INSERT … SELECT`` over ``generate_series`` (a site's values repeat every 45
sites), every site copied from it. Then:

1. the baseline: one bare SQL ``GROUP BY`` (site, metric, hour) over the quarter's rollup rows of the
   scored metrics (each slot's zones summed, plain unordered aggregates), reduced per (site, metric)
   and fetched — the least any scoring must do: read every hourly row once and group each slot over
   its zones (a slot's mean is over its zones), then reduce per site. It used to fetch every
   (site, metric, hour) group to the client, which is what the old scoring did, not what it must do.
   Timed as one statement over the network (the issue's "one bare GROUP BY": with a small ``work_mem``
   its sort spills to disk) and as one statement per batch of sites (each batch read in key order, as
   the scoring reads): the ratio to each is printed.
2. ``score_period`` for all sites with the brand's model (per batch of sites one statement counting
   the slots in SQL — ``inputs.batch_totals`` — plus the streams and the events), committed once:
   first with one reading thread, then with ``--workers`` threads reading the next batches ahead;
3. up to ``--old-upto`` sites, the same with the slots sent to Python (``inputs.batch_inputs``, the
   path before the totals, still used on SQLite): the old code's figure in the same run.

and prints wall times, ms per site, the ratio to the baseline and the peak memory. With
``--sites 100,1000`` each size gets its own schema and the time per site is compared. ``--keep``
then ``--schema NAME`` measures again without seeding (1,000 sites take ~15 minutes to seed here).

Figures (2026-12-03, 2 shared cores under load 7–10 from other jobs; each line one run):
100 sites: baseline 14.5 s; scoring 12.5 s (1 thread, 0.86×), 6.4 s (2 threads, 0.44×); the old path
(slots to Python) 84.2 s (5.8×); stored scores identical. 300 sites: baseline 40.5 s; 39.9 s (0.99×),
29.9 s (0.74×). 1,000 sites: baseline 221.5 s (375 s per batch); 370.8 s (1.67×), 216.9 s (0.98×).
(Those runs seeded every row into the DEFAULT partition, site by site.) 2026-12-03 evening, readings in
their monthly partitions in time order, zones summed from an ordered subquery, the key read in order:
100 sites (load 4): baseline 13.4 s; 9.7 s (1 thread, 0.72×), 7.1 s (2 threads, 0.53×). 1,000 sites
(load 6–7): baseline 179.3 s (238.0 s per batch); 315.1 s (1 thread, 1.76×), 99.1 s (2 threads, 0.55×).
Beside them, load 4–5, two threads: 1,000 sites 42.6 s (the code before 93.8 s), 100 sites 5.7–6.4 s.

    .venv/bin/python bench/bench_score.py [--sites 1000] [--days 92] [--zones 2] [--workers 2] [--old-upto 300]
                                          [--keep] [--schema NAME]
                                          [--url URL]
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
from brand_hub import scores as scores_service  # noqa: E402
from brand_hub.collection import partitions, rollups  # noqa: E402
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
TEMPLATE = 45   # SEED's values depend on the site only through (s + …) % 5 and % 9: they repeat every 45 sites


# One hour of a zone: busy 09–21 local (Shanghai, UTC+8) on weekdays; each metric's value as the
# old 15-minute bench drew it, per hour. Every hour holds four full buckets: 60 readings, 60 minutes.
SEED = """
INSERT INTO seed_template (site_id, hour_start, zone, metric, total, n, high, low, buckets, minutes)
SELECT s, CAST(:start AS timestamptz) + h * interval '1 hour', 'z' || z, m.metric, v.value * 60, 60, v.value,
       v.value, 4, 60
FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS s, generate_series(0, CAST(:hours AS int) - 1) AS h,
     generate_series(0, CAST(:zones AS int) - 1) AS z,
     (VALUES ('co2_ppm'), ('temperature_c'), ('humidity_pct'), ('illuminance_lux'), ('noise_dba'),
             ('people_count'), ('zone_occupied'), ('energy_kwh')) AS m(metric),
     LATERAL (SELECT ((h + 8) % 24 BETWEEN 9 AND 20) AND ((h / 24 + 3) % 7 < 5) AS busy) AS b,
     LATERAL (SELECT CASE WHEN b.busy THEN 3 + (s + z + h) % 5 ELSE 0 END AS people) AS p,
     LATERAL (SELECT CAST(CASE m.metric
         WHEN 'co2_ppm' THEN 520 + p.people * 90 + (h * 7 + z * 13) % 160
         WHEN 'temperature_c' THEN 22.0 + (h % 9) * 0.3
         WHEN 'humidity_pct' THEN 40 + (h + z) % 15
         WHEN 'illuminance_lux' THEN CASE WHEN b.busy THEN 380.0 ELSE 12.0 END
         WHEN 'noise_dba' THEN 46 + (h + s) % 9
         WHEN 'people_count' THEN p.people
         WHEN 'zone_occupied' THEN CASE WHEN p.people > 0 THEN 1 ELSE 0 END
         ELSE CASE WHEN b.busy THEN 2.5 ELSE 0.6 END END AS double precision) AS value) AS v
"""


def load(url: str, sites: int, days: int, zones: int) -> int:
    """Create the sites and fill the hourly rollup set-based, as production holds it: in its monthly
    partitions (made first, as the ``readings-partitions`` job makes them), rows in time order (an hour
    of every site after the other, as the rollups write them), key built after the load, then ANALYZE."""
    import json

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO franchisee (code, legal_name, name_en, unified_credit_code, contact_name, "
                          "contact_email, contact_phone, address, status, created_at) VALUES ('BENCH', '基准伙伴', "
                          "'', '', '', '', '', '', 'active', now())"))
        conn.execute(text(
            "INSERT INTO site (code, name_zh, name_en, franchisee_id, city, region, tier, address, timezone, "
            "opening_hours, area_m2, desks, status, agent_url, agent_token_hash, created_at, updated_at) "
            "SELECT 'B' || lpad(n::text, 5, '0'), '基准门店' || n, '', 1, '上海', 'east', 'standard', '', "
            "'Asia/Shanghai', CAST(:hours AS JSON), 900, 120, 'active', '', '', now(), now() "
            "FROM generate_series(0, CAST(:sites AS int) - 1) AS n"), {"hours": json.dumps(HOURS), "sites": sites})
        first, last = conn.execute(text("SELECT min(id), max(id) FROM site")).one()
    # the seeded months' partitions: without them every row lands in the DEFAULT partition
    with session_scope(engine) as session:
        month, stop = partitions.month_of(START), partitions.month_of(START + timedelta(days=days))
        while month <= stop:
            partitions.create_partition(session=session, table="reading_hourly", month=month)
            month = partitions.shift_month(month, 1)
        session.commit()
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE reading_hourly DROP CONSTRAINT pk_reading_hourly"))
        conn.execute(text("CREATE TABLE seed_template (LIKE reading_hourly)"))   # the schema drops it
        conn.execute(text(SEED), {"start": START, "first": first, "last": min(last, first + TEMPLATE - 1),
                                  "hours": days * 24, "zones": zones})
        conn.execute(text("CREATE INDEX ON seed_template (hour_start)"))
        conn.execute(text("ANALYZE seed_template"))
    for day in range(days):   # a day of every site at a time, in time order; committed as it goes
        with engine.begin() as conn:   # site s holds what SEED gives it: its template's rows (s ≡ t mod 45)
            conn.execute(text(
                "INSERT INTO reading_hourly (site_id, hour_start, zone, metric, total, n, high, low, buckets, minutes) "
                "SELECT s, h.hour_start, h.zone, h.metric, h.total, h.n, h.high, h.low, h.buckets, h.minutes "
                "FROM seed_template h JOIN generate_series(CAST(:first AS int), CAST(:last AS int)) AS s "
                "ON h.site_id = :first + (s - :first) % :template "
                "WHERE h.hour_start >= :low AND h.hour_start < :high ORDER BY h.hour_start, s, h.zone, h.metric"),
                {"first": first, "last": last, "template": TEMPLATE, "low": START + timedelta(days=day),
                 "high": START + timedelta(days=day + 1)})
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE reading_hourly ADD CONSTRAINT pk_reading_hourly "
                          "PRIMARY KEY (site_id, hour_start, zone, metric)"))
        conn.execute(text(   # the days as the rollups keep them as data lands: summed from their hours
            f"INSERT INTO reading_daily (site_id, day_start, zone, metric, total, n, high, low, buckets, minutes) "
            f"SELECT h.site_id, date_trunc('day', h.hour_start, 'UTC'), h.zone, h.metric, {rollups.from_hours(True)} "
            f"FROM reading_hourly h GROUP BY h.site_id, date_trunc('day', h.hour_start, 'UTC'), h.zone, h.metric"))
        conn.execute(text("ANALYZE reading_hourly, reading_daily, site"))   # this schema only, with the partitions
        stray = conn.execute(text("SELECT count(*) FROM reading_hourly_default")).scalar_one()
        assert stray == 0, f"{stray} rows in the DEFAULT partition"
        total = conn.execute(text("SELECT count(*) FROM reading_hourly")).scalar_one()
    engine.dispose()
    return total


def _load_in_child(url, sites, days, zones, out):
    out.put(load(url, sites, days, zones))


BARE = ("SELECT site_id, metric, count(*), sum(t / n), max(h), min(l), sum(m), sum(z) FROM ("
        "SELECT site_id, metric, hour_start, sum(total) AS t, sum(n) AS n, max(high) AS h, min(low) AS l, "
        "sum(minutes) AS m, count(*) AS z FROM reading_hourly WHERE hour_start >= :a AND hour_start < :b "
        "AND metric = ANY(CAST(:metrics AS text[])) {sites}GROUP BY site_id, metric, hour_start) x "
        "GROUP BY site_id, metric")


def _bare_in_child(url, metrics, batch, out) -> None:
    """The baseline: the least any scoring must do over the rollup. Every hourly row of the quarter of the
    scored metrics read once and grouped per (site, metric, hour) (a slot's zones summed: its mean is over
    its zones), then reduced per (site, metric) and fetched. Plain unordered aggregates, each used by the
    outer query (PostgreSQL drops a subquery's unused outputs). Timed twice: as one statement over the
    network (the issue's "one bare GROUP BY"), and as one statement per batch of ``batch`` sites (the
    way scoring reads: each batch's rows in key order, no sort spilling to disk)."""
    engine = make_engine(url)
    start, end = parse_period("2026-Q3").bounds("Asia/Shanghai")
    args = {"a": start, "b": end, "metrics": metrics}
    with engine.connect() as conn:
        started = time.perf_counter()
        groups = len(conn.execute(text(BARE.format(sites="")), args).all())
        whole = time.perf_counter() - started
        ids = list(conn.execute(text("SELECT id FROM site ORDER BY code")).scalars())
        started = time.perf_counter()
        for n in range(0, len(ids), batch):
            conn.execute(text(BARE.format(sites="AND site_id = ANY(CAST(:sites AS int[])) ")),
                         args | {"sites": ids[n:n + batch]}).all()
        batched = time.perf_counter() - started
    engine.dispose()
    out.put((whole, batched, groups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=PG_URL)
    parser.add_argument("--sites", default="1000", help="one size or several, e.g. 100,1000")
    parser.add_argument("--days", type=int, default=92)
    parser.add_argument("--zones", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards")
    parser.add_argument("--schema", help="measure on this schema a --keep run seeded (one size; kept)")
    parser.add_argument("--workers", type=int, default=2, help="reading threads for the second scoring run")
    parser.add_argument("--old-upto", type=int, default=300,
                        help="also score with the slots sent to Python (the old path) up to this many sites")
    args = parser.parse_args()
    sizes = [int(n) for n in str(args.sites).split(",")]
    per_site = {sites: run_size(args, sites) for sites in sizes}
    for sites in sizes[1:]:
        print(f"time per site, {sites} vs {sizes[0]} sites: {per_site[sites] / per_site[sizes[0]]:.2f}× "
              f"(target: flat within 1.5×)")


def run_size(args, sites: int) -> float:
    """Seed one network of ``sites`` in its own schema, take the baseline, score; the best ms per site."""
    schema = args.schema or f"bench_score_{uuid.uuid4().hex[:8]}"
    admin = make_engine(args.url)
    url = f"{args.url}?options=-csearch_path%3D{schema}"
    if args.schema:   # seeded by an earlier --keep run: measure again
        args.keep = True
    else:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        if not args.schema:
            load_s, rows = _seed(args, url, sites)
        else:
            load_s, rows = 0.0, _count(url)
        print(f"scenario: {sites} sites × {args.days} days × {args.zones} zones × {len(METRICS)} metrics, "
              f"hourly rollup (each hour four 15-minute buckets: {rows * 4:,} buckets' worth), "
              f"PostgreSQL schema {schema}")
        print(f"seeded {rows:,} reading_hourly rows set-based in {load_s:.1f} s, key after"
              + (" (an earlier run)" if args.schema else ""))
        return _measure(args, url, sites)
    finally:
        if not args.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _count(url: str) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM reading_hourly")).scalar_one()
    engine.dispose()
    return rows


def _seed(args, url: str, sites: int) -> tuple[float, int]:
    """Migrate the schema and load it in a child process; (seconds, rows)."""
    migrate.upgrade(url)
    started = time.perf_counter()
    queue = multiprocessing.get_context("spawn").Queue()   # load in a child: its memory is not ours
    child = multiprocessing.get_context("spawn").Process(target=_load_in_child,
                                                         args=(url, sites, args.days, args.zones, queue))
    child.start()
    rows = _result(queue, child, "loading")
    child.join()
    return time.perf_counter() - started, rows


def _result(queue, child, what: str):
    """What the child puts on ``queue``: a child that dies must not leave us waiting for ever."""
    while True:
        try:
            return queue.get(timeout=5)
        except Exception:
            if not child.is_alive():
                raise SystemExit(f"the {what} process failed (exit code {child.exitcode}); see above")


def _measure(args, url: str, sites: int) -> float:
    """The baseline and the scoring runs on a seeded schema; the best ms per site."""
    engine = make_engine(url)
    settings = Settings(env="testing", database_url=url, instance_path=Path("/tmp/bench-score"))
    model = load_model(settings=settings)
    # the baseline runs in a child too, so the memory figure below is the scoring's own
    queue = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(
        target=_bare_in_child,
        args=(url, sorted(scores_service.inputs.model_metrics(model)), scores_service.BATCH_SITES, queue))
    child.start()
    bare_s, batched_s, groups = _result(queue, child, "baseline")
    child.join()
    print(f"baseline: bare GROUP BY (site, metric, hour) over the rollup, reduced per (site, metric) and "
          f"fetched: {bare_s:.1f} s as one statement, {groups:,} rows; {batched_s:.1f} s as one statement per "
          f"batch of {scores_service.BATCH_SITES} sites")

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    timings, cards = {}, {}
    runs = [("totals in SQL", 1), ("totals in SQL", args.workers)]
    if sites <= args.old_upto:
        runs.append(("slots to Python (old)", args.workers))
    for path, workers in runs:  # one reader, then the product's default of parallel readers
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM site_score"))
        apply = scores_service.totals_apply
        if path.startswith("slots"):
            scores_service.totals_apply = lambda *_args: False
        started = time.perf_counter()
        try:
            with session_scope(engine) as session:
                report = score_period(session=session, period=parse_period("2026-Q3"), model=model,
                                      actor=audit.Actor("bench"), workers=workers)
                session.commit()
        finally:
            scores_service.totals_apply = apply
        timings[(path, workers)] = time.perf_counter() - started
        statuses = {}
        for row in report.scores:
            statuses[row.card] = statuses.get(row.card, 0) + 1
        with engine.connect() as conn:
            cards[(path, workers)] = conn.execute(text(
                "SELECT site_id, status, score, coverage, card, CAST(indicators AS text) FROM site_score "
                "ORDER BY site_id")).all()
        seconds = timings[(path, workers)]
        print(f"score_period, {path}, {workers} reading thread(s): {len(report.scores)} sites in {seconds:.1f} s "
              f"({seconds / max(len(report.scores), 1) * 1000:.0f} ms/site), "
              f"{len(report.failures)} failed, cards {statuses}", flush=True)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    first = next(iter(cards.values()))
    print(f"stored scores identical across the runs (status, score, coverage, card, indicators as text): "
          f"{all(found == first for found in cards.values())}")
    for (path, workers), seconds in timings.items():
        print(f"ratio scoring ({path}, {workers} thread(s)) / baseline: {seconds / bare_s:.2f} as one statement "
              f"(target ≤ 2), {seconds / batched_s:.2f} per batch")
    print(f"peak memory (max RSS of this process; the load and the baseline ran in children): "
          f"{rss_before / 1024:.0f} MB before scoring, {rss_after / 1024:.0f} MB after "
          f"(+{(rss_after - rss_before) / 1024:.0f} MB)", flush=True)
    engine.dispose()
    return min(seconds for (path, _w), seconds in timings.items() if path.startswith("totals")) / sites


if __name__ == "__main__":
    main()
