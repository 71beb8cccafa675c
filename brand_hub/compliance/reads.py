"""What the compliance pages show, built from an explicit scope (HQ or one partner).

HQ views and portal views both call these; views only parse, call, render.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from ..models import Franchisee, Site
from ..models.compliance import Flag, FlagState
from ..paging import Page, paginate_keys
from ..scope import Scope
from . import FlagFilters, flag_select
from .lifecycle import CURRENT


def flags(*, session: Session, scope: Scope, filters: FlagFilters, now: datetime, page: int,
          newest_first: bool = False) -> Page:
    """One page of (flag, site or None, partner) rows in scope, worst first (or newest first).

    The count and the sort read the flags' ids only (the site and partner joins stay for the filters, and
    PostgreSQL drops the unused outer join): sorting every current flag joined to its whole site row hashed
    the 10,000 sites for 25 rows (issue 10). The page's 25 rows are then read by id.
    """
    stmt = flag_select(filters, now)
    if not scope.is_hq:
        stmt = stmt.where(Flag.franchisee_id == scope.franchisee_id)
    if scope.sites is not None:  # a site manager: flags of their sites, not the partner-wide ones
        stmt = stmt.where(Flag.site_id.in_(scope.sites))
    if newest_first:
        stmt = stmt.order_by(None).order_by(Flag.opened_at.desc().nulls_last(), Flag.id.desc())
    return paginate_keys(session, stmt.with_only_columns(Flag.id), lambda ids: _rows(session=session, ids=ids),
                         page=page)


def _rows(*, session: Session, ids: list[int]) -> dict[int, tuple]:
    """(flag, site or None, partner) by flag id."""
    if not ids:
        return {}
    return {flag.id: (flag, site, partner) for flag, site, partner in session.exec(
        select(Flag, Site, Franchisee).join(Franchisee, Franchisee.id == Flag.franchisee_id)
        .outerjoin(Site, Site.id == Flag.site_id).where(Flag.id.in_(ids)))}


@dataclass(frozen=True)
class QueueFigures:
    """The queue's counts: flags by state, the rules that raised flags, and each rule with unresolved flags."""

    counts: dict[str, int]                # ``compliance.counts_by_state``
    rules: list[str]                      # every rule that raised a flag, sorted (the filter's choices)
    by_rule: list[tuple[Flag, int]]       # ``compliance.current_by_rule``


def queue_figures(*, session: Session) -> QueueFigures:
    """``counts_by_state``, the rules and ``current_by_rule`` from one grouped statement over the flags (and one
    for the rules' sample flags), where they were three scans of the flag table (issue 10)."""
    counts: dict[str, int] = {}
    current: dict[str, list[int]] = {}
    rules: set[str] = set()
    for state, rule, n, first in session.exec(select(Flag.state, Flag.rule, func.count(), func.min(Flag.id))
                                              .group_by(Flag.state, Flag.rule)).all():
        state = FlagState(state)
        counts[state.value] = counts.get(state.value, 0) + n
        rules.add(rule)
        if state in CURRENT:
            tally = current.setdefault(rule, [0, first])
            tally[0] += n
            tally[1] = min(tally[1], first)
    samples = {f.id: f for f in session.exec(select(Flag).where(Flag.id.in_([first for _n, first in current.values()])))} \
        if current else {}
    by_rule = sorted(((samples[first], n) for n, first in current.values()), key=lambda pair: (-pair[1], pair[0].rule))
    return QueueFigures(counts=counts, rules=sorted(rules), by_rule=by_rule)


def queue_options(*, session: Session, rules: list[str] | None = None) -> dict[str, list]:
    """What the HQ queue's filters offer: the rules that raised flags and every city (a partner is typed by code:
    a list of every partner would be most of the page at 2,000 partners). ``rules``: when read already
    (``queue_figures``)."""
    return {
        "rules": rules if rules is not None else sorted(set(session.exec(select(Flag.rule).distinct()).all())),
        "cities": sorted(c for c in set(session.exec(distinct_values(Site.__table__.c.city)).all()) if c),
    }


def distinct_values(column):
    """The distinct values of an indexed ``column`` but NULL, one index probe each (a loose index scan written
    as a recursive CTE): ``SELECT DISTINCT`` read all 10,000 sites' rows for the dozen cities (issue 10)."""
    found = sa_select(func.min(column).label("value")).cte("distinct_values", recursive=True)
    later = column.table.alias("later")
    found = found.union_all(
        sa_select(sa_select(func.min(later.c[column.key])).where(later.c[column.key] > found.c.value)
                  .scalar_subquery()).where(found.c.value.is_not(None)))
    return select(found.c.value).where(found.c.value.is_not(None))
