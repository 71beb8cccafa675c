"""Issue 11 on the pages: the portal confirms a big change and holds a billed month's correction for HQ,
refuses a breakdown above the gross by its field; partners dispute lines; HQ reviews, resolves and diffs."""
from __future__ import annotations

import io
import re
from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest
from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, plans, runs
from brand_hub.models import Role
from brand_hub.models.billing import CreditNote, InvoiceLine, RevenueReport
from brand_hub.models.trust import CorrectionReview, DisputeStatus, InvoiceDispute, ReviewStatus
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, make_user
from tests.conftest import login, post_form


@pytest.fixture
def billed(session):
    """A partner whose September (¥870,294.60) is invoiced and issued."""
    partner = make_franchisee(session)
    admin = make_user(session, Role.franchisee_admin, franchisee=partner)
    finance = make_user(session, Role.hq_finance)
    site = make_site(session, partner, make_agreement(session, partner), desks=200)
    make_revenue_report(session, site, "2026-09", "870294.60")
    runs.write_drafts(session=session, period="2026-09", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-09", plans=plans(), today=date(2026, 10, 5)))
    [invoice] = invoices.issue_period(session=session, period="2026-09", actor=SYSTEM, due_days=15,
                                      now=datetime(2026, 10, 5, tzinfo=timezone.utc))
    session.commit()
    return dict(partner=partner, admin=admin, finance=finance, site=site, invoice=invoice)


def reports(session, site):
    session.expire_all()
    return session.exec(select(RevenueReport).where(RevenueReport.site_id == site.id)
                        .order_by(RevenueReport.version)).all()


def test_a_big_change_asks_to_confirm_with_both_figures_then_waits_for_hq(client, session, billed):
    site = billed["site"]
    login(client, billed["admin"].email)
    form = {"site": site.code, "period": "2026-09", "gross_revenue": "100000"}
    page = post_form(client, "/portal/revenue", form, token_from="/portal/revenue").get_data(as_text=True)
    assert "¥870,294.60" in page and "¥100,000.00" in page and "confirm_gross" in page
    assert len(reports(session, site)) == 1  # nothing written before the partner confirms
    done = post_form(client, "/portal/revenue", dict(form, confirm_gross="100000"), token_from="/portal/revenue",
                     follow_redirects=True).get_data(as_text=True)
    assert len(reports(session, site)) == 2
    review = session.exec(select(CorrectionReview)).one()
    assert review.status == ReviewStatus.pending and review.why == "billed"
    assert "等待总部审核" in done or "waits for HQ" in done


def test_a_breakdown_part_above_the_gross_is_refused_naming_the_field(client, session, billed):
    login(client, billed["admin"].email)
    page = post_form(client, "/portal/revenue", {"site": billed["site"].code, "period": "2026-10",
                                                 "gross_revenue": "1000", "desks": "5000"},
                     token_from="/portal/revenue", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "5000" in text and ("工位" in text or "Desks" in text)
    assert [r.period for r in reports(session, billed["site"])] == ["2026-09"]


def test_finance_sees_the_correction_side_by_side_and_refuses_it_with_a_reason(client, session, billed):
    site = billed["site"]
    login(client, billed["admin"].email)
    post_form(client, "/portal/revenue", {"site": site.code, "period": "2026-09", "gross_revenue": "800000"},
              token_from="/portal/revenue")
    client.get("/logout")
    login(client, billed["finance"].email)
    checks = client.get("/hq/billing/revenue-checks").get_data(as_text=True)
    assert "¥870,294.60" in checks and "¥800,000.00" in checks
    versions = client.get(f"/hq/billing/reports/{site.code}/2026-09")
    assert versions.status_code == 200 and "¥800,000.00" in versions.get_data(as_text=True)
    review = session.exec(select(CorrectionReview)).one()
    post_form(client, f"/hq/billing/corrections/{review.id}", {"decision": "refuse", "reason": "银行流水不符"},
              token_from="/hq/billing/revenue-checks")
    session.expire_all()
    assert session.get(CorrectionReview, review.id).status == ReviewStatus.refused


def test_a_partner_disputes_a_line_and_finance_accepts_it_with_a_credit_note(client, session, billed):
    invoice = billed["invoice"]
    line = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id,
                                                  InvoiceLine.kind == "royalty")).first()
    login(client, billed["admin"].email)
    page = client.get(f"/portal/invoices/{invoice.id}").get_data(as_text=True)
    assert "proposed_amount" in page
    post_form(client, f"/portal/invoices/{invoice.id}/disputes",
              {"line": str(line.id), "proposed_amount": str(line.amount - D("100")), "reason": "按合同第4条",
               "attachments": (io.BytesIO(b"%PDF-1.4 statement"), "statement.pdf")},
              token_from=f"/portal/invoices/{invoice.id}", content_type="multipart/form-data")
    dispute = session.exec(select(InvoiceDispute)).one()
    assert dispute.status == DisputeStatus.open
    client.get("/logout")
    login(client, billed["finance"].email)
    assert "按合同第4条" in client.get("/hq/billing/revenue-checks").get_data(as_text=True)
    post_form(client, f"/hq/billing/disputes/{dispute.id}", {"decision": "accept"},
              token_from="/hq/billing/revenue-checks")
    session.expire_all()
    assert session.get(InvoiceDispute, dispute.id).status == DisputeStatus.accepted
    assert session.exec(select(CreditNote)).one().amount == D("106.00")


def test_another_partner_cannot_dispute_or_read_an_invoice_not_theirs(client, session, billed):
    stranger = make_user(session, Role.franchisee_admin, franchisee=make_franchisee(session))
    session.commit()
    login(client, stranger.email)
    response = post_form(client, f"/portal/invoices/{billed['invoice'].id}/disputes",
                         {"line": "1", "proposed_amount": "1", "reason": "x"}, token_from="/portal/invoices")
    assert response.status_code == 404


def test_the_diff_page_explains_changes_in_chinese(client, session, billed):
    make_revenue_report(session, billed["site"], "2026-10", "600000")
    runs.write_drafts(session=session, period="2026-10", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-10", plans=plans(), today=date(2026, 11, 5)))
    session.commit()
    login(client, billed["finance"].email)
    page = client.get("/hq/billing/diff?period=2026-10&against=2026-09")
    assert page.status_code == 200 and "营业额变化" in page.get_data(as_text=True)
    rerun = client.get("/hq/billing/diff?period=2026-10&against=last-run")
    # re-run today: September is still unpaid, so more late days than when the drafts were written
    assert rerun.status_code == 200 and "滞纳金" in rerun.get_data(as_text=True)
    assert client.get("/hq/billing/diff?period=2026-13").status_code == 200


def test_the_diff_against_the_last_run_reprices_with_the_brand_s_own_plans(session, database_url, tmp_path):
    """A brand that keeps its royalty plans in its own folder (``royalty_dir``) bills with them; a re-run
    priced with the shipped library instead would show changes no re-run would make."""
    import shutil

    from brand_hub import create_app
    from brand_hub.settings import Settings
    from standards.royalty_plan import LIBRARY

    own = tmp_path / "plans"
    shutil.copytree(LIBRARY, own)
    standard = own / "standard-2026.yaml"
    text = standard.read_text(encoding="utf-8")
    assert 'minimum_monthly: "' in text
    standard.write_text(re.sub(r'minimum_monthly: "\d+"', 'minimum_monthly: "900000"', text), encoding="utf-8")
    partner = make_franchisee(session)
    finance = make_user(session, Role.hq_finance)
    site = make_site(session, partner, make_agreement(session, partner), desks=200)
    make_revenue_report(session, site, "2026-10", "600000")
    runs.write_drafts(session=session, period="2026-10", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-10", plans=plans(str(own)), today=date.today()))
    session.commit()
    app = create_app(Settings(env="testing", database_url=database_url, instance_path=tmp_path / "instance",
                              secret_key="test-secret", royalty_dir=str(own)))
    try:
        client = app.test_client()
        login(client, finance.email)
        page = client.get("/hq/billing/diff?period=2026-10&against=last-run").get_data(as_text=True)
        assert "没有变化。" in page, "the re-run was priced with other plans than the run"
    finally:
        app.extensions["brandhub.engine"].dispose()
