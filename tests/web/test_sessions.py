"""Sessions are server-side state: signing out, deactivation, a password change and time end them."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlmodel import select

from brand_hub import accounts, audit
from brand_hub.models import Role, UserSession
from brand_hub.web.access import PUBLIC
from tests.builders import make_franchisee, make_user
from tests.conftest import csrf_token, login


def _cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _copy_with(app, cookie: str):
    """A second browser holding a copy of ``cookie`` (what an attacker who stole it has)."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def test_a_cookie_copied_before_logout_opens_no_page_afterwards(app, client, session):
    partner = make_franchisee(session)
    user = make_user(session, Role.franchisee_admin, franchisee=partner)
    session.commit()
    login(client, user.email)
    stolen = _copy_with(app, _cookie(client))
    assert stolen.get("/portal/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/portal/")})
    checked = 0
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if "GET" not in rule.methods or rule.endpoint == "static" or getattr(view, "allowed_roles", None) == PUBLIC:
            continue
        path = re.sub(r"<(?:[a-z]+:)?(\w+)>", "1", rule.rule)
        response = stolen.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
        checked += 1
    assert checked > 30


def test_deactivating_a_user_signs_every_browser_of_theirs_out(app, client, session):
    admin = make_user(session, Role.hq_admin)
    victim = make_user(session, Role.hq_viewer)
    session.commit()
    theirs = app.test_client()
    login(theirs, victim.email)
    assert theirs.get("/hq/").status_code == 200
    login(client, admin.email)
    client.post(f"/hq/users/{victim.id}/active", data={"active": "0", "csrf_token": csrf_token(client, "/hq/users")})
    assert theirs.get("/hq/").status_code == 302
    session.expire_all()
    rows = session.exec(select(UserSession).where(UserSession.user_id == victim.id)).all()
    assert rows and all(r.revoked_at is not None and r.revoked_reason == "deactivated" for r in rows)
    # reactivated, the old cookie still does not come back
    client.post(f"/hq/users/{victim.id}/active", data={"active": "1", "csrf_token": csrf_token(client, "/hq/users")})
    assert theirs.get("/hq/").status_code == 302


def test_a_password_change_signs_the_user_out(app, client, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)
    assert client.get("/hq/").status_code == 200
    accounts.set_password(session=session, actor=audit.SYSTEM, user=user, password="a brand new password")
    session.commit()
    assert client.get("/hq/").status_code == 302


def test_signing_in_renews_the_csrf_token_and_the_session_id(client, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    before = csrf_token(client)
    cookie_before = _cookie(client)
    login(client, user.email)
    after = csrf_token(client, "/hq/")
    assert after != before
    assert _cookie(client) != cookie_before
    # a second sign-in opens a new server-side session: two rows, different tokens
    client.post("/logout", data={"csrf_token": after})
    login(client, user.email)
    session.expire_all()
    rows = session.exec(select(UserSession).where(UserSession.user_id == user.id)).all()
    assert len(rows) == 2 and len({r.token_hash for r in rows}) == 2
    assert [r.revoked_reason for r in sorted(rows, key=lambda r: r.id)] == ["logout", ""]


def test_an_idle_session_ends_after_the_idle_lifetime(client, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)
    row = session.exec(select(UserSession).where(UserSession.user_id == user.id)).one()
    row.last_seen_at = datetime.now(timezone.utc) - timedelta(minutes=61)  # default idle: 60 minutes
    session.add(row)
    session.commit()
    assert client.get("/hq/").status_code == 302
    session.expire_all()
    assert session.get(UserSession, row.id).revoked_reason == "expired"


def test_a_busy_session_still_ends_at_the_absolute_lifetime(client, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)
    row = session.exec(select(UserSession).where(UserSession.user_id == user.id)).one()
    row.created_at = datetime.now(timezone.utc) - timedelta(hours=12, minutes=1)  # default absolute: 12 hours
    row.last_seen_at = datetime.now(timezone.utc)
    session.add(row)
    session.commit()
    assert client.get("/hq/").status_code == 302


def test_lifetimes_are_settings(app, settings, session):
    from brand_hub import create_app

    short = create_app(settings.replace(session_idle_minutes=1, session_absolute_hours=1))
    try:
        client = short.test_client()
        user = make_user(session, Role.hq_viewer)
        session.commit()
        login(client, user.email)
        row = session.exec(select(UserSession).where(UserSession.user_id == user.id)).one()
        row.last_seen_at = datetime.now(timezone.utc) - timedelta(minutes=2)
        session.add(row)
        session.commit()
        assert client.get("/hq/").status_code == 302
    finally:
        short.extensions["brandhub.engine"].dispose()


def test_the_cookie_holds_no_session_token_in_clear_in_the_database(client, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)
    with client.session_transaction() as cookie:
        token = cookie["sid"]
    row = session.exec(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert token not in row.token_hash and len(row.token_hash) == 64


def test_changing_a_password_on_the_command_line_signs_the_user_out(client, session, database_url, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli

    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)
    assert client.get("/hq/").status_code == 200
    result = CliRunner().invoke(cli, ["users", "password", "--email", user.email],
                                env={"BRANDHUB_DATABASE_URL": database_url,
                                     "BRANDHUB_INSTANCE_PATH": str(tmp_path / "instance"),
                                     "BRANDHUB_NEW_USER_PASSWORD": "another long password"})
    assert result.exit_code == 0, result.output
    assert client.get("/hq/").status_code == 302
