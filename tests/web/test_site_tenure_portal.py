"""Ownership over time in the portal (issue 17): every portal page after a site moved mid-quarter.

SH-MV-01 is held by partner A (agreement FC-A) and handed to partner B (FC-B) effective 2026-11-16 by a
network import. A keeps seeing its past of the site and nothing after; B sees the site from the move on.
Each kind of row sits on one side of the move with a value that says whose it is.
"""
from __future__ import annotations

import hashlib
from datetime import date, datetime, timezone
from decimal import Decimal as D

import pytest
from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, plans, runs
from brand_hub.models import Role
from brand_hub.models.billing import InvoiceDocument, RevenueReport
from brand_hub.models.collection import CollectionTarget, NpsResponse, ReadingBucket
from brand_hub.models.compliance import Flag, FlagState, Severity
from brand_hub.models.scoring import CardPublication, SiteScore
from brand_hub.models.standards import SiteConfigState, SiteConfigVersion, Standard, StandardAcknowledgement
from tests.builders import (
    make_agreement,
    make_franchisee,
    make_revenue_report,
    make_site,
    make_user,
    move_site_by_import,
    rebuild_rollups,
)
from tests.conftest import login, post_form

MOVED_ON = date(2026, 11, 16)
BEFORE = datetime(2026, 11, 10, 3, 0, tzinfo=timezone.utc)   # A's time
AFTER = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)    # B's time
CODE = "SH-MV-01"
TEXT = {"text": {"zh": "要求", "en": "requirement"}}


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def moved(session):
    """The network before, the move, and after; returns the ids the pages are asked for."""
    a = make_franchisee(session, code="TA01", legal_name="甲方企业管理有限公司")
    b = make_franchisee(session, code="TB01", legal_name="乙方企业管理有限公司")
    fc_a, fc_b = make_agreement(session, a, number="FC-A"), make_agreement(session, b, number="FC-B")
    site = make_site(session, a, fc_a, code=CODE, desks=100, opened_on=date(2025, 1, 1))
    make_user(session, Role.franchisee_admin, franchisee=a, email="boss@a.cn")
    make_user(session, Role.franchisee_admin, franchisee=b, email="boss@b.cn")
    # A's time: October revenue billed and issued, data, a score, a card, a flag, an acknowledgement, config v1
    make_revenue_report(session, site, "2026-10", "411111.11")
    runs.write_drafts(session=session, period="2026-10", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-10", plans=plans(), today=date(2026, 11, 5)))
    a_invoice = next(i for i in invoices.issue_period(session=session, period="2026-10", actor=SYSTEM,
                                                      now=_utc(2026, 11, 5, 2), due_days=15)
                     if i.agreement_id == fc_a.id)
    session.add(ReadingBucket(site_id=site.id, zone="open-desk", metric="co2_ppm", bucket_start=BEFORE,
                              count=15, mean=411.0, min=400.0, max=420.0))
    session.add(NpsResponse(site_id=site.id, record_id="a-1", answered_at=BEFORE, score=9, comment="甲方时期的回答"))
    for period, score, card in (("2026-10", 61.5, None), ("2026-Q3", 55.5, "yellow")):
        session.add(SiteScore(site_id=site.id, period=period, model_id="brand-health", model_version=1,
                              status="scored", score=score, card=card, coverage=1.0, indicators={}))
    a_flag = Flag(site_id=site.id, franchisee_id=a.id, rule="agent-unreachable", subject="", state=FlagState.open,
                  severity=Severity.major, opened_at=BEFORE, open_key=f"s{site.id}|agent-unreachable|",
                  evidence={"rule_title_zh": "甲方时期的旗标", "rule_title_en": "flag of A's time"})
    session.add(a_flag)
    done = Standard(key="house-rules", version=1, category="ops", title_zh="甲方确认过的标准", content=TEXT,
                    content_hash="sha256:1", published_at=_utc(2026, 10, 1))
    pending = Standard(key="iaq", version=1, category="iaq", title_zh="乙方待确认的标准", content=TEXT,
                       content_hash="sha256:2", published_at=_utc(2026, 11, 1))
    session.add_all([done, pending])
    session.flush()
    a_ack = StandardAcknowledgement(site_id=site.id, standard_id=done.id, due_at=_utc(2026, 11, 30),
                                    acknowledged_at=BEFORE)
    session.add(a_ack)
    session.add(StandardAcknowledgement(site_id=site.id, standard_id=pending.id, due_at=_utc(2026, 12, 30)))
    session.add(SiteConfigVersion(site_id=site.id, version=1, content={"wifi": {"ssid": "alpha-one"}},
                                  content_hash="sha256:c1", created_at=_utc(2026, 10, 1)))
    session.add(CardPublication(period="2026-Q3", model_id="brand-health", model_version=1, published_by="hq"))
    rebuild_rollups(session, [site.id])
    session.commit()

    move_site_by_import(session, site, b, fc_b, MOVED_ON)
    session.commit()

    # B's time: November revenue billed and issued, data, a score, a flag, config v2 in force
    make_revenue_report(session, site, "2026-11", "622222.22")
    runs.write_drafts(session=session, period="2026-11", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-11", plans=plans(), today=date(2026, 12, 5)))
    issued = invoices.issue_period(session=session, period="2026-11", actor=SYSTEM, now=_utc(2026, 12, 5, 2),
                                   due_days=15)
    b_invoice = next(i for i in issued if i.agreement_id == fc_b.id)
    for invoice in (a_invoice, b_invoice):
        body = f"%PDF-1.4 {invoice.number}".encode()
        session.add(InvoiceDocument(invoice_id=invoice.id, pdf=body, sha256=hashlib.sha256(body).hexdigest()))
    session.add(ReadingBucket(site_id=site.id, zone="open-desk", metric="co2_ppm", bucket_start=AFTER,
                              count=15, mean=622.0, min=600.0, max=640.0))
    session.add(SiteScore(site_id=site.id, period="2026-11", model_id="brand-health", model_version=1,
                          status="scored", score=77.5, coverage=1.0, indicators={}))
    b_flag = Flag(site_id=site.id, franchisee_id=b.id, rule="std:iaq/co2", subject="", state=FlagState.open,
                  severity=Severity.major, opened_at=AFTER, open_key=f"s{site.id}|std:iaq/co2|",
                  evidence={"rule_title_zh": "乙方时期的旗标", "rule_title_en": "flag of B's time"})
    session.add(b_flag)
    session.add(SiteConfigVersion(site_id=site.id, version=2, content={"wifi": {"ssid": "beta-two"}},
                                  content_hash="sha256:c2", created_at=AFTER))
    session.add(SiteConfigState(site_id=site.id, desired_version=2, desired_hash="sha256:c2"))
    session.add(CollectionTarget(site_id=site.id, last_success_at=AFTER, agent_version="feed-of-b"))
    rebuild_rollups(session, [site.id])
    session.commit()
    return dict(a_invoice=a_invoice.id, a_number=a_invoice.number, b_invoice=b_invoice.id,
                b_number=b_invoice.number, a_flag=a_flag.id, b_flag=b_flag.id, a_ack=a_ack.id, site_id=site.id)


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def test_the_old_partner_sees_its_past_of_the_site_and_nothing_after(client, moved):
    login(client, "boss@a.cn")
    revenue = page(client, "/portal/revenue")
    assert "411,111.11" in revenue and "622,222.22" not in revenue
    listed = page(client, "/portal/invoices")
    assert moved["a_number"] in listed and moved["b_number"] not in listed
    assert moved["a_number"] in page(client, f"/portal/invoices/{moved['a_invoice']}")
    assert client.get(f"/portal/invoices/{moved['a_invoice']}.pdf").data == f"%PDF-1.4 {moved['a_number']}".encode()
    for path in (f"/portal/invoices/{moved['b_invoice']}", f"/portal/invoices/{moved['b_invoice']}.pdf",
                 f"/portal/flags/{moved['b_flag']}", f"/portal/scores/{CODE}?period=2026-11",
                 f"/portal/sites/{CODE}/config?from=1&to=2"):
        assert client.get(path).status_code == 404, path
    scores = page(client, "/portal/scores")
    assert "61.5" in scores and "2026-Q3" in scores and "77.5" not in scores and "2026-11" not in scores
    card = page(client, f"/portal/scores/{CODE}")
    assert "55.5" in card and "77.5" not in card
    assert "61.5" in page(client, f"/portal/scores/{CODE}?period=2026-10")
    flags = page(client, "/portal/flags?show=all")
    assert "甲方时期的旗标" in flags and "乙方时期的旗标" not in flags
    site_flags = page(client, f"/portal/sites/{CODE}/flags")
    assert "甲方时期的旗标" in site_flags and "乙方时期的旗标" not in site_flags
    assert "甲方时期的旗标" in page(client, f"/portal/flags/{moved['a_flag']}")
    data = page(client, f"/portal/sites/{CODE}/data")
    assert BEFORE.isoformat() in data and AFTER.isoformat() not in data and "feed-of-b" not in data
    config = page(client, f"/portal/sites/{CODE}/config")
    assert "alpha-one" in config and "beta-two" not in config
    standards = page(client, "/portal/standards")
    assert "甲方确认过的标准" in standards and "乙方待确认的标准" not in standards
    profile = page(client, f"/portal/sites/{CODE}")
    assert "FC-A" in profile and "FC-B" not in profile
    assert CODE not in page(client, "/portal/sites") and CODE not in page(client, "/portal/agents")


def test_the_new_partner_sees_the_site_from_the_move_on(client, moved):
    login(client, "boss@b.cn")
    revenue = page(client, "/portal/revenue")
    assert "622,222.22" in revenue and "411,111.11" not in revenue
    listed = page(client, "/portal/invoices")
    assert moved["b_number"] in listed and moved["a_number"] not in listed
    detail = page(client, f"/portal/invoices/{moved['b_invoice']}")
    assert moved["b_number"] in detail and moved["a_number"] not in detail
    assert client.get(f"/portal/invoices/{moved['b_invoice']}.pdf").status_code == 200
    for path in (f"/portal/invoices/{moved['a_invoice']}", f"/portal/invoices/{moved['a_invoice']}.pdf",
                 f"/portal/flags/{moved['a_flag']}", f"/portal/scores/{CODE}?period=2026-10",
                 f"/portal/scores/{CODE}?period=2026-Q3"):
        assert client.get(path).status_code == 404, path
    scores = page(client, "/portal/scores")
    assert "77.5" in scores and "61.5" not in scores and "2026-Q3" not in scores
    flags = page(client, "/portal/flags?show=all")
    assert "乙方时期的旗标" in flags and "甲方时期的旗标" not in flags
    site_flags = page(client, f"/portal/sites/{CODE}/flags")
    assert "乙方时期的旗标" in site_flags and "甲方时期的旗标" not in site_flags
    data = page(client, f"/portal/sites/{CODE}/data")
    assert AFTER.isoformat() in data and BEFORE.isoformat() not in data
    config = page(client, f"/portal/sites/{CODE}/config")
    assert "beta-two" in config  # and v1, in force when the site was handed over, in its history
    standards = page(client, "/portal/standards")
    assert "乙方待确认的标准" in standards and "甲方确认过的标准" not in standards
    profile = page(client, f"/portal/sites/{CODE}")
    assert "FC-B" in profile and "FC-A" not in profile
    assert CODE in page(client, "/portal/sites") and CODE in page(client, "/portal/agents")


def test_a_flag_raised_before_the_move_stays_with_the_old_partner_and_is_closed_with_its_tenure(session, moved):
    flag = session.get(Flag, moved["a_flag"])
    session.refresh(flag)
    assert flag.state == FlagState.resolved and flag.open_key is None and "TB01" in flag.resolution
    assert session.get(Flag, moved["b_flag"]).franchisee_id != flag.franchisee_id


def _reports(session, period: str) -> list[D]:
    session.expire_all()
    return [r.gross_revenue for r in session.exec(select(RevenueReport).where(RevenueReport.period == period)
                                                  .order_by(RevenueReport.version))]


def test_only_the_old_partner_corrects_a_month_before_the_move(client, session, moved):
    form = {"site": CODE, "period": "2026-10", "gross_revenue": "1.00"}
    login(client, "boss@b.cn")
    refused = post_form(client, "/portal/revenue", form, token_from="/portal/revenue", follow_redirects=True)
    assert refused.status_code == 200 and _reports(session, "2026-10") == [D("411111.11")]
    client.get("/logout")
    login(client, "boss@a.cn")
    post_form(client, "/portal/revenue", {**form, "gross_revenue": "400000"}, token_from="/portal/revenue")
    assert _reports(session, "2026-10") == [D("411111.11"), D("400000.00")]
    post_form(client, "/portal/revenue", {**form, "period": "2026-11", "gross_revenue": "1.00"},
              token_from="/portal/revenue")
    assert _reports(session, "2026-11") == [D("622222.22")]


def test_neither_partner_acknowledges_for_the_other(client, moved):
    login(client, "boss@b.cn")
    response = post_form(client, f"/portal/standards/acknowledgements/{moved['a_ack']}", {},
                         token_from="/portal/standards")
    assert response.status_code == 404
