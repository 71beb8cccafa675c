"""What the partner's home shows: a to-do list, then each site's card and what to fix first.

Read-only and explicit: the view passes the sites the signed-in user may see
(``scope.visible_site_ids``) and whether they may see money (admins only), so a
site manager's home holds only their sites and no amounts. A handful of
statements whatever the number of sites: no query per site.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy import case, exists, func
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from brand_hub import scores as scores_service
from brand_hub import standing as standing_service
from brand_hub.billing import shift_period
from brand_hub.compliance import words as flag_words
from brand_hub.compliance.lifecycle import ACTIVE
from brand_hub.models import Site, SiteStatus
from brand_hub.models.billing import Invoice, InvoiceStatus, ReportSource, RevenueReport
from brand_hub.models.compliance import CorrectiveActionPlan, Flag, FlagState, PlanStatus, Severity
from brand_hub.models.scoring import SiteScore
from brand_hub.models.standards import Standard, StandardAcknowledgement
from brand_hub.scores import card_in_force, published_keys, reports
from scoring import composite

SEVERITY_RANK = {s.value: n for n, s in enumerate(Severity)}  # info 0 … critical 4
FAR = datetime.max.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Todo:
    """One thing the partner has to do: what, for which site, by when, how serious, where to do it."""

    kind: str  # standard | flag_ack | flag_plan | plan_due | revenue | invoice
    title: str
    detail: str
    due: datetime | None
    severity: str
    endpoint: str
    args: dict = field(default_factory=dict)
    site_code: str = ""
    amount: Decimal | None = None

    def overdue(self, now: datetime) -> bool:
        return self.due is not None and self.due < now

    @property
    def sort_key(self) -> tuple:
        return (-SEVERITY_RANK.get(self.severity, 0), self.due or FAR, self.site_code, self.title)


@dataclass
class SiteCard:
    site: Site
    card: str | None
    score: float | None
    period: str | None
    trend: list[tuple[str, float | None]]
    fix_first: list[dict]
    month_score: float | None = None


@dataclass
class Home:
    todos: list[Todo]
    todo_total: int
    cards: list[SiteCard]
    balance: Decimal | None
    overdue: Decimal | None
    standing: str
    reasons: list
    cure: str


def _day_end(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(23, 59), tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


def todos(*, session: Session, franchisee_id: int, site_ids: list[int], money: bool, now: datetime, tz: str,
          report_due_day: int, limit: int = 30, codes: dict[int, str] | None = None) -> tuple[list[Todo], int]:
    """Everything due, worst first and soonest first within a severity; at most ``limit`` and how many in all.

    ``codes``: the code of each site of ``site_ids``, when the caller read them already.
    """
    if codes is None:
        codes = dict(session.exec(select(Site.id, Site.code).where(Site.id.in_(site_ids))).all()) if site_ids else {}
    out: list[Todo] = []
    grouped: dict[tuple[int, datetime], list[str]] = {}
    standards: dict[int, Standard] = {}
    for ack, standard in session.exec(
            select(StandardAcknowledgement, Standard).join(Standard, Standard.id == StandardAcknowledgement.standard_id)
            .where(StandardAcknowledgement.site_id.in_(site_ids), StandardAcknowledgement.acknowledged_at.is_(None))
            .order_by(StandardAcknowledgement.due_at).limit(500)):
        standards[standard.id] = standard
        grouped.setdefault((standard.id, ack.due_at), []).append(codes.get(ack.site_id, ""))
    for (standard_id, due_at), sites in grouped.items():  # one line per standard and deadline, its sites named
        standard = standards[standard_id]
        title = standard.title_zh if _zh() else (standard.title_en or standard.title_zh)
        out.append(Todo("standard", _("Acknowledge standard: %(title)s", title=title),
                        _("version %(version)s", version=standard.version), due_at,
                        "major" if due_at < now else "minor", "portal.standards", {}, ", ".join(sorted(sites))))
    flag_scope = Flag.site_id.in_(site_ids)
    if money:  # an admin also answers the flags about the partner as a whole
        flag_scope = flag_scope | ((Flag.franchisee_id == franchisee_id) & Flag.site_id.is_(None))
    worst = case(*[(Flag.severity == s, n) for n, s in enumerate(Severity)], else_=0)
    flags = session.exec(select(Flag).where(flag_scope, Flag.state.in_(sorted(ACTIVE - {FlagState.waived,
                                                                                          FlagState.plan_submitted},
                                                                                   key=lambda s: s.value)))
                         .order_by(worst.desc(), Flag.ack_due_at, Flag.id).limit(200)).all()
    plans = {p.flag_id: p for p in session.exec(select(CorrectiveActionPlan).where(
        CorrectiveActionPlan.flag_id.in_([f.id for f in flags]), CorrectiveActionPlan.status == PlanStatus.accepted))}
    for flag in flags:
        if flag.rule == "standard-unacknowledged":
            continue  # the standard's own line above is the thing to do; acknowledging it clears the flag
        state = FlagState(flag.state)
        severity = getattr(flag.severity, "value", flag.severity)
        rule = flag_words.rule_title(flag)
        if state in (FlagState.open, FlagState.escalated):
            out.append(Todo("flag_ack", _("Answer flag: %(rule)s", rule=rule), flag_words.describe(flag),
                            flag.ack_due_at, severity, "portal.flag", {"flag_id": flag.id}, codes.get(flag.site_id, "")))
        elif state is FlagState.acknowledged:
            out.append(Todo("flag_plan", _("Send a corrective plan: %(rule)s", rule=rule), flag_words.describe(flag),
                            None, severity, "portal.flag", {"flag_id": flag.id}, codes.get(flag.site_id, "")))
        elif state is FlagState.plan_accepted and flag.id in plans:
            out.append(Todo("plan_due", _("Carry out your plan: %(rule)s", rule=rule), plans[flag.id].what[:200],
                            _day_end(plans[flag.id].due_on, tz), severity, "portal.flag", {"flag_id": flag.id},
                            codes.get(flag.site_id, "")))
    if money:
        today = now.astimezone(ZoneInfo(tz)).date()
        month = shift_period(f"{today.year:04d}-{today.month:02d}", -1)
        # NOT EXISTS, not NOT IN: an anti-join on the site's reports (the report's site is never NULL, so the two
        # say the same), where NOT IN hashed the whole network's reports of the month first (issue 10: 35 ms)
        reported = exists().where(RevenueReport.site_id == Site.id, RevenueReport.period == month,
                                  RevenueReport.source != ReportSource.estimate)
        due = _day_end(date(today.year, today.month, min(report_due_day, 28)), tz)
        for site_id, code in session.exec(select(Site.id, Site.code).where(
                Site.id.in_(site_ids), Site.status == SiteStatus.active, Site.agreement_id.is_not(None),
                ~reported).order_by(Site.code)):
            out.append(Todo("revenue", _("Report %(month)s revenue", month=month), "", due,
                            "major" if due < now else "warning", "portal.revenue", {}, code))
        for invoice in session.exec(select(Invoice).where(
                Invoice.franchisee_id == franchisee_id,
                Invoice.status.in_([InvoiceStatus.issued, InvoiceStatus.partially_paid])).order_by(Invoice.due_date)):
            if invoice.balance <= 0:
                continue
            late = invoice.is_overdue(today)
            out.append(Todo("invoice", _("Pay invoice %(number)s", number=invoice.number),
                            _("for %(period)s", period=invoice.period),
                            _day_end(invoice.due_date, tz) if invoice.due_date else None,
                            "critical" if late else "warning", "portal.invoice", {"invoice_id": invoice.id},
                            amount=invoice.balance))
    out.sort(key=lambda t: t.sort_key)
    return out[:limit], len(out)


def _zh() -> bool:
    from flask_babel import get_locale

    locale = get_locale()
    return bool(locale and locale.language == "zh")


def site_cards(*, session: Session, site_ids: list[int], month: str,
               published: set[tuple[str, str, int]] | None = None) -> list[SiteCard]:
    """Each visible site's latest published card, its trend over quarters, and the three things to fix first.

    ``published``: the cards in force (``scores.published_keys``), when the caller read them already.
    """
    if not site_ids:
        return []
    sites = session.exec(select(Site).where(Site.id.in_(site_ids), Site.status != SiteStatus.terminated)
                         .order_by(Site.code)).all()
    # every quarter's score and card, but the indicators (kilobytes of JSON a row) of each site's latest card only
    rows = session.exec(select(SiteScore).options(defer(SiteScore.indicators, raiseload=True))
                        .where(SiteScore.site_id.in_(site_ids),
                               SiteScore.period.like("%-Q%") | (SiteScore.period == month))).all()
    shown = reports.newest(rows)
    if published is None:
        published = published_keys(session=session)
    by_site: dict[int, list[tuple[str, SiteScore]]] = {}
    for (sid, p), row in shown.items():
        if "Q" in p and card_in_force(row, published):
            by_site.setdefault(sid, []).append((p, row))
    for quarters in by_site.values():
        quarters.sort(key=lambda pr: reports.period_key(pr[0]))
    listed = {site.id for site in sites}
    latest_ids = [quarters[-1][1].id for sid, quarters in by_site.items() if sid in listed]
    indicators = dict(session.exec(select(SiteScore.id, SiteScore.indicators).where(
        SiteScore.id.in_(latest_ids))).all()) if latest_ids else {}
    out = []
    for site in sites:
        quarters = by_site.get(site.id, [])
        latest = quarters[-1][1] if quarters else None
        improve = composite.improve_first([d | {"id": i} for i, d in indicators[latest.id].items()]) if latest else []
        month_row = shown.get((site.id, month))
        out.append(SiteCard(site, latest.card if latest else None, latest.score if latest else None,
                            latest.period if latest else None, [(p, r.score) for p, r in quarters[-4:]], improve,
                            month_row.score if month_row else None))
    return out


def cure_words(standing: str) -> str:
    """What ends the standing, in the reader's language."""
    if standing == "termination_review":
        return _("HQ is reviewing the licence. To come out of review: answer every open flag with a corrective plan "
                 "and carry it out, keep revenue reports and payments up to date, and bring the red sites out of red "
                 "in the next published quarter.")
    if standing == "on_notice":
        return _("A red card stays in force until the site's next published quarterly card is yellow or green. "
                 "Work on the 'fix first' items of each red site below; a second red card in a row starts a "
                 "termination review.")
    return ""


def home(*, session: Session, franchisee_id: int, site_ids: list[int], money: bool, now: datetime, tz: str,
         report_due_day: int, codes: dict[int, str] | None = None,
         publications: scores_service.Publications | None = None) -> Home:
    """``codes``: each site's code, ``publications``: the card publications, when the page read them already."""
    from brand_hub.dashboard import pages

    if publications is None:
        publications = scores_service.publications(session=session)
    items, total = todos(session=session, franchisee_id=franchisee_id, site_ids=site_ids, money=money, now=now, tz=tz,
                         report_due_day=report_due_day, codes=codes)
    found = standing_service.standing_of(session=session, franchisee_id=franchisee_id)
    today = now.astimezone(ZoneInfo(tz)).date()
    reasons, balance, overdue = [], None, None
    if found.in_trouble or money:
        risk = pages.partner_risks(session=session, scope=pages.Scope(today=today, now=now,
                                                                       franchisee_ids=(franchisee_id,)),
                                   quarters=pages.published_quarters(session=session,
                                                                     publications=publications),
                                   standings={franchisee_id: found})[franchisee_id]
        money_kinds = {"overdue"}
        reasons = [r for r in risk.reasons if money or r.kind not in money_kinds] if found.in_trouble else []
        if money:
            balance, overdue = risk.balance, risk.overdue
    month = f"{today.year:04d}-{today.month:02d}"
    return Home(items, total, site_cards(session=session, site_ids=site_ids, month=month,
                                         published=publications.keys), balance, overdue,
                found.standing, reasons, cure_words(found.standing))
