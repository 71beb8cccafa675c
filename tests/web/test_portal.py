"""The partner portal: a partner sees its own company, sites and agreements, nobody else's."""
from __future__ import annotations

from brand_hub.models import Role, SiteStatus
from tests.builders import make_agreement, make_franchisee, make_site, make_user
from tests.conftest import login


def _partner_with_sites(session):
    mine = make_franchisee(session, code="SH01", legal_name="上海静安方寸企业管理有限公司")
    theirs = make_franchisee(session, code="BJ01", legal_name="北京朝阳方寸空间管理有限公司")
    agreement = make_agreement(session, mine, number="FC-2023-001", territory="上海市")
    make_agreement(session, theirs, number="FC-2023-002")
    make_site(session, mine, agreement, code="SH-JA-01", name_zh="方寸空间·静安寺")
    make_site(session, mine, agreement, code="SH-PD-02", name_zh="方寸空间·张江", status=SiteStatus.onboarding)
    make_site(session, theirs, code="BJ-CY-01", name_zh="方寸空间·国贸")
    user = make_user(session, Role.franchisee_admin, franchisee=mine)
    session.commit()
    return user


def test_home_shows_the_partners_profile_and_sites(client, session):
    login(client, _partner_with_sites(session).email)
    page = client.get("/portal/").get_data(as_text=True)
    assert "上海静安方寸企业管理有限公司" in page and "方寸空间·静安寺" in page
    assert "方寸空间·国贸" not in page and "北京朝阳" not in page


def test_sites_list_holds_only_the_partners_own_sites_and_filters_them(client, session):
    login(client, _partner_with_sites(session).email)
    page = client.get("/portal/sites").get_data(as_text=True)
    assert "SH-JA-01" in page and "SH-PD-02" in page and "BJ-CY-01" not in page
    onboarding = client.get("/portal/sites?status=onboarding").get_data(as_text=True)
    assert "SH-PD-02" in onboarding and "SH-JA-01" not in onboarding
    assert "BJ-CY-01" not in client.get("/portal/sites?q=BJ").get_data(as_text=True)


def test_agreements_list_the_partners_licences(client, session):
    login(client, _partner_with_sites(session).email)
    page = client.get("/portal/agreements").get_data(as_text=True)
    assert "FC-2023-001" in page and "FC-2023-002" not in page
    detail = client.get("/portal/agreements/FC-2023-001").get_data(as_text=True)
    assert "SH-JA-01" in detail and "上海市" in detail
    assert client.get("/portal/agreements/FC-2023-002").status_code == 404


def test_portal_pages_share_the_layout_with_their_own_navigation(client, session):
    login(client, _partner_with_sites(session).email)
    page = client.get("/portal/sites/SH-JA-01").get_data(as_text=True)
    assert 'href="/portal/agreements"' in page
    assert 'href="/hq/' not in page
    assert "09:00–21:00" in page
