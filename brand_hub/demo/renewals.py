"""Demo stage: decisions ahead. Renewals of each kind, and a draft fee schedule to simulate.

Term ends are set relative to the demo's day so the renewals page always has them: a
partner with a clean record (renew), one whose invoice went unpaid past its due date
(renew with conditions), the partner under termination review (refer to review), and
one that HQ has already renewed, so its partner sees the outcome in the portal. Finance has
drafted next year's standard plan (a point more in the middle band, a higher minimum) to try
in the simulator against the months billed.
"""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import select

from .. import renewals
from ..billing import plan_drafts
from standards.royalty_plan import LIBRARY
from ..db import session_scope
from ..models import Agreement
from . import DemoContext
from .network import DEMO_ACTOR

ENDING = {"FC-2023-002": 150, "FC-2023-001": 75, "FC-2024-004": 40, "FC-2025-006": 20}
RENEWED = "FC-2025-006"
DRAFT = "标准方案2027草案"


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
        draft = (LIBRARY / "standard-2026.yaml").read_text(encoding="utf-8").replace("version: 1", "version: 2") \
            .replace('rate: "0.10"', 'rate: "0.11"').replace('"30000"', '"35000"')
        plan_drafts.save(session=session, name=DRAFT, text=draft, actor=DEMO_ACTOR)
        page = renewals.due(session=session, settings=context.settings, rules=rules, today=today)
        queued = renewals.remind(session=session, settings=context.settings, rules=rules, today=today,
                                 now=context.now)
        session.commit()
    summary = ", ".join(f"{r.agreement.number} {r.recommendation.outcome}" for r in page.rows)
    context.echo(f"demo: renewals: {summary}; {RENEWED} renewed; {queued} reminders queued; plan draft {DRAFT}")
