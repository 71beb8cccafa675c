"""The renewal signal "revenue per desk against the tier's median": the database now returns only each tier's
middle sites and the sites asked for (issue 10, speed); the figures must be those of the former whole-network
read, to the last decimal, on SQLite and PostgreSQL."""
from __future__ import annotations

import random
import statistics
from datetime import date
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import select

from brand_hub import renewals
from brand_hub.models import Site
from brand_hub.models.billing import ReportStatus, RevenueReport
from tests.builders import make_agreement, make_franchisee, make_site

TODAY = date(2026, 12, 3)


def former_cohorts(session, today: date, minimum: int = 3) -> renewals.Cohorts:
    """The implementation before issue 10's speed work, kept verbatim as the reference."""
    since = f"{today.year - 1:04d}-{today.month:02d}"
    newest = (select(RevenueReport.site_id, RevenueReport.period, func.max(RevenueReport.version).label("v"))
              .where(RevenueReport.period >= since).group_by(RevenueReport.site_id, RevenueReport.period).subquery())
    rows = session.exec(select(Site.id, Site.tier, Site.desks, func.sum(RevenueReport.gross_revenue)).join(
        newest, (RevenueReport.site_id == newest.c.site_id) & (RevenueReport.period == newest.c.period)
        & (RevenueReport.version == newest.c.v)).join(Site, Site.id == RevenueReport.site_id)
        .where(RevenueReport.status != ReportStatus.estimated, Site.desks > 0)
        .group_by(Site.id, Site.tier, Site.desks)).all()
    per_desk = {site_id: Decimal(total or 0) / desks for site_id, _tier, desks, total in rows}
    by_tier: dict[str, list[Decimal]] = {}
    for site_id, tier, _desks, _total in rows:
        by_tier.setdefault(tier, []).append(per_desk[site_id])
    return renewals.Cohorts(per_desk, {t: statistics.median(v) for t, v in by_tier.items() if len(v) >= minimum})


def network(session) -> list[Site]:
    """Tiers of odd and even size, one below the minimum, ties, sites without desks, corrected and estimated
    months, months before the trailing year, and a site that never reported."""
    rng = random.Random(10)
    partner = make_franchisee(session)
    agreement = make_agreement(session, partner)
    sizes = {"flagship": 7, "standard": 8, "lite": 2, "pop-up": 4}
    sites = []
    for tier, size in sizes.items():
        for n in range(size):
            sites.append(make_site(session, partner, agreement, tier=tier, desks=0 if n == 5 else rng.choice(
                [7, 60, 60, 120, 333])))
    for site in sites[:-1]:
        for month in ("2025-11", "2025-12", "2026-03", "2026-07", "2026-11"):
            amount = Decimal(rng.randrange(1_000_000, 90_000_000)) / 100
            if site.id % 4 == 0:
                amount = Decimal("123456.78")   # ties: the same total on sites of the same desks
            session.add(RevenueReport(site_id=site.id, period=month, version=1, gross_revenue=amount,
                                      status=ReportStatus.estimated if rng.random() < 0.1 else ReportStatus.reported))
            if rng.random() < 0.3:   # a corrected month: the newest version counts
                session.add(RevenueReport(site_id=site.id, period=month, version=2,
                                          gross_revenue=amount + Decimal("0.01") * rng.randrange(1, 9999),
                                          status=ReportStatus.corrected))
    session.commit()
    return sites


def test_cohorts_for_some_sites_equal_the_whole_network_read_to_the_last_decimal(session):
    sites = network(session)
    former = former_cohorts(session, TODAY)
    assert set(former.medians) == {"flagship", "standard", "pop-up"} and len(former.per_desk) > 10
    whole = renewals.cohorts(session=session, today=TODAY)
    assert whole == former
    for chosen in ([sites[0].id, sites[9].id, sites[16].id], [s.id for s in sites if s.tier == "standard"], []):
        some = renewals.cohorts(session=session, today=TODAY, site_ids=chosen)
        assert some.medians == former.medians
        assert some.per_desk == {k: v for k, v in former.per_desk.items() if k in chosen}
        assert all(str(some.per_desk[k]) == str(former.per_desk[k]) for k in some.per_desk)
    by_subquery = renewals.cohorts(session=session, today=TODAY, site_ids=select(Site.id).where(Site.tier == "lite"))
    assert by_subquery.per_desk == {k: v for k, v in former.per_desk.items()
                                    if k in {s.id for s in sites if s.tier == "lite"}}
    assert {t: str(m) for t, m in by_subquery.medians.items()} == {t: str(m) for t, m in former.medians.items()}


def test_the_kept_medians_follow_a_new_report_and_a_changed_site(session):
    sites = network(session)
    before = renewals.cohorts(session=session, today=TODAY)
    assert before == former_cohorts(session, TODAY)
    flagship = [s for s in sites if s.tier == "flagship" and s.desks]
    for site in flagship[:4]:   # most of the tier leaps: its median moves
        session.add(RevenueReport(site_id=site.id, period="2026-11", version=9, gross_revenue=Decimal("99999999.99"),
                                  status=ReportStatus.corrected))
    session.commit()
    after_report = renewals.cohorts(session=session, today=TODAY)
    assert after_report == former_cohorts(session, TODAY) and after_report.medians != before.medians
    from brand_hub.models.registry import utcnow

    flagship[1].tier, flagship[1].updated_at = "standard", utcnow()   # what the registry's saving stamps
    session.commit()
    after_site = renewals.cohorts(session=session, today=TODAY)
    assert after_site == former_cohorts(session, TODAY) and after_site.medians != after_report.medians
