"""Every page reads as words for people, in both languages (issue 10).

Renders every GET page of HQ and the portal, with a real object behind every
id, in Chinese and in English, and fails on what a person should never read:
ISO timestamps, Python reprs (``None``, ``{'``), and — on the Chinese pages —
stored keys left untranslated (``flag.waive``, ``on_notice``, ``flagship``,
``system``).
"""
from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from brand_hub import audit, compliance
from brand_hub.models import FranchiseeStatus, Role
from brand_hub.models.billing import Invoice, InvoiceStatus, ReportStatus
from brand_hub.models.compliance import Flag, FlagState, Severity
from brand_hub.models.scoring import CardPublication, SiteScore
from brand_hub.models.standards import Standard, StandardAcknowledgement
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, make_user
from tests.conftest import login, post_form

ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
REPR = re.compile(r"\bNone\b|\{'|\['|<[a-zA-Z_.]+ object at|Decimal\(|datetime\.")
STORED_KEYS = ("on_notice", "termination_review", "partially_paid", "plan_submitted", "plan_accepted", "no_data",
               "franchisee_admin", "franchisee_staff", "hq_admin", "hq_viewer", "flagship", "onboarding")
MACHINE = re.compile(r"\b(?:co2_ppm|temperature_c|humidity_pct|illuminance_lux|noise_dba|pm25_ugm3|energy_kwh)\b"
                     r"|\b[A-Z][a-zA-Z]+(?:Error|Exception)\b|（(?:reported|estimated|corrected)）")
DOTTED_ACTION = re.compile(r"\b(?:site|flag|user|invoice|franchisee|agreement|scores|standard|billing|partner)"
                           r"\.[a-z_]+\b")


def _visible(page: str) -> str:
    """The text a reader sees: no scripts, no tags, no attributes."""
    page = re.sub(r"<script.*?</script>|<style.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def network(session):
    partner = make_franchisee(session, code="WORDS", legal_name="成都文字企业管理有限公司",
                              status=FranchiseeStatus.on_notice)
    agreement = make_agreement(session, partner, number="AG-WORDS")
    site = make_site(session, partner, agreement, code="WD-01", name_zh="方寸空间·文字", tier="flagship")
    hq = make_user(session, Role.hq_admin)
    admin = make_user(session, Role.franchisee_admin, franchisee=partner)
    now = datetime.now(timezone.utc)
    for period, card, score in (("2026-Q2", "red", 40.0), ("2026-Q3", "red", 38.5)):
        session.add(SiteScore(site_id=site.id, period=period, model_id="brand-health", model_version=1,
                              status="scored", score=score, card=card, coverage=0.9, indicators={}))
        session.add(CardPublication(period=period, model_id="brand-health", model_version=1, published_by="system"))
    flag = Flag(franchisee_id=partner.id, site_id=site.id, rule="red-card", state=FlagState.open,
                severity=Severity.major, opened_at=now, ack_due_at=now + timedelta(days=2),
                evidence={"quarter": "2026-Q3", "card": "red", "score": 38.5, "rule_title_zh": "季度红牌",
                          "rule_title_en": "Red card for the quarter"})
    standard = Standard(key="iaq-co2", version=1, category="iaq", title_zh="室内空气", title_en="Indoor air",
                        content={"text": "保持空气清新。", "rules": []}, content_hash="h")
    co2 = Flag(franchisee_id=partner.id, site_id=site.id, rule="std:iaq-co2/co2-open-hours", state=FlagState.open,
               severity=Severity.critical, opened_at=now, ack_due_at=now + timedelta(days=2),
               evidence={"metric": "co2_ppm", "measure": "share_within", "value": 0.5, "share": 0.9, "max": 1000,
                         "hours": "open", "window_days": 30, "standard": "iaq-co2", "version": 1,
                         "since": "2026-11-23T08:28:00+00:00"})
    from brand_hub.models.collection import CollectionTarget

    session.add(CollectionTarget(site_id=site.id, last_attempt_at=now, consecutive_failures=4, last_error_at=now,
                                 last_error="ConnectError: [Errno 111] Connection refused"))
    site.agent_url = "http://127.0.0.1:1/"
    session.add_all([flag, standard, co2, site])
    session.flush()
    ack = StandardAcknowledgement(site_id=site.id, standard_id=standard.id, due_at=now + timedelta(days=5))
    make_revenue_report(session, site, "2026-10", "1000.00")
    make_revenue_report(session, site, "2026-10", "1100.00", version=2, status=ReportStatus.corrected)
    invoice = Invoice(agreement_id=agreement.id, franchisee_id=partner.id, period="2026-10", number="BH-WORDS-1",
                      status=InvoiceStatus.partially_paid, plan_id="standard-2026", due_date=now.date() - timedelta(days=3),
                      total=Decimal("500.00"), subtotal=Decimal("500.00"), amount_paid=Decimal("100.00"))
    session.add_all([ack, invoice])
    session.flush()
    audit.record(session=session, actor=audit.SYSTEM, action="site.update", entity_type="site", entity_id=site.code,
                 before={"status": "onboarding", "opened_on": None, "updated_at": "2026-11-01T01:15:00+00:00"},
                 after={"status": "active", "opened_on": "2026-11-02", "updated_at": "2026-12-02T01:15:00+00:00"})
    session.commit()
    return dict(hq=hq, admin=admin, values={"code": site.code, "number": agreement.number, "partner": partner.code,
                                            "flag_id": str(flag.id), "invoice_id": str(invoice.id),
                                            "ack_id": str(ack.id), "user_id": str(admin.id), "period": "2026-10",
                                            "key": standard.key},
                flag=flag)


def _pages(app, prefix: str, values: dict[str, str]):
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(prefix) or "GET" not in (rule.methods or ()) or ".pdf" in rule.rule:
            continue
        path = rule.rule
        filled = {**values, "code": values["partner"]} if path.startswith("/hq/partners/") else values
        names = re.findall(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-zA-Z_]+)>", path)
        if any(n not in filled for n in names):
            continue
        for name in names:
            path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", filled[name], path, count=1)
        yield path


def _problems(text: str, zh: bool) -> list[str]:
    found = [m.group(0) for m in ISO.finditer(text)] + [m.group(0) for m in REPR.finditer(text)]
    if zh:
        found += [m.group(0) for m in DOTTED_ACTION.finditer(text)] + [m.group(0) for m in MACHINE.finditer(text)]
        found += [k for k in STORED_KEYS if re.search(rf"(?<![\w@.]){k}(?![\w@.])", text)]
        found += ["system"] if re.search(r"(?<![\w@.])system(?![\w@.])", text) else []
    return found


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
@pytest.mark.parametrize("who,prefixes", [("hq", ("dashboard.", "billing.", "scores.", "compliance.", "collection.",
                                                   "distribution.")), ("admin", ("portal.",))])
def test_every_page_reads_as_words_for_people(app, client, network, lang, who, prefixes):
    login(client, network[who].email)
    post_form(client, "/lang", {"lang": lang, "next": "/"})
    bad, seen = {}, 0
    for prefix in prefixes:
        for path in _pages(app, prefix, network["values"]):
            response = client.get(path)
            if response.status_code != 200 or response.mimetype != "text/html":
                continue
            seen += 1
            problems = _problems(_visible(response.get_data(as_text=True)), zh=lang == "zh_CN")
            if problems:
                bad[path] = sorted(set(problems))[:6]
    assert bad == {}
    assert seen >= (28 if who == "hq" else 17)
