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


def site_data(*, session: Session, site: Site) -> dict:
    """What the site data page shows, in the dashboard and in the portal alike."""
    target = session.exec(select(CollectionTarget).where(CollectionTarget.site_id == site.id)).first()
    quarantined = session.exec(select(QuarantinedRecord).where(QuarantinedRecord.site_id == site.id)
                               .order_by(QuarantinedRecord.received_at.desc()).limit(20)).all()
    return {"site": site, "target": target, "series": site_series(session=session, site_id=site.id),
            "quarantined": quarantined, "now": datetime.now(timezone.utc)}
