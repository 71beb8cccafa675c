"""Disputes line by line and billing-run diffs against real databases (SQLite and PostgreSQL)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest
from sqlmodel import select

from brand_hub.audit import SYSTEM, Actor
from brand_hub.billing import BillingError, corrections, diff, disputes, invoices, plans, runs
from brand_hub.billing.revenue import submit_report
from brand_hub.models import Agreement, Franchisee
from brand_hub.models.billing import CreditNote, Invoice, InvoiceLine, ReportSource
from brand_hub.models.compliance import OutboxMessage
from brand_hub.models.trust import DisputeAttachment, DisputeStatus
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, make_user

NOW = datetime(2026, 10, 1, 2, tzinfo=timezone.utc)
PARTNER = Actor("admin@partner.example")


@pytest.fixture
def billed(session):
    """A partner with two sites, September billed and issued on 2026-10-01 (due 10-16)."""
    partner = make_franchisee(session, contact_email="boss@partner.example")
    make_user(session, "franchisee_admin", franchisee=partner, email="admin@partner.example")
    agreement = make_agreement(session, partner)
    first = make_site(session, partner, agreement, desks=100)
    second = make_site(session, partner, agreement, desks=20)
    make_revenue_report(session, first, "2026-09", "400000")
    make_revenue_report(session, second, "2026-09", "400000")
    write(session, "2026-09", date(2026, 10, 1))
    [invoice] = invoices.issue_period(session=session, period="2026-09", actor=SYSTEM, now=NOW, due_days=15)
    session.flush()
    return invoice, first, second


def write(session, period, today):
    drafts = runs.compute(session=session, period=period, plans=plans(), today=today)
    return runs.write_drafts(session=session, period=period, drafts=drafts, actor=SYSTEM)


def royalty_line(session, invoice, site) -> InvoiceLine:
    return session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id, InvoiceLine.kind == "royalty",
                                                  InvoiceLine.site_id == site.id)).first()


def test_a_partner_disputes_one_line_with_an_attachment_and_the_rest_stays_due(session, billed):
    invoice, first, _ = billed
    line = royalty_line(session, invoice, first)
    dispute = disputes.open_dispute(session=session, invoice=invoice, line_id=line.id, proposed_amount=D("30000"),
                                    reason="desks closed for renovation", actor=PARTNER, now=NOW,
                                    attachments=[("statement.pdf", "application/pdf", b"%PDF-1.4 ...")])
    assert dispute.status == DisputeStatus.open and dispute.disputed_amount == line.amount
    assert session.exec(select(DisputeAttachment)).one().sha256
    assert session.get(Invoice, invoice.id).balance == invoice.total  # nothing credited until HQ decides
    with pytest.raises(BillingError, match="already disputed"):
        disputes.open_dispute(session=session, invoice=invoice, line_id=line.id, proposed_amount=D("1"),
                              reason="again", actor=PARTNER, now=NOW)
    with pytest.raises(BillingError, match="below the line"):
        disputes.open_dispute(session=session, invoice=invoice, line_id=royalty_line(session, invoice, billed[2]).id,
                              proposed_amount=line.amount * 10, reason="x", actor=PARTNER, now=NOW)


def test_accepting_credits_the_difference_with_vat_referencing_the_line_and_mails_the_partner(session, billed):
    invoice, first, _ = billed
    line = royalty_line(session, invoice, first)
    dispute = disputes.open_dispute(session=session, invoice=invoice, line_id=line.id,
                                    proposed_amount=line.amount - D("1000"), reason="wrong band", actor=PARTNER,
                                    now=NOW)
    disputes.resolve(session=session, dispute_id=dispute.id, decision="accept", reason="", actor=SYSTEM, now=NOW)
    note = session.exec(select(CreditNote)).one()
    assert note.amount == D("1060.00") and f"line {line.position}" in note.reason  # 1,000 + 6 % VAT
    assert dispute.status == DisputeStatus.accepted and dispute.credit_note_id == note.id
    mail = session.exec(select(OutboxMessage)).one()
    assert set(mail.recipients) == {"admin@partner.example", "boss@partner.example"} and "accepted" in mail.subject


def test_partly_accepting_and_rejecting_need_their_amount_and_reason(session, billed):
    invoice, first, second = billed
    a = disputes.open_dispute(session=session, invoice=invoice, line_id=royalty_line(session, invoice, first).id,
                              proposed_amount=D("0"), reason="x", actor=PARTNER, now=NOW)
    with pytest.raises(BillingError):
        disputes.resolve(session=session, dispute_id=a.id, decision="partly", reason="half", actor=SYSTEM, now=NOW)
    disputes.resolve(session=session, dispute_id=a.id, decision="partly", reason="half of it", granted=D("500"),
                     actor=SYSTEM, now=NOW)
    assert a.status == DisputeStatus.partly_accepted and a.credited == D("500")
    b = disputes.open_dispute(session=session, invoice=invoice, line_id=royalty_line(session, invoice, second).id,
                              proposed_amount=D("0"), reason="x", actor=PARTNER, now=NOW)
    with pytest.raises(BillingError, match="say why"):
        disputes.resolve(session=session, dispute_id=b.id, decision="reject", reason="", actor=SYSTEM, now=NOW)
    disputes.resolve(session=session, dispute_id=b.id, decision="reject", reason="contract clause 4", actor=SYSTEM,
                     now=NOW)
    assert b.status == DisputeStatus.rejected and len(session.exec(select(CreditNote)).all()) == 1
    assert [d.id for d, _ in disputes.of_invoice(session=session, invoice_id=invoice.id)] == [a.id, b.id]


def test_no_late_fee_accrues_on_an_amount_while_its_dispute_is_open(session, billed):
    invoice, first, second = billed
    make_revenue_report(session, first, "2026-10", "400000")
    make_revenue_report(session, second, "2026-10", "400000")
    line = royalty_line(session, invoice, first)
    disputes.open_dispute(session=session, invoice=invoice, line_id=line.id, proposed_amount=D("0"),
                          reason="not ours", actor=PARTNER, now=NOW)
    drafts = runs.compute(session=session, period="2026-10", plans=plans(), today=date(2026, 11, 5))
    [fee] = [line for d in drafts for line in d.lines if line.kind == "late_fee"]
    contested = (line.amount * D("1.06")).quantize(D("0.01"))
    assert fee.base == invoice.balance - contested  # the undisputed rest still earns its fee


def test_month_against_month_explains_each_change(session, billed):
    invoice, first, second = billed
    make_revenue_report(session, first, "2026-10", "500000")  # revenue changed
    # second misses October: estimated; a third site opens
    new_site = make_site(session, session.get(Franchisee, first.franchisee_id),
                         session.get(Agreement, first.agreement_id), desks=50)
    make_revenue_report(session, new_site, "2026-10", "100000")
    corrected, _ = submit_report(session=session, site=second, period="2026-09", gross_revenue=D("420000"),
                                 breakdown={}, source=ReportSource.portal, submitted_by="p", today=date(2026, 10, 20))
    corrections.decide(session=session, review_id=corrections.review_of(session=session, report_id=corrected.id).id,
                       accept=True, reason="", actor=SYSTEM, now=NOW)
    write(session, "2026-10", date(2026, 11, 5))
    result = diff.months(session=session, period="2026-10", against="2026-09")
    causes = {(row.site, row.kind): row.causes for row in result.rows}
    assert "revenue_changed" in causes[(first.code, "royalty")]
    assert "now_estimated" in causes[(second.code, "royalty")]
    assert causes[(new_site.code, "royalty")] == ("site_opened",)
    assert causes[(second.code, "true_up")] == ("correction_trued_up",)
    assert result.total_after - result.total_before == result.total_change


def test_a_re_run_shows_what_changed_since_the_drafts_were_last_written(session, billed):
    _, first, second = billed
    make_revenue_report(session, first, "2026-10", "400000")
    write(session, "2026-10", date(2026, 11, 5))  # second estimated
    make_revenue_report(session, second, "2026-10", "390000", version=2)  # the report arrives
    drafts = runs.compute(session=session, period="2026-10", plans=plans(), today=date(2026, 11, 5))
    result = diff.rerun(session=session, period="2026-10", drafts=drafts)
    assert [(row.site, row.kind) for row in result.rows if "estimate_replaced" in row.causes] == \
        [(second.code, "brand_fund"), (second.code, "royalty")]
    assert not [row for row in result.rows if row.site == first.code]
    again = diff.rerun(session=session, period="2026-10", drafts=drafts)
    write(session, "2026-10", date(2026, 11, 5))
    assert diff.rerun(session=session, period="2026-10", drafts=runs.compute(
        session=session, period="2026-10", plans=plans(), today=date(2026, 11, 5))).rows == []
    assert again.rows == result.rows
