"""Every paged list shows at most one page of rows, says there is more, and the next page holds the rest."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from brand_hub import audit, paging
from brand_hub.models import Role
from brand_hub.models.billing import Invoice, InvoiceStatus
from brand_hub.models.compliance import Flag, FlagState, Severity
from brand_hub.models.standards import Standard, StandardAcknowledgement
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, make_user
from tests.conftest import login

PAGE_SIZE = 3
ROWS = PAGE_SIZE + 2


@pytest.fixture
def crowded(session, monkeypatch):
    """One partner's site with more flags, reports, invoices, acknowledgements and audit events than a page."""
    monkeypatch.setattr(paging, "PER_PAGE", PAGE_SIZE)
    partner = make_franchisee(session, code="MANY")
    agreement = make_agreement(session, partner, number="AG-MANY")
    site = make_site(session, partner, agreement, code="SITE-MANY")
    now = datetime.now(timezone.utc)
    for n in range(ROWS):
        session.add(Flag(site_id=site.id, franchisee_id=partner.id, rule=f"rule-{n}", subject=str(n),
                         state=FlagState.open, severity=Severity.major, opened_at=now - timedelta(hours=n),
                         evidence={}))
        make_revenue_report(session, site, f"2025-{n + 1:02d}", "1000")
        session.add(Invoice(number=f"INV-{n}", agreement_id=agreement.id, franchisee_id=partner.id,
                            period=f"2025-{n + 1:02d}", status=InvoiceStatus.issued, plan_id="standard-2026",
                            issued_at=now, due_date=date(2026, 1, 1), total=Decimal("10")))
        standard = Standard(key=f"std-{n}", version=1, category="air", title_zh=f"标准{n}", content_hash=f"h{n}")
        session.add(standard)
        session.flush()
        session.add(StandardAcknowledgement(site_id=site.id, standard_id=standard.id, due_at=now,
                                            acknowledged_at=now - timedelta(minutes=n)))
        audit.record(session=session, actor=audit.SYSTEM, action="test.row", entity_type="site",
                     entity_id=site.code)
    hq = make_user(session, Role.hq_admin)
    portal = make_user(session, Role.franchisee_admin, franchisee=partner)
    session.commit()
    return dict(hq=hq.email, portal=portal.email, site=site.code)


def _body_rows(html: str) -> int:
    """Rows in the page's table bodies (header rows are in <thead>)."""
    return sum(part.count("<tr") for part in re.findall(r"<tbody>(.*?)</tbody>", html, re.S))


LISTS = [
    ("hq", "/hq/compliance/"),
    ("hq", "/hq/compliance/sites/{site}"),
    ("hq", "/hq/audit"),
    ("portal", "/portal/flags"),
    ("portal", "/portal/sites/{site}/flags"),
    ("portal", "/portal/revenue"),
    ("portal", "/portal/invoices"),
    ("portal", "/portal/standards"),
]


@pytest.mark.parametrize("who,path", LISTS)
def test_a_list_view_shows_no_more_rows_than_its_page_size_and_pages_to_the_rest(client, crowded, who, path):
    login(client, crowded[who])
    url = path.format(site=crowded["site"])
    first = client.get(url)
    assert first.status_code == 200, url
    html = first.get_data(as_text=True)
    shown = _body_rows(html)
    assert 0 < shown <= PAGE_SIZE, f"{url}: {shown} rows"
    assert 'class="pagination"' in html, f"{url}: more rows than a page and no pager"
    second = client.get(url + ("&" if "?" in url else "?") + "page=2")
    assert second.status_code == 200 and _body_rows(second.get_data(as_text=True)) >= 1
