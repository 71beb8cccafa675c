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

from .. import billing, registry
from ..billing import invoices, pdf, runs
from ..billing.calc import fen
from ..billing.revenue import submit_report
from ..db import session_scope
from ..models import Franchisee, Site
from ..models.billing import Invoice, InvoiceLine, ReportSource
from ..models.collection import OpsEvent
from ..models.trust import RevenueAssessment
from ..billing import corrections, disputes, plausibility
from . import DemoContext
from .network import DEMO_ACTOR

MISSING_SITE = "GZ-TH-02"  # no report last month: billed on an estimate
LATE_SITE = "TJ-HP-01"  # never reported the month before last: past its due day, flagged
CORRECTED_SITE = "SH-JA-01"  # corrects the month before last after it was invoiced
HISTORY_MONTHS = 5
# issue 11: this partner reports last month's revenue 40 % down while its sites stay as busy as ever
# (occupancy in the monthly scores, check-ins every open day): the plausibility check must catch it
FALLING_PARTNER = "HZ01"
FALLING_SHARE = Decimal("0.60")
CUT_SITE = "BJ-CY-01"  # cuts last month by a third after it was invoiced: waits for HQ finance


def run(context: DemoContext) -> None:
    local_today = context.now.astimezone(ZoneInfo(context.settings.timezone)).date()
    last = billing.shift_period(f"{local_today.year:04d}-{local_today.month:02d}", -1)
    before = billing.shift_period(last, -1)
    plans = billing.plans(context.settings.royalty_dir)
    with session_scope(context.engine) as session:
        reports = _revenue_history(session, last, local_today)
        session.commit()
    context.echo(f"demo: billing: {reports} revenue reports; {MISSING_SITE} missed {last}, {LATE_SITE} missed {before}")
    issued_before = billing.period_start(last) + timedelta(days=2)
    _bill(context, plans, before, today=issued_before,
          now=datetime.combine(issued_before, time(2), tzinfo=timezone.utc))
    with session_scope(context.engine) as session:
        _settle_before(session, before, local_today)
        session.commit()
    _bill(context, plans, last, today=local_today, now=context.now)
    with session_scope(context.engine) as session:
        rendered = pdf.render_missing(session=session, brand_name=context.settings.brand_name,
                                      workers=context.settings.pdf_workers,
                                      payee=pdf.Payee.from_settings(context.settings))
        _settle_last(session, last, local_today, context)
        session.commit()
    context.echo(f"demo: billing: {len(rendered)} invoice PDFs rendered")


def _revenue_history(session, last: str, today: date) -> int:
    rng = random.Random(2026)
    sites = session.exec(select(Site).where(Site.status.in_(runs.BILLED_SITES)).order_by(Site.code)).all()
    partners = dict(session.exec(select(Franchisee.id, Franchisee.code)).all())
    written = 0
    stored = []
    for site in sites:
        level = Decimal(rng.randint(2600, 4600))  # monthly revenue per desk
        _check_ins(session, site, [billing.shift_period(last, -back) for back in range(HISTORY_MONTHS, -1, -1)])
        for back in range(HISTORY_MONTHS, -1, -1):
            period = billing.shift_period(last, -back)
            if (back == 0 and site.code == MISSING_SITE) or (back == 1 and site.code == LATE_SITE):
                continue
            gross = fen(site.desks * level * Decimal(rng.randint(90, 112)) / 100)
            if back == 0 and partners.get(site.franchisee_id) == FALLING_PARTNER:
                gross = fen(gross * FALLING_SHARE)
            breakdown = {"desks": fen(gross * Decimal("0.55")), "offices": fen(gross * Decimal("0.30")),
                         "meeting_rooms": fen(gross * Decimal("0.10"))}
            breakdown["services"] = gross - sum(breakdown.values())
            report, new = submit_report(session=session, site=site, period=period, gross_revenue=gross,
                                        breakdown=breakdown, source=ReportSource.portal, submitted_by="demo",
                                        today=today, assess=False)
            written += new
            stored.append(report)
    # the month's reports arrive together, as from an import: each is judged against the whole cohort
    plausibility.assess_reports(session=session, reports=stored)
    return written


def _check_ins(session, site: Site, periods: list[str]) -> None:
    """Issue 11: a check-in count for every open day of these months (the site systems' daily total)."""
    from scoring.hours import is_open

    rng = random.Random(f"check-in-{site.code}")
    rows = []
    day = billing.period_start(periods[0])
    end = billing.period_end(periods[-1])
    zone = ZoneInfo(site.timezone or "Asia/Shanghai")
    while day <= end:
        noon = datetime.combine(day, time(12), tzinfo=zone)
        if site.opened_on is None or day >= site.opened_on:
            if is_open(noon.astimezone(timezone.utc), 60, site.timezone, site.opening_hours or {}):
                rows.append(dict(site_id=site.id, record_id=f"demo-check-in-{site.code}-{day.isoformat()}",
                                 kind="check_in", occurred_at=noon.astimezone(timezone.utc), ref="",
                                 quantity=round(site.desks * rng.uniform(0.55, 0.65)), data={}))
        day += timedelta(days=1)
    if rows:
        session.execute(OpsEvent.__table__.insert(), rows)


def _bill(context: DemoContext, plans, period: str, *, today: date, now: datetime) -> None:
    with session_scope(context.engine) as session:
        drafts = runs.compute(session=session, period=period, plans=plans, today=today)
        run = runs.write_drafts(session=session, period=period, drafts=drafts, actor=DEMO_ACTOR)
        session.commit()
    with session_scope(context.engine) as session:
        issued = invoices.issue_period(session=session, period=period, actor=DEMO_ACTOR, now=now,
                                       due_days=context.settings.invoice_due_days)
        session.commit()
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
    site = _site(session, CORRECTED_SITE)
    if site is not None:
        current = billing.revenue.newest_report(session=session, site_id=site.id, period=period)
        if current is not None:
            corrected, _ = submit_report(session=session, site=site, period=period,
                                         gross_revenue=fen(current.gross_revenue * Decimal("1.08")), breakdown={},
                                         source=ReportSource.portal, submitted_by="demo", today=today)
            review = corrections.review_of(session=session, report_id=corrected.id)
            if review is not None:  # issue 11: a billed month's correction waits for HQ finance, who accept it
                corrections.decide(session=session, review_id=review.id, accept=True,
                                   reason="核对银行流水无误 checked against the bank statement", actor=DEMO_ACTOR,
                                   now=datetime.now(timezone.utc))


def _site(session, code: str) -> Site | None:
    """The demo site with this code (the one site-by-code look-up), or None in a network without it."""
    try:
        return registry.get_site(session=session, code=code)
    except registry.NotFound:
        return None


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
    site = _site(session, CUT_SITE)
    current = billing.revenue.newest_report(session=session, site_id=site.id, period=period) if site else None
    if current is not None:  # issue 11: a cut of an invoiced month, left waiting for HQ finance
        submit_report(session=session, site=site, period=period, gross_revenue=fen(current.gross_revenue
                      * Decimal("0.67")), breakdown={}, source=ReportSource.portal, submitted_by="admin@bj01.example",
                      today=today)
    _dispute(session, issued[0], context)
    doubted = session.exec(select(RevenueAssessment).where(RevenueAssessment.verdict == "implausible")).all()
    context.echo(f"demo: billing: {len(doubted)} revenue report(s) implausible; a correction of {CUT_SITE} "
                 f"waits for HQ finance")


def _dispute(session, invoice: Invoice, context: DemoContext) -> None:
    """Issue 11: the partner disputes the technology fee of one site (desks closed for a refit); left open."""
    line = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id,
                                                  InvoiceLine.kind == "tech_fee").order_by(InvoiceLine.position)).first()
    if line is None:
        return
    disputes.open_dispute(session=session, invoice=invoice, line_id=line.id, proposed_amount=fen(line.amount / 2),
                          reason="半数工位 11 月装修停用，技术服务费应减半 half the desks were closed for a refit",
                          attachments=[("装修通知.txt", "text/plain", "物业装修通知：11 月 3 日至 30 日".encode())],
                          actor=DEMO_ACTOR, now=context.now)
