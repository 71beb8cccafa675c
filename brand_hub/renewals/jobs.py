"""The scheduled renewal job: remind HQ of terms ending without a decision (180/90/30 days by the rules file)."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from ..db import make_engine, session_scope
from ..settings import Settings
from . import load_rules, remind

log = logging.getLogger(__name__)


def send_renewal_reminders(*, settings: Settings, now: datetime | None = None) -> int:
    """Queue the reminders due today (the mail job sends them); commit once."""
    now = now or datetime.now(timezone.utc)
    rules = load_rules(settings)
    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            queued = remind(session=session, settings=settings, rules=rules,
                            today=now.astimezone(ZoneInfo(settings.timezone)).date(), now=now)
            session.commit()
        log.info("renewal reminders queued: %d", queued)
        return queued
    finally:
        engine.dispose()
