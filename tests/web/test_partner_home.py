"""The partner's home is a to-do list: worst and soonest first, money for admins only, and why on notice."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from brand_hub.models import Role
from brand_hub.models.billing import Invoice, InvoiceStatus
from brand_hub.models.compliance import Flag, FlagState, Severity
from brand_hub.models.partner_staff import SiteAssignment
from tests.builders import make_agreement, make_franchisee, make_site, make_user
from tests.conftest import login


def _partner(session):
    partner = make_franchisee(session, code="HOME")
    agreement = make_agreement(session, partner)
    site = make_site(session, partner, agreement, code="HM-01")
    now = datetime.now(timezone.utc)
    session.add(Flag(franchisee_id=partner.id, site_id=site.id, rule="feed-silent", state=FlagState.open,
                     severity=Severity.minor, opened_at=now, ack_due_at=now + timedelta(hours=5),
                     evidence={"rule_title_zh": "采集端在线但无新数据", "rule_title_en": "Data feed silent"}))
    session.add(Flag(franchisee_id=partner.id, site_id=site.id, rule="red-card", state=FlagState.open,
                     severity=Severity.major, opened_at=now, ack_due_at=now + timedelta(days=3),
                     evidence={"quarter": "2026-Q3", "card": "red", "score": 41.0, "rule_title_zh": "季度红牌",
                               "rule_title_en": "Red card for the quarter"}))
    session.add(Invoice(agreement_id=agreement.id, franchisee_id=partner.id, period="2026-10", number="BH-HOME-1",
                        status=InvoiceStatus.issued, plan_id="standard-2026", due_date=now.date() - timedelta(days=4),
                        total=Decimal("8888.88"), subtotal=Decimal("8888.88")))
    admin = make_user(session, Role.franchisee_admin, franchisee=partner)
    staff = make_user(session, Role.franchisee_staff, franchisee=partner)
    session.add(SiteAssignment(user_id=staff.id, site_id=site.id))
    session.commit()
    return admin, staff


def test_the_admins_home_lists_what_to_do_worst_first_with_amounts_and_why_on_notice(client, session):
    admin, _staff = _partner(session)
    login(client, admin.email)
    page = client.get("/portal/").get_data(as_text=True)
    todo = page[page.index('id="todo"'):]
    assert todo.index("支付发票 BH-HOME-1") < todo.index("回复合规问题：季度红牌") < todo.index("采集端在线但无新数据")
    assert "¥8,888.88" in todo and "逾期" in todo
    assert "您处于警示期的原因" in page and "HM-01 的红牌生效中" in page and "如何解除" in page


def test_a_site_managers_home_has_their_sites_to_do_and_no_money(client, session):
    _admin, staff = _partner(session)
    login(client, staff.email)
    page = client.get("/portal/").get_data(as_text=True)
    assert "回复合规问题：季度红牌" in page and "HM-01" in page
    assert "BH-HOME-1" not in page and "¥8,888.88" not in page and "未付余额" not in page
