"""Security headers on every response: CSP with our own files only, no framing, no sniffing, HSTS in production."""
from __future__ import annotations

import re

import pytest

from brand_hub.models import Role
from brand_hub.web.access import PUBLIC
from tests.builders import make_agreement, make_franchisee, make_site, make_user
from tests.conftest import login


@pytest.fixture
def database_url(sqlite_url):
    """Headers do not depend on the database: these tests run once, on SQLite."""
    return sqlite_url


_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S)


def _check(response, where: str) -> None:
    h = response.headers
    csp = h.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp, where
    assert "frame-ancestors 'none'" in csp, where
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, where
    assert re.search(r"script-src 'self' 'nonce-[\w-]+'", csp), where
    assert h.get("X-Frame-Options") == "DENY", where
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("Referrer-Policy") == "same-origin", where
    assert h.get_all("Content-Security-Policy") == [csp], f"{where}: set once"
    if response.mimetype == "text/html":
        page = response.get_data(as_text=True)
        nonce = re.search(r"'nonce-([\w-]+)'", csp).group(1)
        for match in _SCRIPT.finditer(page):
            attrs, body = match.group("attrs"), match.group("body").strip()
            if "src=" in attrs:
                assert re.search(r'src="/static/', attrs), f"{where}: a script from elsewhere: {attrs}"
            elif body and "application/json" not in attrs:
                assert f'nonce="{nonce}"' in attrs, f"{where}: an inline script without this response's nonce"
        assert not re.search(r"\son[a-z]+=", page), f"{where}: an inline event handler"
        assert " style=" not in page, f"{where}: an inline style attribute"
        assert not re.search(r"<link[^>]+href=\"https?:", page), f"{where}: a stylesheet from elsewhere"


@pytest.fixture
def signed_in(app, session):
    partner = make_franchisee(session, code="P1")
    agreement = make_agreement(session, partner, number="AG-1")
    make_site(session, partner, agreement, code="S-1")
    hq = make_user(session, Role.hq_admin)
    portal = make_user(session, Role.franchisee_admin, franchisee=partner)
    session.commit()
    hq_client, portal_client = app.test_client(), app.test_client()
    login(hq_client, hq.email)
    login(portal_client, portal.email)
    return {"hq": hq_client, "portal": portal_client}


def test_every_page_carries_the_security_headers(app, client, signed_in):
    values = {"code": "S-1", "number": "AG-1", "key": "x", "action": "x"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", values.get(name, "1"), path)
        who = "portal" if rule.rule.startswith("/portal") else "hq"
        view = app.view_functions[rule.endpoint]
        browser = client if getattr(view, "allowed_roles", None) == PUBLIC else signed_in[who]
        if rule.endpoint == "static":
            path = "/static/app.css"
        response = browser.get(path)
        _check(response, f"GET {path} ({response.status_code})")
        response.close()
        checked += 1
    _check(client.get("/no/such/page"), "404 page")
    _check(client.post("/login", data={}), "400 page")
    assert checked > 40


def test_hsts_only_in_production(settings):
    from brand_hub import create_app

    assert "Strict-Transport-Security" not in create_app(settings).test_client().get("/login").headers
    production = create_app(settings.replace(env="production", secret_key="x" * 40))
    response = production.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
