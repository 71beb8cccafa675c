"""The Agents page, the site data page with its charts, and the partner's own feeds in the portal."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from brand_hub.models import AuditEvent, Role, Site
from brand_hub.models.collection import CollectionTarget, ReadingBucket
from tests.builders import issue_site_token, make_franchisee, make_site, make_user, rebuild_rollups
from tests.conftest import login, post_form

NOW = datetime.now(timezone.utc)


@pytest.fixture
def database_url(sqlite_url):
    """These pages read plain rows; the database engine does not matter here (the pull tests cover both)."""
    return sqlite_url


def feed(session, site, **health):
    values = dict(site_id=site.id, last_attempt_at=NOW, last_success_at=NOW - timedelta(minutes=5),
                  newest_record_at=NOW - timedelta(hours=2), records_last_pull=40, agent_version="1.0.0")
    values.update(health)
    session.add(CollectionTarget(**values))


def network(session):
    """Two partners: one healthy feed and one failing feed for the first, one healthy for the other."""
    mine, theirs = make_franchisee(session), make_franchisee(session)
    healthy = make_site(session, mine, code="SH-OK-01", agent_url="http://127.0.0.1:1/")
    failing = make_site(session, mine, code="SH-BAD-02", agent_url="http://127.0.0.1:2/")
    other = make_site(session, theirs, code="BJ-OTHER-03", agent_url="http://127.0.0.1:3/")
    feed(session, healthy)
    feed(session, failing, consecutive_failures=3, last_error="GET /v1/health: cannot connect (Connection refused)",
         last_error_at=NOW)
    feed(session, other)
    for i in range(8):
        session.add(ReadingBucket(site_id=healthy.id, zone="open-desk", metric="co2_ppm",
                                  bucket_start=NOW - timedelta(minutes=15 * (i + 2)), count=15, mean=650.0 + i,
                                  min=600, max=700))
    rebuild_rollups(session, [healthy.id])
    session.commit()
    return mine, healthy, failing, other


def test_the_agents_page_lists_failing_feeds_first_with_their_error(client, session):
    network(session)
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)

    page = client.get("/hq/collection/agents").get_data(as_text=True)

    assert page.index("SH-BAD-02") < page.index("SH-OK-01") and page.index("SH-BAD-02") < page.index("BJ-OTHER-03")
    assert "Connection refused" in page


def test_the_agents_page_sorts_by_a_column_on_request(client, session):
    network(session)
    user = make_user(session, Role.hq_viewer, locale="en")
    session.commit()
    login(client, user.email)

    page = client.get("/hq/collection/agents?sort=site&dir=desc").get_data(as_text=True)

    assert page.index("SH-OK-01") < page.index("SH-BAD-02") < page.index("BJ-OTHER-03")
    assert "Failures in a row" in page


def test_the_agents_page_is_in_chinese_by_default(client, session):
    network(session)
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)
    assert "门店代理" in client.get("/hq/collection/agents").get_data(as_text=True)


def test_the_site_data_page_charts_the_collected_readings(client, session):
    _, healthy, _, _ = network(session)
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)

    page = client.get(f"/hq/collection/sites/{healthy.code}").get_data(as_text=True)

    assert "chart-4.6.1.umd.min.js" in page and 'data-metric="co2_ppm"' in page
    assert '"open-desk"' in page and "657.0" in page
    assert client.get("/hq/collection/sites/NOPE").status_code == 404


def test_an_admin_rotates_a_site_token_sees_it_once_and_the_change_is_audited(client, session):
    _, healthy, _, _ = network(session)
    old_hash = issue_site_token(session, healthy)
    admin = make_user(session, Role.hq_admin)
    session.commit()
    login(client, admin.email)

    answer = post_form(client, f"/hq/collection/sites/{healthy.code}/token", token_from="/hq/collection/agents")

    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    session.expire_all()
    stored = session.exec(select(Site).where(Site.code == healthy.code)).one().agent_token_hash
    token = answer.get_data(as_text=True).split('<pre class="token">')[1].split("</pre>")[0]
    assert token and token not in stored and stored != old_hash
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "site.agent_token_rotate",
                                                 AuditEvent.actor == admin.email)).first() is not None


def test_a_viewer_may_not_rotate_tokens(client, session):
    _, healthy, _, _ = network(session)
    viewer = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, viewer.email)
    answer = post_form(client, f"/hq/collection/sites/{healthy.code}/token", token_from="/hq/collection/agents")
    assert answer.status_code == 403


def test_a_partner_sees_only_their_own_feeds(client, session):
    mine, healthy, failing, other = network(session)
    partner_user = make_user(session, Role.franchisee_admin, franchisee=mine)
    session.commit()
    login(client, partner_user.email)

    page = client.get("/portal/agents").get_data(as_text=True)

    assert "SH-OK-01" in page and "SH-BAD-02" in page and "BJ-OTHER-03" not in page


def test_a_partner_sees_their_sites_charts_but_another_partners_site_is_not_found(client, session):
    mine, healthy, failing, other = network(session)
    partner_user = make_user(session, Role.franchisee_admin, franchisee=mine)
    session.commit()
    login(client, partner_user.email)

    assert 'data-metric="co2_ppm"' in client.get(f"/portal/sites/{healthy.code}/data").get_data(as_text=True)
    assert client.get(f"/portal/sites/{other.code}/data").status_code == 404


def test_hq_pages_are_closed_to_partners(client, session):
    mine, *_ = network(session)
    partner_user = make_user(session, Role.franchisee_admin, franchisee=mine)
    session.commit()
    login(client, partner_user.email)
    assert client.get("/hq/collection/agents").status_code == 403


def test_the_site_data_page_names_each_refusal_and_broker_drop_in_the_readers_language(client, session):
    site = make_site(session, make_franchisee(session))
    feed(session, site, rejects={"beyond_horizon": 3, "broker_dropped": 40, "duplicate": 2})
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)

    chinese = client.get(f"/hq/collection/sites/{site.code}").get_data(as_text=True)
    post_form(client, "/lang", {"lang": "en", "next": "/hq/collection/agents"}, token_from="/hq/collection/agents")
    english = client.get(f"/hq/collection/sites/{site.code}").get_data(as_text=True)

    assert "beyond the amendment horizon 3" in english and "broker (queue full) 40" in english
    assert "超出补录期限 3" in chinese and "被现场消息代理丢弃（队列已满） 40" in chinese
    assert "beyond_horizon" not in english + chinese
