"""What the registry's lists show (partners, users), one page at a time with totals counted in SQL.

The sites list is ``registry.search_sites``; the per-row facts of a page (sites, desks and agreements of
each partner) are read for the page's rows only, in one query each.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import Session, select

from .. import standing
from ..models import Agreement, Franchisee, Site, User
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
