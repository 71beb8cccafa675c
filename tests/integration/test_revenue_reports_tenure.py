"""HQ's revenue reports count a past month's expected sites from who held each site then (site_tenure), not
from the sites active now: a site moved mid-year is expected of its old partner before the move and of the new
one from the month of the move; a site terminated since is expected of its partner up to the last month it
reported (the registry keeps no closing date), and its reports count for that partner."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from brand_hub.billing import pages
from brand_hub.models import SiteStatus
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, move_site_by_import

TODAY = date(2026, 12, 20)
COMMON = dict(today=TODAY, due_day=10, tz="Asia/Shanghai")
MONTHS = pages.recent_months(TODAY, 12)   # 2025-12 .. 2026-11
OPENED = date(2025, 1, 1)


def _network(session):
    a = make_franchisee(session, code="TA01")
    b = make_franchisee(session, code="TB01")
    fc_a, fc_b = make_agreement(session, a, number="FC-A"), make_agreement(session, b, number="FC-B")
    a1 = make_site(session, a, fc_a, code="A1", opened_on=OPENED)
    moved = make_site(session, a, fc_a, code="MV", opened_on=OPENED)
    closed = make_site(session, a, fc_a, code="TX", opened_on=OPENED)
    b1 = make_site(session, b, fc_b, code="B1", opened_on=OPENED)
    session.commit()
    move_site_by_import(session, moved, b, fc_b, date(2026, 7, 16))   # July on is TB01's
    closed.status = SiteStatus.terminated                               # closed after reporting September
    session.add(closed)
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for period in MONTHS:
        make_revenue_report(session, moved, period, "100.00", submitted_at=at)
        make_revenue_report(session, b1, period, "100.00", submitted_at=at)
        if period != "2026-10":
            make_revenue_report(session, a1, period, "100.00", submitted_at=at)
        if period <= "2026-09" and period != "2026-08":
            make_revenue_report(session, closed, period, "100.00", submitted_at=at)
    session.commit()


def _expected_rows():
    """As a person counts them: (partner, month, expected, reported, missing)."""
    rows = []
    for period in MONTHS:
        if period <= "2026-06":
            rows.append(("TA01", period, 3, 3, 0))
            rows.append(("TB01", period, 1, 1, 0))
        else:
            a_expected = 2 if period <= "2026-09" else 1
            a_reported = {"2026-08": 1, "2026-10": 0}.get(period, a_expected)
            rows.append(("TA01", period, a_expected, a_reported, a_expected - a_reported))
            rows.append(("TB01", period, 2, 2, 0))
    return sorted(rows, key=lambda r: (r[1], r[0]), reverse=False)


def _rows(listing):
    return sorted((r.code, r.period, r.expected, r.reported, r.missing) for r in listing.items)


def test_expected_follows_who_held_each_site_each_month(session):
    _network(session)
    listing, totals = pages.revenue_reports(session=session, flt=pages.ReportFilter(), **COMMON, limit=1000)
    want = _expected_rows()
    assert _rows(listing) == sorted(want)
    assert listing.total == len(want)
    assert totals["expected"] == sum(r[2] for r in want) and totals["reported"] == sum(r[3] for r in want)
    assert totals["missing"] == 2
    whole, whole_totals = pages._revenue_reports_whole(session=session, flt=pages.ReportFilter(), periods=MONTHS,
                                                       due_day=10, tz="Asia/Shanghai", page=1, per_page=50,
                                                       limit=1000)
    assert (whole.items, whole.total, whole_totals) == (listing.items, listing.total, totals)


def test_missing_names_the_partner_and_month_a_site_did_not_report(session):
    _network(session)
    listing, totals = pages.revenue_reports(session=session, flt=pages.ReportFilter(state="missing"), **COMMON)
    assert _rows(listing) == [("TA01", "2026-08", 2, 1, 1), ("TA01", "2026-10", 1, 0, 1)]
    assert totals["missing"] == 2


def test_one_partner_one_month_paged_and_filtered_alike(session):
    _network(session)
    for code, period, expected, reported, missing in [("TA01", "2026-06", 3, 3, 0), ("TA01", "2026-07", 2, 2, 0),
                                                      ("TB01", "2026-06", 1, 1, 0), ("TB01", "2026-07", 2, 2, 0)]:
        flt = pages.ReportFilter(franchisee=code, period=period)
        listing, totals = pages.revenue_reports(session=session, flt=flt, **COMMON)
        assert _rows(listing) == [(code, period, expected, reported, missing)]
        assert totals["expected"] == expected and totals["reported"] == reported
        assert listing.items[0].revenue == Decimal("100.00") * reported
