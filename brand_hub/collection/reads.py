"""What the collection pages show, built from an explicit scope (HQ or one partner).

HQ views and portal views both call these; views only parse, call, render.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import case, func, or_
from sqlmodel import Session, select

from ..models import Franchisee, Site, SiteStatus
from ..models.collection import CollectionTarget, QuarantinedRecord
from ..paging import Page, paginate_ranked
from ..scope import Scope
from . import SORTS, FeedRow, site_series


def feed_sort(args) -> tuple[str, str]:
    """The feed list's sort column and direction from query arguments (state, ascending by default)."""
    sort = args.get("sort", "state")
    direction = args.get("dir", "asc")
    return (sort if sort in SORTS else "state"), ("desc" if direction == "desc" else "asc")


@dataclass
class Feed:
    """One page of the feeds list (``FeedRow`` items) and how many feeds in scope are failing."""

    page: Page
    failing: int


def _state_rank():
    """The feed's state as a number to sort by: failing 0, never pulled 1, ok 2, no agent 3 (``FeedRow.state``)."""
    return case((or_(Site.agent_url.is_(None), Site.agent_url == ""), 3),
                (CollectionTarget.last_attempt_at.is_(None), 1),
                (CollectionTarget.consecutive_failures > 0, 0), else_=2)


def _missing(column, rank: int):
    return case((column.is_(None), rank), else_=1 - rank)


def _feed_order(sort: str, descending: bool) -> list:
    """ORDER BY of the feeds list, the same order as ``FeedRow``'s sort keys; ties by site code."""
    t = CollectionTarget
    failures = func.coalesce(t.consecutive_failures, 0)
    keys = {  # (expression, ascending) pairs
        "state": [(_state_rank(), True), (failures, False)],
        "site": [],
        "partner": [(Franchisee.code, True)],
        "last_success": [(_missing(t.last_success_at, 0), True), (t.last_success_at, True)],  # never: lowest
        "failures": [(failures, True)],
        "lag": [(_missing(t.newest_record_at, 1), True), (t.newest_record_at, False)],  # nothing yet: longest
        "records": [(func.coalesce(t.records_last_pull, 0), True)],
        "buffer": [(func.coalesce(t.buffer_depth, 0), True)],
    }
    return [column.asc() if ascending != descending else column.desc()
            for column, ascending in [*keys.get(sort, keys["state"]), (Site.code, True)]]


def _feed_select(scope: Scope, *columns):
    stmt = (select(*columns).select_from(Site).join(Franchisee, Franchisee.id == Site.franchisee_id)
            .outerjoin(CollectionTarget, CollectionTarget.site_id == Site.id)
            .where(Site.status.in_([SiteStatus.active, SiteStatus.onboarding, SiteStatus.suspended])))
    return scope.where_site(stmt, Site.id)


def feed(*, session: Session, scope: Scope, sort: str, descending: bool, page: int = 1,
         per_page: int | None = None) -> Feed:
    """One page of the feed health of every site in scope, failing first by default; sorted in SQL."""

    def load(ids):
        return {site.id: FeedRow(site, franchisee, target)
                for site, franchisee, target in session.exec(_feed_select(scope, Site, Franchisee, CollectionTarget)
                                                             .where(Site.id.in_(ids)))}

    failing = func.sum(case((CollectionTarget.consecutive_failures > 0, 1), else_=0))
    found, (failing_n,) = paginate_ranked(  # one pass: the count and the failing ones ride on the ranked ids
        session, _feed_select(scope, Site.id).order_by(*_feed_order(sort, descending)), load, page=page,
        per_page=per_page, figures=(failing,),
        apart=lambda: session.exec(_feed_select(scope, func.count(), failing)).one())
    return Feed(found, int(failing_n or 0))


def site_data(*, session: Session, site: Site, holding=None) -> dict:
    """What the site data page shows, in the dashboard and in the portal alike.

    ``holding`` (issue 17, the portal): the partner's tenures of the site; only their
    span is shown, and the live feed only to the partner holding the site today.
    """
    held_from = holding.held_from if holding is not None else None
    held_until = holding.held_until if holding is not None else None
    target = session.exec(select(CollectionTarget).where(CollectionTarget.site_id == site.id)).first()
    if holding is not None and not holding.holds_now:
        target = None
    quarantine = select(QuarantinedRecord).where(QuarantinedRecord.site_id == site.id)
    if held_from is not None:
        quarantine = quarantine.where(QuarantinedRecord.received_at >= held_from)
    if held_until is not None:
        quarantine = quarantine.where(QuarantinedRecord.received_at < held_until)
    quarantined = session.exec(quarantine.order_by(QuarantinedRecord.received_at.desc()).limit(20)).all()
    series = site_series(session=session, site_id=site.id, held_from=held_from, held_until=held_until)
    if holding is not None and len(holding.tenures) > 1:  # held, lost and taken back: not the time between
        for zones in series["metrics"].values():
            for zone, points in zones.items():
                zones[zone] = [p for p in points if holding.owns_instant(datetime.fromisoformat(p["x"]))]
        quarantined = [q for q in quarantined if holding.owns_instant(q.received_at)]
    return {"site": site, "target": target, "series": series, "quarantined": quarantined,
            "now": datetime.now(timezone.utc)}
