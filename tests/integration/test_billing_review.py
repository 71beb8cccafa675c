"""The review table finance checks before issuing, hand-computed (SQLite and PostgreSQL).

Standard plan (graduated 8 % to 500,000, minimum 30,000, fund 2 %, 15 a desk, VAT 6 %, late fees
0.05 % a day after 10 days of grace). Partner A: September issued on 10-01 (86,708.00, due 10-16,
unpaid), then site A1 corrects September (400,000 → 600,000) and October (350,000 → 400,000), and
site A2 sends no October report. Partner B: one site, 300,000 in October, no September. Partner C:
its only site is still onboarding.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest

from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, plans, runs
from brand_hub.models import SiteStatus
from brand_hub.models.billing import ReportStatus
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

PLANS = plans()
TODAY = date(2026, 11, 5)


@pytest.fixture
def network(session):
    a = make_franchisee(session, code="PA")
    a_agreement = make_agreement(session, a, number="AG-A")
    a1 = make_site(session, a, a_agreement, desks=100)
    a2 = make_site(session, a, a_agreement, desks=20)
    for site in (a1, a2):
        make_revenue_report(session, site, "2026-09", "400000")
    runs.write_drafts(session=session, period="2026-09", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-09", plans=PLANS, today=date(2026, 10, 1)))
    [september] = invoices.issue_period(session=session, period="2026-09", actor=SYSTEM, due_days=15,
                                        now=datetime(2026, 10, 1, 2, tzinfo=timezone.utc))
    make_revenue_report(session, a1, "2026-09", "600000", version=2, status=ReportStatus.corrected)
    make_revenue_report(session, a1, "2026-10", "350000")
    make_revenue_report(session, a1, "2026-10", "400000", version=2, status=ReportStatus.corrected)
    b = make_franchisee(session, code="PB")
    make_revenue_report(session, make_site(session, b, make_agreement(session, b, number="AG-B"), desks=120),
                        "2026-10", "300000")
    c = make_franchisee(session, code="PC")
    make_site(session, c, make_agreement(session, c, number="AG-C"), status=SiteStatus.onboarding)
    session.commit()
    return september


def test_the_review_shows_each_invoice_by_revenue_source_and_line_kind(session, network):
    review = runs.review_table(session=session, period="2026-10", plans=PLANS, today=TODAY)
    a, b = review.detail
    assert (a.agreement, a.issued, b.agreement) == ("AG-A", False, "AG-B")
    # A1 corrected 400,000; A2 estimated from September 400,000
    assert a.revenue == {"reported": D("0"), "estimated": D("400000.00"), "corrected": D("400000.00")}
    assert a.base == D("800000.00")
    # royalty 32,000 × 2; fund 8,000 × 2; desks 1,500 + 300; true-up of September 62,000 − 40,000;
    # late fee on September 86,708 × 0.0005 × 10 days (10-26 to 11-05)
    assert a.by_kind == {"royalty": D("64000.00"), "minimum_topup": D("0"), "brand_fund": D("16000.00"),
                         "tech_fee": D("1800.00"), "true_up": D("22000.00"), "late_fee": D("433.54")}
    assert (a.subtotal, a.vat, a.total) == (D("104233.54"), D("6254.01"), D("110487.55"))
    assert b.revenue["reported"] == D("300000.00") and b.by_kind["minimum_topup"] == D("6000.00")
    assert (b.subtotal, b.vat, b.total) == (D("37800.00"), D("2268.00"), D("40068.00"))


def test_the_review_labels_late_fees_and_true_ups_with_what_they_are_computed_on(session, network):
    review = runs.review_table(session=session, period="2026-10", plans=PLANS, today=TODAY)
    late, = [item for item in review.labelled if item.kind == "late_fee"]
    true_up, = [item for item in review.labelled if item.kind == "true_up"]
    number = network.number
    assert late.amount == D("433.54")
    assert late.computed_on.startswith(f"{number} (2026-09), principal 86,708.00 without late fees, simple daily "
                                       "0.0005 from 2026-10-26 (due 2026-10-16 + 10 d grace) to 2026-11-05: "
                                       "2026-10-26..2026-11-05 86,708.00 × 10 d; accrued 433.54")
    assert true_up.amount == D("22000.00")
    assert "corrected revenue 600,000.00 (report v2) recomputes to 62,000.00, billed 40,000.00" in true_up.computed_on


def test_the_review_compares_partners_with_the_previous_period_and_its_controls_add_up(session, network):
    review = runs.review_table(session=session, period="2026-10", plans=PLANS, today=TODAY)
    partners = {p.franchisee: p for p in review.partners}
    assert (partners["PA"].current, partners["PA"].previous) == (D("110487.55"), D("86708.00"))
    assert partners["PA"].change == D("23779.55")
    assert partners["PA"].change_pct == D("27.4")  # 23,779.55 / 86,708 = 27.42 %
    assert (partners["PB"].current, partners["PB"].previous, partners["PB"].change_pct) == (D("40068.00"), None, None)
    assert (review.period_total, review.previous_total) == (D("150555.55"), D("86708.00"))
    assert [(o.agreement, o.reason) for o in review.left_out] == [
        ("AG-C", "no billable site in 2026-10 (sites: 1 onboarding); no invoice, no number")]
    assert review.balanced and len(review.controls) == 4
    assert review.controls[0].left == D("142033.54")  # 104,233.54 + 37,800.00
    assert (review.subtotal, review.vat, review.total) == (D("142033.54"), D("8522.01"), D("150555.55"))


def test_an_issued_invoice_is_shown_with_its_stored_figures(session, network):
    review = runs.review_table(session=session, period="2026-09", plans=PLANS, today=TODAY)
    september = next(i for i in review.detail if i.agreement == "AG-A")
    assert (september.issued, september.number, september.total) == (True, network.number, D("86708.00"))
    assert september.revenue["reported"] == D("800000.00")  # as billed then, before the correction
    assert review.skipped_issued == 1 and review.balanced
