"""Distribution benchmark: publish standards and site configs to a large network, and read the overview.

Scenario: SITES active sites (regions east/north/south/west, tiers flagship/standard/lite,
in turn) in a fresh database (PostgreSQL in its own schema by default, or SQLite with
--sqlite). Timed: computing every site's effective config from the shipped layers (pure);
publishing the shipped standards (11 standards, one acknowledgement due per applicable
site); publishing configs the first time (a version per site); publishing again with no
change (must create nothing); changing one region's price and publishing (only that
region's sites get a version); recording one delivery per site as the collector does;
and building the HQ configs overview.

    .venv/bin/python bench/bench_distribution.py [--sites 5000] [--sqlite]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from brand_hub import distribution, migrate  # noqa: E402
from brand_hub.audit import Actor  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402
from brand_hub.models import Franchisee, Site, SiteStatus  # noqa: E402
from brand_hub.models.standards import SiteConfigVersion  # noqa: E402
from standards import site_config, standard_format  # noqa: E402

PG_URL = os.environ.get("BRANDHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REGIONS = ("east", "north", "south", "west")
TIERS = ("flagship", "standard", "lite")
ACTOR = Actor("bench")


@contextmanager
def timed(label: str, results: list):
    started = time.perf_counter()
    yield
    results.append((label, time.perf_counter() - started))


@contextmanager
def database(use_sqlite: bool):
    if use_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.sqlite"
            migrate.upgrade(url)
            yield url, "SQLite"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        migrate.upgrade(url)
        yield url, "PostgreSQL"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def seed(session: Session, sites: int) -> None:
    partner = Franchisee(code="BENCH", legal_name="基准测试伙伴有限公司")
    session.add(partner)
    session.flush()
    for n in range(sites):
        session.add(Site(code=f"B{n:05d}", name_zh=f"基准门店{n}", franchisee_id=partner.id, city="上海",
                         region=REGIONS[n % 4], tier=TIERS[n % 3], status=SiteStatus.active, area_m2=Decimal("900"),
                         desks=120, agent_url=f"http://127.0.0.1:9/sites/B{n:05d}"))
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=5000)
    parser.add_argument("--sqlite", action="store_true", help="use a SQLite file instead of PostgreSQL")
    args = parser.parse_args()
    results: list[tuple[str, float]] = []
    layers = site_config.load_folder()
    specs = standard_format.load_folder()
    with database(args.sqlite) as (url, engine_name):
        engine = make_engine(url)
        with Session(engine) as session:
            seed(session, args.sites)
            sites = list(session.exec(select(Site)))
        with timed("effective config of every site (pure merge + flags)", results):
            for site in sites:
                site_config.effective_config(layers, code=site.code, region=site.region, tier=site.tier)
        now = datetime.now(timezone.utc)
        with Session(engine) as session, timed("standards publish (11 standards, acknowledgements)", results):
            published = distribution.publish_standards(session=session, specs=specs, actor=ACTOR, now=now)
            session.commit()
        with Session(engine) as session, timed("config publish, first (a version per site)", results):
            first = distribution.publish_configs(session=session, layers=layers, actor=ACTOR, now=now)
            session.commit()
        with Session(engine) as session, timed("config publish, unchanged (no-op)", results):
            again = distribution.publish_configs(session=session, layers=layers, actor=ACTOR, now=now)
            session.commit()
        layers.regions["west"].data["plans"]["day_pass"]["price"] = "99.00"
        with Session(engine) as session, timed("config publish, one region changed", results):
            changed = distribution.publish_configs(session=session, layers=layers, actor=ACTOR, now=now)
            session.commit()
        with timed("record one delivery per site (collector's call, own transaction)", results):
            for site in sites:
                with Session(engine) as session:
                    desired = distribution.desired_config(session=session, site_id=site.id)
                    distribution.record_delivery(session=session, site_id=site.id, applied_hash=desired.hash,
                                                 at=now)
                    session.commit()
        with Session(engine) as session, timed("HQ configs overview rows", results):
            rows = distribution.config_rows(session=session, now=now, grace_minutes=60)
        with Session(engine) as session:
            versions = session.exec(select(func.count()).select_from(SiteConfigVersion)).one()
        engine.dispose()
    print(f"scenario: {args.sites} active sites on {engine_name}; {len(specs)} standards; shipped config layers")
    print(f"  standards: {len(published.published)} published, {published.acknowledgements} acknowledgements due")
    print(f"  configs: {sum(o.created for o in first)} first versions, {sum(o.created for o in again)} on re-publish, "
          f"{sum(o.created for o in changed)} after the west price change; {versions} versions stored; "
          f"{len(rows)} overview rows")
    for label, seconds in results:
        per_site = seconds / args.sites * 1000
        print(f"  {label:<55} {seconds:8.2f} s   {per_site:7.3f} ms/site")


if __name__ == "__main__":
    main()
