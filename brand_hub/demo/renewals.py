"""Demo stage: renewals. Four terms come up for renewal, one of each kind, decided on the record.

Term ends are set relative to the demo's day so the renewals page always has them: a
partner with a clean record (renew), one whose invoice went unpaid past its due date
(renew with conditions), the partner under termination review (refer to review), and
one that HQ has already renewed, so its partner sees the outcome in the portal.
"""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from .. import renewals
from ..db import session_scope
from ..models import Agreement
from . import DemoContext
from .network import DEMO_ACTOR

ENDING = {"FC-2023-002": 150, "FC-2023-001": 75, "FC-2024-004": 40, "FC-2025-006": 20}
RENEWED = "FC-2025-006"


def run(context: DemoContext) -> None:
    today = context.now.astimezone(ZoneInfo(context.settings.timezone)).date()
    rules = renewals.load_rules(context.settings)
    with session_scope(context.engine) as session:
        agreements = {a.number: a for a in session.exec(select(Agreement).where(Agreement.number.in_(ENDING)))}
        for number, days in ENDING.items():
            agreements[number].end_date = today + timedelta(days=days)
        session.flush()
        renewed = agreements[RENEWED]
        renewal = renewals.record(session=session, agreement=renewed, settings=context.settings, rules=rules,
                                  today=today)
        renewals.decide(session=session, agreement=renewed, outcome="renew",
                        new_end_date=renewed.end_date + timedelta(days=5 * 365), conditions="",
                        recommendation=renewal.recommendation.outcome, actor=DEMO_ACTOR)
        page = renewals.due(session=session, settings=context.settings, rules=rules, today=today)
        queued = renewals.remind(session=session, settings=context.settings, rules=rules, today=today,
                                 now=context.now)
        session.commit()
    summary = ", ".join(f"{r.agreement.number} {r.recommendation.outcome}" for r in page.rows)
    context.echo(f"demo: renewals: {summary}; {RENEWED} renewed; {queued} reminders queued")
