"""Benchmark: how many of the demo's revenue reports are judged implausible, and why; and what it costs.

Scenario: the demo network (``brandhub demo --no-serve`` into a temporary instance, or an
existing demo database given with --database-url): 6 partners, 24 sites, six months of
revenue reports, monthly scores (occupancy during open hours) and daily check-ins.
One partner (HZ01) reports last month's revenue 40 % down while its sites stay as busy.

Measured, in the same run:
  1. the verdicts on every report in force, by verdict, and each implausible report with its reasons;
  2. assessing all reports as one batch (``plausibility.assess_all``: a handful of set-based
     queries) against the baseline of assessing them one report at a time (the same
     service called per report), as a ratio.

Usage: .venv/bin/python bench/bench_plausibility.py [--database-url URL]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlmodel import Session, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brand_hub.billing import plausibility  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402
from brand_hub.models import Franchisee, Site  # noqa: E402
from brand_hub.models.trust import RevenueAssessment  # noqa: E402


def demo_database() -> str:
    instance = Path(tempfile.mkdtemp(prefix="bench-plausibility-"))
    started = time.perf_counter()
    subprocess.run([str(ROOT / ".venv" / "bin" / "brandhub"), "demo", "--no-serve"], check=True, cwd=ROOT,
                   env={**os.environ, "BRANDHUB_INSTANCE_PATH": str(instance)}, stdout=subprocess.DEVNULL)
    print(f"demo seeded in {time.perf_counter() - started:.0f} s ({instance})")
    return f"sqlite:///{instance / 'brandhub.sqlite'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url or demo_database()
    engine = make_engine(url)
    with Session(engine) as session:
        started = time.perf_counter()
        batch = plausibility.assess_all(session=session)
        batch_seconds = time.perf_counter() - started
        reports = plausibility.in_force(session=session,
                                         periods={a.period for a in session.exec(select(RevenueAssessment)).all()})
        started = time.perf_counter()
        for report in reports:
            plausibility.assess_reports(session=session, reports=[report])
        single_seconds = time.perf_counter() - started
        sites = {s.id: s for s in session.exec(select(Site)).all()}
        partners = dict(session.exec(select(Franchisee.id, Franchisee.code)).all())
        verdicts = Counter(a.verdict for a in batch.values())
        print(f"scenario: demo network, {len(sites)} sites, {len(batch)} reports in force assessed")
        print("verdicts: " + ", ".join(f"{verdict} {n}" for verdict, n in sorted(verdicts.items())))
        doubted = session.exec(select(RevenueAssessment).where(RevenueAssessment.verdict == "implausible")
                               .order_by(RevenueAssessment.period, RevenueAssessment.site_id)).all()
        in_force = {r.id for r in reports}
        print("implausible reports and why:")
        for a in doubted:
            if a.report_id not in in_force:
                continue
            site = sites[a.site_id]
            print(f"  {partners[site.franchisee_id]} {site.code:<10} {a.period}: {plausibility.summary_of(a)}")
        caught = {partners[sites[a.site_id].franchisee_id] for a in doubted if a.report_id in in_force}
        print(f"falling partner HZ01 caught: {'yes' if 'HZ01' in caught else 'NO'}")
        print(f"batch assessment: {batch_seconds * 1000:.0f} ms for {len(batch)} reports; "
              f"one at a time (baseline): {single_seconds * 1000:.0f} ms; "
              f"ratio baseline/batch {single_seconds / max(batch_seconds, 1e-9):.1f}×")
        session.rollback()
    engine.dispose()


if __name__ == "__main__":
    main()
