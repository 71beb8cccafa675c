"""Billing runs, issuing, credit notes and payments against real databases (SQLite and PostgreSQL)."""
from __future__ import annotations

import hashlib
import subprocess
from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import BillingError, invoices, pdf, plans, runs
from brand_hub.billing.revenue import submit_report
from brand_hub.models.billing import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    ReportSource,
    ReportStatus,
    RevenueReport,
)
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

TODAY = date(2026, 11, 5)
NOW = datetime(2026, 11, 5, 2, 0, tzinfo=timezone.utc)
PLANS = plans()


def partner_with_two_sites(session, **franchisee):
    partner = make_franchisee(session, **franchisee)
    agreement = make_agreement(session, partner)
    first = make_site(session, partner, agreement, desks=100)
    second = make_site(session, partner, agreement, desks=20)
    return partner, agreement, first, second


def run(session, period: str = "2026-10", today: date = TODAY):
    drafts = runs.compute(session=session, period=period, plans=PLANS, today=today)
    result = runs.write_drafts(session=session, period=period, drafts=drafts, actor=SYSTEM)
    session.commit()
    return result


def issue(session, period: str = "2026-10", now: datetime = NOW):
    issued = invoices.issue_period(session=session, period=period, actor=SYSTEM, now=now, due_days=15)
    session.commit()
    return issued


def lines_of(session, invoice: Invoice) -> list[InvoiceLine]:
    return invoices.invoice_lines(session=session, invoice_id=invoice.id)


def test_money_survives_a_round_trip_through_the_database_exactly(session):
    partner, _, site, _ = partner_with_two_sites(session)
    amounts = ["0.01", "123456789012.34", "99999.99", "0.10"]
    ids = [make_revenue_report(session, site, f"2026-0{i + 1}", amount).id for i, amount in enumerate(amounts)]
    session.commit()
    session.expunge_all()
    loaded = [session.get(RevenueReport, i).gross_revenue for i in ids]
    assert loaded == [D(a) for a in amounts]
    assert all(isinstance(value, D) for value in loaded)


def test_a_run_writes_one_draft_per_agreement_with_lines_per_site(session):
    _, agreement, first, second = partner_with_two_sites(session)
    make_revenue_report(session, first, "2026-10", "700000")
    make_revenue_report(session, second, "2026-10", "200000")
    run(session)
    invoice = session.exec(select(Invoice)).one()
    assert invoice.status == InvoiceStatus.draft and invoice.number is None
    amounts = {(line.site_code, line.kind, line.band): line.amount for line in lines_of(session, invoice)}
    assert amounts[(first.code, "royalty", "[0, 500,000)")] == D("40000.00")
    assert amounts[(first.code, "royalty", "[500,000, 1,000,000)")] == D("20000.00")
    assert amounts[(second.code, "minimum_topup", "")] == D("14000.00")
    # 40,000 + 20,000 + 14,000 + 1,500 (100 desks) | 16,000 + 14,000 + 4,000 + 300 (20 desks) = 109,800
    assert invoice.subtotal == D("109800.00")
    assert invoice.vat == D("6588.00")
    assert invoice.total == D("116388.00")


def test_every_line_records_the_report_and_plan_it_came_from(session):
    _, _, first, second = partner_with_two_sites(session)
    report = make_revenue_report(session, first, "2026-10", "300000", version=1)
    make_revenue_report(session, second, "2026-10", "300000")
    run(session)
    line = session.exec(select(InvoiceLine).where(InvoiceLine.site_id == first.id,
                                                  InvoiceLine.kind == "royalty")).one()
    assert (line.revenue_report_id, line.revenue_report_version) == (report.id, 1)
    assert (line.plan_id, line.plan_version) == ("standard-2026", 1)
    assert (line.band, line.rate, line.base) == ("[0, 500,000)", D("0.08"), D("300000"))


def test_running_again_replaces_the_drafts_without_duplicates(session):
    _, _, first, second = partner_with_two_sites(session)
    make_revenue_report(session, first, "2026-10", "700000")
    make_revenue_report(session, second, "2026-10", "200000")
    run(session)
    before = [(line.site_code, line.kind, line.amount) for line in session.exec(select(InvoiceLine)
                                                                                .order_by(InvoiceLine.position))]
    run(session)
    after = [(line.site_code, line.kind, line.amount) for line in session.exec(select(InvoiceLine)
                                                                               .order_by(InvoiceLine.position))]
    assert session.exec(select(Invoice)).all().__len__() == 1
    assert after == before


def test_a_run_never_touches_an_issued_invoice(session):
    _, _, first, second = partner_with_two_sites(session)
    make_revenue_report(session, first, "2026-10", "700000")
    make_revenue_report(session, second, "2026-10", "200000")
    run(session)
    [issued] = issue(session)
    make_revenue_report(session, first, "2026-10", "900000", version=2, status=ReportStatus.corrected)
    result = run(session)
    session.refresh(issued)
    assert (result.drafts, result.skipped_issued) == (0, 1)
    assert issued.total == D("116388.00") and issued.status == InvoiceStatus.issued


def test_a_missing_report_is_billed_on_an_estimate_and_marked(session):
    _, _, first, second = partner_with_two_sites(session)
    for period, amount in (("2026-07", "600000"), ("2026-08", "630000"), ("2026-09", "660000")):
        make_revenue_report(session, first, period, amount)
    make_revenue_report(session, second, "2026-10", "200000")
    run(session)
    estimate = session.exec(select(RevenueReport).where(RevenueReport.site_id == first.id,
                                                        RevenueReport.period == "2026-10")).one()
    assert (estimate.status, estimate.gross_revenue) == (ReportStatus.estimated, D("630000.00"))
    lines = session.exec(select(InvoiceLine).where(InvoiceLine.site_id == first.id)).all()
    assert {line.kind: line.estimated for line in lines}["royalty"] is True
    assert sum(line.amount for line in lines if line.kind == "royalty") == D("53000.00")  # 40,000 + 13,000
    run(session)  # re-run: the estimate is updated in place, not duplicated
    assert len(session.exec(select(RevenueReport).where(RevenueReport.period == "2026-10",
                                                        RevenueReport.site_id == first.id)).all()) == 1


def test_a_corrected_report_after_issue_is_trued_up_in_the_next_run(session):
    _, _, first, second = partner_with_two_sites(session)
    make_revenue_report(session, first, "2026-09", "400000")
    make_revenue_report(session, second, "2026-09", "400000")
    run(session, "2026-09", today=date(2026, 10, 5))
    [september] = issue(session, "2026-09", now=datetime(2026, 10, 5, tzinfo=timezone.utc))
    submit_report(session=session, site=first, period="2026-09", gross_revenue=D("600000"), breakdown={},
                  source=ReportSource.portal, submitted_by="partner@example.com", today=TODAY)
    make_revenue_report(session, first, "2026-10", "400000")
    make_revenue_report(session, second, "2026-10", "400000")
    session.commit()
    run(session)
    [true_up] = session.exec(select(InvoiceLine).where(InvoiceLine.kind == "true_up")).all()
    assert true_up.amount == D("22000.00")  # 62,000 now − 40,000 billed
    assert true_up.corrects_invoice_id == september.id
    assert (true_up.service_period, true_up.revenue_report_version) == ("2026-09", 2)
    [october] = issue(session)
    run(session, "2026-11", today=date(2026, 12, 1))  # once issued, the true-up is not repeated
    november = session.exec(select(Invoice).where(Invoice.period == "2026-11")).one()
    assert "true_up" not in {line.kind for line in lines_of(session, november)}
    assert october.number == "BH-2026-000002"


def test_an_overdue_balance_gets_a_late_fee_in_the_next_run_after_grace(session):
    _, _, first, second = partner_with_two_sites(session)
    make_revenue_report(session, first, "2026-09", "400000")
    make_revenue_report(session, second, "2026-09", "400000")
    run(session, "2026-09", today=date(2026, 10, 1))
    [september] = issue(session, "2026-09", now=datetime(2026, 10, 1, tzinfo=timezone.utc))  # due 10-16
    invoices.mark_paid(session=session, number=september.number, amount=D("66708.00"), paid_on=date(2026, 10, 20),
                       actor=SYSTEM)  # total 81,800 + VAT 4,908 = 86,708 → 20,000 left
    session.commit()
    run(session, today=date(2026, 11, 5))  # due 10-16 + 10 days of grace: interest from 10-26
    [fee] = session.exec(select(InvoiceLine).where(InvoiceLine.kind == "late_fee")).all()
    assert fee.inputs["days"] == 10
    assert fee.amount == D("100.00")  # 20,000 (paid down on 10-20, within grace) × 0.0005 × 10 days
    assert fee.corrects_invoice_id == september.id


def test_issuing_numbers_drafts_without_gaps_and_sets_the_due_date(session):
    for _ in range(3):
        _, _, first, second = partner_with_two_sites(session)
        make_revenue_report(session, first, "2026-10", "100000")
    run(session)
    issued = issue(session)
    assert [i.number for i in issued] == ["BH-2026-000001", "BH-2026-000002", "BH-2026-000003"]
    assert all(i.due_date == date(2026, 11, 20) for i in issued)
    assert issue(session) == []  # nothing left to issue


def test_the_database_refuses_to_change_an_issued_invoice(engine, session):
    _, _, first, second = partner_with_two_sites(session)
    make_revenue_report(session, first, "2026-10", "100000")
    run(session)
    [issued] = issue(session)
    for statement in (f"UPDATE invoice SET total = '1.00' WHERE id = {issued.id}",
                      f"UPDATE invoice_line SET amount = '1.00' WHERE invoice_id = {issued.id}",
                      f"DELETE FROM invoice WHERE id = {issued.id}",
                      f"UPDATE invoice SET status = 'draft' WHERE id = {issued.id}"):
        with pytest.raises(DatabaseError, match="issued invoices are immutable"):
            with engine.begin() as conn:
                conn.execute(text(statement))
    with engine.begin() as conn:  # the bookkeeping columns stay writable
        conn.execute(text(f"UPDATE invoice SET amount_paid = '1.00' WHERE id = {issued.id}"))


def test_a_credit_note_can_never_exceed_what_remains(session):
    _, _, first, second = partner_with_two_sites(session)
    make_revenue_report(session, first, "2026-10", "100000")
    run(session)
    [issued] = issue(session)  # 30,000 + 2,000 + 1,500 | 30,000 + 300 = 63,800 + VAT 3,828 = 67,628
    assert issued.total == D("67628.00")
    invoices.mark_paid(session=session, number=issued.number, amount=D("60000"), paid_on=TODAY, actor=SYSTEM)
    with pytest.raises(BillingError, match="more than the 7628.00 that remains"):
        invoices.credit_note(session=session, number=issued.number, amount=D("7628.01"), reason="goodwill",
                             actor=SYSTEM, now=NOW)
    first_note = invoices.credit_note(session=session, number=issued.number, amount=D("628.00"), reason="goodwill",
                                      actor=SYSTEM, now=NOW)
    second_note = invoices.credit_note(session=session, number=issued.number, amount=D("7000.00"),
                                       reason="dispute settled", actor=SYSTEM, now=NOW)
    session.commit()
    assert (first_note.number, second_note.number) == ("CN-2026-000001", "CN-2026-000002")
    assert (issued.balance, issued.status) == (D("0.00"), InvoiceStatus.paid)
    with pytest.raises(BillingError):
        invoices.credit_note(session=session, number=issued.number, amount=D("0.01"), reason="x", actor=SYSTEM,
                             now=NOW)


def test_partial_payments_move_the_status_and_overpayment_is_refused(session):
    _, _, first, second = partner_with_two_sites(session)
    make_revenue_report(session, first, "2026-10", "100000")
    run(session)
    [issued] = issue(session)
    invoices.mark_paid(session=session, number=issued.number, amount=D("7628.00"), paid_on=TODAY, actor=SYSTEM)
    assert issued.status == InvoiceStatus.partially_paid
    with pytest.raises(BillingError):
        invoices.mark_paid(session=session, number=issued.number, amount=D("60000.01"), paid_on=TODAY, actor=SYSTEM)
    invoices.mark_paid(session=session, number=issued.number, amount=D("60000.00"), paid_on=TODAY, actor=SYSTEM)
    session.commit()
    assert (issued.status, issued.balance) == (InvoiceStatus.paid, D("0.00"))


def test_the_pdf_shows_the_chinese_partner_name_and_the_totals(session, tmp_path):
    _, _, first, second = partner_with_two_sites(session, legal_name="上海静安方寸企业管理有限公司")
    make_revenue_report(session, first, "2026-10", "100000")
    run(session)
    [issued] = issue(session)
    [rendered] = pdf.render_missing(session=session, brand_name="方寸空间 FangCun Space")
    session.commit()
    data = pdf.stored_pdf(session=session, invoice=issued)
    assert data.startswith(b"%PDF")
    assert hashlib.sha256(data).hexdigest() == rendered.pdf_sha256
    path = tmp_path / "invoice.pdf"
    path.write_bytes(data)
    extracted = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                               check=True).stdout
    assert "上海静安方寸企业管理有限公司" in extracted
    assert issued.number in extracted
    for figure in ("63,800.00", "3,828.00", "67,628.00"):
        assert figure in extracted
    assert "估" in extracted  # the second site had no report: estimate mark
