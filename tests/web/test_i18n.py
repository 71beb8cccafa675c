"""Chinese first, English on request: pages, navigation, labels, dates and CNY amounts."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from brand_hub.models import Role
from brand_hub.web.filters import local_date, money
from tests.builders import make_franchisee, make_site, make_user
from tests.conftest import login, post_form


@pytest.fixture
def database_url(sqlite_url):
    """Languages do not depend on the database: these tests run once, on SQLite."""
    return sqlite_url


def test_the_sign_in_page_is_in_chinese_by_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert "登录" in page and "电子邮箱" in page and "Sign in" not in page


def test_the_language_switch_turns_the_pages_english_and_back(client, session):
    partner = make_franchisee(session)
    make_site(session, partner, code="SH-01", tier="flagship")
    user = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, user.email)
    chinese = client.get("/hq/sites").get_data(as_text=True)
    assert "门店" in chinese and "旗舰店" in chinese and "运营中" in chinese
    response = post_form(client, "/lang", {"lang": "en", "next": "/hq/sites"}, token_from="/hq/sites")
    assert response.headers["Location"].endswith("/hq/sites")
    english = client.get("/hq/sites").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert "flagship" in english and "Sites" in english and "旗舰店" not in english
    post_form(client, "/lang", {"lang": "zh_CN"}, token_from="/hq/sites")
    assert "旗舰店" in client.get("/hq/sites").get_data(as_text=True)


def test_the_language_switch_ignores_unknown_languages_and_foreign_targets(client):
    response = post_form(client, "/lang", {"lang": "xx", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_amounts_are_cny_with_two_decimals_and_dates_follow_the_locale(app):
    with app.test_request_context():
        assert money(Decimal("1234.5")) == "¥1,234.50"
        assert local_date(date(2026, 10, 1)) == "2026年10月1日"
    with app.test_request_context():
        from flask import session

        session["lang"] = "en"
        assert money(Decimal("-0.5")) == "-¥0.50"
        assert local_date(date(2026, 10, 1)) == "Oct 1, 2026"


def test_every_catalog_of_the_foundation_translates_every_string(app):
    from babel.messages.pofile import read_po

    from brand_hub.web.i18n import translation_dirs

    mine = [d for d in translation_dirs() if d.parent.name in {"web", "auth", "dashboard", "franchisee_portal"}]
    assert len(mine) == 4
    for directory in mine:
        with (directory / "zh_CN/LC_MESSAGES/messages.po").open("rb") as fh:
            catalog = read_po(fh)
        untranslated = [m.id for m in catalog if m.id and not m.string]
        assert untranslated == [], directory
        assert len(catalog) > 5


def test_the_reasons_the_system_writes_read_in_chinese_and_a_persons_words_pass_as_written():
    from flask import Flask
    from flask_babel import Babel, force_locale

    from brand_hub.compliance.words import event_reason
    from brand_hub.web.i18n import AreaCatalogs, compile_catalogs, translation_dirs

    compile_catalogs()
    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in translation_dirs())
    Babel(app).domain_instance = AreaCatalogs()
    with app.test_request_context(), force_locale("zh_CN"):
        assert event_reason("condition seen") == "发现问题"
        assert event_reason("condition held for 2.5 h (rule needs 2 h)") == "问题已持续 2.5 小时（规则要求 2 小时）"
        assert event_reason("空调已维修") == "空调已维修"
    with app.test_request_context(), force_locale("en"):
        assert event_reason("condition held for 2.5 h (rule needs 2 h)") == "condition held for 2.5 h (rule needs 2 h)"


def test_on_notice_reads_the_same_in_chinese_in_every_catalog(app):
    """The overview, the flag queue and the partner's home name one standing: 警示期, never a synonym."""
    from babel.messages.pofile import read_po

    from brand_hub.web.i18n import translation_dirs

    wording = {}
    for directory in translation_dirs():
        with (directory / "zh_CN/LC_MESSAGES/messages.po").open("rb") as fh:
            for message in read_po(fh):
                english = message.id if isinstance(message.id, str) else message.id[0]
                if message.string and "on notice" in english.lower():
                    wording[f"{directory.parent.name}: {english}"] = message.string
    assert len(wording) >= 5
    assert {k: v for k, v in wording.items() if "警示期" not in v} == {}
