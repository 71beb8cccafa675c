"""The scheduled compliance jobs: evaluate the rules, and send the queued mail.

Each job is an entry point: it opens its own sessions and commits its own work.
Mail is sent one message per transaction pair (claim, then mark sent) so a crash
loses nothing and re-sends at most the one message that was in flight.
"""
from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from ..collection import mark_amendments_done, pending_amendments
from ..db import make_engine, session_scope
from ..models.compliance import OutboxMessage
from ..settings import Settings
from . import outbox
from .engine import RunSummary, evaluate

log = logging.getLogger(__name__)


def evaluate_flags(*, settings: Settings, now: datetime | None = None, site_codes: list[str] | None = None,
                   engine: Engine | None = None) -> RunSummary:
    """Evaluate every rule for every site now; commit once."""
    now = now or datetime.now(timezone.utc)
    own = engine is None
    engine = engine or make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            # this run reads every site's buckets afresh: amendments noted before it are taken into account
            amended = pending_amendments(session=session, consumer="flags") if site_codes is None else []
            summary = evaluate(session=session, settings=settings, now=now, site_codes=site_codes)
            mark_amendments_done(session=session, consumer="flags", amendments=amended, at=now)
            session.commit()
        log.info("flags evaluated: %d sites, %d opened, %d resolved, %d mails, %d errors", summary.sites,
                 summary.opened, summary.resolved, summary.mails, len(summary.errors))
        return summary
    finally:
        if own:
            engine.dispose()


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] | None = None


def send_outbox(*, settings: Settings, now: datetime | None = None, engine: Engine | None = None,
                batch: int = 50) -> SendReport:
    """Send every due message: claim (commit), send, mark sent (commit); failures wait and retry."""
    now = now or datetime.now(timezone.utc)
    own = engine is None
    engine = engine or make_engine(settings.database_url)
    claimant = f"{socket.gethostname()}:{os.getpid()}"
    report = SendReport(errors=[])
    try:
        with session_scope(engine) as session:
            ids = outbox.claim(session=session, now=now, claimant=claimant, limit=batch,
                               stale_after=timedelta(minutes=settings.outbox_claim_minutes))
            session.commit()
        for message_id in ids:
            with session_scope(engine) as session:
                message = session.get(OutboxMessage, message_id)
                email = outbox.to_email(message, settings) if message else None
            if email is None:
                continue
            try:
                outbox.smtp_send(email, settings)
            except outbox.MailError as exc:
                with session_scope(engine) as session:
                    outbox.mark_failed(session=session, message_id=message_id, now=now, error=str(exc),
                                       permanent=exc.permanent)
                    session.commit()
                report.failed += 1
                report.errors.append(str(exc))
                continue
            with session_scope(engine) as session:  # the at-least-once window closes here
                outbox.mark_sent(session=session, message_id=message_id, now=now)
                session.commit()
            report.sent += 1
        if report.sent or report.failed:
            log.info("mail: %d sent, %d failed", report.sent, report.failed)
        return report
    finally:
        if own:
            engine.dispose()
