"""Demo stage: billing. Two months of royalty billing, the way finance works them.

Revenue reports for the five months before the running one for every billed
site (one site misses last month's report and another the month before's, so
they are estimated, and the late one is past its due day); the month
before last is run, issued early in last month and partly left unpaid (its
overdue balance earns a late fee); one of its reports is corrected afterwards
(a true-up). Then last month is run, issued with PDFs, and a payment and a
credit note are recorded.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import select

from .. import billing
from ..billing import invoices, pdf, runs
from ..billing.calc import fen
from ..billing.revenue import submit_report
from ..db import session_scope
from ..models import Site
from ..models.billing import Invoice, ReportSource
from . import DemoContext
from .network import DEMO_ACTOR

MISSING_SITE = "GZ-TH-02"  # no report last month: billed on an estimate
LATE_SITE = "TJ-HP-01"  # never reported the month before last: past its due day, flagged
CORRECTED_SITE = "SH-JA-01"  # corrects the month before last after it was invoiced
HISTORY_MONTHS = 5


def run(context: DemoContext) -> None:
    local_today = context.now.astimezone(ZoneInfo(context.settings.timezone)).date()
    last = billing.shift_period(f"{local_today.year:04d}-{local_today.month:02d}", -1)
    before = billing.shift_period(last, -1)
    plans = billing.plans(context.settings.royalty_dir)
    with session_scope(context.engine) as session:
        reports = _revenue_history(session, last, local_today)
    context.echo(f"demo: billing: {reports} revenue reports; {MISSING_SITE} missed {last}, {LATE_SITE} missed {before}")
    issued_before = billing.period_start(last) + timedelta(days=2)
    _bill(context, plans, before, today=issued_before,
          now=datetime.combine(issued_before, time(2), tzinfo=timezone.utc))
    with session_scope(context.engine) as session:
        _settle_before(session, before, local_today)
    _bill(context, plans, last, today=local_today, now=context.now)
    with session_scope(context.engine) as session:
        rendered = pdf.render_missing(session=session, brand_name=context.settings.brand_name,
                                      workers=context.settings.pdf_workers,
                                      payee=pdf.Payee.from_settings(context.settings))
        _settle_last(session, last, local_today, context)
    context.echo(f"demo: billing: {len(rendered)} invoice PDFs rendered")


def _revenue_history(session, last: str, today: date) -> int:
    rng = random.Random(2026)
    sites = session.exec(select(Site).where(Site.status.in_(runs.BILLED_SITES)).order_by(Site.code)).all()
    written = 0
    for site in sites:
        level = Decimal(rng.randint(2600, 4600))  # monthly revenue per desk
        for back in range(HISTORY_MONTHS, -1, -1):
            period = billing.shift_period(last, -back)
            if (back == 0 and site.code == MISSING_SITE) or (back == 1 and site.code == LATE_SITE):
                continue
            gross = fen(site.desks * level * Decimal(rng.randint(90, 112)) / 100)
            breakdown = {"desks": fen(gross * Decimal("0.55")), "offices": fen(gross * Decimal("0.30")),
                         "meeting_rooms": fen(gross * Decimal("0.10"))}
            breakdown["services"] = gross - sum(breakdown.values())
            _, new = submit_report(session=session, site=site, period=period, gross_revenue=gross,
                                   breakdown=breakdown, source=ReportSource.portal, submitted_by="demo", today=today)
            written += new
    return written


def _bill(context: DemoContext, plans, period: str, *, today: date, now: datetime) -> None:
    with session_scope(context.engine) as session:
        drafts = runs.compute(session=session, period=period, plans=plans, today=today)
        run = runs.write_drafts(session=session, period=period, drafts=drafts, actor=DEMO_ACTOR)
    with session_scope(context.engine) as session:
        issued = invoices.issue_period(session=session, period=period, actor=DEMO_ACTOR, now=now,
                                       due_days=context.settings.invoice_due_days)
        numbers = [i.number for i in issued]
    if numbers:
        context.echo(f"demo: billing: {period}: {run.drafts} invoices, {numbers[0]} … {numbers[-1]}, "
                     f"total {run.total} CNY")


def _settle_before(session, period: str, today: date) -> None:
    """Most partners paid the month before last in full; the first paid only half (it is now overdue)."""
    issued = session.exec(select(Invoice).where(Invoice.period == period).order_by(Invoice.number)).all()
    for n, invoice in enumerate(issued):
        amount = fen(invoice.total / 2) if n == 0 else invoice.balance
        if amount > 0:
            invoices.mark_paid(session=session, number=invoice.number, amount=amount,
                               paid_on=invoice.due_date - timedelta(days=2), actor=DEMO_ACTOR, today=today)
    site = session.exec(select(Site).where(Site.code == CORRECTED_SITE)).first()
    if site is not None:
        current = billing.revenue.newest_report(session=session, site_id=site.id, period=period)
        if current is not None:
            submit_report(session=session, site=site, period=period, gross_revenue=fen(current.gross_revenue
                          * Decimal("1.08")), breakdown={}, source=ReportSource.portal, submitted_by="demo", today=today)


def _settle_last(session, period: str, today: date, context: DemoContext) -> None:
    issued = session.exec(select(Invoice).where(Invoice.period == period).order_by(Invoice.number)).all()
    if len(issued) < 2:
        return
    invoices.mark_paid(session=session, number=issued[1].number, amount=fen(issued[1].total / 3), paid_on=today,
                       actor=DEMO_ACTOR, today=today)
    note = invoices.credit_note(session=session, number=issued[2 % len(issued)].number, amount=Decimal("500.00"),
                                reason="社区活动场地费减免 goodwill for a community event", actor=DEMO_ACTOR,
                                now=context.now)
    context.echo(f"demo: billing: payment on {issued[1].number}, credit note {note.number}")
