"""The simulator pages: finance and admins draft plans, compare them, publish one; nobody else gets in."""
from __future__ import annotations

import pytest
from sqlmodel import select

from brand_hub.models import AuditEvent, Role
from brand_hub.models.foresight import PlanDraft
from tests.builders import make_franchisee, make_user
from tests.conftest import login, post_form
from tests.integration.test_billing_simulate import FLAT_12, STANDARD_TEXT, billed_network


@pytest.fixture
def finance(session):
    user = make_user(session, Role.hq_finance, email="finance@hq.cn")
    session.commit()
    return user


def test_finance_saves_a_draft_and_sees_what_it_would_have_charged(client, session, finance):
    billed_network(session)
    login(client, "finance@hq.cn")
    response = post_form(client, "/hq/simulator/drafts", {"name": "flat-12", "text": FLAT_12},
                         token_from="/hq/simulator/")
    assert response.status_code == 302
    page = client.get("/hq/simulator/?draft=flat-12&from=2026-09&to=2026-10&rise=10").get_data(as_text=True)
    assert "收费方案模拟" in page
    assert "+105,200.00" in page.replace("¥", "")          # the total change, by hand in the CLI test
    assert "P-B" in page and "P-A" in page
    assert 'id="simulator-chart"' in page and "<script>" not in page
    csv = client.get("/hq/simulator/?draft=flat-12&from=2026-09&to=2026-10&format=csv").get_data(as_text=True)
    assert "partner,P-A,测试伙伴" in csv and ",75000.00,87000.00,12000.00" in csv
    assert "site,SA-1,AG-A,600000.00,0,75000.00,87000.00,12000.00" in csv
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "plan_draft.save")).one()


def test_a_draft_with_a_typo_is_refused_with_its_line_and_nothing_is_saved(client, session, finance):
    login(client, "finance@hq.cn")
    response = post_form(client, "/hq/simulator/drafts", {"name": "typo", "text": STANDARD_TEXT.replace(
        "vat_rate", "vat_rat")}, token_from="/hq/simulator/")
    assert response.status_code == 422
    assert "typo.yaml:" in response.get_data(as_text=True)
    session.expire_all()
    assert session.exec(select(PlanDraft)).all() == []


@pytest.mark.parametrize("role", [Role.hq_manager, Role.hq_viewer, Role.franchisee_admin])
def test_only_admins_and_finance_reach_the_simulator(client, session, role):
    partner = make_franchisee(session) if role.value.startswith("franchisee") else None
    make_user(session, role, franchisee=partner, email="someone@example.cn")
    session.commit()
    login(client, "someone@example.cn")
    assert client.get("/hq/simulator/").status_code in (403, 404)
