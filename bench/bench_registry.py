"""Registry benchmark: onboarding a large network from CSV, re-running it, searching and exporting.

Scenario: PARTNERS partners, each with one agreement, and SITES sites spread over them and over
twelve cities. The sites CSV goes in through ``registry.import_sites_csv`` in one unit of work
(as ``brandhub sites import`` does: every row checked, an audit event per created site), then
the same file again (nothing changes: every row compared, none written), then a slice of rows with
errors (reported by line). Then the HQ sites list query (filter + sort + one page of 25) and the
network export, on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_registry.py [--sites 10000] [--partners 200]
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from brand_hub import audit, migrate, registry  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CITIES = ("上海", "北京", "广州", "深圳", "成都", "杭州", "南京", "苏州", "武汉", "西安", "重庆", "厦门")
ACTOR = audit.Actor("bench")


def network_file(partners: int) -> str:
    lines = ["franchisees:"]
    for p in range(partners):
        lines += [f"  - code: P{p:04d}", f"    legal_name: 基准测试伙伴{p}企业管理有限公司"]
    lines.append("agreements:")
    for p in range(partners):
        lines += [f"  - number: AG-{p:04d}", f"    franchisee: P{p:04d}", "    start_date: 2025-01-01"]
    return "\n".join(lines) + "\n"


def sites_csv(sites: int, partners: int, bad_every: int = 0) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "name_zh", "franchisee", "agreement", "city", "region", "tier", "opening_hours",
                     "area_m2", "desks", "status"])
    for n in range(sites):
        p = n % partners
        desks = "many" if bad_every and n % bad_every == 0 else str(60 + n % 300)
        writer.writerow([f"S{n:06d}", f"方寸空间·基准{n}", f"P{p:04d}", f"AG-{p:04d}", CITIES[n % len(CITIES)],
                         ("east", "north", "south", "west")[n % 4], ("flagship", "standard", "lite")[n % 3],
                         "mon-fri 09:00-21:00; sat 10:00-18:00", f"{500 + n % 2000}.50", desks, "active"])
    return out.getvalue()


def timed(label: str, fn, results: dict):
    start = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - start
    return value


def run(url: str, sites: int, partners: int) -> dict[str, float]:
    migrate.upgrade(url)
    engine = make_engine(url)
    results: dict[str, float] = {}
    with Session(engine) as session:
        registry.import_network_yaml(session=session, actor=ACTOR, text=network_file(partners))
        session.commit()
    data = sites_csv(sites, partners)

    def import_all():
        with Session(engine) as session:
            result = registry.import_sites_csv(session=session, actor=ACTOR, text=data)
            session.commit()
        assert result.created == sites and not result.problems, result
    timed("import (create)", import_all, results)

    def import_again():
        with Session(engine) as session:
            result = registry.import_sites_csv(session=session, actor=ACTOR, text=data)
            session.commit()
        assert result.unchanged == sites, result
    timed("import again (unchanged)", import_again, results)

    bad = sites_csv(min(sites, 2000), partners, bad_every=10)

    def import_bad():
        with Session(engine) as session:
            result = registry.import_sites_csv(session=session, actor=ACTOR, text=bad)
            session.rollback()
        assert len(result.problems) == min(sites, 2000) // 10
    timed("2,000 rows, 10% bad (checked, rolled back)", import_bad, results)

    def search():
        with Session(engine) as session:
            for _ in range(20):
                page = registry.search_sites(session=session, query=registry.SiteQuery(
                    q="基准1", city="上海", status="active", sort="desks", direction="desc", per_page=25))
        assert page.items
    timed("sites list: 20 filtered+sorted pages", search, results)

    def export():
        with Session(engine) as session:
            return registry.network_yaml(registry.export_network(session=session))
    text_out = timed("network export", export, results)
    results["export size (MB)"] = len(text_out.encode()) / 1e6
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=200)
    args = parser.parse_args()
    print(f"scenario: {args.partners} partners, {args.sites} sites in one CSV; re-import; 2,000 rows with "
          f"10% bad; sites-list query; network export")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = run(f"sqlite:///{tmp}/bench.sqlite", args.sites, args.partners)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        pg = run(f"{PG_URL}?options=-csearch_path%3D{schema}", args.sites, args.partners)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    print(f"{'step':<45} {'SQLite':>10} {'PostgreSQL':>11}")
    for key in sqlite:
        unit = "" if "MB" in key else " s"
        print(f"{key:<45} {sqlite[key]:>8.2f}{unit} {pg[key]:>9.2f}{unit}")
    print(f"{'sites per second (create), SQLite / PostgreSQL':<45} {args.sites / sqlite['import (create)']:>10.0f} "
          f"{args.sites / pg['import (create)']:>11.0f}")


if __name__ == "__main__":
    main()
