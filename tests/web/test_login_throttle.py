"""Failed sign-ins slow down by account and by client address, alike for known and unknown e-mails."""
from __future__ import annotations

import time

import pytest
from datetime import datetime, timedelta, timezone

from brand_hub.models import LoginThrottle, Role
from tests.builders import make_user
from tests.conftest import csrf_token


@pytest.fixture
def settings(settings):
    """A first wait of a minute, so a slow machine never sees a wait run out in the middle of a test."""
    return settings.replace(login_delay_seconds=60)


def _try(client, email: str, password: str = "wrong password!", address: str = "198.51.100.7"):
    token = csrf_token(client)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def _page_text(response) -> str:
    return response.get_data(as_text=True)


def test_unknown_and_known_e_mails_get_the_same_answers_in_the_same_order(app, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    known, unknown = app.test_client(), app.test_client()
    known_answers = [_try(known, user.email, address="198.51.100.1").status_code for _ in range(4)]
    unknown_answers = [_try(unknown, "nobody@example.com", address="198.51.100.2").status_code for _ in range(4)]
    assert known_answers == unknown_answers == [401, 401, 429, 429]


def test_a_throttled_answer_takes_as_long_as_a_password_check(app, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    client = app.test_client()
    for _ in range(3):
        _try(client, user.email)

    def timed(email: str) -> float:
        start = time.perf_counter()
        response = _try(client, email)
        assert response.status_code in (401, 429)
        return time.perf_counter() - start

    throttled = min(timed(user.email) for _ in range(2))
    plain = min(timed(f"new{n}@example.com") for n in range(2))  # a fresh e-mail: a real hash check
    assert throttled > plain * 0.5, (throttled, plain)


def test_the_wait_grows_with_each_failure_and_ends_by_itself(app, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    client = app.test_client()
    waits = []
    for _ in range(5):
        _try(client, user.email)
        row = session.get(LoginThrottle, f"account:{user.email}")
        session.refresh(row)
        if row.blocked_until:
            waits.append((row.blocked_until - row.last_failure_at).total_seconds())
            row.blocked_until = datetime.now(timezone.utc) - timedelta(seconds=1)  # let the wait pass
            session.add(row)
            session.commit()
    assert waits == [60, 120, 240]
    # the wait has passed: the right password gets in; the count starts again
    response = _try(client, user.email, "correct horse battery")
    assert response.status_code == 302
    session.expire_all()
    assert session.get(LoginThrottle, f"account:{user.email}").failures == 0


def test_the_right_password_is_refused_while_waiting_with_the_same_answer(app, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    client = app.test_client()
    for _ in range(3):
        _try(client, user.email)
    wrong = _try(client, user.email)
    right = _try(client, user.email, "correct horse battery")
    assert wrong.status_code == right.status_code == 429
    assert "Retry-After" in right.headers
    assert client.get("/hq/").status_code == 302


def test_one_address_trying_many_e_mails_is_slowed_down(app, settings, session):
    from brand_hub import create_app

    strict = create_app(settings.replace(login_address_max_failures=4))
    try:
        client = strict.test_client()
        answers = [_try(client, f"guess{n}@example.com", address="203.0.113.9").status_code for n in range(5)]
        assert answers[:3] == [401, 401, 401] and answers[-1] == 429
        # another address is not affected
        assert _try(client, "guess-other@example.com", address="203.0.113.10").status_code == 401
    finally:
        strict.extensions["brandhub.engine"].dispose()


def test_the_longest_wait_is_the_lockout_setting(app, session):
    user = make_user(session, Role.hq_viewer)
    session.commit()
    client = app.test_client()
    for _ in range(3):
        _try(client, user.email)
    row = session.get(LoginThrottle, f"account:{user.email}")
    row.failures = 40
    row.blocked_until = None
    session.add(row)
    session.commit()
    _try(client, user.email)
    session.refresh(row)
    assert row.blocked_until - row.last_failure_at == timedelta(minutes=15)
