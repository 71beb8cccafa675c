"""The scheduled scoring job: the running month, so far, for every active site."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlmodel import select

from scoring.periods import Period, period_of

from .. import audit
from ..collection import mark_amendments_done, pending_amendments
from ..models import Site
from ..models.scoring import SiteScore
from ..db import make_engine, session_scope
from ..settings import Settings
from . import load_model, score_period

log = logging.getLogger(__name__)


def score_running_month(*, settings: Settings, now: datetime | None = None) -> None:
    """Score the month that is running (in the network's zone) up to ``now``; commit once."""
    now = now or datetime.now(timezone.utc)
    period = period_of(now.astimezone(ZoneInfo(settings.timezone)).date())
    model = load_model(settings=settings)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            report = score_period(session=session, period=period, model=model, actor=audit.SYSTEM, as_of=now,
                                  network_tz=settings.timezone, workers=settings.score_workers)
            log.info("scored %s: %d sites, %d changed, %d failed", period, len(report.scores), report.changed,
                     len(report.failures))
            rescore_amended(session=session, model=model, settings=settings, now=now, skip=period)
            session.commit()
    finally:
        engine.dispose()


def rescore_amended(*, session, model, settings: Settings, now: datetime, skip: Period | None = None) -> list[str]:
    """Score again the periods late readings amended (months, and quarters already scored); mark them done.

    Returns the periods rescored, e.g. ``["2026-10", "2026-Q4"]``.
    """
    amendments = pending_amendments(session=session, consumer="scores")
    if not amendments:
        return []
    zone = ZoneInfo(settings.timezone)
    touched: dict[Period, set[int]] = {}
    for amendment in amendments:
        for moment in (amendment.first_bucket, amendment.last_bucket):
            day = moment.astimezone(zone).date()
            touched.setdefault(period_of(day), set()).add(amendment.site_id)
            touched.setdefault(period_of(day, quarter=True), set()).add(amendment.site_id)
    done = []
    for period, site_ids in sorted(touched.items()):
        if period == skip:
            continue  # just scored up to now
        if period.is_quarter and not session.exec(
                select(SiteScore.id).where(SiteScore.period == str(period), SiteScore.site_id.in_(site_ids))).first():
            continue  # never scored: nothing to recompute
        codes = sorted(session.exec(select(Site.code).where(Site.id.in_(site_ids))).all())
        score_period(session=session, period=period, model=model, actor=audit.SYSTEM, site_codes=codes,
                     as_of=min(now, period.bounds(settings.timezone)[1]), network_tz=settings.timezone)
        done.append(str(period))
    mark_amendments_done(session=session, consumer="scores", amendments=amendments, at=now)
    log.info("rescored after late readings: %s", ", ".join(done) or "nothing already scored")
    return done
