"""What the collection pages show, built from an explicit scope (HQ or one partner).

HQ views and portal views both call these; views only parse, call, render.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlmodel import Session, select

from ..models import Site
from ..models.collection import CollectionTarget, QuarantinedRecord
from ..scope import Scope
from . import SORTS, FeedRow, feed_rows, site_series


def feed_sort(args) -> tuple[str, str]:
    """The feed list's sort column and direction from query arguments (state, ascending by default)."""
    sort = args.get("sort", "state")
    direction = args.get("dir", "asc")
    return (sort if sort in SORTS else "state"), ("desc" if direction == "desc" else "asc")


def feed(*, session: Session, scope: Scope, sort: str, descending: bool) -> list[FeedRow]:
    """Every site's feed health in scope, failing first by default."""
    site_ids = None if scope.is_hq else list(session.exec(scope.site_ids()).all())
    return feed_rows(session=session, site_ids=site_ids, sort=sort, descending=descending)


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
