"""Signing in and out, lock-out, CSRF."""
from __future__ import annotations

from brand_hub.models import Role, User
from tests.builders import make_franchisee, make_user
from tests.conftest import csrf_token, login


def test_hq_user_signs_in_and_lands_on_the_overview(client, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    response = login(client, user.email)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/hq/")
    assert client.get("/hq/").status_code == 200


def test_partner_signs_in_and_lands_in_the_portal(client, session):
    partner = make_franchisee(session, legal_name="杭州云栖空间管理有限公司")
    user = make_user(session, Role.franchisee_admin, franchisee=partner)
    session.commit()
    response = login(client, user.email)
    assert response.headers["Location"].endswith("/portal/")
    assert "杭州云栖空间管理有限公司" in client.get("/portal/").get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, session):
    user = make_user(session)
    session.commit()
    response = client.post("/login", data={"email": user.email, "password": "correct horse battery"})
    assert response.status_code == 400
    assert client.get("/hq/").status_code == 302


def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_one(client, session):
    user = make_user(session)
    session.commit()
    statuses = [login(client, user.email, "wrong password!").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
    assert login(client, user.email).status_code == 429
    session.expire_all()
    assert session.get(User, user.id).locked_until is not None


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/hq/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_sign_out_needs_a_post_with_csrf(client, session):
    user = make_user(session)
    session.commit()
    login(client, user.email)
    token = csrf_token(client, "/hq/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/hq/").status_code == 302
