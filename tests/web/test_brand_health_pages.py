"""HQ's pages read as decisions: the dashboard, partners' standing, finance's lists and their CSVs."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo
from decimal import Decimal

from brand_hub.models import FranchiseeStatus, Role
from brand_hub.models.billing import Invoice, InvoiceStatus
from brand_hub.models.compliance import Flag, FlagState, Severity
from tests.builders import make_agreement, make_franchisee, make_site, make_user
from tests.conftest import login


def _network(session):
    trouble = make_franchisee(session, code="TROUBLE", legal_name="成都麻烦企业管理有限公司")
    calm = make_franchisee(session, code="CALM")
    agreement = make_agreement(session, trouble)
    site = make_site(session, trouble, agreement, code="TR-01")
    make_site(session, calm, make_agreement(session, calm), code="CA-01")
    session.add(Flag(franchisee_id=trouble.id, site_id=site.id, rule="red-card", state=FlagState.open,
                     severity=Severity.major, evidence={"quarter": "2026-Q3", "card": "red", "score": 40.0}))
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the brand's day, which the pages count overdue days in
    for number, due, total in (("BH-2026-000001", today - timedelta(days=45), "1234.50"),
                               ("BH-2026-000002", today + timedelta(days=5), "99.00")):
        session.add(Invoice(agreement_id=agreement.id, franchisee_id=trouble.id, period="2026-10" if number.endswith("1")
                            else "2026-11", plan_id="standard-2026", number=number, status=InvoiceStatus.issued,
                            due_date=due, subtotal=Decimal(total), total=Decimal(total)))
    user = make_user(session, Role.hq_viewer)
    session.commit()
    return user


def test_the_dashboard_ranks_partners_at_risk_with_reasons_in_words_and_a_link_to_act(client, session):
    login(client, _network(session).email)
    page = client.get("/hq/").get_data(as_text=True)
    assert "品牌健康度仪表盘" in page
    risk = page[page.index('id="at-risk"'):]
    assert "TROUBLE" in risk and "CALM" not in risk[:risk.index("</section>")]
    assert "警示期：CA-01" not in risk and "¥1,234.50" in risk and "45 天" in risk
    assert 'href="/hq/partners/TROUBLE"' in risk


def test_the_partners_list_and_page_say_on_notice_like_the_overview(client, session):
    login(client, _network(session).email)
    listing = client.get("/hq/partners?standing=trouble").get_data(as_text=True)
    assert "TROUBLE" in listing and "CALM" not in listing and "警示期" in listing
    partner = client.get("/hq/partners/TROUBLE").get_data(as_text=True)
    assert "警示期" in partner and "TR-01" in partner and "¥1,234.50" in partner


def test_finance_filters_overdue_invoices_with_totals_and_downloads_what_is_filtered(client, session):
    login(client, _network(session).email)
    page = client.get("/hq/billing/?status=overdue").get_data(as_text=True)
    assert "BH-2026-000001" in page and "BH-2026-000002" not in page and "¥1,234.50" in page
    response = client.get("/hq/billing/?status=overdue&format=csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "number" and [r[0] for r in rows[1:]] == ["BH-2026-000001"] and rows[1][10] == "1234.50"
    assert client.get("/hq/billing/?status=nonsense").status_code == 400
    assert client.get("/hq/billing/?period=2026-13").status_code == 400


def test_receivables_run_and_revenue_report_pages_open_and_export(client, session):
    login(client, _network(session).email)
    receivables = client.get("/hq/billing/receivables").get_data(as_text=True)
    assert "TROUBLE" in receivables and "¥1,333.50" in receivables and "31–60 天" in receivables
    exported = client.get("/hq/billing/receivables?format=csv").get_data(as_text=True)
    assert "TROUBLE" in exported and "1234.50" in exported
    run = client.get("/hq/billing/periods/2026-11").get_data(as_text=True)
    assert "BH-2026-000002" in run and "BH-2026-000001" not in run
    assert client.get("/hq/billing/periods/nonsense").status_code == 404
    reports = client.get("/hq/billing/revenue-reports?state=missing").get_data(as_text=True)
    assert "TROUBLE" in reports
    assert client.get("/hq/billing/revenue-reports?state=bogus").status_code == 400
    assert "period" in client.get("/hq/billing/revenue-reports?format=csv").get_data(as_text=True)
