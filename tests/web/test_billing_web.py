"""Billing in the dashboard (finance) and the portal (a partner sees only their own)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest
from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, pdf, plans, runs
from brand_hub.models import AuditEvent, Role
from brand_hub.models.billing import Invoice, InvoiceStatus, RevenueReport
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, make_user
from tests.conftest import login, post_form


def billed_partner(session, name: str, revenue: str = "100000"):
    """A partner with one site reporting ``revenue`` for October."""
    partner = make_franchisee(session, legal_name=name)
    agreement = make_agreement(session, partner)
    site = make_site(session, partner, agreement, desks=100)
    make_revenue_report(session, site, "2026-10", revenue)
    return partner, site


def bill(session, render: bool = False) -> list[Invoice]:
    runs.write_drafts(session=session, period="2026-10", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-10", plans=plans(), today=date(2026, 11, 5)))
    issued = invoices.issue_period(session=session, period="2026-10", actor=SYSTEM, due_days=15,
                                   now=datetime(2026, 11, 5, tzinfo=timezone.utc))
    if render:
        pdf.render_missing(session=session, brand_name="方寸空间", workers=1)
    session.commit()
    return issued


@pytest.fixture
def two_partners(session):
    mine, my_site = billed_partner(session, "上海静安方寸企业管理有限公司")
    theirs, their_site = billed_partner(session, "杭州西湖共享办公有限公司", revenue="600000")
    my_invoice, their_invoice = bill(session)
    return dict(mine=mine, my_site=my_site, theirs=theirs, their_site=their_site, my_invoice=my_invoice,
                their_invoice=their_invoice)


def test_finance_filters_invoices_and_reads_every_line_explained(client, session, two_partners):
    pdf.render_missing(session=session, brand_name="方寸空间", workers=1, invoice_ids=[two_partners["my_invoice"].id])
    user = make_user(session, Role.hq_finance)
    session.commit()
    login(client, user.email)
    page = client.get("/hq/billing/?period=2026-10&franchisee=" + two_partners["mine"].code).get_data(as_text=True)
    assert two_partners["my_invoice"].number in page and two_partners["their_invoice"].number not in page
    detail = client.get(f"/hq/billing/invoices/{two_partners['my_invoice'].id}")
    text = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert "上海静安方寸企业管理有限公司" in text
    assert "¥8,000.00" in text and "¥22,000.00" in text  # royalty, minimum top-up
    assert "standard-2026" in text
    assert "特许权使用费" in text and "保底补足" in text  # Chinese first
    pdf_response = client.get(f"/hq/billing/invoices/{two_partners['my_invoice'].id}.pdf")
    assert pdf_response.status_code == 200 and pdf_response.data.startswith(b"%PDF")


def test_finance_records_a_payment_and_a_credit_note_through_the_forms(client, session, two_partners):
    user = make_user(session, Role.hq_finance)
    session.commit()
    login(client, user.email)
    invoice_id = two_partners["my_invoice"].id
    path = f"/hq/billing/invoices/{invoice_id}"
    response = post_form(client, f"{path}/payments", {"amount": "30000", "paid_on": "2026-11-10"}, token_from=path)
    assert response.status_code == 302
    post_form(client, f"{path}/credit-notes", {"amount": "99999", "reason": "too much"}, token_from=path)
    number = two_partners["my_invoice"].number
    assert f"超过发票 {number} 的未结余额" in client.get(path).get_data(as_text=True)  # Chinese first, errors too
    post_form(client, f"{path}/credit-notes", {"amount": "100", "reason": "goodwill"}, token_from=path)
    session.expire_all()
    invoice = session.get(Invoice, invoice_id)
    assert (invoice.amount_paid, invoice.amount_credited) == (D("30000.00"), D("100.00"))
    assert invoice.status == InvoiceStatus.partially_paid
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.actor == user.email)).all()
    assert sorted(actions) == ["invoice.credit_note", "invoice.payment"]


def test_a_viewer_cannot_record_payments(client, session, two_partners):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)
    path = f"/hq/billing/invoices/{two_partners['my_invoice'].id}"
    assert post_form(client, f"{path}/payments", {"amount": "1", "paid_on": "2026-11-10"},
                     token_from=path).status_code == 403


def test_the_site_billing_page_lists_reports_and_lines(client, session, two_partners):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)
    page = client.get(f"/hq/billing/sites/{two_partners['my_site'].code}").get_data(as_text=True)
    assert two_partners["my_invoice"].number in page and "¥100,000.00" in page


def test_a_partner_sees_only_their_own_invoices_and_pdfs(client, session, two_partners):
    pdf.render_missing(session=session, brand_name="方寸空间", workers=1)
    user = make_user(session, Role.franchisee_admin, franchisee=two_partners["mine"])
    session.commit()
    login(client, user.email)
    listing = client.get("/portal/invoices").get_data(as_text=True)
    assert two_partners["my_invoice"].number in listing
    assert two_partners["their_invoice"].number not in listing
    mine, theirs = two_partners["my_invoice"].id, two_partners["their_invoice"].id
    assert client.get(f"/portal/invoices/{mine}").status_code == 200
    assert client.get(f"/portal/invoices/{mine}.pdf").data.startswith(b"%PDF")
    assert client.get(f"/portal/invoices/{theirs}").status_code == 404
    assert client.get(f"/portal/invoices/{theirs}.pdf").status_code == 404


def test_a_partner_never_sees_drafts(client, session):
    partner, _ = billed_partner(session, "上海某某企业管理有限公司")
    runs.write_drafts(session=session, period="2026-10", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-10", plans=plans(), today=date(2026, 11, 5)))
    user = make_user(session, Role.franchisee_admin, franchisee=partner)
    session.commit()
    draft = session.exec(select(Invoice)).one()
    login(client, user.email)
    assert client.get(f"/portal/invoices/{draft.id}").status_code == 404


def test_a_partner_submits_revenue_for_their_own_site_only(client, session, two_partners):
    user = make_user(session, Role.franchisee_admin, franchisee=two_partners["mine"])
    session.commit()
    login(client, user.email)
    site = two_partners["my_site"]
    form = {"site": site.code, "period": "2026-10", "gross_revenue": "123456.78", "desks": "100000"}
    asked = post_form(client, "/portal/revenue", form, token_from="/portal/revenue")
    # issue 11: a change of more than 20 % (100,000 → 123,456.78) is confirmed with both figures first
    assert asked.status_code == 200 and "¥100,000.00" in asked.get_data(as_text=True)
    response = post_form(client, "/portal/revenue", dict(form, confirm_gross="123456.78"),
                         token_from="/portal/revenue")
    assert response.status_code == 302
    newest = session.exec(select(RevenueReport).where(RevenueReport.site_id == site.id)
                          .order_by(RevenueReport.version.desc())).first()
    assert (newest.version, newest.gross_revenue, newest.status.value) == (2, D("123456.78"), "corrected")
    assert newest.breakdown == {"desks": "100000"}
    refused = post_form(client, "/portal/revenue", {"site": two_partners["their_site"].code, "period": "2026-10",
                                                    "gross_revenue": "1"}, token_from="/portal/revenue")
    assert refused.status_code == 404
    bad = post_form(client, "/portal/revenue", {"site": site.code, "period": "2026-10", "gross_revenue": "-5"},
                    token_from="/portal/revenue")
    assert bad.status_code == 200 and "不能为负数" in bad.get_data(as_text=True)


def test_a_payment_form_in_scientific_notation_or_dated_in_the_future_is_refused_in_words_not_a_500(
        client, session, two_partners):
    user = make_user(session, Role.hq_finance)
    session.commit()
    login(client, user.email)
    path = f"/hq/billing/invoices/{two_partners['my_invoice'].id}"
    for form, message in (({"amount": "1.23457E+06", "paid_on": "2026-11-10"}, "是科学计数法"),
                          ({"amount": "NaN", "paid_on": "2026-11-10"}, "不是有效的金额"),
                          ({"amount": "100", "paid_on": "2099-01-01"}, "晚于今天"),
                          ({"amount": "100", "paid_on": "2026-11-01"}, "早于发票")):
        response = post_form(client, f"{path}/payments", form, token_from=path)
        assert response.status_code == 302
        assert message in client.get(path).get_data(as_text=True)
    session.expire_all()
    assert session.get(Invoice, two_partners["my_invoice"].id).amount_paid == D("0.00")


def test_a_partner_typing_revenue_in_scientific_notation_is_told_so(client, session, two_partners):
    user = make_user(session, Role.franchisee_admin, franchisee=two_partners["mine"])
    session.commit()
    login(client, user.email)
    bad = post_form(client, "/portal/revenue", {"site": two_partners["my_site"].code, "period": "2026-10",
                                                "gross_revenue": "1.23457E+06"}, token_from="/portal/revenue")
    assert bad.status_code == 200 and "是科学计数法" in bad.get_data(as_text=True)


def test_finance_reads_the_review_table_of_a_period_in_chinese_and_nothing_is_written(client, session):
    billed_partner(session, "上海静安方寸企业管理有限公司")  # 100,000: 8,000 + top-up 22,000 + 2,000 + 1,500
    partner = make_franchisee(session, legal_name="苏州工业园区筹备有限公司")
    make_site(session, partner, make_agreement(session, partner), status="onboarding")
    user = make_user(session, Role.hq_finance)
    session.commit()
    login(client, user.email)
    response = client.get("/hq/billing/review?period=2026-10")
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "账单预审" in text and "控制合计" in text and "相符" in text and "不相符" not in text
    assert "¥33,500.00" in text and "¥35,510.00" in text  # subtotal, total (VAT 2,010.00)
    assert "本期没有可计费的门店（门店：1 筹备中）" in text
    session.expire_all()
    assert session.exec(select(Invoice)).all() == [] and session.exec(select(RevenueReport).where(
        RevenueReport.status == "estimated")).all() == []
    assert client.get("/hq/billing/review?period=2026-13").status_code == 400


def test_past_the_partners_a_list_holds_finance_types_a_partners_code_and_reaches_any_partner(
        client, session, two_partners, monkeypatch):
    from brand_hub.billing import reads

    user = make_user(session, Role.hq_finance)
    session.commit()
    login(client, user.email)
    listed = client.get("/hq/billing/").get_data(as_text=True)
    assert f'<option value="{two_partners["theirs"].code}"' in listed   # two partners: a list of both
    monkeypatch.setattr(reads.partner_choices, "__kwdefaults__", {"limit": 1})   # more partners than a list holds
    for path in ("/hq/billing/", "/hq/billing/revenue-reports"):
        page = client.get(path).get_data(as_text=True)
        field = page.split('name="franchisee"')[0].rsplit("<label", 1)[1] + page.split('name="franchisee"')[1] \
            .split("</label>")[0]
        assert "<input" in field and "<option" not in field and "合作伙伴编号" in field
    typed = client.get("/hq/billing/?franchisee=" + two_partners["theirs"].code).get_data(as_text=True)
    assert two_partners["their_invoice"].number in typed and two_partners["my_invoice"].number not in typed
    assert f'value="{two_partners["theirs"].code}"' in typed   # the code typed stays in the field
    reports = client.get("/hq/billing/revenue-reports?franchisee=" + two_partners["theirs"].code)
    assert reports.status_code == 200 and two_partners["theirs"].code in reports.get_data(as_text=True)
