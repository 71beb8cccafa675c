"""The HQ dashboard: overview, partners, sites (search, filters, sorting, forms), users, audit log."""
from __future__ import annotations

import re
from decimal import Decimal

from sqlmodel import select

from brand_hub.models import AuditEvent, Role, Site, SiteStatus, User
from tests.builders import make_agreement, make_franchisee, make_site, make_user
from tests.conftest import login, post_form


def _hq(session, client, role=Role.hq_admin):
    user = make_user(session, role)
    session.commit()
    login(client, user.email)
    return user


def _site_form(partner_code: str, **changes) -> dict:
    form = dict(code="HZ-XH-09", name_zh="方寸空间·西溪", name_en="FangCun Xixi", franchisee=partner_code,
                agreement="", city="杭州", region="east", tier="standard", timezone="Asia/Shanghai",
                address="杭州市西湖区文二西路1号", opening_hours="mon-fri 09:00-21:00; sat 10:00-18:00",
                area_m2="980.5", desks="150", status="onboarding", opened_on="", agent_url="")
    form.update(changes)
    return form


def test_overview_counts_sites_by_status_city_and_tier(client, session):
    partner = make_franchisee(session)
    make_site(session, partner, city="上海", tier="flagship")
    make_site(session, partner, city="上海", tier="standard", status=SiteStatus.onboarding)
    make_site(session, partner, city="成都", tier="lite", status=SiteStatus.suspended)
    _hq(session, client, Role.hq_viewer)
    page = client.get("/hq/").get_data(as_text=True)
    assert "上海" in page and "成都" in page
    assert 'href="/hq/sites?city=%E4%B8%8A%E6%B5%B7">上海</a>' in page
    from brand_hub import registry
    overview = registry.network_overview(session=session)
    assert overview.sites_by_status == {"onboarding": 1, "active": 1, "suspended": 1, "terminated": 0}
    assert overview.sites_by_city == {"上海": 2, "成都": 1}
    assert overview.sites_by_tier == {"flagship": 1, "lite": 1, "standard": 1}


def test_overview_shows_what_is_wrong_across_the_network_now(client, session):
    from datetime import date, datetime, timedelta, timezone

    from brand_hub.models.billing import Invoice, InvoiceStatus
    from brand_hub.models.collection import CollectionTarget
    from brand_hub.models.compliance import Flag, FlagState, Severity

    partner = make_franchisee(session)
    agreement = make_agreement(session, partner)
    site = make_site(session, partner, agreement, agent_url="http://127.0.0.1:1/")
    now = datetime.now(timezone.utc)
    session.add(CollectionTarget(site_id=site.id, last_attempt_at=now, consecutive_failures=3))
    for state, rule in ((FlagState.open, "agent-unreachable"), (FlagState.acknowledged, "red-card"),
                        (FlagState.resolved, "feed-silent")):
        session.add(Flag(site_id=site.id, franchisee_id=partner.id, rule=rule, subject="", state=state,
                         severity=Severity.major, opened_at=now, evidence={}))
    for number, period, due, total in (
            ("BH-2026-000001", "2026-09", date.today() - timedelta(days=20), Decimal("1234.50")),
            ("BH-2026-000002", "2026-10", date.today() + timedelta(days=5), Decimal("99.00"))):
        session.add(Invoice(agreement_id=agreement.id, franchisee_id=partner.id, period=period,
                            plan_id="standard-2026", number=number, status=InvoiceStatus.issued, due_date=due,
                            subtotal=total, vat=Decimal("0"), total=total))
    _hq(session, client, Role.hq_viewer)
    page = client.get("/hq/").get_data(as_text=True)
    health = page[page.index("网络健康状况"):page.index("门店状态")]
    numbers = [int(n.replace(",", "")) if n.replace(",", "").isdigit() else n
               for n in re.findall(r'<div class="value">([^<]+)</div>', health)]
    # two current flags (the resolved one is not), one partner on notice (its red card), one agent failing,
    # one overdue invoice with ¥1,234.50 owed (the other is not due yet)
    assert numbers[:4] == [2, 1, 1, 1] and "1,234.50" in numbers[4]


def test_sites_list_searches_filters_sorts_and_pages(client, session):
    east = make_franchisee(session, code="EAST")
    west = make_franchisee(session, code="WEST")
    for n in range(30):
        make_site(session, east, code=f"SH-{n:02d}", city="上海", desks=100 + n)
    make_site(session, west, code="CD-01", name_zh="方寸空间·春熙路", city="成都", region="west", desks=5)
    _hq(session, client, Role.hq_viewer)
    first = client.get("/hq/sites").get_data(as_text=True)
    assert "CD-01" in first and "SH-23" in first and "SH-24" not in first  # 25 a page, by code
    assert "SH-24" in client.get("/hq/sites?page=2").get_data(as_text=True)
    found = client.get("/hq/sites?q=春熙").get_data(as_text=True)
    assert "CD-01" in found and "SH-00" not in found
    assert "CD-01" not in client.get("/hq/sites?city=上海").get_data(as_text=True)
    assert "SH-0" not in client.get("/hq/sites?franchisee=WEST").get_data(as_text=True)
    by_partner = client.get("/hq/sites?partner=WEST").get_data(as_text=True)
    assert "CD-01" in by_partner and "SH-0" not in by_partner
    by_desks = client.get("/hq/sites?sort=desks&dir=desc").get_data(as_text=True)
    assert by_desks.index("SH-29") < by_desks.index("SH-28")
    assert client.get("/hq/sites?status=nonsense").status_code == 400


def test_an_editor_creates_a_site_and_the_change_is_audited(client, session):
    partner = make_franchisee(session, code="HZ01")
    user = _hq(session, client, Role.hq_manager)
    response = post_form(client, "/hq/sites/new", _site_form("HZ01"), token_from="/hq/sites/new")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/hq/sites/HZ-XH-09")
    session.expire_all()
    site = session.exec(select(Site).where(Site.code == "HZ-XH-09")).one()
    assert site.franchisee_id == partner.id
    assert site.area_m2 == Decimal("980.50")
    assert site.opening_hours["mon"] == [["09:00", "21:00"]] and "sun" not in site.opening_hours
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "site.create")).one()
    assert event.actor == user.email and event.entity_id == "HZ-XH-09"
    assert event.after["name_zh"] == "方寸空间·西溪"


def test_editing_a_site_records_before_and_after(client, session):
    partner = make_franchisee(session, code="SH01")
    site = make_site(session, partner, code="SH-JA-01", desks=120)
    _hq(session, client)
    form = _site_form("SH01", code="SH-JA-01", desks="140", status="active")
    assert post_form(client, "/hq/sites/SH-JA-01/edit", form, token_from="/hq/sites").status_code == 302
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "site.update")).one()
    assert event.before["desks"] == 120 and event.after["desks"] == 140
    session.expire_all()
    assert session.get(Site, site.id).desks == 140


def test_a_bad_site_form_is_shown_again_with_the_reasons_and_nothing_is_saved(client, session):
    make_franchisee(session, code="SH01")
    _hq(session, client)
    response = post_form(client, "/hq/sites/new", _site_form("SH01", desks="many", timezone="Mars/Base",
                                                             opening_hours="mon 21:00-09:00"),
                         token_from="/hq/sites")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "&#39;many&#39; 不是整数" in page  # the reasons speak the reader's language
    assert "&#39;Mars/Base&#39; 不是 IANA 时区" in page and "不是营业时段" in page
    assert 'value="方寸空间·西溪"' in page  # what was typed is kept
    assert session.exec(select(Site)).all() == []


def test_an_agreement_of_another_partner_cannot_be_given_to_a_site(client, session):
    make_franchisee(session, code="A1")
    other = make_franchisee(session, code="B1")
    make_agreement(session, other, number="AG-B1")
    _hq(session, client)
    response = post_form(client, "/hq/sites/new", _site_form("A1", agreement="AG-B1"), token_from="/hq/sites")
    assert response.status_code == 422
    assert "协议 AG-B1 属于另一家合作伙伴" in response.get_data(as_text=True)


def test_partner_and_agreement_changes_are_audited(client, session):
    _hq(session, client)
    form = dict(code="WH01", legal_name="武汉光谷方寸科技服务有限公司", status="active", contact_email="a@wh.example")
    assert post_form(client, "/hq/partners/new", form, token_from="/hq/partners").status_code == 302
    agreement = dict(number="FC-2026-010", start_date="2026-01-01", end_date="2030-12-31",
                     royalty_plan_id="standard-2026", territory="湖北省", status="active")
    assert post_form(client, "/hq/partners/WH01/agreements/new", agreement,
                     token_from="/hq/partners").status_code == 302
    agreement["status"] = "terminated"
    assert post_form(client, "/hq/agreements/FC-2026-010/edit", agreement,
                     token_from="/hq/partners").status_code == 302
    actions = [e.action for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[-3:] == ["franchisee.create", "agreement.create", "agreement.update"]
    page = client.get("/hq/partners/WH01").get_data(as_text=True)
    assert "FC-2026-010" in page and "武汉光谷方寸科技服务有限公司" in page


def test_an_admin_creates_and_deactivates_a_user_who_then_cannot_sign_in(client, session, app):
    partner = make_franchisee(session, code="SH01")
    admin = _hq(session, client)
    form = dict(email="New.Staff@sh01.example", name="新店长", role="franchisee_staff", franchisee="SH01",
                password="a long enough secret")
    assert post_form(client, "/hq/users", form, token_from="/hq/users").status_code == 302
    user = session.exec(select(User).where(User.email == "new.staff@sh01.example")).one()
    assert user.franchisee_id == partner.id
    assert post_form(client, f"/hq/users/{user.id}/active", {"active": "0"},
                     token_from="/hq/users").status_code == 302
    session.expire_all()
    assert session.get(User, user.id).active is False
    actions = {e.action for e in session.exec(select(AuditEvent).where(AuditEvent.actor == admin.email))}
    assert {"user.create", "user.deactivate"} <= actions
    other = app.test_client()
    assert login(other, "new.staff@sh01.example", "a long enough secret").status_code == 401


def test_an_admin_cannot_deactivate_themselves(client, session):
    admin = _hq(session, client)
    post_form(client, f"/hq/users/{admin.id}/active", {"active": "0"}, token_from="/hq/users")
    session.expire_all()
    assert session.get(User, admin.id).active is True


def test_the_audit_log_filters_by_object_type_and_action(client, session):
    make_franchisee(session, code="SH01")
    _hq(session, client)
    post_form(client, "/hq/sites/new", _site_form("SH01"), token_from="/hq/sites")
    post_form(client, "/hq/partners/new", dict(code="X1", legal_name="某某公司", status="active"),
              token_from="/hq/partners")
    sites_only = client.get("/hq/audit?entity_type=site").get_data(as_text=True)
    assert "site.create" in sites_only and "franchisee.create" not in sites_only
    assert "franchisee.create" in client.get("/hq/audit?action=franchisee").get_data(as_text=True)


def test_every_form_of_the_dashboard_refuses_a_post_without_csrf_token(client, session):
    partner = make_franchisee(session, code="SH01")
    make_agreement(session, partner, number="AG-1")
    make_site(session, partner, code="SH-01")
    user = make_user(session, Role.franchisee_staff, franchisee=partner)
    _hq(session, client)
    for path in ("/hq/sites/new", "/hq/sites/SH-01/edit", "/hq/partners/new", "/hq/partners/SH01/edit",
                 "/hq/partners/SH01/agreements/new", "/hq/agreements/AG-1/edit", "/hq/users",
                 f"/hq/users/{user.id}/active", "/lang"):
        assert client.post(path, data={"code": "X", "active": "0"}).status_code == 400, path
    session.expire_all()
    assert session.get(User, user.id).active is True
    assert session.exec(select(AuditEvent)).all() == []


def test_site_page_links_the_pages_other_areas_add_for_a_site(app, client, session):
    partner = make_franchisee(session)
    make_site(session, partner, code="SH-01")
    _hq(session, client, Role.hq_viewer)
    page = client.get("/hq/sites/SH-01").get_data(as_text=True)
    for endpoint in ("collection.site_data", "distribution.site_config", "scores.site_scorecard",
                     "compliance.site_flags", "billing.site_billing"):
        with app.test_request_context():
            from flask import url_for
            if endpoint in app.view_functions:
                assert url_for(endpoint, code="SH-01") in page
    assert 'href="/hq/sites/SH-01"' in page


def test_a_new_site_with_a_code_that_is_taken_is_refused_not_merged(client, session):
    partner = make_franchisee(session, code="SH01")
    site = make_site(session, partner, code="HZ-XH-09", name_zh="原来的门店")
    _hq(session, client)
    response = post_form(client, "/hq/sites/new", _site_form("SH01"), token_from="/hq/sites")
    assert response.status_code == 422
    assert "HZ-XH-09 已被占用" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Site, site.id).name_zh == "原来的门店"


def test_what_was_typed_is_escaped_when_a_form_shows_it_back(client, session):
    make_franchisee(session, code="SH01")
    _hq(session, client)
    response = post_form(client, "/hq/sites/new", _site_form("SH01", desks="<script>alert(1)</script>"),
                         token_from="/hq/sites")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_site_form_asks_for_a_partner_code_and_offers_only_that_partners_agreements(client, session):
    """At thousands of partners a drop-down of all of them (and of all agreements) is unusable and heavy."""
    partners = [make_franchisee(session, code=f"P{i:02d}") for i in range(12)]
    for partner in partners:
        make_agreement(session, partner, number=f"AG-{partner.code}")
    _hq(session, client, Role.hq_manager)
    blank = client.get("/hq/sites/new").get_data(as_text=True)
    assert 'name="franchisee"' in blank and "<option" not in blank.split('name="franchisee"')[1].split("</label>")[0]
    assert "AG-P00" not in blank and "AG-P11" not in blank
    chosen = client.get("/hq/sites/new?franchisee=P03").get_data(as_text=True)
    assert 'value="P03"' in chosen and partners[3].legal_name in chosen
    assert "AG-P03" in chosen and "AG-P04" not in chosen and "AG-P00" not in chosen
    response = post_form(client, "/hq/sites/new", _site_form("NOPE"), token_from="/hq/sites/new")
    assert response.status_code == 422 and "NOPE" in response.get_data(as_text=True)
    assert session.exec(select(Site)).all() == []
    saved = post_form(client, "/hq/sites/new", _site_form(" P03 ", agreement="AG-P03"), token_from="/hq/sites/new")
    assert saved.status_code == 302
    assert session.exec(select(Site)).one().franchisee_id == partners[3].id
