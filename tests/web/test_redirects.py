"""Redirects stay home: ``next`` after sign-in and ``/lang`` accept only relative paths of this app."""
from __future__ import annotations

from urllib.parse import quote, unquote

import pytest

from brand_hub.models import Role
from tests.builders import make_user
from tests.conftest import csrf_token


@pytest.fixture
def database_url(sqlite_url):
    """Redirect targets do not depend on the database: these tests run once, on SQLite."""
    return sqlite_url


NASTY = [
    "/\t/evil.example/phish",
    "//evil.example/phish",
    "///evil.example",
    "\\\\evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "https://evil.example/",
    "https:evil.example",
    "http:/evil.example",
    "javascript:alert(1)",
    "data:text/html,hi",
    "evil.example",
    " /hq/",
    "/\r\n/evil.example",
    "/%09/evil.example",
    "/\x00/evil.example",
    "/no/such/page",
    "/login",
    "/logout",
    "/" + "a" * 5000,
]


def _location(response) -> str:
    """Where the browser is sent; a request refused outright (400: NUL, too long) goes nowhere."""
    if response.status_code == 400:
        return "/"
    assert response.status_code in (302, 303), response.status_code
    return response.headers["Location"]


def _stays_home(location: str, default: str) -> None:
    assert location == default or location.endswith(default), location
    assert "evil" not in location


@pytest.mark.parametrize("target", NASTY)
def test_next_after_sign_in_refuses_anything_but_our_own_paths(client, sqlite_url, session, target):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    token = csrf_token(client)
    response = client.post(f"/login?next={quote(target, safe='')}",
                           data={"email": user.email, "password": "correct horse battery", "csrf_token": token})
    location = _location(response)
    _stays_home(location if location != "/" else "/hq/", "/hq/")


def test_next_after_sign_in_keeps_a_page_of_ours(client, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    token = csrf_token(client)
    response = client.post("/login?next=" + quote("/hq/sites?city=上海&page=2", safe=""),
                           data={"email": user.email, "password": "correct horse battery", "csrf_token": token})
    assert unquote(_location(response)) == "/hq/sites?city=上海&page=2"


@pytest.mark.parametrize("target", NASTY)
def test_the_language_switch_refuses_anything_but_our_own_paths(client, target):
    token = csrf_token(client)
    response = client.post("/lang", data={"lang": "en", "next": target, "csrf_token": token})
    _stays_home(_location(response), "/")


def test_the_language_switch_returns_to_the_page_it_was_on(client):
    token = csrf_token(client)
    response = client.post("/lang", data={"lang": "en", "next": "/login?x=1", "csrf_token": token})
    # /login itself is not a target of ours to return to; a normal page is
    assert _location(response) == "/"
    response = client.post("/lang", data={"lang": "en", "next": "/hq/sites?city=x", "csrf_token": token})
    assert _location(response) == "/hq/sites?city=x"
