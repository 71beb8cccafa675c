"""Benchmark: the fee-schedule simulator against plain billing computes of the same months.

Scenario: a fresh database (SQLite file by default, or BRANDHUB_BENCH_DATABASE_URL) with
1,000 partners, one agreement and three sites each, every site reporting revenue for
the twelve months 2025-11 … 2026-10 (one site-month in ten missing). Measured in the
same run:
  1. baseline: ``runs.compute`` (the billing calculation, reads only) once per month, 12 months;
  2. ``simulate.simulate`` over the same 12 months under today's plans and two drafts.
Target: simulation ≤ 1.5× the baseline and under 10 s.

Usage: .venv/bin/python bench/bench_simulate.py [--agreements 1000]
"""
from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session

from brand_hub import migrate
from brand_hub.billing import plans, runs, simulate
from brand_hub.db import make_engine
from brand_hub.models import Agreement, Franchisee, Site, SiteStatus
from brand_hub.models.billing import RevenueReport
from standards.royalty_plan import LIBRARY, load_plan_text

MONTHS = [f"2025-{m:02d}" for m in (11, 12)] + [f"2026-{m:02d}" for m in range(1, 11)]


def build(session: Session, agreements: int) -> None:
    rng = random.Random(11)
    for n in range(agreements):
        partner = Franchisee(code=f"S{n:05d}", legal_name=f"上海第{n}号方寸企业管理有限公司")
        session.add(partner)
        session.flush()
        agreement = Agreement(number=f"FC-S-{n:05d}", franchisee_id=partner.id, start_date=date(2025, 1, 1),
                              royalty_plan_id="standard-2026" if n % 4 else "lite-2026")
        session.add(agreement)
        session.flush()
        for s in range(3):
            site = Site(code=f"S{n:05d}-{s}", name_zh=f"方寸空间·第{n}-{s}店", franchisee_id=partner.id,
                        agreement_id=agreement.id, city="上海", desks=rng.randint(60, 400), status=SiteStatus.active)
            session.add(site)
            session.flush()
            for period in MONTHS:
                if rng.random() < 0.1:
                    continue
                session.add(RevenueReport(site_id=site.id, period=period, franchisee_id=site.franchisee_id,
                                          gross_revenue=Decimal(rng.randint(150_000, 1_400_000))))
        if n % 100 == 99:
            session.commit()
    session.commit()


def drafts() -> list[simulate.Scenario]:
    standard = (LIBRARY / "standard-2026.yaml").read_text(encoding="utf-8").replace("version: 1", "version: 2")
    higher = standard.replace('rate: "0.08"', 'rate: "0.09"').replace('rate: "0.10"', 'rate: "0.11"')
    flat = (LIBRARY / "lite-2026.yaml").read_text(encoding="utf-8").replace("version: 1", "version: 2") \
        .replace('"0.06"}', '"0.07"}').replace('"8000"', '"12000"')
    return [simulate.Scenario("standard+1pt", load_plan_text(higher, "a.yaml")),
            simulate.Scenario("lite-7pc", load_plan_text(flat, "b.yaml"))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BRANDHUB_BENCH_DATABASE_URL") or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        current = plans()
        with Session(engine, expire_on_commit=False) as session:
            started = time.perf_counter()
            build(session, args.agreements)
            print(f"scenario: {args.agreements} agreements × 3 sites × {len(MONTHS)} months on "
                  f"{engine.dialect.name}; built in {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            lines = 0
            for period in MONTHS:
                lines += sum(len(d.lines) for d in runs.compute(session=session, period=period, plans=current,
                                                                today=date(2026, 11, 5)))
            baseline = time.perf_counter() - started
            print(f"baseline: billing compute of {len(MONTHS)} months, {lines:,} lines: {baseline:.2f} s")
            started = time.perf_counter()
            result = simulate.simulate(session=session, plans=current, drafts=drafts(), periods=MONTHS)
            took = time.perf_counter() - started
            print(f"simulate: {len(result.sites):,} sites, today's plans and 2 drafts: {took:.2f} s")
            print(f"ratio simulate / baseline: {took / baseline:.2f} (target ≤ 1.5; under 10 s: {took < 10})")
            for name in result.scenarios[1:]:
                print(f"  {name}: total {result.total.amounts[name]:,.2f} against "
                      f"{result.total.amounts['current']:,.2f} CNY ({result.total.change(name) * 100:+.2f} %), "
                      f"{len(result.risers(name, Decimal('0.10')))} partners up > 10 %")
        engine.dispose()


if __name__ == "__main__":
    main()
