"""Renewal pages: HQ sees the record and decides; the partner sees the outcome; card history on scorecards."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from brand_hub.models import AuditEvent, Role
from brand_hub.models.foresight import RenewalDecision
from brand_hub.models.scoring import CardPublication, SiteScore
from tests.builders import make_agreement, make_franchisee, make_site, make_user
from tests.conftest import login, post_form


def red_card_published_ten_days_ago(session, site, today) -> None:
    session.add(SiteScore(site_id=site.id, period="2026-Q3", model_id="brand-health", model_version=1,
                          status="scored", score=41.0, card="red", coverage=0.9,
                          computed_at=datetime(2026, 10, 10, tzinfo=timezone.utc), indicators={}))
    session.add(CardPublication(period="2026-Q3", model_id="brand-health", model_version=1,
                                published_at=datetime.combine(today - timedelta(days=10), datetime.min.time(),
                                                              tzinfo=timezone.utc), published_by="test"))
    session.commit()


@pytest.fixture
def ending(session):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the brand's day, which the pages count in
    partner = make_franchisee(session, code="CD01", legal_name="成都方寸企业管理有限公司")
    agreement = make_agreement(session, partner, number="FC-2024-004", end_date=today + timedelta(days=100))
    site = make_site(session, partner, agreement, code="CD-01")
    make_user(session, Role.hq_admin, email="admin@hq.cn")
    make_user(session, Role.hq_viewer, email="viewer@hq.cn")
    make_user(session, Role.franchisee_admin, franchisee=partner, email="boss@cd01.cn")
    other = make_franchisee(session, code="SH01")
    make_user(session, Role.franchisee_admin, franchisee=other, email="boss@sh01.cn")
    session.commit()
    return agreement, site, today


def test_hq_sees_the_recommendation_and_an_admin_records_the_decision_the_partner_then_reads(client, session, ending):
    agreement, _, today = ending
    login(client, "admin@hq.cn")
    page = client.get("/hq/renewals/").get_data(as_text=True)
    assert "FC-2024-004" in page and "续约" in page and "还有 100 天" in page
    detail = client.get("/hq/renewals/FC-2024-004").get_data(as_text=True)
    assert "依据记录的建议" in detail and "记录中的事实" in detail
    new_end = (today + timedelta(days=100 + 5 * 365)).isoformat()
    refused = post_form(client, "/hq/renewals/FC-2024-004/decision", {"outcome": "renew", "new_end_date": "2020-01-01"},
                        token_from="/hq/renewals/FC-2024-004")
    assert refused.status_code == 422 and "after" in refused.get_data(as_text=True)
    done = post_form(client, "/hq/renewals/FC-2024-004/decision", {"outcome": "renew_with_conditions", "new_end_date": new_end,
                                                          "conditions": "季度复核整改计划"},
                     token_from="/hq/renewals/FC-2024-004")
    assert done.status_code == 302
    session.expire_all()
    assert session.exec(select(RenewalDecision)).one().conditions == "季度复核整改计划"
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "agreement.renewal")).one()
    client.get("/logout")
    login(client, "boss@cd01.cn")
    portal = client.get("/portal/agreements/FC-2024-004").get_data(as_text=True)
    assert "附条件续约" in portal and "季度复核整改计划" in portal
    client.get("/logout")
    login(client, "boss@sh01.cn")
    assert client.get("/portal/agreements/FC-2024-004").status_code == 404


def test_a_viewer_reads_renewals_but_cannot_decide_and_partners_cannot_reach_them(client, session, ending):
    login(client, "viewer@hq.cn")
    assert client.get("/hq/renewals/FC-2024-004").status_code == 200
    assert post_form(client, "/hq/renewals/FC-2024-004/decision", {"outcome": "not_renewed"},
                     token_from="/hq/renewals/").status_code == 403
    client.get("/logout")
    login(client, "boss@cd01.cn")
    assert client.get("/hq/renewals/").status_code in (403, 404)


def test_the_partner_scorecard_says_what_cures_an_open_red_card_and_by_when(client, session, ending):
    _, site, today = ending
    red_card_published_ten_days_ago(session, site, today)
    login(client, "boss@cd01.cn")
    page = client.get("/portal/scores/CD-01").get_data(as_text=True)
    assert "评级记录" in page and "2026-Q3 的红牌整改期至" in page and "整改完成的条件：下一张发布的评级至少为黄牌。" in page
    assert "起的违规次数：1" in page


def test_hq_and_the_partner_read_the_partners_card_history_across_its_sites(client, session, ending):
    _, site, today = ending
    red_card_published_ten_days_ago(session, site, today)
    login(client, "admin@hq.cn")
    hq = client.get("/hq/partners/CD01").get_data(as_text=True)
    assert 'id="partner-card-history"' in hq and "CD-01 · 2026-Q3 的红牌整改期至" in hq
    client.get("/logout")
    login(client, "boss@cd01.cn")
    home = client.get("/portal/").get_data(as_text=True)
    assert 'id="partner-card-history"' in home and "发布红牌" in home
