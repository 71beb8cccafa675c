"""Small builders for test data: sensible defaults, override what the test is about."""
from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from sqlmodel import Session
from werkzeug.security import generate_password_hash

from brand_hub.models import Agreement, Franchisee, Role, Site, SiteStatus, User

PASSWORD = "correct horse battery"
_PASSWORD_HASH = generate_password_hash(PASSWORD)  # hashed once: hashing is slow on purpose
_seq = itertools.count(1)

WEEKDAY_HOURS = {d: [["09:00", "21:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [["10:00", "18:00"]], "sun": []}


def make_franchisee(session: Session, **fields) -> Franchisee:
    n = next(_seq)
    values = dict(code=f"P{n:03d}", legal_name=f"测试伙伴{n}企业管理有限公司", name_en=f"Partner {n} Ltd",
                  contact_email=f"partner{n}@example.com")
    values.update(fields)
    obj = Franchisee(**values)
    session.add(obj)
    session.flush()
    return obj


def make_agreement(session: Session, franchisee: Franchisee, **fields) -> Agreement:
    n = next(_seq)
    values = dict(number=f"AG-{n:04d}", franchisee_id=franchisee.id, start_date=date(2025, 1, 1),
                  royalty_plan_id="standard-2026")
    values.update(fields)
    obj = Agreement(**values)
    session.add(obj)
    session.flush()
    return obj


def make_site(session: Session, franchisee: Franchisee, agreement: Agreement | None = None, **fields) -> Site:
    n = next(_seq)
    values = dict(code=f"S{n:04d}", name_zh=f"测试门店{n}", name_en=f"Test Site {n}", franchisee_id=franchisee.id,
                  agreement_id=agreement.id if agreement else None, city="上海", region="east", tier="standard",
                  opening_hours=WEEKDAY_HOURS, area_m2=Decimal("800"), desks=120, status=SiteStatus.active)
    values.update(fields)
    obj = Site(**values)
    session.add(obj)
    session.flush()
    return obj


def make_user(session: Session, role: Role | str = Role.hq_admin, franchisee: Franchisee | None = None,
              **fields) -> User:
    n = next(_seq)
    values = dict(email=f"user{n}@example.com", name=f"User {n}", password_hash=_PASSWORD_HASH,
                  role=Role(role), franchisee_id=franchisee.id if franchisee else None)
    values.update(fields)
    obj = User(**values)
    session.add(obj)
    session.flush()
    return obj


def start_agent(directory, site_code: str, token: str, **config):
    """A real site agent on a free loopback port, its buffer in ``directory``; call ``.stop()`` after."""
    from site_agent import runner
    from site_agent.config import AgentConfig

    values = dict(site_code=site_code, token=token, port=0, buffer_path=str(directory / f"{site_code}.buffer"))
    values.update(config)
    return runner.start(AgentConfig(**values))


def issue_site_token(session: Session, site: Site, secret_key: str = "test-secret") -> str:
    """Issue ``site``'s agent token as HQ would; returns the plain token for the agent's config."""
    from brand_hub.audit import SYSTEM
    from brand_hub.collection import issue_token

    return issue_token(session=session, site_code=site.code, secret_key=secret_key, actor=SYSTEM)


def make_revenue_report(session: Session, site: Site, period: str, gross_revenue: str | Decimal, **fields):
    """A site's revenue report for a month (version 1, reported, from the portal unless told)."""
    from brand_hub.models.billing import RevenueReport

    from brand_hub import tenure

    values = dict(site_id=site.id, period=period, version=1, gross_revenue=Decimal(gross_revenue),
                  franchisee_id=tenure.partner_of_month(session=session, site=site, period=period))
    values.update(fields)
    obj = RevenueReport(**values)
    session.add(obj)
    session.flush()
    return obj


def move_site_by_import(session: Session, site: Site, franchisee: Franchisee, agreement: Agreement | None,
                        moved_on: date | None = None):
    """Hand ``site`` to ``franchisee`` as HQ does: a network file naming the site's new partner (issue 17)."""
    import json

    from brand_hub.audit import SYSTEM
    from brand_hub.registry import import_network_yaml

    entry = {"code": site.code, "name_zh": site.name_zh, "name_en": site.name_en, "franchisee": franchisee.code,
             "agreement": agreement.number if agreement else "", "city": site.city, "region": site.region,
             "tier": site.tier, "timezone": site.timezone, "desks": site.desks, "area_m2": str(site.area_m2),
             "status": getattr(site.status, "value", site.status),
             "opened_on": site.opened_on.isoformat() if site.opened_on else "", "opening_hours": site.opening_hours}
    if moved_on is not None:
        entry["moved_on"] = moved_on.isoformat()
    result = import_network_yaml(session=session, actor=SYSTEM, text="sites:\n  - " + json.dumps(entry, ensure_ascii=False))
    assert result.ok, result.problems
    session.flush()
    return result


def make_disputed_line(session: Session, invoice, site: Site, franchisee: Franchisee):
    """Give a *draft* ``invoice`` one royalty line of ``site``, issue it, and dispute that line with one
    attachment (issue 11). Returns (dispute, attachment)."""
    from brand_hub.models.billing import InvoiceLine, InvoiceStatus
    from brand_hub.models.trust import DisputeAttachment, InvoiceDispute

    line = InvoiceLine(invoice_id=invoice.id, position=1, site_id=site.id, site_code=site.code, kind="royalty",
                       description="royalty", service_period=invoice.period, amount=Decimal("100"),
                       plan_id=invoice.plan_id)
    session.add(line)
    session.flush()
    invoice.status = InvoiceStatus.issued   # lines go on while it is a draft; issued, it is immutable
    session.flush()
    dispute = InvoiceDispute(invoice_id=invoice.id, invoice_line_id=line.id, franchisee_id=franchisee.id,
                             disputed_amount=Decimal("100"), proposed_amount=Decimal("50"), reason="check")
    session.add(dispute)
    session.flush()
    attachment = DisputeAttachment(dispute_id=dispute.id, filename="proof.pdf", content_type="application/pdf",
                                   size=4, sha256="0" * 64, data=b"%PDF")
    session.add(attachment)
    session.flush()
    return dispute, attachment


def rebuild_rollups(session: Session, site_ids: list[int] | None = None) -> None:
    """Bring the hourly and daily rollups up to date with buckets a test wrote around the ingest path."""
    from brand_hub.collection import rollups

    session.flush()
    rollups.rebuild(session=session, site_ids=site_ids)


def add_buckets(session: Session, rows: list[dict]) -> None:
    """Insert ``reading_bucket`` rows (dicts of its columns) in one statement and rebuild their sites' rollups,
    as the ingest path would have."""
    from brand_hub.models.collection import ReadingBucket

    if not rows:
        return
    session.execute(ReadingBucket.__table__.insert(), rows)
    rebuild_rollups(session, sorted({row["site_id"] for row in rows}))
