"""Who may open what: every route of every area, for every role, read from the app's URL map.

The matrix enumerates ``app.url_map`` so routes other areas add are covered
as soon as they exist. URL arguments are filled with real objects: each of the
two partners has a site, an agreement, a flag, an issued invoice and a standard
to acknowledge, so a refusal proves scoping (the object exists, it is another
partner's), never just an id with nothing behind it.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from brand_hub.models import Role
from brand_hub.models.billing import Invoice, InvoiceStatus
from brand_hub.models.compliance import Flag, FlagState, Severity
from brand_hub.models.standards import Standard, StandardAcknowledgement
from brand_hub.web.access import PUBLIC
from tests.builders import make_agreement, make_franchisee, make_site, make_user, make_disputed_line
from tests.conftest import csrf_token, login

HQ_ROLES = [r for r in Role if r.is_hq]
PORTAL_ROLES = [r for r in Role if not r.is_hq]
DUMMY = {"int": "1", "float": "1.0", "path": "x", "uuid": "00000000-0000-0000-0000-000000000000"}


def _routes(app):
    """(rule, method) for every route but static files, one method each (GET preferred)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        for method in methods:
            yield rule, method


def _url(rule, values: dict[str, str]) -> str:
    """The rule's path with every argument filled in."""
    path = rule.rule
    for converter, name in re.findall(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-zA-Z_]+)>", path):
        value = values.get(name) or DUMMY.get(converter or "", "x")
        path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", value, path, count=1)
    return path


@pytest.fixture
def network(session):
    """Two partners with a site and an agreement each, and a user for every role."""
    mine = make_franchisee(session, code="MINE")
    theirs = make_franchisee(session, code="THEIRS")
    agreement = make_agreement(session, mine, number="AG-MINE")
    other_agreement = make_agreement(session, theirs, number="AG-THEIRS")
    site = make_site(session, mine, agreement, code="SITE-MINE")
    other_site = make_site(session, theirs, other_agreement, code="SITE-THEIRS")
    users = {role: make_user(session, role, franchisee=None if role.is_hq else mine) for role in Role}
    outsider = make_user(session, Role.franchisee_admin, franchisee=theirs)
    standard = Standard(key="access-check", version=1, category="space", title_zh="访问检查", content_hash="h",
                        content={"text": "保持整洁。", "source": "", "rules": []})
    session.add(standard)
    session.flush()
    owned = {}
    for key, partner, its_site, its_agreement in (("own", mine, site, agreement),
                                                   ("other", theirs, other_site, other_agreement)):
        flag = Flag(site_id=its_site.id, franchisee_id=partner.id, rule="agent-unreachable", subject=its_site.code,
                    state=FlagState.open, severity=Severity.major, opened_at=datetime.now(timezone.utc),
                    evidence={})
        invoice = Invoice(number=f"INV-{partner.code}", agreement_id=its_agreement.id, franchisee_id=partner.id,
                          period="2026-10", status=InvoiceStatus.draft, plan_id="standard-2026",
                          issued_at=datetime.now(timezone.utc), due_date=date(2026, 11, 15), total=Decimal("100"))
        ack = StandardAcknowledgement(site_id=its_site.id, standard_id=standard.id,
                                      due_at=datetime.now(timezone.utc))
        session.add_all([flag, invoice, ack])
        session.flush()
        dispute, attachment = make_disputed_line(session, invoice, its_site, partner)
        owned[key] = {"flag_id": str(flag.id), "invoice_id": str(invoice.id), "ack_id": str(ack.id),
                      "dispute_id": str(dispute.id), "attachment_id": str(attachment.id)}
    session.commit()
    return dict(site=site, other_site=other_site, agreement=agreement, other_agreement=other_agreement,
                users=users, outsider=outsider, mine=mine, theirs=theirs, owned=owned,
                user_id=str(users[Role.hq_viewer].id), standard_key=standard.key)


def _values(network, own: bool = True) -> dict[str, str]:
    site = network["site"] if own else network["other_site"]
    agreement = network["agreement"] if own else network["other_agreement"]
    partner = network["mine"] if own else network["theirs"]
    return {"code": site.code, "site_code": site.code, "number": agreement.number,
            "agreement_id": str(agreement.id), "partner": partner.code, "user_id": network["user_id"],
            "key": network["standard_key"], **network["owned"]["own" if own else "other"]}


def test_every_route_states_who_may_use_it(app):
    missing = [rule.endpoint for rule, _ in _routes(app)
               if getattr(app.view_functions[rule.endpoint], "allowed_roles", None) is None]
    assert missing == []


def test_anonymous_users_are_sent_to_login_from_every_non_public_route(app, client, network):
    token = csrf_token(client)
    checked = 0
    for rule, method in _routes(app):
        if app.view_functions[rule.endpoint].allowed_roles == PUBLIC:
            continue
        url = _url(rule, _values(network))
        response = client.open(url, method=method, data={"csrf_token": token} if method != "GET" else None)
        assert response.status_code == 302, f"{method} {url} gave {response.status_code}"
        assert "/login" in response.headers["Location"], f"{method} {url}"
        checked += 1
    assert checked > 10


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_role_is_refused_exactly_the_routes_not_meant_for_it(app, client, network, role):
    user = network["users"][role]
    assert login(client, user.email).status_code == 302
    token = csrf_token(client, "/hq/" if role.is_hq else "/portal/")
    for rule, method in _routes(app):
        allowed = app.view_functions[rule.endpoint].allowed_roles
        if allowed == PUBLIC or rule.endpoint in {"auth.logout"}:
            continue
        url = _url(rule, _values(network))
        response = client.open(url, method=method, data={"csrf_token": token} if method != "GET" else None)
        if role in allowed:
            assert response.status_code != 403, f"{role.value} refused {method} {url}"
            if method == "GET" and not rule.arguments:
                assert response.status_code == 200, f"{role.value} {method} {url} gave {response.status_code}"
        else:
            assert response.status_code == 403, f"{role.value} let into {method} {url} ({response.status_code})"


def test_a_user_of_another_partner_gets_404_on_every_portal_page_of_this_partners_objects(app, client, network):
    assert login(client, network["outsider"].email).status_code == 302
    checked = []
    for rule, method in _routes(app):
        if method != "GET" or not rule.endpoint.startswith("portal.") or not rule.arguments:
            continue
        url = _url(rule, _values(network, own=True))
        response = client.get(url)
        assert response.status_code == 404, f"{url} gave {response.status_code} to another partner's user"
        assert network["site"].name_zh not in response.get_data(as_text=True)
        checked.append(rule.endpoint)
    assert {"portal.site", "portal.agreement"} <= set(checked)


def test_the_partners_own_objects_open_in_the_portal(client, network):
    login(client, network["users"][Role.franchisee_admin].email)
    assert client.get(f"/portal/sites/{network['site'].code}").status_code == 200
    assert client.get(f"/portal/agreements/{network['agreement'].number}").status_code == 200
    assert client.get(f"/portal/sites/{network['other_site'].code}").status_code == 404


def test_every_parameterised_portal_route_refuses_a_real_object_of_another_partner(app, client, network):
    """For each portal route with arguments (GET and POST): the other partner's real object is a 404."""
    user = network["users"][Role.franchisee_admin]
    assert login(client, user.email).status_code == 302
    token = csrf_token(client, "/portal/")
    refused = []
    for rule, method in _routes(app):
        if not rule.endpoint.startswith("portal.") or not rule.arguments:
            continue
        unknown = set(rule.arguments) - set(_values(network, own=False))
        assert not unknown, f"{rule.rule}: no real object of another partner for {unknown}: add one to the network"
        url = _url(rule, _values(network, own=False))
        response = client.open(url, method=method, data={"csrf_token": token} if method != "GET" else None)
        assert response.status_code == 404, f"{method} {url} gave {response.status_code} for another partner's object"
        body = response.get_data(as_text=True)
        assert network["other_site"].name_zh not in body and network["theirs"].legal_name not in body
        refused.append(rule.endpoint)
    assert {"portal.site", "portal.agreement", "portal.flag", "portal.invoice", "portal.flag_acknowledge",
            "portal.acknowledge_standard"} <= set(refused)


def test_the_same_routes_open_for_the_partners_own_objects(app, client, network):
    """The refusals above are about scoping: with this partner's own objects the pages open."""
    login(client, network["users"][Role.franchisee_admin].email)
    for rule, method in _routes(app):
        if method != "GET" or not rule.endpoint.startswith("portal.") or not rule.arguments:
            continue
        if rule.rule.endswith(".pdf"):  # no PDF rendered in this network: its own 404 is about the file
            continue
        url = _url(rule, _values(network, own=True))
        assert client.get(url).status_code == 200, url


def test_partner_staff_see_no_agreements_and_no_site_until_an_admin_assigns_it(client, network):
    """Issue 10: a site manager sees only assigned sites and none of the money (agreements are money)."""
    login(client, network["users"][Role.franchisee_staff].email)
    assert client.get(f"/portal/agreements/{network['agreement'].number}").status_code == 403
    assert client.get(f"/portal/sites/{network['site'].code}").status_code == 404
    assert client.get(f"/portal/sites/{network['other_site'].code}").status_code == 404
