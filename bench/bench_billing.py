"""Benchmark: a billing run for 1,000 agreements (3 sites each), then invoice PDF throughput.

Scenario: a fresh database (SQLite file by default, or BRANDHUB_BENCH_DATABASE_URL)
with 1,000 partners, one agreement and three sites each, every site reporting
October revenue (one site in ten missing, so estimated). Measured:
  1. computing the drafts (``runs.compute``) and writing them (``runs.write_drafts``);
  2. issuing them (gap-free numbering);
  3. PDF throughput for a sample of the issued invoices through ``pdf.render_many``
     (a process pool over all cores), against bare WeasyPrint rendering the very
     same HTML strings in a process pool of the same size, in the same run.

Usage: .venv/bin/python bench/bench_billing.py [--agreements 1000] [--pdfs 120]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session, select

from brand_hub import migrate
from brand_hub.audit import Actor
from brand_hub.billing import invoices, pdf, plans, runs
from brand_hub.db import make_engine
from brand_hub.models import Agreement, Franchisee, Site, SiteStatus
from brand_hub.models.billing import Invoice, RevenueReport

PERIOD = "2026-10"
ACTOR = Actor("bench")


def build(session: Session, agreements: int) -> None:
    rng = random.Random(7)
    for n in range(agreements):
        partner = Franchisee(code=f"B{n:05d}", legal_name=f"上海第{n}号方寸企业管理有限公司", name_en=f"Bench {n}")
        session.add(partner)
        session.flush()
        agreement = Agreement(number=f"FC-B-{n:05d}", franchisee_id=partner.id, start_date=date(2025, 1, 1),
                              royalty_plan_id="standard-2026" if n % 4 else "lite-2026")
        session.add(agreement)
        session.flush()
        for s in range(3):
            site = Site(code=f"B{n:05d}-{s}", name_zh=f"方寸空间·第{n}-{s}店", name_en=f"Bench {n}-{s}",
                        franchisee_id=partner.id, agreement_id=agreement.id, city="上海", desks=rng.randint(60, 400),
                        status=SiteStatus.active)
            session.add(site)
            session.flush()
            for period in ("2026-07", "2026-08", "2026-09", PERIOD):
                if period == PERIOD and rng.random() < 0.1:
                    continue
                session.add(RevenueReport(site_id=site.id, period=period, franchisee_id=site.franchisee_id,
                                          gross_revenue=Decimal(rng.randint(150_000, 1_400_000)) / 1))
    session.commit()


def bare_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=str(pdf.TEMPLATES)).write_pdf()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agreements", type=int, default=1000)
    parser.add_argument("--pdfs", type=int, default=120)
    args = parser.parse_args()
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("BRANDHUB_BENCH_DATABASE_URL") or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        with Session(engine, expire_on_commit=False) as session:
            started = time.perf_counter()
            build(session, args.agreements)
            print(f"scenario: {args.agreements} agreements × 3 sites, {url.split(':')[0]}, {workers} cores; "
                  f"data built in {time.perf_counter() - started:.1f} s")
            loaded = plans()
            started = time.perf_counter()
            drafts = runs.compute(session=session, period=PERIOD, plans=loaded, today=date(2026, 11, 5))
            computed = time.perf_counter() - started
            run = runs.write_drafts(session=session, period=PERIOD, drafts=drafts, actor=ACTOR)
            session.commit()
            written = time.perf_counter() - started
            lines = sum(len(d.lines) for d in drafts)
            print(f"billing run: compute {computed:.2f} s, compute + write drafts {written:.2f} s "
                  f"({run.drafts} invoices, {lines} lines, {run.drafts / written:.0f} invoices/s)")
            started = time.perf_counter()
            issued = invoices.issue_period(session=session, period=PERIOD, actor=ACTOR, due_days=15,
                                           now=datetime(2026, 11, 5, tzinfo=timezone.utc))
            session.commit()
            print(f"issue: {len(issued)} invoices numbered in {time.perf_counter() - started:.2f} s")
            sample = session.exec(select(Invoice).order_by(Invoice.id).limit(args.pdfs)).all()
            htmls = [pdf.render_html(pdf.document_context(session=session, invoice=i, brand_name="方寸空间"))
                     for i in sample]
        engine.dispose()
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:  # warm both pools' imports
        list(pool.map(bare_pdf, htmls[:workers]))
    started = time.perf_counter()
    ours = pdf.render_many(htmls, workers)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        bare = list(pool.map(bare_pdf, htmls, chunksize=max(1, len(htmls) // (workers * 4))))
    bare_s = time.perf_counter() - started
    assert len(ours) == len(bare) == len(htmls)
    print(f"PDF: ours {len(htmls) / ours_s:.1f} invoices/s ({ours_s:.1f} s for {len(htmls)}), "
          f"bare WeasyPrint pool {len(htmls) / bare_s:.1f} invoices/s ({bare_s:.1f} s); "
          f"ratio ours/bare time {ours_s / bare_s:.2f}")


if __name__ == "__main__":
    main()
