"""Ownership over time in billing (issue 17): a site moved mid-quarter, each month billed to the agreement
in force then, and a correction of a month before the move trued up on the old holder's invoice only.

The site SH-MV-01 (100 desks, plan standard-2026) is held by partner A under FC-A, and handed to partner B
under FC-B effective 2026-11-16 (a network import). Under the rule "a month belongs to whoever holds the site
on its last day", October is A's and November (the month of the move) B's.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest
from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, plans, runs
from brand_hub.billing import corrections
from brand_hub.billing.revenue import submit_report
from brand_hub.models import AuditEvent
from brand_hub.models.billing import Invoice, InvoiceLine, ReportSource
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, move_site_by_import

PLANS = plans()
MOVED_ON = date(2026, 11, 16)


@pytest.fixture
def network(session):
    a = make_franchisee(session, code="TA01", legal_name="甲方企业管理有限公司")
    b = make_franchisee(session, code="TB01", legal_name="乙方企业管理有限公司")
    fc_a = make_agreement(session, a, number="FC-A")
    fc_b = make_agreement(session, b, number="FC-B")
    site = make_site(session, a, fc_a, code="SH-MV-01", desks=100, opened_on=date(2025, 1, 1))
    session.commit()
    return a, b, fc_a, fc_b, site


def run(session, period: str, today: date):
    drafts = runs.compute(session=session, period=period, plans=PLANS, today=today)
    runs.write_drafts(session=session, period=period, drafts=drafts, actor=SYSTEM)
    session.commit()


def issue_and_pay(session, period: str, now: datetime):
    issued = invoices.issue_period(session=session, period=period, actor=SYSTEM, now=now, due_days=15)
    for invoice in issued:
        if invoice.total > 0:
            invoices.mark_paid(session=session, number=invoice.number, amount=invoice.total, paid_on=now.date(),
                               today=now.date(), actor=SYSTEM)
    session.commit()
    return {i.agreement_id: i for i in issued}


def invoice_of(session, agreement, period: str) -> Invoice | None:
    return session.exec(select(Invoice).where(Invoice.agreement_id == agreement.id, Invoice.period == period)).first()


def site_lines(session, invoice: Invoice | None, site) -> dict[str, D]:
    if invoice is None:
        return {}
    out: dict[str, D] = {}
    for line in session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id,
                                                       InvoiceLine.site_id == site.id)):
        out[line.kind] = out.get(line.kind, D("0")) + line.amount
    return out


def test_the_move_ends_one_tenure_and_starts_the_next_and_is_audited(session, network):
    from brand_hub.models.tenure import SiteTenure

    a, b, fc_a, fc_b, site = network
    move_site_by_import(session, site, b, fc_b, MOVED_ON)
    session.commit()
    tenures = session.exec(select(SiteTenure).where(SiteTenure.site_id == site.id)
                           .order_by(SiteTenure.starts_on)).all()
    assert [(t.franchisee_id, t.agreement_id, t.starts_on, t.ends_on) for t in tenures] == [
        (a.id, fc_a.id, date(2025, 1, 1), MOVED_ON), (b.id, fc_b.id, MOVED_ON, None)]
    # local midnight in Shanghai is 16:00 UTC the day before
    assert tenures[0].held_until == datetime(2026, 11, 15, 16, 0, tzinfo=timezone.utc) == tenures[1].held_from
    assert (tenures[0].last_month, tenures[1].first_month) == ("2026-10", "2026-11")
    assert (tenures[0].last_quarter, tenures[1].first_quarter) == ("2026-Q3", "2026-Q4")
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "site.move")).one()
    assert (event.entity_id, event.before["franchisee"], event.after["franchisee"]) == ("SH-MV-01", "TA01", "TB01")


def test_a_month_before_the_move_is_billed_to_the_old_agreement_even_when_run_after_it(session, network):
    a, b, fc_a, fc_b, site = network
    make_revenue_report(session, site, "2026-10", "400000")
    move_site_by_import(session, site, b, fc_b, MOVED_ON)
    session.commit()
    run(session, "2026-10", today=date(2026, 11, 20))
    # 400,000 × 8 % = 32,000 (above the 30,000 minimum) · brand fund 2 % = 8,000 · 100 desks × 15 = 1,500
    assert site_lines(session, invoice_of(session, fc_a, "2026-10"), site) == {
        "royalty": D("32000.00"), "brand_fund": D("8000.00"), "tech_fee": D("1500.00")}
    assert site_lines(session, invoice_of(session, fc_b, "2026-10"), site) == {}
    assert invoice_of(session, fc_a, "2026-10").total == D("43990.00")  # 41,500 + 6 % VAT 2,490


def test_billing_runs_of_the_month_of_the_move_and_the_month_after(session, network):
    a, b, fc_a, fc_b, site = network
    make_revenue_report(session, site, "2026-10", "400000")
    session.commit()
    run(session, "2026-10", today=date(2026, 11, 5))
    october = issue_and_pay(session, "2026-10", now=datetime(2026, 11, 5, 2, tzinfo=timezone.utc))
    assert october[fc_a.id].total == D("43990.00")

    move_site_by_import(session, site, b, fc_b, MOVED_ON)
    make_revenue_report(session, site, "2026-11", "600000")
    session.commit()

    # November, the month of the move, is B's (B holds the site on the 30th):
    # 500,000 × 8 % + 100,000 × 10 % = 50,000 · brand fund 12,000 · tech fee 1,500 = 63,500 + VAT 3,810
    run(session, "2026-11", today=date(2026, 12, 5))
    assert site_lines(session, invoice_of(session, fc_b, "2026-11"), site) == {
        "royalty": D("50000.00"), "brand_fund": D("12000.00"), "tech_fee": D("1500.00")}
    assert invoice_of(session, fc_b, "2026-11").total == D("67310.00")
    assert site_lines(session, invoice_of(session, fc_a, "2026-11"), site) == {}
    issue_and_pay(session, "2026-11", now=datetime(2026, 12, 5, 2, tzinfo=timezone.utc))

    # A corrects its October (before the move) from 400,000 to 300,000.
    corrected, _ = submit_report(session=session, site=site, period="2026-10", gross_revenue=D("300000"),
                                 source=ReportSource.portal, submitted_by="a@example.com", today=date(2026, 12, 10))
    # a correction of a billed month waits for HQ finance (issue 11); finance accepts it
    corrections.decide(session=session, review_id=corrections.review_of(session=session, report_id=corrected.id).id,
                       accept=True, reason="", actor=SYSTEM, now=datetime(2026, 12, 11, 2, tzinfo=timezone.utc))
    make_revenue_report(session, site, "2026-12", "500000")
    session.commit()

    # December: B pays its own month, A gets the true-up of its October, against its own October invoice.
    run(session, "2026-12", today=date(2027, 1, 5))
    b_december, a_december = invoice_of(session, fc_b, "2026-12"), invoice_of(session, fc_a, "2026-12")
    # 500,000 × 8 % = 40,000 · brand fund 10,000 · tech fee 1,500 = 51,500 + VAT 3,090; no true-up on B's invoice
    assert site_lines(session, b_december, site) == {
        "royalty": D("40000.00"), "brand_fund": D("10000.00"), "tech_fee": D("1500.00")}
    assert b_december.total == D("54590.00")
    # October again: 300,000 × 8 % = 24,000, topped up to the 30,000 minimum, brand fund 6,000 = 36,000;
    # billed 32,000 + 8,000 = 40,000, so a credit of 4,000 (VAT −240) against A's October invoice.
    [true_up] = session.exec(select(InvoiceLine).where(InvoiceLine.kind == "true_up")).all()
    assert true_up.invoice_id == a_december.id
    assert (true_up.amount, true_up.service_period, true_up.corrects_invoice_id) == (
        D("-4000.00"), "2026-10", october[fc_a.id].id)
    assert a_december.total == D("-4240.00")
