"""The scheduled scoring job: the running month, so far, for every active site."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from scoring.periods import period_of

from .. import audit
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
            session.commit()
        log.info("scored %s: %d sites, %d changed, %d failed", period, len(report.scores), report.changed,
                 len(report.failures))
    finally:
        engine.dispose()
