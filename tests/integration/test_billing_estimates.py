"""Missing reports are estimated from the agreement's own plan window, whatever else the plan library holds.

Hand-computed: two flat 10 % plans, one averaging 3 months, one 6 months, no minimum, fund or
desk fee, so every amount below is revenue × 10 % and VAT 6 % on top.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import runs
from brand_hub.models.billing import Invoice, InvoiceLine, ReportStatus, RevenueReport
from standards.royalty_plan import load_plan_text
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

PLAN = """
id: {id}
version: 1
currency: CNY
royalty:
  method: flat
  tiers:
    - {{rate: "0.10"}}
brand_fund_rate: "0"
tech_fee_per_desk: "0"
vat_rate: "0.06"
late_fee: {{daily_rate: "0.0005", grace_days: 10}}
missing_report: {{method: trailing_average, months: {months}, uplift: "1.00"}}
"""
MIXED = {p.id: p for p in (load_plan_text(PLAN.format(id="short-3", months=3), "short-3.yaml"),
                           load_plan_text(PLAN.format(id="long-6", months=6), "long-6.yaml"))}
HISTORY = {"2026-04": "300000.00", "2026-05": "300000.00", "2026-08": "90000.00", "2026-09": "99000.01"}


def site_on(session, plan_id: str, history: dict[str, str]):
    partner = make_franchisee(session)
    agreement = make_agreement(session, partner, royalty_plan_id=plan_id)
    site = make_site(session, partner, agreement, desks=0)
    for period, amount in history.items():
        make_revenue_report(session, site, period, amount)
    return agreement, site


def run(session, period: str, today: date) -> None:
    drafts = runs.compute(session=session, period=period, plans=MIXED, today=today)
    runs.write_drafts(session=session, period=period, drafts=drafts, actor=SYSTEM)
    session.commit()


def estimate(session, site, period: str) -> D:
    report = session.exec(select(RevenueReport).where(RevenueReport.site_id == site.id,
                                                      RevenueReport.period == period)).one()
    assert report.status == ReportStatus.estimated
    return report.gross_revenue


def invoice_of(session, agreement, period: str) -> Invoice:
    return session.exec(select(Invoice).where(Invoice.agreement_id == agreement.id, Invoice.period == period)).one()


def test_a_three_month_plan_averages_its_own_three_months_next_to_a_six_month_plan(session):
    short, short_site = site_on(session, "short-3", HISTORY)
    long, long_site = site_on(session, "long-6", HISTORY)
    run(session, "2026-10", date(2026, 11, 5))
    # short-3: window 2026-07..09 holds 08 and 09 only: (90,000.00 + 99,000.01) / 2 = 94,500.005 → 94,500.01
    assert estimate(session, short_site, "2026-10") == D("94500.01")
    invoice = invoice_of(session, short, "2026-10")
    assert (invoice.subtotal, invoice.vat, invoice.total) == (D("9450.00"), D("567.00"), D("10017.00"))
    # long-6: window 2026-04..09 holds four reports: 789,000.01 / 4 = 197,250.0025 → 197,250.00
    assert estimate(session, long_site, "2026-10") == D("197250.00")
    invoice = invoice_of(session, long, "2026-10")
    assert (invoice.subtotal, invoice.vat, invoice.total) == (D("19725.00"), D("1183.50"), D("20908.50"))


def test_the_following_month_is_estimated_on_the_same_own_window(session):
    short, short_site = site_on(session, "short-3", HISTORY)
    site_on(session, "long-6", HISTORY)
    run(session, "2026-10", date(2026, 11, 5))
    run(session, "2026-11", date(2026, 12, 5))
    # 2026-08..10: 10 is itself an estimate (never averaged), so 08 and 09 again → 94,500.01
    assert estimate(session, short_site, "2026-11") == D("94500.01")
    assert invoice_of(session, short, "2026-11").total == D("10017.00")


def test_a_site_with_one_report_in_its_window_is_estimated_from_that_one(session):
    agreement, site = site_on(session, "short-3", {"2026-05": "500000.00", "2026-09": "120000.05"})
    site_on(session, "long-6", HISTORY)
    run(session, "2026-10", date(2026, 11, 5))
    assert estimate(session, site, "2026-10") == D("120000.05")
    [line] = session.exec(select(InvoiceLine).where(InvoiceLine.site_id == site.id)).all()
    assert (line.kind, line.estimated, line.amount) == ("royalty", True, D("12000.01"))  # 12,000.005 half up


def test_a_site_with_no_report_in_its_window_is_estimated_at_zero(session):
    agreement, site = site_on(session, "short-3", {"2026-05": "500000.00", "2026-06": "500000.00"})
    site_on(session, "long-6", HISTORY)
    run(session, "2026-10", date(2026, 11, 5))
    # 2026-05 and 06 lie outside the 3-month window (07..09): nothing to average
    assert estimate(session, site, "2026-10") == D("0.00")
    assert invoice_of(session, agreement, "2026-10").total == D("0.00")
