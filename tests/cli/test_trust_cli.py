"""Finance's commands of issue 11: doubts, corrections, disputes, diffs, and the dry run marking doubts."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import disputes, invoices, plans, runs, shift_period
from brand_hub.billing.revenue import submit_report
from brand_hub.models.billing import CreditNote, InvoiceLine, ReportSource
from brand_hub.models.trust import CorrectionReview, DisputeStatus, InvoiceDispute, ReviewStatus
from tests.builders import make_agreement, make_franchisee, make_site

TODAY = date(2026, 11, 5)


def steady_network(db, falling: str = "200000"):
    """Six sites with six steady months; the first reports October far down."""
    partner = make_franchisee(db, code="FALL")
    agreement = make_agreement(db, partner)
    sites = [make_site(db, partner, agreement, desks=100) for _ in range(6)]
    for n, site in enumerate(sites):
        for i in range(6, -1, -1):
            period = shift_period("2026-10", -i)
            gross = D(falling) if (i == 0 and n == 0) else D(340000 + 5000 * n + 1000 * (i % 3))
            submit_report(session=db, site=site, period=period, gross_revenue=gross, breakdown={},
                          source=ReportSource.import_, submitted_by="test", today=TODAY, assess=False)
    db.commit()
    return sites


def test_the_dry_run_marks_an_implausible_site_and_doubts_lists_why(run, db):
    sites = steady_network(db)
    assert run("revenue", "assess", "--period", "2026-10").exit_code == 0
    doubts = run("revenue", "doubts", "--period", "2026-10")
    assert doubts.exit_code == 0 and sites[0].code in doubts.output and "revenue per desk" in doubts.output
    dry = run("billing", "run", "--period", "2026-10", "--dry-run")
    line = next(line for line in dry.output.splitlines() if sites[0].code in line)
    assert "IMPLAUSIBLE" in line
    assert not [line for line in dry.output.splitlines() if sites[1].code in line and "IMPLAUSIBLE" in line]


def test_finance_lists_accepts_and_refuses_corrections(run, db):
    sites = steady_network(db)
    submit_report(session=db, site=sites[1], period="2026-09", gross_revenue=D("100000"), breakdown={},
                  source=ReportSource.portal, submitted_by="partner", today=TODAY)
    db.commit()
    listed = run("revenue", "corrections")
    assert "100,000.00" in listed.output and "large_cut" in listed.output
    review = db.exec(select(CorrectionReview)).one()
    refused = run("revenue", "refuse", str(review.id))
    assert refused.exit_code != 0  # --reason is required
    assert run("revenue", "refuse", str(review.id), "--reason", "no evidence").exit_code == 0
    db.expire_all()
    assert db.get(CorrectionReview, review.id).status == ReviewStatus.refused
    again = run("revenue", "accept", str(review.id))
    assert again.exit_code == 1 and "already decided" in again.output


def test_disputes_list_and_resolve_and_diff_month_against_month(run, db):
    sites = steady_network(db, falling="340000")
    for period, today in (("2026-09", date(2026, 10, 3)), ("2026-10", TODAY)):
        runs.write_drafts(session=db, period=period, actor=SYSTEM, drafts=runs.compute(
            session=db, period=period, plans=plans(), today=today))
    [september] = invoices.issue_period(session=db, period="2026-09", actor=SYSTEM, due_days=15,
                                        now=datetime(2026, 10, 3, tzinfo=timezone.utc))
    line = db.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == september.id,
                                             InvoiceLine.kind == "tech_fee")).first()
    dispute = disputes.open_dispute(session=db, invoice=september, line_id=line.id, proposed_amount=D("0"),
                                    reason="desks closed", actor=SYSTEM, now=datetime.now(timezone.utc))
    db.commit()
    listed = run("billing", "disputes", "list")
    assert f"#{dispute.id}" in listed.output and "desks closed" in listed.output
    assert run("billing", "disputes", "resolve", str(dispute.id)).exit_code != 0  # no decision given
    done = run("billing", "disputes", "resolve", str(dispute.id), "--partly", "--amount", "500",
               "--reason", "half the month")
    assert done.exit_code == 0, done.output
    db.expire_all()
    assert db.get(InvoiceDispute, dispute.id).status == DisputeStatus.partly_accepted
    assert db.exec(select(CreditNote)).one().amount == D("530.00")
    diff = run("billing", "diff", "--period", "2026-10", "--against", "2026-09")
    assert diff.exit_code == 0 and "revenue changed" in diff.output and sites[0].code in diff.output
    bad = run("billing", "diff", "--period", "2026-13", "--against", "2026-09")
    assert bad.exit_code == 1 and "2026-13" in bad.output


def test_a_re_run_says_what_changed_since_the_drafts_were_last_written(run, db):
    steady_network(db)
    first = run("billing", "run", "--period", "2026-10")
    assert first.exit_code == 0 and "since the drafts" not in first.output
    again = run("billing", "run", "--period", "2026-10")
    assert again.exit_code == 0 and "nothing changed since the drafts were last written" in again.output
