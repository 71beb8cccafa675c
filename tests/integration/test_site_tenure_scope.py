"""The portal's scoping over time (issue 17), straight against the database: a site held, lost, taken back."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlmodel import select

from brand_hub import audit, tenure
from brand_hub.models.billing import RevenueReport
from brand_hub.models.collection import ReadingBucket
from brand_hub.models.scoring import SiteScore
from franchisee_portal.scope import scope_to
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

NOW = datetime(2026, 12, 3, 4, tzinfo=timezone.utc)


def test_a_partner_that_took_a_site_back_sees_both_of_its_spans_and_not_the_time_between(session):
    a, b = make_franchisee(session, code="TA01"), make_franchisee(session, code="TB01")
    fc_a, fc_b = make_agreement(session, a), make_agreement(session, b)
    site = make_site(session, a, fc_a, opened_on=date(2025, 1, 1))
    tenure.move_site(session=session, site=site, franchisee=b, agreement=fc_b, effective_on=date(2026, 5, 1),
                     actor=audit.SYSTEM, now=NOW)
    tenure.move_site(session=session, site=site, franchisee=a, agreement=fc_a, effective_on=date(2026, 9, 1),
                     actor=audit.SYSTEM, now=NOW)
    for month in ("2026-03", "2026-06", "2026-10"):
        make_revenue_report(session, site, month, "100")
        session.add(ReadingBucket(site_id=site.id, zone="z", metric="co2_ppm", count=1, mean=1, min=1, max=1,
                                  bucket_start=datetime(int(month[:4]), int(month[5:]), 15, tzinfo=timezone.utc)))
    for period in ("2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"):
        session.add(SiteScore(site_id=site.id, period=period, model_id="m", model_version=1, status="scored"))
    session.commit()

    def seen(model, partner, column):
        return sorted(str(getattr(row, column))[:7] for row in session.exec(scope_to(select(model), model, partner.id)))

    assert seen(RevenueReport, a, "period") == ["2026-03", "2026-10"]
    assert seen(RevenueReport, b, "period") == ["2026-06"]
    assert seen(ReadingBucket, a, "bucket_start") == ["2026-03", "2026-10"]
    assert seen(ReadingBucket, b, "bucket_start") == ["2026-06"]
    # quarters by their last day: Q2 (30 June) is B's, Q3 (30 September) is A's again
    assert seen(SiteScore, a, "period") == ["2026-Q1", "2026-Q3", "2026-Q4"]
    assert seen(SiteScore, b, "period") == ["2026-Q2"]
    holding = tenure.holding(session=session, site=site, franchisee_id=a.id)
    assert holding.holds_now and len(holding.tenures) == 2
    assert not holding.owns_instant(datetime(2026, 6, 15, tzinfo=timezone.utc))
