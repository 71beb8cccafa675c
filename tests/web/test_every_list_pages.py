"""Every list of HQ and of the portal shows one page at a time (issue 14), and its SQL does not grow with rows.

A network of one partner (MANY) with more sites, feeds, configs, scores, flags, acknowledgements,
invoices, reports, agreements, colleagues and fellow partners than a page holds: each list shows at
most a page of rows, says how many pages there are, and walking its pages shows every row once.
Then the statements of one request of each list stay the same when the network grows fourfold,
and stay within 30 (issue 10).
"""
from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from html import unescape

import pytest
from sqlalchemy import event

from brand_hub import paging
from brand_hub.dashboard import views as dashboard_views
from brand_hub.models import Role
from brand_hub.models.billing import Invoice, InvoiceStatus
from brand_hub.models.collection import CollectionTarget
from brand_hub.models.compliance import Flag, FlagState, Severity
from brand_hub.models.scoring import SiteScore
from brand_hub.models.standards import SiteConfigState, Standard, StandardAcknowledgement
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, make_user
from tests.conftest import login

PAGE_SIZE = 3
ROWS = 2 * PAGE_SIZE + 1  # three pages, the last one short
SITE = r"\bMN-\d{3}\b"
STAFF = r"staff-\d{3}@many\.example"

# (who, path, what marks one row of the list, the argument of its page, rows of the network of n sites)
LISTS = [
    ("hq", "/hq/partners", r"/hq/partners/((?:LP\d{3})|MANY)\"", "page", lambda n: n + 1),
    ("hq", "/hq/sites", SITE, "page", lambda n: n),
    ("hq", "/hq/users", STAFF, "page", lambda n: n),
    ("hq", "/hq/collection/agents", SITE, "page", lambda n: n),
    ("hq", "/hq/distribution/standards", SITE, "page", lambda n: n),
    ("hq", "/hq/distribution/standards", r"<code>(std-[pd]\d{3})</code>", "standards_page", lambda n: 2 * n),
    ("hq", "/hq/distribution/configs", SITE, "page", lambda n: n),
    ("hq", "/hq/scores/?period=2026-Q3", SITE, "page", lambda n: n),
    ("portal", "/portal/sites", SITE, "page", lambda n: n),
    ("portal", "/portal/agents", SITE, "page", lambda n: n),
    ("portal", "/portal/standards", r'id="ack-(\d+)"', "pending_page", lambda n: n),
    ("portal", "/portal/standards", r"<td>(std-d\d{3}) v1</td>", "page", lambda n: n),
    ("portal", "/portal/configs", SITE, "page", lambda n: n),
    ("portal", "/portal/scores", SITE, "page", lambda n: n),
    ("portal", "/portal/flags", r"/portal/flags/(\d+)\"", "page", lambda n: n),
    ("portal", "/portal/invoices", r"\bINV-\d{3}\b", "page", lambda n: n),
    ("portal", "/portal/revenue", r"\b2024-\d\d\b", "page", lambda n: n),
    ("portal", "/portal/agreements", r"\bAG-L\d{3}\b", "page", lambda n: n),
    ("portal", "/portal/team", STAFF, "page", lambda n: n),
]


def grow(session, network: dict, upto: int) -> None:
    """Add sites (with a feed, a config, a score, a flag, two standards to acknowledge), fellow partners,
    agreements, colleagues, invoices and reports to MANY until each counts ``upto``."""
    partner, agreement, now = network["partner"], network["agreement"], datetime.now(timezone.utc)
    for n in range(network["n"], upto):
        site = make_site(session, partner, agreement, code=f"MN-{n:03d}", agent_url=f"http://10.0.0.{n}:8700/",
                         city=("上海", "成都")[n % 2], desks=100 + n)
        session.add(CollectionTarget(site_id=site.id, last_attempt_at=now, last_success_at=now - timedelta(minutes=n),
                                     consecutive_failures=n % 2, last_error="ConnectError" if n % 2 else "",
                                     newest_record_at=now - timedelta(minutes=n), records_last_pull=n))
        session.add(SiteConfigState(site_id=site.id, desired_version=1, desired_hash="h",
                                    applied_hash="h" if n % 2 else "", drifted_keys=[]))
        session.add(SiteScore(site_id=site.id, period="2026-Q3", model_id="brand-health", model_version=1,
                              status="scored", score=50.0 + n, card="green" if n % 2 else "yellow", coverage=0.9,
                              indicators={}))
        session.add(Flag(site_id=site.id, franchisee_id=partner.id, rule=f"rule-{n}", subject=str(n),
                         state=FlagState.open, severity=Severity.major, opened_at=now - timedelta(hours=n),
                         evidence={}))
        for kind, done in (("p", None), ("d", now - timedelta(minutes=n))):
            standard = Standard(key=f"std-{kind}{n:03d}", version=1, category="air", title_zh=f"std-{kind}{n:03d}",
                                content={"text": {"zh": "要求", "en": "requirement"}, "rules": []},
                                content_hash=f"h-{kind}{n}")
            session.add(standard)
            session.flush()
            session.add(StandardAcknowledgement(site_id=site.id, standard_id=standard.id, due_at=now + timedelta(days=n),
                                                acknowledged_at=done))
        make_franchisee(session, code=f"LP{n:03d}")
        make_agreement(session, partner, number=f"AG-L{n:03d}")
        make_user(session, Role.franchisee_staff, franchisee=partner, email=f"staff-{n:03d}@many.example")
        session.add(Invoice(number=f"INV-{n:03d}", agreement_id=agreement.id, franchisee_id=partner.id,
                            period=f"{2020 + n // 12}-{n % 12 + 1:02d}", status=InvoiceStatus.issued, plan_id="standard-2026",
                            issued_at=now, due_date=date(2026, 1, 1), total=Decimal("10")))
        make_revenue_report(session, network["first_site"] or site, f"{2024 + n // 12}-{n % 12 + 1:02d}", "1000")
        network["first_site"] = network["first_site"] or site
    network["n"] = upto
    session.commit()


@pytest.fixture
def network(session):
    partner = make_franchisee(session, code="MANY")
    agreement = make_agreement(session, partner, number="AG-MANY")
    hq = make_user(session, Role.hq_admin)
    portal = make_user(session, Role.franchisee_admin, franchisee=partner)
    session.commit()
    return {"partner": partner, "agreement": agreement, "hq": hq.email, "portal": portal.email, "n": 0,
            "first_site": None}


def _pages_arg(html: str, arg: str) -> list[str]:
    """The links of the pager of the list paged by ``arg``."""
    links = []
    for nav in re.findall(r'<nav class="pagination".*?</nav>', html, re.S):
        links += [unescape(href) for href in re.findall(r'href="([^"]+)"', nav) if re.search(rf"[?&]{arg}=", unescape(href))]
    return links


def _next(html: str, arg: str, current: int) -> str | None:
    return next((href for href in _pages_arg(html, arg) if re.search(rf"[?&]{arg}={current + 1}\b", href)), None)


@pytest.mark.parametrize("who,path,marker,arg,rows", LISTS, ids=[f"{w}:{p}:{a}" for w, p, _m, a, _r in LISTS])
def test_every_list_shows_at_most_a_page_of_rows_its_page_count_and_every_row_once_across_its_pages(
        client, session, network, monkeypatch, who, path, marker, arg, rows):
    monkeypatch.setattr(paging, "PER_PAGE", PAGE_SIZE)
    monkeypatch.setattr(dashboard_views, "PER_PAGE", PAGE_SIZE)
    grow(session, network, ROWS)
    login(client, network[who])
    total, seen, url, number = rows(ROWS), [], path, 1
    pages = math.ceil(total / PAGE_SIZE)
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        shown = set(re.findall(marker, html))
        assert 0 < len(shown) <= PAGE_SIZE, f"{url}: {len(shown)} rows on a page of {PAGE_SIZE}"
        assert f"第 {number} 页，共 {pages} 页" in html, f"{url}: the pager does not say page {number} of {pages}"
        seen += shown
        url, number = _next(html, arg, number), number + 1
    assert sorted(seen) == sorted(set(seen)) and len(seen) == total, f"{path}: pages show {len(seen)} of {total} rows"


def _statements(app, client, url: str) -> int:
    engine = app.extensions["brandhub.engine"]
    count = {"n": 0}

    def counted(*_args, **_kwargs):
        count["n"] += 1

    event.listen(engine, "before_cursor_execute", counted)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    assert response.status_code == 200, url
    return count["n"]


def test_the_statements_of_every_list_request_do_not_grow_with_its_rows_and_stay_within_30(
        app, client, session, network):
    paths = sorted({(who, path) for who, path, *_rest in LISTS})
    counts: dict[tuple[str, str], list[int]] = {p: [] for p in paths}
    for size in (5, 20):  # every row on the first page: a statement per row would show
        grow(session, network, size)
        for who in ("hq", "portal"):
            login(client, network[who])
            for front, path in paths:
                if front == who:
                    _statements(app, client, path)  # warm: the scoring model and other caches are read once
                    counts[(front, path)].append(_statements(app, client, path))
    grew = {path: c for (_w, path), c in counts.items() if c[0] != c[1]}
    over = {path: c for (_w, path), c in counts.items() if max(c) > 30}
    assert not grew, f"statements grow with rows (5 rows, 20 rows): {grew}"
    assert not over, f"more than 30 statements: {over}"
