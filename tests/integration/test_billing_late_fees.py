"""Late fees by the calendar, across runs, partial payments and payments between runs (SQLite and PostgreSQL).

Every case: one agreement on the standard plan (0.05 % a day, 10 days of grace, cap 10 %), two
sites reporting 400,000 each: 32,000 + 8,000 fund + desks (100 × 15, 20 × 15) = 81,800 + VAT 4,908
= 86,708.00 per month. September is issued on 10-01, due 10-16: interest runs from 10-26.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, plans, runs
from brand_hub.models.billing import Invoice, InvoiceLine
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

PLANS = plans()


def network(session):
    partner = make_franchisee(session)
    agreement = make_agreement(session, partner)
    sites = [make_site(session, partner, agreement, desks=100), make_site(session, partner, agreement, desks=20)]
    for site in sites:
        for period in ("2026-09", "2026-10", "2026-11"):
            make_revenue_report(session, site, period, "400000")
    session.commit()
    return agreement


def bill(session, period: str, on: date) -> Invoice:
    drafts = runs.compute(session=session, period=period, plans=PLANS, today=on)
    runs.write_drafts(session=session, period=period, drafts=drafts, actor=SYSTEM)
    [issued] = invoices.issue_period(session=session, period=period, actor=SYSTEM, due_days=15,
                                     now=datetime(on.year, on.month, on.day, 2, tzinfo=timezone.utc))
    session.commit()
    return issued


def pay(session, invoice: Invoice, amount: str, on: date) -> None:
    invoices.mark_paid(session=session, number=invoice.number, amount=D(amount), paid_on=on, actor=SYSTEM, today=on)
    session.commit()


def late_fees(session, period: str) -> dict[str, D]:
    rows = session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(
        Invoice.period == period, InvoiceLine.kind == "late_fee")).all()
    return {line.inputs["invoice"]: line.amount for line, _ in rows}


def test_partial_payments_reduce_the_balance_from_their_own_dates_across_two_runs(session):
    network(session)
    september = bill(session, "2026-09", date(2026, 10, 1))
    assert (september.total, september.due_date) == (D("86708.00"), date(2026, 10, 16))
    pay(session, september, "30000", date(2026, 11, 1))
    october = bill(session, "2026-10", date(2026, 11, 5))
    # 10-26..11-01: 86,708 × 6 × 0.0005 = 260.124; 11-01..11-05: 56,708 × 4 × 0.0005 = 113.416 → 373.54
    assert late_fees(session, "2026-10") == {september.number: D("373.54")}
    # October: 81,800 + 373.54 = 82,173.54; VAT 4,930.41; total 87,103.95
    assert (october.subtotal, october.vat, october.total) == (D("82173.54"), D("4930.41"), D("87103.95"))
    pay(session, september, "36708", date(2026, 11, 10))
    runs.write_drafts(session=session, period="2026-11", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-11", plans=PLANS, today=date(2026, 12, 5)))
    session.commit()
    # September through 12-05: 260.124 + 56,708 × 9 × 0.0005 (255.186) + 20,000 × 25 × 0.0005 (250) = 765.31;
    # 373.54 charged in October → 391.77 now.
    # October (due 11-20, interest from 11-30), unpaid: principal 87,103.95 − late fee with its VAT
    # (373.54 × 1.06 = 395.95) = 86,708.00 × 5 days × 0.0005 = 216.77 (never interest on the late fee)
    assert late_fees(session, "2026-11") == {september.number: D("391.77"), october.number: D("216.77")}


def test_a_balance_paid_late_before_the_next_run_still_owes_its_days(session):
    network(session)
    september = bill(session, "2026-09", date(2026, 10, 1))
    pay(session, september, "86708.00", date(2026, 11, 4))  # in full, 9 days past grace
    bill(session, "2026-10", date(2026, 11, 5))
    assert late_fees(session, "2026-10") == {september.number: D("390.19")}  # 86,708 × 9 × 0.0005 = 390.186


def test_a_payment_between_runs_is_charged_only_the_days_not_yet_charged(session):
    network(session)
    september = bill(session, "2026-09", date(2026, 10, 1))
    bill(session, "2026-10", date(2026, 11, 5))
    assert late_fees(session, "2026-10") == {september.number: D("433.54")}  # 86,708 × 10 × 0.0005
    pay(session, september, "86708.00", date(2026, 11, 12))
    runs.write_drafts(session=session, period="2026-11", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-11", plans=PLANS, today=date(2026, 12, 5)))
    session.commit()
    # 10-26..11-12: 17 days × 86,708 × 0.0005 = 737.018 → 737.02; 433.54 already charged → 303.48
    assert late_fees(session, "2026-11")[september.number] == D("303.48")
