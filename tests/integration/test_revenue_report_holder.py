"""Each revenue report carries the partner that held its site in its month (``RevenueReport.franchisee_id``):
written with the report (a partner's submission, an import, a billing run's estimate), rewritten when the site
moves (a move dated back, a first holder corrected), and filled by migration 0024 for the reports already
stored. HQ's revenue-reports page groups by it instead of finding each report's holder through the tenures on
every request (issue 10), so what is stored must always be what the tenures say."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from brand_hub import migrate, tenure
from brand_hub.audit import SYSTEM
from brand_hub.billing import pages, revenue, runs
from brand_hub.db import make_engine
from brand_hub.models import Franchisee, Site
from brand_hub.models.billing import ReportSource, ReportStatus, RevenueReport
from standards.royalty_plan import load_library
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, move_site_by_import

MONTHS = [f"2026-{m:02d}" for m in range(1, 12)]   # 2026-01 .. 2026-11
TODAY = date(2026, 12, 20)


def _stored_holders(session: Session, site: Site) -> dict[str, str]:
    """month -> the code of the partner stored on every version of the site's report for that month."""
    rows = session.exec(select(RevenueReport.period, Franchisee.code)
                        .join(Franchisee, Franchisee.id == RevenueReport.franchisee_id, isouter=True)
                        .where(RevenueReport.site_id == site.id)).all()
    found: dict[str, set] = {}
    for period, code in rows:
        found.setdefault(period, set()).add(code)
    assert all(len(codes) == 1 for codes in found.values()), found
    return {period: codes.pop() for period, codes in found.items()}


def _two_partners(session):
    a, b = make_franchisee(session, code="HA01"), make_franchisee(session, code="HB01")
    fc_a, fc_b = make_agreement(session, a, number="FC-HA"), make_agreement(session, b, number="FC-HB")
    return a, b, fc_a, fc_b


def test_a_report_written_after_a_move_is_stored_with_the_partner_that_held_its_month(session):
    a, b, fc_a, fc_b = _two_partners(session)
    site = make_site(session, a, fc_a, code="HM1", opened_on=date(2025, 1, 1))
    session.commit()
    move_site_by_import(session, site, b, fc_b, date(2026, 7, 16))   # July on is HB01's
    for period in ("2026-05", "2026-06", "2026-07", "2026-08"):
        revenue.submit_report(session=session, site=site, period=period, gross_revenue=revenue.Decimal("1000.00"),
                              source=ReportSource.portal, submitted_by="t", today=TODAY)
    revenue.submit_report(session=session, site=site, period="2026-06", gross_revenue=revenue.Decimal("1200.00"),
                          source=ReportSource.portal, submitted_by="t", today=TODAY)   # a correction: version 2
    session.commit()
    assert _stored_holders(session, site) == {"2026-05": "HA01", "2026-06": "HA01", "2026-07": "HB01",
                                              "2026-08": "HB01"}


def test_a_move_dated_back_hands_the_months_it_covers_to_the_new_partner_and_the_page_follows(session):
    a, b, fc_a, fc_b = _two_partners(session)
    site = make_site(session, a, fc_a, code="HM2", opened_on=date(2025, 1, 1))
    stays = make_site(session, a, fc_a, code="HS2", opened_on=date(2025, 1, 1))
    for period in MONTHS:
        make_revenue_report(session, site, period, "100.00")
        make_revenue_report(session, stays, period, "100.00")
    session.commit()
    assert set(_stored_holders(session, site).values()) == {"HA01"}
    move_site_by_import(session, site, b, fc_b, date(2026, 7, 16))
    want = {p: ("HA01" if p <= "2026-06" else "HB01") for p in MONTHS}
    assert _stored_holders(session, site) == want
    assert set(_stored_holders(session, stays).values()) == {"HA01"}
    listing, _totals = pages.revenue_reports(session=session, flt=pages.ReportFilter(), today=TODAY, due_day=10,
                                             tz="Asia/Shanghai", limit=1000)
    reported = {(r.code, r.period): r.reported for r in listing.items}
    assert reported[("HA01", "2026-06")] == 2 and reported[("HA01", "2026-07")] == 1
    assert reported[("HB01", "2026-07")] == 1 and ("HB01", "2026-06") not in reported


def test_a_first_holder_corrected_takes_every_month_already_reported(session):
    a, b, fc_a, fc_b = _two_partners(session)
    site = make_site(session, a, fc_a, code="HM3", opened_on=date(2026, 3, 1))
    for period in ("2026-03", "2026-04"):
        make_revenue_report(session, site, period, "100.00")
    session.commit()
    move_site_by_import(session, site, b, fc_b, date(2026, 3, 1))   # handed over on its first day
    assert _stored_holders(session, site) == {"2026-03": "HB01", "2026-04": "HB01"}


def test_a_billing_runs_estimate_is_stored_with_the_partner_billed_for_the_month(session):
    a, b, fc_a, fc_b = _two_partners(session)
    site = make_site(session, a, fc_a, code="HM4", opened_on=date(2025, 1, 1))
    for period in ("2026-06", "2026-07", "2026-08"):
        make_revenue_report(session, site, period, "300000.00")
    session.commit()
    move_site_by_import(session, site, b, fc_b, date(2026, 8, 16))   # September is HB01's; it does not report
    drafts = runs.compute(session=session, period="2026-09", plans=load_library(), today=date(2026, 10, 20))
    runs.write_drafts(session=session, period="2026-09", drafts=drafts, actor=SYSTEM)
    session.commit()
    estimate = session.exec(select(RevenueReport).where(RevenueReport.site_id == site.id,
                                                        RevenueReport.period == "2026-09")).one()
    assert estimate.status == ReportStatus.estimated
    assert estimate.franchisee_id == b.id == tenure.partner_of_month(session=session, site=site, period="2026-09")


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
        migrate.upgrade(url)
        return url
    return request.getfixturevalue("private_pg_url")


def test_migration_0024_fills_every_stored_report_with_the_holder_the_application_writes(migrated_url):
    engine = make_engine(migrated_url)
    with Session(engine, expire_on_commit=False) as session:
        a, b, fc_a, fc_b = _two_partners(session)
        moved = make_site(session, a, fc_a, code="HM5", opened_on=date(2025, 1, 1))
        twice = make_site(session, a, fc_a, code="HM6", opened_on=date(2025, 1, 1))
        never = make_site(session, b, fc_b, code="HM7", opened_on=date(2025, 1, 1))
        session.commit()
        move_site_by_import(session, moved, b, fc_b, date(2026, 4, 10))
        move_site_by_import(session, twice, b, fc_b, date(2026, 3, 2))
        move_site_by_import(session, twice, a, fc_a, date(2026, 9, 20))
        for site in (moved, twice, never):
            for period in MONTHS:
                make_revenue_report(session, site, period, "100.00")
        make_revenue_report(session, never, "2026-05", "110.00", version=2, status=ReportStatus.corrected)
        session.commit()
        written = {(r.site_id, r.period, r.version): r.franchisee_id
                   for r in session.exec(select(RevenueReport)).all()}
    with engine.begin() as conn:
        conn.execute(text("UPDATE revenue_report SET franchisee_id = NULL"))
    engine.dispose()
    assert {written[(twice.id, p, 1)] for p in ("2026-02", "2026-03", "2026-09", "2026-10")} == {a.id, b.id}
    migrate.downgrade(migrated_url, "0023")
    migrate.upgrade(migrated_url)
    engine = make_engine(migrated_url)
    with engine.connect() as conn:
        filled = {(r.site_id, r.period, r.version): r.franchisee_id for r in conn.execute(text(
            "SELECT site_id, period, version, franchisee_id FROM revenue_report"))}
    engine.dispose()
    assert filled == written
