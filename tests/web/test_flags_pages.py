"""The flag pages as HQ and partners use them: queue, bulk steps, evidence, plans, and partner isolation."""
from __future__ import annotations

import html
import re
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from brand_hub import compliance
from brand_hub.models import Role
from brand_hub.models.collection import CollectionTarget
from brand_hub.models.compliance import CorrectiveActionPlan, Flag, FlagState, Severity
from tests.builders import make_franchisee, make_site, make_user
from tests.conftest import login, post_form

H = timedelta(hours=1)


@pytest.fixture
def world(app, settings):
    """Two partners, each with a site whose agent has been down for three days, evaluated once."""
    engine = app.extensions["brandhub.engine"]
    now = datetime.now(timezone.utc)
    with Session(engine, expire_on_commit=False) as session:
        mine, theirs = make_franchisee(session), make_franchisee(session)
        site = make_site(session, mine, agent_url="http://127.0.0.1:1/", opened_on=date.today())
        other = make_site(session, theirs, agent_url="http://127.0.0.1:1/", opened_on=date.today())
        for s in (site, other):
            session.add(CollectionTarget(site_id=s.id, last_attempt_at=now, last_success_at=now - 75 * H))
        hq = make_user(session, Role.hq_manager, email="hq@brand.cn")
        viewer = make_user(session, Role.hq_viewer, email="viewer@brand.cn")
        partner = make_user(session, Role.franchisee_admin, franchisee=mine, email="boss@mine.cn")
        compliance.evaluate(session=session, settings=settings, now=now)
        session.commit()
        flag = session.exec(select(Flag).where(Flag.site_id == site.id, Flag.rule == "agent-unreachable")).one()
        foreign = session.exec(select(Flag).where(Flag.site_id == other.id, Flag.rule == "agent-unreachable")).one()
    return dict(engine=engine, mine=mine, site=site, other=other, flag=flag, foreign=foreign, hq=hq, viewer=viewer,
                partner=partner)


def reload(world, flag_id) -> Flag:
    with Session(world["engine"]) as session:
        return session.get(Flag, flag_id)


def test_hq_sees_the_queue_with_filters_and_the_flags_evidence(client, world):
    login(client, "hq@brand.cn")
    page = client.get("/hq/compliance/?severity=critical&rule=agent-unreachable").get_data(as_text=True)
    assert world["site"].code in page and world["other"].code in page
    filtered = client.get(f"/hq/compliance/?partner={world['mine'].code}").get_data(as_text=True)
    assert world["site"].code in filtered and world["other"].code not in filtered
    detail = client.get(f"/hq/compliance/flags/{world['flag'].id}").get_data(as_text=True)
    assert "75.0" in detail and "agent-unreachable" not in detail.split("<h1>")[1].split("</h1>")[0]
    assert client.get(f"/hq/compliance/sites/{world['site'].code}").status_code == 200


def test_hq_acknowledges_and_waives_in_bulk_with_the_csrf_token(client, world):
    login(client, "hq@brand.cn")
    ids = [world["flag"].id, world["foreign"].id]
    no_token = client.post("/hq/compliance/bulk", data={"action": "acknowledge", "flag": ids})
    assert no_token.status_code == 400 and reload(world, ids[0]).state == FlagState.open
    post_form(client, "/hq/compliance/bulk", {"action": "acknowledge", "flag": ids, "reason": "seen"},
              token_from="/hq/compliance/")
    assert {reload(world, i).state for i in ids} == {FlagState.acknowledged}
    until = (date.today() + timedelta(days=7)).isoformat()
    post_form(client, "/hq/compliance/bulk", {"action": "waive", "flag": ids, "reason": "ISP outage", "until": until},
              token_from="/hq/compliance/")
    waived = reload(world, ids[0])
    assert waived.state == FlagState.waived and waived.waived_until.date().isoformat() >= until[:8]


def test_an_hq_viewer_cannot_change_flags(client, world):
    login(client, "viewer@brand.cn")
    response = post_form(client, "/hq/compliance/bulk", {"action": "acknowledge", "flag": [world["flag"].id]},
                         token_from="/hq/compliance/")
    assert response.status_code == 403 and reload(world, world["flag"].id).state == FlagState.open


def test_a_partner_acknowledges_submits_a_plan_and_sees_hqs_answer(client, world, app):
    login(client, "boss@mine.cn")
    flag_id = world["flag"].id
    assert world["site"].code in client.get("/portal/flags").get_data(as_text=True)
    post_form(client, f"/portal/flags/{flag_id}/acknowledge", {}, token_from="/portal/flags")
    assert reload(world, flag_id).state == FlagState.acknowledged
    post_form(client, f"/portal/flags/{flag_id}/plan", {"what": "更换路由器并加 4G 备份线路", "who": "店长 王芳",
                                                        "due_on": (date.today() + timedelta(days=5)).isoformat()},
              token_from="/portal/flags")
    assert reload(world, flag_id).state == FlagState.plan_submitted
    client.get("/logout")
    login(client, "hq@brand.cn")
    post_form(client, f"/hq/compliance/flags/{flag_id}/accept", {"reason": "好，请按期完成"},
              token_from="/hq/compliance/")
    assert reload(world, flag_id).state == FlagState.plan_accepted
    client.get("/logout")
    login(client, "boss@mine.cn")
    page = client.get(f"/portal/flags/{flag_id}").get_data(as_text=True)
    assert "更换路由器" in page and "好，请按期完成" in page


def test_a_plan_without_a_date_is_refused_with_the_reason_and_nothing_changes(client, world):
    login(client, "boss@mine.cn")
    flag_id = world["flag"].id
    response = post_form(client, f"/portal/flags/{flag_id}/plan", {"what": "fix", "who": ""},
                         token_from="/portal/flags", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "整改计划需要填写：负责人, 完成期限" in page
    with Session(world["engine"]) as session:
        assert session.exec(select(CorrectiveActionPlan)).all() == []


def test_a_partner_cannot_see_or_act_on_another_partners_flags(client, world):
    login(client, "boss@mine.cn")
    foreign = world["foreign"].id
    assert world["other"].code not in client.get("/portal/flags").get_data(as_text=True)
    assert client.get(f"/portal/flags/{foreign}").status_code == 404
    assert client.get(f"/portal/sites/{world['other'].code}/flags").status_code == 404
    assert post_form(client, f"/portal/flags/{foreign}/acknowledge", {}, token_from="/portal/flags").status_code == 404
    assert post_form(client, f"/portal/flags/{foreign}/plan",
                     {"what": "x", "who": "y", "due_on": date.today().isoformat()},
                     token_from="/portal/flags").status_code == 404
    assert reload(world, foreign).state == FlagState.open
    assert client.get("/hq/compliance/").status_code == 403


def test_the_pages_speak_chinese_by_default_with_the_site_tabs(client, world):
    login(client, "boss@mine.cn")
    flag_page = client.get(f"/portal/flags/{world['flag'].id}").get_data(as_text=True)
    assert "发现的问题" in flag_page and "总部已有" in flag_page and "确认" in flag_page
    site_page = client.get(f"/portal/sites/{world['site'].code}/flags").get_data(as_text=True)
    assert f'/portal/sites/{world["site"].code}/flags' in site_page and "处理记录" not in site_page
    client.get("/logout")
    login(client, "hq@brand.cn")
    queue = client.get("/hq/compliance/").get_data(as_text=True)
    assert "处于警示期的伙伴" in queue and "确认所选" in queue


def test_the_queue_counts_unresolved_flags_by_rule_and_each_count_filters_the_list(client, session):
    partner = make_franchisee(session)
    site = make_site(session, partner)
    now = datetime.now(timezone.utc)
    for rule, state, title in (("agent-unreachable", FlagState.open, "门店采集端无法连接"),
                               ("agent-unreachable", FlagState.acknowledged, "门店采集端无法连接"),
                               ("agent-unreachable", FlagState.resolved, "门店采集端无法连接"),
                               ("std:iaq-co2/co2-open-hours", FlagState.open, "室内二氧化碳浓度")):
        session.add(Flag(site_id=site.id, franchisee_id=partner.id, rule=rule, subject=str(state.value),
                         state=state, severity=Severity.major, opened_at=now,
                         evidence={"rule_title_zh": title, "rule_title_en": rule}))
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)
    page = client.get("/hq/compliance/").get_data(as_text=True)
    chips = re.findall(r'<a class="chip[^"]*" href="([^"]+)"[^>]*>([^<]+)(?: <small class="muted">([^<]+)</small>)? '
                       r'<strong>(\d+)</strong>', page)
    # a standard's rule is named by its standard and, beside it, the rule's own id
    assert [(title, rule, int(n)) for _, title, rule, n in chips] == [("门店采集端无法连接", "", 2),
                                                                      ("室内二氧化碳浓度", "co2-open-hours", 1)]
    filtered = client.get(html.unescape(chips[1][0])).get_data(as_text=True)
    assert "室内二氧化碳浓度" in filtered and 'class="chip active"' in filtered
