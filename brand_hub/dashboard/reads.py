"""What the registry's lists show (partners, users), one page at a time with totals counted in SQL.

The sites list is ``registry.search_sites``; the per-row facts of a page (sites, desks and agreements of
each partner) are read for the page's rows only, in one query each.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import Session, select

from .. import standing
from ..models import Agreement, AuditEvent, Franchisee, Site, User
from ..paging import Page, paginate


@dataclass(frozen=True)
class PartnerRow:
    """One line of the partners list."""

    partner: Franchisee
    sites: int
    desks: int
    agreements: int
    standing: object  # brand_hub.standing.Standing, or None


def partners(*, session: Session, q: str = "", trouble: bool = False, page: int = 1,
             per_page: int | None = None) -> Page:
    """One page of partners by code (``q`` in code or legal name; ``trouble``: on notice or under review),
    each a ``PartnerRow`` with its counts and standing."""
    stmt = select(Franchisee)
    if trouble:
        stmt = stmt.where(standing.on_notice_condition())
    if q:
        stmt = stmt.where(or_(Franchisee.code.contains(q), Franchisee.legal_name.contains(q)))
    found = paginate(session, stmt.order_by(Franchisee.code), page=page, per_page=per_page)
    ids = [p.id for p in found.items]
    sites, agreements, standings = {}, {}, {}
    if ids:
        sites = {fid: (n, desks or 0) for fid, n, desks in session.exec(
            select(Site.franchisee_id, func.count(), func.sum(Site.desks)).where(Site.franchisee_id.in_(ids))
            .group_by(Site.franchisee_id)).all()}
        agreements = dict(session.exec(select(Agreement.franchisee_id, func.count())
                                       .where(Agreement.franchisee_id.in_(ids))
                                       .group_by(Agreement.franchisee_id)).all())
        standings = standing.standings(session=session, franchisee_ids=ids)
    found.items = [PartnerRow(p, *sites.get(p.id, (0, 0)), agreements.get(p.id, 0), standings.get(p.id))
                   for p in found.items]
    return found


def users(*, session: Session, page: int = 1, per_page: int | None = None) -> Page:
    """One page of the users who may sign in: HQ's first, then each partner's by code, by e-mail;
    (user, partner or None) pairs."""
    stmt = (select(User, Franchisee).outerjoin(Franchisee, Franchisee.id == User.franchisee_id)
            .order_by(User.franchisee_id.is_not(None), Franchisee.code, User.email, User.id))
    return paginate(session, stmt, page=page, per_page=per_page)


@dataclass(frozen=True)
class PartnerRegistry:
    """The registry part of a partner's page: its agreements, sites and people."""

    agreements: list
    sites: list
    users: list


def partner_registry(*, session: Session, franchisee_id: int) -> PartnerRegistry:
    return PartnerRegistry(
        agreements=list(session.exec(select(Agreement).where(Agreement.franchisee_id == franchisee_id)
                                     .order_by(Agreement.start_date))),
        sites=list(session.exec(select(Site).where(Site.franchisee_id == franchisee_id).order_by(Site.code))),
        users=list(session.exec(select(User).where(User.franchisee_id == franchisee_id).order_by(User.email))))


def site_history(*, session: Session, site: Site, limit: int = 10) -> list:
    """The latest audit entries of a site (recorded by code; by id in older entries)."""
    return list(session.exec(select(AuditEvent).where(AuditEvent.entity_type == "site",
                                                      AuditEvent.entity_id.in_([site.code, str(site.id)]))
                             .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)))


def site_form_choices(*, session: Session, partner_code: str) -> tuple[tuple[str, str] | None, list[str]]:
    """The partner a site form names (code, legal name) and that partner's agreement numbers.

    The form asks for the partner's code rather than offering every partner: a brand of
    thousands of partners cannot pick from a list, and the page would carry all of them."""
    if not partner_code:
        return None, []
    partner = session.exec(select(Franchisee.id, Franchisee.code, Franchisee.legal_name)
                           .where(Franchisee.code == partner_code)).first()
    if partner is None:
        return None, []
    numbers = list(session.exec(select(Agreement.number).where(Agreement.franchisee_id == partner.id)
                                .order_by(Agreement.number)))
    return (partner.code, partner.legal_name), numbers


AUDIT_FILTERS = ("actor", "action", "entity_type", "entity_id")


def audit_events(*, session: Session, filters: dict[str, str], page: int = 1) -> tuple[Page, list[str]]:
    """One page of the audit log, newest first, filtered (actor contains, action starts with, entity exact),
    and the kinds of record it names (for the filter)."""
    stmt = select(AuditEvent)
    if filters.get("actor"):
        stmt = stmt.where(func.lower(AuditEvent.actor).like(f"%{filters['actor'].lower()}%"))
    if filters.get("action"):
        stmt = stmt.where(AuditEvent.action.like(f"{filters['action']}%"))
    if filters.get("entity_type"):
        stmt = stmt.where(AuditEvent.entity_type == filters["entity_type"])
    if filters.get("entity_id"):
        stmt = stmt.where(AuditEvent.entity_id == filters["entity_id"])
    found = paginate(session, stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()), page=page)
    kinds = list(session.exec(select(AuditEvent.entity_type).distinct().order_by(AuditEvent.entity_type)))
    return found, kinds


def agreement_site_counts(*, session: Session, franchisee_id: int, agreement_ids: list[int]) -> dict[int, int]:
    """Sites per agreement of one partner, for the agreements of a page."""
    if not agreement_ids:
        return {}
    return dict(session.exec(select(Site.agreement_id, func.count())
                             .where(Site.franchisee_id == franchisee_id, Site.agreement_id.in_(agreement_ids))
                             .group_by(Site.agreement_id)).all())


def team_select(*, franchisee_id: int):
    """A partner's people, admins first (the portal's team page pages it)."""
    return select(User).where(User.franchisee_id == franchisee_id).order_by(User.role, User.email, User.id)
