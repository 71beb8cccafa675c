"""Finance's read pages: receivables by age, invoice filters with totals, a period's billing, revenue reports."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from brand_hub.billing import pages
from brand_hub.models.billing import (BillingRun, CreditNote, Invoice, InvoiceLine, InvoiceStatus, Payment,
                                      ReportSource, ReportStatus)
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

TODAY = date(2026, 12, 3)


def _invoice(session, agreement, number, period, due, total, paid="0", status=InvoiceStatus.issued, lines=()):
    invoice = Invoice(agreement_id=agreement.id, franchisee_id=agreement.franchisee_id, period=period, number=number,
                      status=InvoiceStatus.draft, plan_id="standard-2026", due_date=due, total=Decimal(total),
                      subtotal=Decimal(total), amount_paid=Decimal(paid))
    session.add(invoice)
    session.flush()
    for n, (kind, amount, estimated) in enumerate(lines):
        session.add(InvoiceLine(invoice_id=invoice.id, position=n, kind=kind, description=kind, service_period=period,
                                amount=Decimal(amount), estimated=estimated, plan_id="standard-2026",
                                site_code="S-EST" if estimated else ""))
    session.flush()
    invoice.status = status
    session.add(invoice)
    session.flush()
    return invoice


def test_receivables_age_every_open_balance_into_its_bucket_per_partner_and_in_total(session):
    late = make_franchisee(session, code="LATE")
    ontime = make_franchisee(session, code="ONTIME")
    a, b = make_agreement(session, late), make_agreement(session, ontime)
    _invoice(session, a, "I1", "2026-11", TODAY + timedelta(days=3), "100.01")             # not yet due
    _invoice(session, a, "I2", "2026-10", TODAY - timedelta(days=1), "200.02", paid="0.02",  # 1–30
             status=InvoiceStatus.partially_paid)
    _invoice(session, a, "I3", "2026-09", TODAY - timedelta(days=31), "300.03")            # 31–60
    _invoice(session, a, "I4", "2026-08", TODAY - timedelta(days=90), "400.04")            # 61–90
    _invoice(session, a, "I5", "2026-07", TODAY - timedelta(days=91), "500.05")            # over 90
    _invoice(session, a, "I6", "2026-06", TODAY - timedelta(days=200), "9.99", paid="9.99",
             status=InvoiceStatus.paid)                                                       # settled: not owed
    _invoice(session, b, "I7", "2026-11", TODAY, "50.00")                                   # due today: current
    session.commit()
    listing, total = pages.receivables(session=session, today=TODAY)
    assert [row.code for row in listing.items] == ["LATE", "ONTIME"] and listing.total == 2
    first = listing.items[0]
    assert first.buckets == {"current": Decimal("100.01"), "1_30": Decimal("200.00"), "31_60": Decimal("300.03"),
                             "61_90": Decimal("400.04"), "over_90": Decimal("500.05")}
    assert first.balance == Decimal("1500.13") and first.overdue == Decimal("1400.12") and first.invoices == 5
    assert first.oldest_due == TODAY - timedelta(days=91)
    assert total.balance == Decimal("1550.13") and total.buckets["current"] == Decimal("150.01")
    overdue, overdue_total = pages.receivables(session=session, today=TODAY, overdue_only=True)
    assert [row.code for row in overdue.items] == ["LATE"] and overdue_total.buckets["current"] == Decimal("0.00")


def test_the_invoice_filters_pick_open_and_overdue_invoices_and_total_the_whole_filtered_set(session):
    partner = make_franchisee(session, code="P1")
    agreement = make_agreement(session, partner)
    _invoice(session, agreement, "I1", "2026-10", TODAY - timedelta(days=5), "100.10")
    _invoice(session, agreement, "I2", "2026-11", TODAY + timedelta(days=5), "200.20", paid="50.00",
             status=InvoiceStatus.partially_paid)
    _invoice(session, agreement, "I3", "2026-09", TODAY - timedelta(days=50), "300.30", paid="300.30",
             status=InvoiceStatus.paid)
    session.commit()
    overdue = pages.invoice_list(session=session, flt=pages.InvoiceFilter(status="overdue"), today=TODAY)
    assert [inv.number for inv, _p, _a in overdue.items] == ["I1"] and overdue.sums["balance"] == Decimal("100.10")
    unpaid = pages.invoice_list(session=session, flt=pages.InvoiceFilter(status="open"), today=TODAY)
    assert unpaid.total == 2 and unpaid.sums["balance"] == Decimal("250.30")
    everything = pages.invoice_list(session=session, flt=pages.InvoiceFilter(), today=TODAY, page=2, per_page=2)
    assert len(everything.items) == 1 and everything.total == 3  # totals cover every page
    assert everything.sums == {"total": Decimal("600.60"), "paid": Decimal("350.30"), "credited": Decimal("0.00"),
                               "balance": Decimal("250.30")}


def test_a_periods_page_compares_with_the_month_before_and_lists_what_finance_checks(session):
    partner = make_franchisee(session, code="P1")
    billed, forgotten = make_agreement(session, partner, number="AG-BILLED"), make_agreement(session, partner,
                                                                                              number="AG-LEFT")
    _invoice(session, billed, "I10", "2026-10", TODAY, "100.00")
    nov = _invoice(session, billed, "I11", "2026-11", TODAY, "150.50",
                   lines=[("royalty", "100.00", True), ("tech_fee", "50.50", False)])
    _invoice(session, forgotten, "I-OLD", "2026-10", TODAY, "10.00")
    session.add(CreditNote(number="CN-1", invoice_id=nov.id, amount=Decimal("5.00"), reason="goodwill"))
    session.add(Payment(invoice_id=nov.id, amount=Decimal("20.00"), paid_on=TODAY))
    session.add(BillingRun(period="2026-11", drafts=1, total=Decimal("150.50")))
    session.commit()
    run = pages.run_page(session=session, period="2026-11", today=TODAY)
    assert run.totals.invoices == 1 and run.totals.total == Decimal("150.50")
    assert run.previous.invoices == 2 and run.previous.total == Decimal("110.00") and run.change == Decimal("40.50")
    assert [(line.kind, line.site_code) for line, _inv in run.estimated] == [("royalty", "S-EST")]
    assert [a.number for a, _p in run.left_out] == ["AG-LEFT"]
    assert [c.number for c, _i in run.credit_notes] == ["CN-1"] and [p.amount for p, _i in run.payments] == [
        Decimal("20.00")]
    assert len(run.runs) == 1


def test_revenue_reports_count_reported_late_estimated_corrected_and_missing_per_partner_and_month(session):
    partner = make_franchisee(session, code="P1")
    agreement = make_agreement(session, partner)
    on_time, late, corrected, estimated, silent = (make_site(session, partner, agreement, opened_on=date(2026, 1, 1))
                                                   for _ in range(5))
    make_site(session, partner, agreement, opened_on=date(2026, 12, 1))  # not open in November: not expected
    due = datetime(2026, 12, 10, 15, 59, 59, tzinfo=timezone.utc)   # 10 December, end of day in Shanghai
    make_revenue_report(session, on_time, "2026-11", "100.00", submitted_at=due - timedelta(days=3))
    make_revenue_report(session, late, "2026-11", "200.00", submitted_at=due + timedelta(hours=1))
    make_revenue_report(session, corrected, "2026-11", "300.00", submitted_at=due - timedelta(days=5))
    make_revenue_report(session, corrected, "2026-11", "310.00", version=2, status=ReportStatus.corrected,
                        submitted_at=due + timedelta(days=5))
    make_revenue_report(session, estimated, "2026-11", "999.00", status=ReportStatus.estimated,
                        source=ReportSource.estimate, submitted_at=due + timedelta(days=9))
    session.commit()
    common = dict(session=session, today=date(2026, 12, 20), due_day=10, tz="Asia/Shanghai")
    listing, totals = pages.revenue_reports(flt=pages.ReportFilter(period="2026-11"), **common)
    (row,) = listing.items
    assert (row.code, row.period, row.expected, row.reported, row.corrected, row.estimated, row.late, row.missing) == (
        "P1", "2026-11", 5, 2, 1, 1, 1, 1)
    assert row.revenue == Decimal("610.00")  # the newest versions; an estimate is not revenue reported
    assert totals == {"expected": 5, "reported": 2, "corrected": 1, "estimated": 1, "late": 1, "missing": 1}
    assert pages.revenue_reports(flt=pages.ReportFilter(period="2026-11", state="late"), **common)[0].total == 1
    assert pages.revenue_reports(flt=pages.ReportFilter(period="2026-10", state="missing"), **common)[0].items[0].missing == 5
    assert pages.revenue_reports(flt=pages.ReportFilter(period="2026-11", franchisee="NOPE"), **common)[0].total == 0


def test_revenue_reports_over_twelve_months_expect_each_site_from_the_month_it_opened(session):
    """Issue 10 (speed): the expected sites are counted per partner, less those opened after each month; the
    months of a site opened within the twelve shown, one without an opening date, a site onboarding and one
    under no agreement each count as before."""
    partner = make_franchisee(session, code="P1")
    agreement = make_agreement(session, partner)
    make_site(session, partner, agreement, opened_on=date(2025, 6, 1))
    make_site(session, partner, agreement, opened_on=None)
    make_site(session, partner, agreement, opened_on=date(2026, 9, 30))   # expected from September
    make_site(session, partner, agreement, opened_on=date(2026, 10, 1))   # from October
    make_site(session, partner, agreement, opened_on=date(2026, 1, 1), status="onboarding")   # never
    other = make_franchisee(session, code="P2")
    make_site(session, other, make_agreement(session, other), opened_on=date(2026, 11, 30))   # November only
    session.commit()
    listing, totals = pages.revenue_reports(flt=pages.ReportFilter(), session=session, today=date(2026, 12, 20),
                                            due_day=10, tz="Asia/Shanghai", per_page=100)
    expected = {(row.code, row.period): row.expected for row in listing.items}
    assert [expected.get(("P1", p)) for p in ("2026-08", "2026-09", "2026-10", "2026-11")] == [2, 3, 4, 4]
    assert expected[("P1", "2025-12")] == 2 and ("P2", "2026-10") not in expected and expected[("P2", "2026-11")] == 1
    assert listing.total == 13 and totals["expected"] == 2 * 9 + 3 + 4 * 2 + 1 and totals["missing"] == totals["expected"]


def test_a_periods_page_pages_its_side_lists_and_counts_them_all(session):
    """Issue 10: the estimated lines, left-out agreements, credit notes and payments are paged (they were cut
    at 200 rows without a word)."""
    partner = make_franchisee(session, code="P1")
    agreements = [make_agreement(session, partner, number=f"AG-{n}") for n in range(3)]
    nov = _invoice(session, agreements[0], "I11", "2026-11", TODAY, "300.00",
                   lines=[("royalty", "100.00", True), ("brand_fund", "100.00", True), ("tech_fee", "100.00", True)])
    for n in range(3):
        session.add(CreditNote(number=f"CN-{n}", invoice_id=nov.id, amount=Decimal("1.00"), reason="goodwill"))
        session.add(Payment(invoice_id=nov.id, amount=Decimal(f"{n + 1}.00"), paid_on=TODAY))
    session.commit()
    run = pages.run_page(session=session, period="2026-11", today=TODAY, side_per_page=2, estimated_page=2,
                         left_page=1, credits_page=2, payments_page=2)
    assert (run.estimated_page.total, run.left_out_page.total, run.credit_notes_page.total,
            run.payments_page.total) == (3, 2, 3, 3)
    assert [line.kind for line, _inv in run.estimated] == ["tech_fee"] and run.estimated_page.has_prev
    assert [a.number for a, _p in run.left_out] == ["AG-1", "AG-2"] and not run.left_out_page.has_next
    assert [c.number for c, _i in run.credit_notes] == ["CN-2"]
    assert [p.amount for p, _i in run.payments] == [Decimal("3.00")]
