"""HQ moves a site on its holders page (issue 17): hq_admin only, CSRF, an effective date, audited."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, plans, runs
from brand_hub.models import AuditEvent, Role, Site
from brand_hub.models.tenure import SiteTenure
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, make_user
from tests.conftest import login, post_form

PATH = "/hq/sites/SH-MV-01/holders"


def _network(session):
    a, b = make_franchisee(session, code="TA01", legal_name="甲方企业管理有限公司"), make_franchisee(session, code="TB01")
    fc_a = make_agreement(session, a, number="FC-A")
    make_agreement(session, b, number="FC-B")
    site = make_site(session, a, fc_a, code="SH-MV-01", opened_on=date(2025, 1, 1))
    make_user(session, Role.hq_admin, email="admin@brand.cn")
    make_user(session, Role.hq_manager, email="manager@brand.cn")
    session.commit()
    return site


def _tenures(session):
    session.expire_all()
    return [(t.franchisee_id, t.starts_on, t.ends_on) for t in session.exec(select(SiteTenure)
                                                                            .order_by(SiteTenure.starts_on))]


def test_an_hq_admin_moves_the_site_with_an_effective_date(client, session):
    site = _network(session)
    old_partner = site.franchisee_id
    login(client, "admin@brand.cn")
    shown = client.get(PATH).get_data(as_text=True)
    assert "甲方企业管理有限公司" in shown and "2025年1月1日" in shown
    response = post_form(client, PATH, {"franchisee": "TB01", "agreement": "FC-B", "effective_on": "2026-11-16"},
                         token_from=PATH)
    assert response.status_code == 302
    moved = session.get(Site, site.id)
    session.refresh(moved)
    assert moved.franchisee_id != old_partner
    assert _tenures(session) == [(old_partner, date(2025, 1, 1), date(2026, 11, 16)),
                                 (moved.franchisee_id, date(2026, 11, 16), None)]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "site.move")).one()
    assert event.actor == "admin@brand.cn" and event.after["agreement"] == "FC-B"


def test_only_an_hq_admin_with_the_csrf_token_can_move_a_site(client, session):
    _network(session)
    login(client, "manager@brand.cn")
    assert client.get(PATH).status_code == 200
    form = {"franchisee": "TB01", "agreement": "FC-B", "effective_on": "2026-11-16"}
    assert post_form(client, PATH, form, token_from=PATH).status_code == 403
    client.get("/logout")
    login(client, "admin@brand.cn")
    assert client.post(PATH, data=form).status_code == 400  # no CSRF token
    assert _tenures(session) == []


def test_a_move_that_would_take_an_invoiced_month_is_refused_with_the_reason(client, session):
    site = _network(session)
    make_revenue_report(session, site, "2026-10", "400000")
    runs.write_drafts(session=session, period="2026-10", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-10", plans=plans(), today=date(2026, 11, 5)))
    invoices.issue_period(session=session, period="2026-10", actor=SYSTEM,
                          now=datetime(2026, 11, 5, 2, tzinfo=timezone.utc), due_days=15)
    session.commit()
    login(client, "admin@brand.cn")
    response = post_form(client, PATH, {"franchisee": "TB01", "agreement": "FC-B", "effective_on": "2026-10-20"},
                         token_from=PATH)
    assert response.status_code == 400
    assert "2026-10" in response.get_data(as_text=True) and "2026-11-01" in response.get_data(as_text=True)
    bad = post_form(client, PATH, {"franchisee": "TB01", "agreement": "FC-A", "effective_on": "2026-11-16"},
                    token_from=PATH)
    assert bad.status_code == 400 and _tenures(session) == []
