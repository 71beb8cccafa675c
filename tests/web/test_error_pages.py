"""What is left over gets our page: branded 404/500 in both languages, a request id shown and logged."""
from __future__ import annotations

import logging

import pytest

from brand_hub.models import Role
from brand_hub.web.access import public
from tests.builders import make_user
from tests.conftest import csrf_token, login


@pytest.fixture
def failing_app(app):
    @public
    def boom():
        raise RuntimeError("a bug the hub did not foresee")

    app.add_url_rule("/boom", "boom", boom)
    return app


def test_an_unexpected_error_shows_our_page_with_a_request_id_that_is_logged(failing_app, caplog):
    client = failing_app.test_client()
    with caplog.at_level(logging.ERROR, logger="brand_hub.web"):
        response = client.get("/boom")
    page = response.get_data(as_text=True)
    request_id = response.headers["X-Request-Id"]
    assert response.status_code == 500
    assert "系统出错" in page and request_id in page and "请求编号" in page
    assert "Traceback" not in page and "RuntimeError" not in page and "Internal Server Error" not in page
    assert any(request_id in record.getMessage() and record.exc_info for record in caplog.records)


def test_the_error_page_speaks_english_when_chosen(failing_app):
    client = failing_app.test_client()
    client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": csrf_token(client)})
    page = client.get("/boom").get_data(as_text=True)
    assert "Something went wrong on our side" in page and "Request id" in page
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "Not found." in missing.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/hq/compliance/flags/2147483648", "/hq/compliance/flags/18446744073709551616",
                                  "/hq/billing/invoices/99999999999999999999", "/portal/invoices/0",
                                  "/hq/partners/%00", "/hq/sites/" + "x" * 5000])
def test_guessed_ids_and_hostile_codes_are_404s(client, session, path):
    user = make_user(session, Role.hq_admin if path.startswith("/hq") else Role.hq_admin)
    session.commit()
    login(client, user.email)
    response = client.get(path)
    assert response.status_code == 404
    assert "errors" not in response.headers.get("Content-Type", "") and "<title>404" in response.get_data(as_text=True)


def test_a_nul_byte_in_a_query_is_a_clear_400(client, session):
    user = make_user(session, Role.hq_admin)
    session.commit()
    login(client, user.email)
    response = client.get("/hq/sites?city=%00")
    assert response.status_code == 400 and "city" in response.get_data(as_text=True)
