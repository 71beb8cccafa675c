"""A refused action says why in the reader's language: Chinese by default, English when chosen.

The services raise their refusals as lazy translations; the pages flash ``str(exc)``,
which reads in the request's language. Every area is provoked through the real pages,
once in a Chinese session and once in an English one (switched with the language form,
or by the user's own locale).
"""
from __future__ import annotations

import html
import re
import shutil
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from brand_hub import compliance, distribution
from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, plans, runs
from brand_hub.models import Role
from brand_hub.models.collection import CollectionTarget
from brand_hub.models.compliance import Flag, FlagState
from brand_hub.models.standards import Standard, StandardAcknowledgement
from standards import standard_format
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, make_user
from tests.conftest import login, post_form


@pytest.fixture
def database_url(sqlite_url):
    """Translations do not depend on the database: these tests run once, on SQLite."""
    return sqlite_url


_ERROR = re.compile(r'<div class="flash error" role="status">(.*?)</div>', re.S)


def errors(response) -> list[str]:
    """The error messages flashed on a page, as the reader sees them (HTML entities decoded)."""
    return [html.unescape(m) for m in _ERROR.findall(response.get_data(as_text=True))]


def sign_in(client, email: str, lang: str, page: str) -> None:
    """Sign in; for English, switch with the language form as a reader would."""
    login(client, email)
    if lang == "en":
        post_form(client, "/lang", {"lang": "en", "next": page}, token_from=page)


@pytest.fixture(params=["zh_CN", "en"])
def lang(request) -> str:
    return request.param


# -- billing ------------------------------------------------------------------------------------


@pytest.fixture
def reporting_partner(session):
    partner = make_franchisee(session)
    site = make_site(session, partner, make_agreement(session, partner))
    user = make_user(session, Role.franchisee_admin, franchisee=partner)
    session.commit()
    return dict(site=site, user=user)


@pytest.mark.parametrize("period, revenue, fields, said", [
    ("2026-10", "-5", {}, {"zh_CN": "营业总额 '-5' 不能为负数", "en": "gross revenue '-5' is negative"}),
    ("2026-10", "十万", {}, {"zh_CN": "营业总额 '十万' 不是有效的数字", "en": "gross revenue '十万' is not a decimal number"}),
    ("2099-01", "1000", {}, {"zh_CN": "账期 2099-01 尚未开始", "en": "period 2099-01 has not started yet"}),
    ("2026-10", "1000", {"meeting_rooms": "-1"}, {"zh_CN": "会议室 '-1' 不能为负数",
                                                 "en": "Meeting rooms '-1' is negative"}),
], ids=["negative", "not-a-number", "month-not-started", "breakdown-field-named-as-on-the-form"])
def test_a_partner_reporting_bad_revenue_is_told_why_in_their_language(client, reporting_partner, lang, period,
                                                                        revenue, fields, said):
    sign_in(client, reporting_partner["user"].email, lang, "/portal/revenue")

    response = post_form(client, "/portal/revenue", {"site": reporting_partner["site"].code, "period": period,
                                                     "gross_revenue": revenue, **fields},
                         token_from="/portal/revenue")

    assert response.status_code == 200
    assert errors(response) == [said[lang]]


def test_finance_crediting_more_than_the_balance_is_told_why_in_their_own_locale(client, session, lang):
    partner = make_franchisee(session)
    site = make_site(session, partner, make_agreement(session, partner), desks=100)
    make_revenue_report(session, site, "2026-10", "100000")
    runs.write_drafts(session=session, period="2026-10", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-10", plans=plans(), today=date(2026, 11, 5)))
    [invoice] = invoices.issue_period(session=session, period="2026-10", actor=SYSTEM, due_days=15,
                                      now=datetime(2026, 11, 5, tzinfo=timezone.utc))
    user = make_user(session, Role.hq_finance, locale=lang)  # English by the user's locale this time
    session.commit()
    login(client, user.email)
    path = f"/hq/billing/invoices/{invoice.id}"

    response = post_form(client, f"{path}/credit-notes", {"amount": "99999", "reason": "goodwill"}, token_from=path,
                         follow_redirects=True)

    number, balance = invoice.number, invoice.balance
    assert errors(response) == {
        "zh_CN": [f"红字发票金额 99999 元超过发票 {number} 的未结余额 {balance} 元"],
        "en": [f"credit 99999 is more than the {balance} that remains on {number}"]}[lang]
    session.expire_all()
    assert session.get(type(invoice), invoice.id).amount_credited == 0


# -- compliance ---------------------------------------------------------------------------------


@pytest.fixture
def flagged(app, settings):
    """A partner whose site's agent has been unreachable for three days: one open flag."""
    engine = app.extensions["brandhub.engine"]
    now = datetime.now(timezone.utc)
    with Session(engine, expire_on_commit=False) as session:
        partner = make_franchisee(session)
        site = make_site(session, partner, agent_url="http://127.0.0.1:1/", opened_on=date.today())
        session.add(CollectionTarget(site_id=site.id, last_attempt_at=now,
                                     last_success_at=now - timedelta(hours=75)))
        user = make_user(session, Role.franchisee_admin, franchisee=partner)
        compliance.evaluate(session=session, settings=settings, now=now)
        session.commit()
        flag = session.exec(select(Flag).where(Flag.site_id == site.id, Flag.rule == "agent-unreachable")).one()
    assert flag.state == FlagState.open
    return dict(engine=engine, flag=flag, user=user)


def test_a_partner_acknowledging_a_flag_twice_is_told_why_in_their_language(client, flagged, lang):
    flag_id = flagged["flag"].id
    sign_in(client, flagged["user"].email, lang, "/portal/flags")
    first = post_form(client, f"/portal/flags/{flag_id}/acknowledge", {}, token_from="/portal/flags",
                      follow_redirects=True)
    assert errors(first) == []

    again = post_form(client, f"/portal/flags/{flag_id}/acknowledge", {}, token_from="/portal/flags",
                      follow_redirects=True)

    assert errors(again) == {
        "zh_CN": [f"合规事项 #{flag_id}：状态为“已确认”的合规事项不能确认"],
        "en": [f"flag #{flag_id}: a flag that is acknowledged cannot be acknowledged"]}[lang]


def test_a_partner_submitting_a_plan_dated_in_the_past_is_told_why_in_their_language(client, flagged, lang):
    flag_id = flagged["flag"].id
    sign_in(client, flagged["user"].email, lang, "/portal/flags")

    response = post_form(client, f"/portal/flags/{flag_id}/plan",
                         {"what": "更换路由器", "who": "店长 王芳", "due_on": "2020-01-31"},
                         token_from="/portal/flags", follow_redirects=True)

    assert errors(response) == {"zh_CN": ["整改计划的完成期限 2020-01-31 早于今天"],
                                "en": ["the plan's date 2020-01-31 is in the past"]}[lang]
    with Session(flagged["engine"]) as session:
        assert session.get(Flag, flag_id).state == FlagState.open


# -- distribution -------------------------------------------------------------------------------


@pytest.fixture
def acknowledging(session):
    """A partner's flagship site with the library's standards to acknowledge."""
    partner = make_franchisee(session)
    site = make_site(session, partner, tier="flagship", region="east")
    user = make_user(session, Role.franchisee_admin, partner)
    distribution.publish_standards(session=session, specs=standard_format.load_folder(), actor=SYSTEM,
                                   now=datetime.now(timezone.utc) - timedelta(days=20))
    session.commit()
    ack = session.exec(select(StandardAcknowledgement).join(Standard)
                       .where(StandardAcknowledgement.site_id == site.id, Standard.key == "noise")).one()
    return dict(site=site, user=user, ack=ack)


def test_a_partner_acknowledging_a_standard_twice_is_told_why_in_their_language(client, acknowledging, lang):
    path = f"/portal/standards/acknowledgements/{acknowledging['ack'].id}"
    sign_in(client, acknowledging["user"].email, lang, "/portal/standards")
    assert errors(post_form(client, path, token_from="/portal/standards", follow_redirects=True)) == []

    again = post_form(client, path, token_from="/portal/standards", follow_redirects=True)

    assert errors(again) == {"zh_CN": ["该门店已确认过此标准"],
                             "en": ["this standard was already acknowledged for this site"]}[lang]


def test_a_partner_acknowledging_a_superseded_standard_is_told_why_in_their_language(client, session, tmp_path,
                                                                                      acknowledging, lang):
    folder = tmp_path / "standards"
    shutil.copytree(standard_format.LIBRARY_DIR, folder)
    path = folder / "space-noise.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("version: 1", "version: 2")
                    .replace("max: 50", "max: 48"), encoding="utf-8")
    distribution.publish_standards(session=session, specs=standard_format.load_folder(folder), actor=SYSTEM,
                                   now=datetime.now(timezone.utc))
    session.commit()
    sign_in(client, acknowledging["user"].email, lang, "/portal/standards")

    response = post_form(client, f"/portal/standards/acknowledgements/{acknowledging['ack'].id}",
                         token_from="/portal/standards", follow_redirects=True)

    assert errors(response) == {"zh_CN": ["此标准已发布新版本，请确认新版本"],
                                "en": ["a newer version of this standard was published; acknowledge that one"]}[lang]
    session.expire_all()
    assert session.get(StandardAcknowledgement, acknowledging["ack"].id).acknowledged_at is None
