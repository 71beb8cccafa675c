"""Finance's network-wide sums (revenue reports per month, revenue and royalty per month) are kept while the
billing tables are unchanged and computed again after any change to them, whoever made it (issue 10: at 10,000
sites they add up a year of reports, 200-400 ms a request). Kept or computed, the page shows the same; a report
submitted, corrected by hand-written SQL or moved with its site shows on the very next request."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import select

from brand_hub.billing import pages, preview, revenue
from brand_hub.dashboard.pages import monthly_money
from brand_hub.models.billing import ReportSource
from brand_hub.models.previews import BillingPreview
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, move_site_by_import

TODAY = date(2026, 12, 20)
COMMON = dict(today=TODAY, due_day=10, tz="Asia/Shanghai")
MONTHS = pages.recent_months(TODAY, 12)


def _network(session):
    a, b = make_franchisee(session, code="KA01"), make_franchisee(session, code="KB01")
    fc_a, fc_b = make_agreement(session, a, number="FC-KA"), make_agreement(session, b, number="FC-KB")
    sites = [make_site(session, a, fc_a, code=f"KA-{n}", opened_on=date(2025, 1, 1)) for n in range(3)]
    sites.append(make_site(session, b, fc_b, code="KB-0", opened_on=date(2025, 1, 1)))
    for site in sites:
        for period in MONTHS[:-1]:
            make_revenue_report(session, site, period, "1000.00",
                                submitted_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    session.commit()
    return a, b, fc_a, fc_b, sites


def _page(session):
    listing, totals = pages.revenue_reports(session=session, flt=pages.ReportFilter(), **COMMON)
    session.commit()
    return [(r.code, r.period, r.expected, r.reported, r.corrected, r.missing) for r in listing.items], \
        listing.total, totals


def _whole(session):
    listing, totals = pages._revenue_reports_whole(session=session, flt=pages.ReportFilter(), periods=MONTHS,
                                                   due_day=10, tz="Asia/Shanghai", page=1, per_page=50, limit=None)
    return [(r.code, r.period, r.expected, r.reported, r.corrected, r.missing) for r in listing.items], \
        listing.total, totals


def _not_computed_again(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the kept figures were computed again")

    monkeypatch.setattr(pages, "_month_figures", refuse)
    monkeypatch.setattr("brand_hub.dashboard.pages.monthly_money", refuse)


def test_revenue_reports_figures_are_read_back_while_nothing_changed_and_match_the_whole_computation(
        session, monkeypatch):
    _network(session)
    first = _page(session)
    assert first == _whole(session)
    assert first[2]["missing"] == 4   # every site's newest month
    assert session.exec(select(BillingPreview).where(BillingPreview.key.like("revenue-reports:%"))).first()
    with monkeypatch.context() as patched:
        _not_computed_again(patched)
        assert _page(session) == first


def test_a_report_submitted_corrected_or_moved_shows_on_the_next_request(session, monkeypatch):
    a, b, fc_a, fc_b, sites = _network(session)
    before = _page(session)
    revenue.submit_report(session=session, site=sites[0], period=MONTHS[-1], gross_revenue=Decimal("900.00"),
                          source=ReportSource.portal, submitted_by="t", today=TODAY)
    session.commit()
    after_submit = _page(session)
    assert after_submit[2]["reported"] == before[2]["reported"] + 1
    assert after_submit[2]["missing"] == before[2]["missing"] - 1
    assert after_submit == _whole(session)
    session.execute(text("UPDATE revenue_report SET status = 'corrected' WHERE period = :p"), {"p": MONTHS[0]})
    session.commit()
    after_sql = _page(session)
    assert after_sql[2]["corrected"] == 4 and after_sql == _whole(session)
    move_site_by_import(session, sites[1], b, fc_b, date(2026, 6, 16))
    after_move = _page(session)
    assert after_move == _whole(session) and after_move != after_sql
    counts = {(code, period): reported for code, period, _e, reported, _c, _m in _whole(session)[0]}
    assert counts.get(("KB01", MONTHS[-2])) == 2


def test_finances_monthly_money_is_kept_until_a_report_changes_it(session, monkeypatch):
    _a, _b, _fc_a, _fc_b, sites = _network(session)
    kept = pages.network_money(session=session, today=TODAY)
    session.commit()
    assert kept == monthly_money(session=session, today=TODAY)
    with monkeypatch.context() as patched:
        _not_computed_again(patched)
        assert pages.network_money(session=session, today=TODAY) == kept
    revenue.submit_report(session=session, site=sites[2], period=MONTHS[-2], gross_revenue=Decimal("1234.56"),
                          source=ReportSource.portal, submitted_by="t", today=TODAY)
    session.commit()
    again = pages.network_money(session=session, today=TODAY)
    assert again == monthly_money(session=session, today=TODAY)
    assert [m.revenue for m in again if m.period == MONTHS[-2]] == [Decimal("4234.56")]


@pytest.mark.parametrize("key", ["short", "x" * 200])
def test_kept_figures_under_any_key_length_are_read_back(session, key):
    calls = []

    def compute():
        calls.append(1)
        return {"n": 7}

    assert preview.kept(session=session, key=key, today=TODAY, compute=compute)["n"] == 7
    assert calls == [1]
    session.commit()
    assert preview.kept(session=session, key=key, today=TODAY, compute=compute)["n"] == 7
    assert calls == [1]
