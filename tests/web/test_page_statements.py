"""Issue 10, speed: the dashboard, the HQ partner page and the partner's home cost the same number of SQL
statements whatever the size of the network, and the precomputed dashboard says what the live one says."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import event
from sqlmodel import select

from brand_hub.dashboard import snapshot
from brand_hub.models import Role
from brand_hub.models.billing import Invoice, InvoiceStatus
from brand_hub.models.compliance import Flag, FlagState, Severity
from brand_hub.models.dashboard import DashboardSnapshot
from brand_hub.models.scoring import CardPublication, SiteScore
from brand_hub.models.standards import Standard, StandardAcknowledgement
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, make_user
from tests.conftest import login

NOW = datetime.now(timezone.utc)
PAGES_BOUND = 30
AS_OF = "全网数据截至"   # "network figures as of" (the pages are in Chinese unless the reader chose English)


def _grow(session, partners, agreements, standard, sites: int) -> None:
    """``sites`` more sites, spread over the partners, each with two published quarters of cards, a flag,
    a revenue report and an acknowledgement due."""
    for n in range(sites):
        p = n % len(partners)
        site = make_site(session, partners[p], agreements[p])
        for period, score in (("2026-Q2", 50.0 + n), ("2026-Q3", 40.0 + 2 * n)):
            card = "red" if score < 55 else "yellow" if score < 75 else "green"
            session.add(SiteScore(site_id=site.id, period=period, model_id="brand-health", model_version=1,
                                  status="scored", score=score, card=card, coverage=0.9,
                                  indicators={"co2_compliance": {"normalised": score, "raw": 0.5, "weight": 10.0,
                                                                 "share": 0.1, "points_lost": 1.0}}))
        session.add(Flag(site_id=site.id, franchisee_id=partners[p].id, rule="feed-silent" if n % 2 else "red-card",
                         subject="", state=FlagState.open, severity=(Severity.major, Severity.critical)[n % 2],
                         opened_at=NOW - timedelta(days=2), evidence={"quarter": "2026-Q3"}))
        make_revenue_report(session, site, "2026-11", "1000.00")
        session.add(StandardAcknowledgement(site_id=site.id, standard_id=standard.id, due_at=NOW - timedelta(days=1)))
    session.commit()


def _network(session):
    partners = [make_franchisee(session) for _ in range(3)]
    agreements = [make_agreement(session, p) for p in partners]
    for quarter in ("2026-Q2", "2026-Q3"):
        session.add(CardPublication(period=quarter, model_id="brand-health", model_version=1, published_by="test"))
    standard = Standard(key="iaq-co2", version=1, category="iaq", title_zh="空气", content={}, content_hash="x")
    session.add(standard)
    for p, partner in enumerate(partners):   # every partner owes an invoice 20 days overdue
        session.add(Invoice(agreement_id=agreements[p].id, franchisee_id=partner.id, period="2026-10",
                            number=f"BH-T-{partner.code}", status=InvoiceStatus.issued, plan_id="standard-2026",
                            due_date=date.today() - timedelta(days=20), total=Decimal("100.00")))
    session.commit()
    return partners, agreements, standard


def _counted(app, client, path: str) -> int:
    engine = app.extensions["brandhub.engine"]
    count = [0]

    def one(*_args, **_kwargs):
        count[0] += 1

    client.get(path)   # warm: the scoring model is read, the session opened
    event.listen(engine, "before_cursor_execute", one)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", one)
    assert response.status_code == 200, (path, response.status_code)
    return count[0]


def test_the_dashboard_partner_page_and_partner_home_cost_the_same_statements_for_3_and_12_sites(app, session):
    partners, agreements, standard = _network(session)
    hq, portal = app.test_client(), app.test_client()
    hq_user, partner_admin = make_user(session, Role.hq_admin), make_user(session, Role.franchisee_admin,
                                                                           franchisee=partners[0])
    session.commit()
    login(hq, hq_user.email)
    login(portal, partner_admin.email)
    paths = ((hq, "/hq/"), (hq, f"/hq/partners/{partners[0].code}"), (hq, "/hq/compliance/"),
             (hq, "/hq/billing/receivables"), (hq, "/hq/billing/revenue-reports"),
             (hq, f"/hq/renewals/{agreements[0].number}"), (portal, "/portal/"))
    _grow(session, partners, agreements, standard, 3)
    small = {path: _counted(app, client, path) for client, path in paths}
    _grow(session, partners, agreements, standard, 9)
    large = {path: _counted(app, client, path) for client, path in paths}
    assert large == small
    assert max(small.values()) <= PAGES_BOUND, small


def _at_risk(html: str) -> str:
    return re.search(r'<section class="panel" id="at-risk">.*?</section>', html, re.S).group(0)


def test_the_precomputed_dashboard_shows_the_same_partners_at_risk_and_reasons_while_fresh(app, client, session,
                                                                                              settings):
    partners, agreements, standard = _network(session)
    _grow(session, partners, agreements, standard, 6)
    user = make_user(session, Role.hq_admin)
    session.commit()
    login(client, user.email)
    live = client.get("/hq/").get_data(as_text=True)
    assert AS_OF not in live
    snapshot.refresh_job(settings=settings)       # what the refresh-dashboard job does
    stored = client.get("/hq/").get_data(as_text=True)
    assert AS_OF in stored
    assert _at_risk(stored) == _at_risk(live)
    assert all(p.code in _at_risk(stored) for p in partners) and _at_risk(stored).count("<li>") >= 9
    assert "20" in _at_risk(stored) and "2026-Q3" in _at_risk(stored)   # overdue days, the quarter of the cards

    row = session.exec(select(DashboardSnapshot)).one()   # an old snapshot is not shown: the page computes itself
    row.computed_at = datetime.now(timezone.utc) - snapshot.MAX_AGE - timedelta(minutes=1)
    session.add(row)
    session.commit()
    again = client.get("/hq/").get_data(as_text=True)
    assert AS_OF not in again and _at_risk(again) == _at_risk(live)


def test_the_flag_queue_lists_twenty_partners_on_notice_and_links_to_all_of_them(client, session):
    for n in range(22):
        partner = make_franchisee(session, code=f"N{n:03d}")
        session.add(Flag(franchisee_id=partner.id, site_id=make_site(session, partner).id, rule="red-card",
                         subject="", state=FlagState.open, severity=Severity.major, opened_at=NOW, evidence={}))
    user = make_user(session, Role.hq_admin)
    session.commit()
    login(client, user.email)
    page = client.get("/hq/compliance/").get_data(as_text=True)
    assert "N019" in page and "N020" not in page.split('name="partner"')[0]
    assert "共 22 个，显示 20 个" in page and 'href="/hq/partners?standing=trouble"' in page
    filtered = client.get("/hq/compliance/?partner=N021").get_data(as_text=True)
    assert 'name="partner" value="N021"' in filtered


def test_a_renewal_reads_the_score_trend_of_all_its_sites_in_one_statement(engine, session):
    from brand_hub.renewals import _score_trend

    partner = make_franchisee(session)
    agreement = make_agreement(session, partner)
    rising, falling, new = (make_site(session, partner, agreement) for _ in range(3))
    for site, scores in ((rising, (60.0, 65.0, 70.0, 72.0, 80.0, 90.0)), (falling, (80.0, 70.0)), (new, (50.0,))):
        for n, score in enumerate(scores):   # six quarters: the change is over the last four (five points)
            session.add(SiteScore(site_id=site.id, period=f"{2025 + (n // 4)}-Q{n % 4 + 1}", model_id="brand-health",
                                  model_version=1, status="scored", score=score, card="green", coverage=1.0,
                                  indicators={}))
    session.commit()
    count = [0]

    def one(*_args, **_kwargs):
        count[0] += 1

    event.listen(engine, "before_cursor_execute", one)
    try:
        trend = _score_trend(session, [rising.id, falling.id, new.id])
    finally:
        event.remove(engine, "before_cursor_execute", one)
    assert trend == 7.5 and count[0] == 1   # rising +25 (65 → 90), falling −10, the new site has no trend yet
