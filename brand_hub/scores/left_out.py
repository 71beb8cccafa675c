"""Issue 11: how many survey answers a site's agent left out of NPS as repeats (one device, one answer per
survey window). The agent keeps them, marked; the hub only receives a ``survey_repeat`` event per answer."""
from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from scoring.periods import PeriodError, parse_period

from ..models import Site
from ..models.collection import OpsEvent


def nps_left_out(*, session, site: Site, period: str) -> int:
    """Survey answers left out of ``period``'s NPS at ``site`` because the device had already answered."""
    try:
        start, end = parse_period(period).bounds(site.timezone)
    except PeriodError:
        return 0
    return session.exec(select(func.count()).select_from(OpsEvent).where(
        OpsEvent.site_id == site.id, OpsEvent.kind == "survey_repeat", OpsEvent.occurred_at >= start,
        OpsEvent.occurred_at < end)).one()
