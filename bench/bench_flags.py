"""Compliance benchmark: evaluate every rule for a network, re-evaluate, and send the queued mail.

Scenario: SITES active sites of PARTNERS partners, each with a month of 15-minute buckets
for CO2, temperature, humidity and illuminance in one zone (30 × 96 × 4 buckets a site,
COPYed in on PostgreSQL), NPS answers, a collection target (every tenth agent down for three
days), the shipped brand standards published (their machine-checkable rules), and quarterly
cards (every fifteenth site red twice). The standards' metric rules are aggregated in the
database for every site of a batch at once. With ``--memory`` two fresh processes each
evaluate once and roll back, one in batches of partners (as the product does) and one with
every site at once, for their peak memory. Then the hub evaluates once (flags open), again at
the same moment (nothing may change), and sends the queued mail through a real SMTP server on
loopback. Several sizes (``--sites 100,1000``) each get their own schema, and the time per
site of each size is printed against the smallest's.

Seeding 1,000 sites takes minutes: ``--seed-only`` seeds each size in a schema it keeps and
prints its name; ``--schema A,B`` (one per size, PostgreSQL) evaluates on those schemas instead of
seeding, after emptying what an evaluation writes (flags, events, mails, runs), so one seed serves
several runs (the baseline and the change). ``--keep`` keeps the schemas a run seeded. Drop them
at the end (``DROP SCHEMA … CASCADE``).

    .venv/bin/python bench/bench_flags.py [--sites 100,1000] [--postgres] [--memory]
        [--seed-only | --schema bench_x,bench_y] [--keep]
"""
from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import socket
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import func, insert, text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from brand_hub import migrate  # noqa: E402
from brand_hub.collection import partitions  # noqa: E402
from brand_hub.compliance import jobs  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402
from brand_hub.models import Franchisee, Site, SiteStatus  # noqa: E402
from brand_hub.models.collection import CollectionTarget, NpsResponse, ReadingBucket  # noqa: E402
from brand_hub.models.compliance import Flag, FlagEvent, OutboxMessage  # noqa: E402
from brand_hub.models.scoring import SiteScore  # noqa: E402
from brand_hub.models.standards import Standard  # noqa: E402
from brand_hub.settings import Settings  # noqa: E402
from standards.standard_format import load_folder  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
HOURS = {d: [["09:00", "21:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")} | {"sun": []}
METRICS = {"co2_ppm": (650, 250), "temperature_c": (24, 1.5), "humidity_pct": (50, 10), "illuminance_lux": (480, 80)}


def seed(engine, sites: int) -> None:
    rng = random.Random(7)
    with Session(engine) as session:
        _month_partitions(session)
        for spec in load_folder():
            session.add(Standard(key=spec.key, version=spec.version, category=spec.content["category"],
                                 title_zh=spec.content["title"]["zh"], title_en=spec.content["title"]["en"],
                                 content=spec.content, content_hash="sha256:bench", published_at=NOW))
        partners = [Franchisee(code=f"BP{n:03d}", legal_name=f"基准伙伴{n}", contact_email=f"p{n}@bench.cn")
                    for n in range(max(1, sites // 5))]
        session.add_all(partners)
        session.flush()
        rows = []
        for n in range(sites):
            site = Site(code=f"BS-{n:04d}", name_zh=f"基准门店{n}", franchisee_id=partners[n % len(partners)].id,
                        city="上海", region="east", status=SiteStatus.active, opening_hours=HOURS,
                        agent_url="http://127.0.0.1:1/")
            session.add(site)
            session.flush()
            down = n % 10 == 0
            session.add(CollectionTarget(site_id=site.id, last_attempt_at=NOW,
                                         last_success_at=NOW - timedelta(hours=75 if down else 0),
                                         newest_record_at=NOW - timedelta(hours=75 if down else 0)))
            bias = rng.uniform(-0.2, 0.6)
            for metric, (mean, spread) in METRICS.items():
                for b in range(30 * 96):
                    value = rng.gauss(mean * (1 + bias * (metric == "co2_ppm")), spread)
                    rows.append({"site_id": site.id, "zone": "open-area", "metric": metric, "bucket_minutes": 15,
                                 "bucket_start": NOW - timedelta(minutes=15 * (b + 1)), "count": 15,
                                 "mean": value, "min": value, "max": value})
            for a in range(20):
                session.add(NpsResponse(site_id=site.id, record_id=f"n{a}", score=rng.randint(3, 10),
                                        answered_at=NOW - timedelta(days=rng.uniform(0, 80))))
            for q in ("2026-Q2", "2026-Q3"):
                red = n % 15 == 0
                session.add(SiteScore(site_id=site.id, period=q, model_id="brand-health", model_version=1,
                                      status="scored", score=40.0 if red else 80.0, card="red" if red else "green",
                                      coverage=0.9))
            if len(rows) > 50_000:
                _write_buckets(session, rows)
                rows = []
        if rows:
            _write_buckets(session, rows)
        session.commit()


def _month_partitions(session: Session) -> None:
    """The monthly partitions of the seeded month (PostgreSQL), as the scheduler's job keeps them in
    production; rows already waiting in the DEFAULT (a schema seeded before) are moved into them.
    Without them every reading lands in the DEFAULT partition and each batch's query scans all of it."""
    if session.get_bind().dialect.name == "postgresql":
        partitions.ensure_partitions(session=session, now=NOW - timedelta(days=31), ahead=1)


def _write_buckets(session: Session, rows: list[dict]) -> None:
    """COPY on PostgreSQL (seeding a 1,000-site month in a minute or two), a plain INSERT on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(ReadingBucket), rows)
        return
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy("COPY reading_bucket (site_id, zone, metric, bucket_start, bucket_minutes, count, mean, min, "
                     "max) FROM STDIN") as copy:
        for r in rows:
            copy.write_row((r["site_id"], r["zone"], r["metric"], r["bucket_start"], r["bucket_minutes"],
                            r["count"], r["mean"], r["min"], r["max"]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        return "250 OK"


def counts(engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return tuple(session.exec(select(func.count()).select_from(m)).one()  # type: ignore[return-value]
                     for m in (Flag, FlagEvent, OutboxMessage))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", default="200", help="one size or several, e.g. 100,1000")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory in fresh processes")
    parser.add_argument("--seed-only", action="store_true", help="seed each size in a kept schema and stop")
    parser.add_argument("--schema", default="", help="already seeded schemas, one per size (PostgreSQL)")
    parser.add_argument("--keep", action="store_true", help="keep the schemas this run seeds")
    args = parser.parse_args()
    sizes = [int(n) for n in str(args.sites).split(",")]
    schemas = [s for s in args.schema.split(",") if s] or [None] * len(sizes)
    if len(schemas) != len(sizes) or (args.schema and not args.postgres):
        parser.error("--schema needs --postgres and one schema per size")
    per_site = {}
    for sites, schema in zip(sizes, schemas):
        per_site[sites] = run_size(sites, args.postgres, args.memory, schema=schema, seed_only=args.seed_only,
                                   keep=args.keep or args.seed_only)
    if args.seed_only:
        return
    smallest = sizes[0]
    for sites in sizes[1:]:
        first, again = per_site[sites]
        print(f"time per site, {sites} vs {smallest} sites: first evaluation {first / per_site[smallest][0]:.2f}×, "
              f"re-evaluation {again / per_site[smallest][1]:.2f}× (target: flat within 1.5×)")


def run_size(sites: int, postgres: bool, memory_runs: bool, *, schema: str | None = None, seed_only: bool = False,
             keep: bool = False) -> tuple[float, float]:
    """Seed one network of ``sites`` in its own schema (or file), evaluate, re-evaluate, send the mail.

    With ``schema`` the network seeded earlier in it is reused (what evaluations wrote is emptied first).
    """
    tmp = Path(tempfile.mkdtemp())
    reused = schema is not None
    if postgres:
        admin = make_engine(PG_URL)
        if not reused:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    else:
        url = f"sqlite:///{tmp / 'bench.sqlite'}"
    try:
        engine = make_engine(url)
        started = time.perf_counter()
        if reused:
            with engine.begin() as conn:  # what an evaluation writes, so the first evaluation is a first again
                conn.execute(text("TRUNCATE flag_event, outbox_message, flag, flag_evaluation_run CASCADE"))
                conn.execute(text("DELETE FROM audit_event WHERE action = 'partner.termination_review'"))
            with Session(engine) as session:
                _month_partitions(session)
                session.commit()
        else:
            migrate.upgrade(url)
            seed(engine, sites)
        if postgres:
            with engine.begin() as conn:
                conn.execute(text("ANALYZE reading_bucket, site, collection_target, nps_response, site_score, standard"))
        seeded = time.perf_counter() - started
        if seed_only:
            print(f"seeded {sites} sites in schema {schema} ({seeded:.0f} s)", flush=True)
            engine.dispose()
            return 0.0, 0.0
        port = free_port()
        settings = Settings(env="testing", database_url=url, instance_path=tmp, smtp_host="127.0.0.1",
                            smtp_port=port, mail_from="flags@bench.cn")
        # memory of one whole evaluation, in batches of partners and all at once, each in a fresh
        # process and rolled back, so both do the same work on the same data
        ctx = multiprocessing.get_context("spawn")
        memory = {}
        for label, chunk in (("batched (about 50 sites at a time)", None), ("all sites at once", 10**9)):
            if not memory_runs:
                break
            queue = ctx.Queue()
            child = ctx.Process(target=_measure_in_child, args=(url, chunk, queue))
            child.start()
            memory[label] = queue.get()
            child.join()
        started = time.perf_counter()
        first = jobs.evaluate_flags(settings=settings, now=NOW, engine=engine)
        first_s = time.perf_counter() - started
        after_first = counts(engine)
        started = time.perf_counter()
        second = jobs.evaluate_flags(settings=settings, now=NOW, engine=engine)
        second_s = time.perf_counter() - started
        after_second = counts(engine)
        sink = Sink()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            started = time.perf_counter()
            sent = 0
            while True:
                report = jobs.send_outbox(settings=settings, now=NOW, engine=engine, batch=200)
                sent += report.sent
                if not report.sent and not report.failed:
                    break
            send_s = time.perf_counter() - started
        finally:
            controller.stop()
        engine.dispose()
        print(f"scenario: {sites} sites, {max(1, sites // 5)} partners, "
              f"{sites * 30 * 96 * len(METRICS):,} reading buckets (30 days × 4 metrics), shipped standards, "
              f"{'PostgreSQL' if postgres else 'SQLite'}; "
              f"{'emptying the reused schema' if reused else 'seeding'} took {seeded:.1f} s")
        print(f"first evaluation:  {first_s:6.2f} s  ({first_s / sites * 1000:.1f} ms/site), "
              f"{first.observations} observations, {first.opened} opened, {len(first.errors)} errors")
        print(f"re-evaluation:     {second_s:6.2f} s  ({second_s / sites * 1000:.1f} ms/site), "
              f"{second.opened} opened, flags/events/mails before {after_first} after {after_second}")
        if memory:
            (batched_mb, batched_s), (whole_mb, whole_s) = memory.values()
            for label, (mb, secs) in memory.items():
                print(f"one evaluation, {label}: peak RSS {mb:.0f} MB, {secs:.1f} s (fresh process, rolled back)")
            print(f"memory ratio batched / all at once: {batched_mb / whole_mb:.2f}; "
                  f"time ratio {batched_s / whole_s:.2f}")
        print(f"mail: {sent} messages sent through SMTP on loopback in {send_s:.2f} s "
              f"({sent / send_s if send_s else 0:.0f}/s); server received {sink.count}", flush=True)
        return first_s / sites, second_s / sites
    finally:
        if schema and keep:
            print(f"schema {schema} kept", flush=True)
        if schema and not keep and not reused:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def _measure_in_child(url: str, chunk: int | None, out) -> None:
    """Evaluate once in this fresh process (rolled back) and report its peak RSS in MB and the time."""
    from brand_hub import compliance
    from brand_hub.compliance import engine as flags_engine

    if chunk is not None:
        flags_engine.CHUNK_SITES = chunk
    engine = make_engine(url)
    settings = Settings(env="testing", database_url=url, instance_path=Path(tempfile.gettempdir()))
    started = time.perf_counter()
    with Session(engine) as session:
        compliance.evaluate(session=session, settings=settings, now=NOW)
        session.rollback()
    seconds = time.perf_counter() - started
    engine.dispose()
    out.put((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, seconds))


if __name__ == "__main__":
    main()
