"""What the compliance pages show, built from an explicit scope (HQ or one partner).

HQ views and portal views both call these; views only parse, call, render.
"""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from ..models import Site
from ..models.compliance import Flag
from ..paging import Page, paginate
from ..scope import Scope
from . import FlagFilters, flag_select


def flags(*, session: Session, scope: Scope, filters: FlagFilters, now: datetime, page: int,
          newest_first: bool = False) -> Page:
    """One page of (flag, site or None, partner) rows in scope, worst first (or newest first)."""
    stmt = flag_select(filters, now)
    if not scope.is_hq:
        stmt = stmt.where(Flag.franchisee_id == scope.franchisee_id)
    if scope.sites is not None:  # a site manager: flags of their sites, not the partner-wide ones
        stmt = stmt.where(Flag.site_id.in_(scope.sites))
    if newest_first:
        stmt = stmt.order_by(None).order_by(Flag.opened_at.desc().nulls_last(), Flag.id.desc())
    return paginate(session, stmt, page=page)


def queue_options(*, session: Session) -> dict[str, list]:
    """What the HQ queue's filters offer: the rules that raised flags and every city (a partner is typed by code:
    a list of every partner would be most of the page at 2,000 partners)."""
    return {
        "rules": sorted(set(session.exec(select(Flag.rule).distinct()).all())),
        "cities": sorted(c for c in set(session.exec(select(Site.city).distinct()).all()) if c),
    }
