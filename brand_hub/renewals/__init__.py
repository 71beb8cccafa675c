"""Renewals decided on the record: agreements ending soon, a recommendation with its reasons, HQ's decision.

``record`` gathers the signals of an agreement from what the hub already holds (cards,
cure windows, scores, revenue, invoices and payments, flags, acknowledgements); the
rules file and ``scoring.renewal`` turn them into a recommendation; ``decide`` records
HQ's decision (audited) and, for a renewal, moves the agreement's term end. Services
never commit.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Float, cast, func, true
from sqlmodel import Session, select

from scoring.renewal import Recommendation, recommend
from standards.renewal_rules import RenewalRules

from .. import audit
from ..models import Agreement, AgreementStatus, Franchisee, Role, Site, User
from ..models.billing import Invoice, InvoiceStatus, Payment, ReportStatus, RevenueReport
from ..models.compliance import Flag
from ..models.foresight import RenewalDecision, RenewalOutcome
from ..models.scoring import SiteScore
from ..models.standards import StandardAcknowledgement
from ..scores.history import histories
from ..settings import Settings

PAGE_SIZE = 50


class RenewalError(Exception):
    """A decision the hub refuses; the message says why."""


@dataclass
class Renewal:
    """One agreement whose term ends soon, with what the record recommends."""

    agreement: Agreement
    franchisee: Franchisee
    sites: list[Site]
    days_left: int | None
    signals: dict[str, float | None]
    recommendation: Recommendation
    decision: RenewalDecision | None = None
    site_strikes: dict[str, float] = field(default_factory=dict)


@dataclass
class RenewalPage:
    rows: list[Renewal]
    total: int
    page: int
    pages: int


def _ending(window_days: int, today: date):
    """Active agreements whose term ends within the window (or ended within the last 30 days undecided)."""
    return select(Agreement).where(Agreement.status == AgreementStatus.active, Agreement.end_date.is_not(None),
                                   Agreement.end_date >= today - timedelta(days=30),
                                   Agreement.end_date <= today + timedelta(days=window_days))


def due(*, session: Session, settings: Settings, rules: RenewalRules, today: date, page: int = 1,
        franchisee_id: int | None = None) -> RenewalPage:
    """The page of agreements ending within ``settings.renewal_window_days``, soonest first."""
    query = _ending(settings.renewal_window_days, today)
    if franchisee_id is not None:
        query = query.where(Agreement.franchisee_id == franchisee_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    agreements = session.exec(query.order_by(Agreement.end_date, Agreement.number)
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    cohort = cohorts(session=session, today=today, site_ids=_sites_of(agreements)) if agreements else None
    return RenewalPage(rows=[record(session=session, agreement=a, settings=settings, rules=rules, today=today,
                                    cohort=cohort) for a in agreements], total=total, page=page, pages=pages)


def _sites_of(agreements: list[Agreement]):
    """The ids of the agreements' sites (a subquery): whose revenue per desk a page of renewals compares."""
    return select(Site.id).where(Site.agreement_id.in_([a.id for a in agreements]))


def record(*, session: Session, agreement: Agreement, settings: Settings, rules: RenewalRules,
           today: date, cohort: Cohorts | None = None) -> Renewal:
    """The signals of one agreement and the recommendation they give."""
    sites = list(session.exec(select(Site).where(Site.agreement_id == agreement.id).order_by(Site.code)).all())
    site_ids = [s.id for s in sites]
    cards = histories(session=session, site_ids=site_ids, settings=settings, today=today)
    year_ago = today - timedelta(days=365)
    signals: dict[str, float | None] = {
        "strikes": max((h.total for h in cards.values()), default=0.0),
        "missed_windows": float(sum(1 for h in cards.values() for w in h.windows if w.state == "missed")),
        "cured_windows": float(sum(1 for h in cards.values() for w in h.windows if w.state == "cured")),
        "termination_review": float(session.exec(select(func.count()).select_from(Flag).where(
            Flag.franchisee_id == agreement.franchisee_id, Flag.rule == "termination-review",
            Flag.resolved_at.is_(None))).one() > 0),
        "score_trend": _score_trend(session, site_ids),
        "revenue_per_desk_vs_cohort": _revenue_vs_cohort(sites, cohort or cohorts(session=session, today=today,
                                                                                  site_ids=site_ids)),
        "royalty_trend": _royalty_trend(session, agreement.id, today),
        "acks_late_share": _acks_late_share(session, site_ids),
        "flag_ack_hours_median": _flag_ack_hours(session, site_ids, year_ago),
        "disputes_rejected": _disputes_rejected(session, agreement.id, today),
    }
    signals.update(_overdue(session, agreement.id, today))
    for test in rules.refer_to_review + rules.conditions:
        if test.signal == "flags":
            signals[test.key()] = float(session.exec(select(func.count()).select_from(Flag).where(
                Flag.rule == test.rule, Flag.opened_at >= datetime.combine(year_ago, datetime.min.time(),
                                                                           tzinfo=timezone.utc),
                (Flag.site_id.in_(site_ids) if site_ids else False)
                | ((Flag.site_id.is_(None)) & (Flag.franchisee_id == agreement.franchisee_id)))).one())
    decision = session.exec(select(RenewalDecision).where(RenewalDecision.agreement_id == agreement.id,
                                                          RenewalDecision.term_end == agreement.end_date)).first()
    return Renewal(agreement=agreement, franchisee=session.get(Franchisee, agreement.franchisee_id), sites=sites,
                   days_left=(agreement.end_date - today).days if agreement.end_date else None, signals=signals,
                   recommendation=recommend(signals, rules), decision=decision,
                   site_strikes={s.code: cards[s.id].total for s in sites if cards[s.id].total})


def _score_trend(session: Session, site_ids: list[int]) -> float | None:
    """Mean change of the sites' quarterly scores over the last four quarters (None without a year of scores)."""
    changes = []
    found: dict[int, dict[str, float]] = {site_id: {} for site_id in site_ids}
    if site_ids:   # one statement for all the sites, not one per site
        for site_id, period, score in session.exec(select(SiteScore.site_id, SiteScore.period, SiteScore.score).where(
                SiteScore.site_id.in_(site_ids), SiteScore.period.like("%Q%"), SiteScore.score.is_not(None))
                .order_by(SiteScore.site_id, SiteScore.period, SiteScore.computed_at)):
            found[site_id][period] = score   # newest computation of each quarter wins
    for site_id in site_ids:
        by_quarter = found[site_id]
        quarters = sorted(by_quarter)
        if len(quarters) >= 2:
            first = quarters[max(0, len(quarters) - 5)]
            changes.append(by_quarter[quarters[-1]] - by_quarter[first])
    return round(statistics.fmean(changes), 2) if changes else None


@dataclass(frozen=True)
class Cohorts:
    """Trailing-year revenue per desk of the sites asked for that reported, and each tier's median of it
    (the median over every site of the network that reported)."""

    per_desk: dict[int, Decimal]
    medians: dict[str, Decimal]


def cohorts(*, session: Session, today: date, minimum: int = 3, site_ids=None) -> Cohorts:
    """One pass over the year's reports (newest version of each month); tiers with fewer sites have no median.

    ``site_ids`` (a list or a subquery of ids; None: every site): the sites whose own revenue per desk is
    wanted. The tiers' medians are network-wide (``_tier_medians``); the sites' own figures are read for
    those sites only: an agreement's page read every site's year of reports (10,000 rows at 10,000 sites).
    """
    since = f"{today.year - 1:04d}-{today.month:02d}"
    per_site = _per_site(since, site_ids)
    per_desk = {site_id: Decimal(total or 0) / desks for site_id, _tier, desks, total in session.exec(
        select(per_site.c.site_id, per_site.c.tier, per_site.c.desks, per_site.c.total))}
    return Cohorts(per_desk, _tier_medians(session=session, since=since, minimum=minimum))


def _per_site(since: str, site_ids=None):
    """Each site's (id, tier, desks, total of its year's reports): the newest version of each month, not
    estimated, sites with desks; for ``site_ids`` only when given (a subquery)."""
    newest = (select(RevenueReport.site_id, RevenueReport.period, func.max(RevenueReport.version).label("v"))
              .where(RevenueReport.period >= since).group_by(RevenueReport.site_id, RevenueReport.period))
    if site_ids is not None:
        newest = newest.where(RevenueReport.site_id.in_(site_ids))
    newest = newest.subquery()
    return (select(Site.id.label("site_id"), Site.tier.label("tier"), Site.desks.label("desks"),
                   func.sum(RevenueReport.gross_revenue).label("total")).join(
        newest, (RevenueReport.site_id == newest.c.site_id) & (RevenueReport.period == newest.c.period)
        & (RevenueReport.version == newest.c.v)).join(Site, Site.id == RevenueReport.site_id)
        .where(RevenueReport.status != ReportStatus.estimated, Site.desks > 0)
        .group_by(Site.id, Site.tier, Site.desks)).subquery()


_MEDIANS: dict[tuple, dict[str, Decimal]] = {}
_MEDIANS_KEPT = 8


def _tier_medians(*, session: Session, since: str, minimum: int) -> dict[str, Decimal]:
    """Each tier's median revenue per desk over every site that reported since ``since`` (tiers of at least
    ``minimum`` sites), kept while the reports and the sites stay the same.

    The figure aggregates the whole network's year of reports (10,000 sites: the most expensive statement
    of an agreement's page, on every page) and changes only when a report or a site does. One statement
    tells whether the kept figure still holds: the count, newest id and newest time of the year's reports
    (a report is never changed in place but for an estimate, which the figure leaves out) and the count,
    newest change and desks of the sites (the registry stamps ``updated_at`` on every change).

    Computed, the database ranks each site's figure within its tier and returns only the middle one or
    two of each tier; the figures are the same SQL sums divided by the desks in Python, a median the
    middle value or the mean of the middle two (``statistics.median``).
    """
    reports = select(func.count().label("n"), func.max(RevenueReport.id).label("newest"),
                     func.max(RevenueReport.submitted_at).label("at")).where(RevenueReport.period >= since).subquery()
    sites = select(func.count().label("n"), func.max(Site.updated_at).label("at"),
                   func.sum(Site.desks).label("desks")).subquery()
    key = (str(session.get_bind().url), since, minimum, *session.exec(
        select(reports.c.n, reports.c.newest, reports.c.at, sites.c.n, sites.c.at, sites.c.desks)
        .select_from(reports.join(sites, true()))).one())
    if key in _MEDIANS:
        return dict(_MEDIANS[key])
    per_site = _per_site(since)
    figure = cast(per_site.c.total, Float) / per_site.c.desks   # the order only: the figures are exact below
    ranked = select(per_site.c.site_id, per_site.c.tier, per_site.c.desks, per_site.c.total,
                    func.row_number().over(partition_by=per_site.c.tier,
                                           order_by=(figure, per_site.c.site_id)).label("rank"),
                    func.count().over(partition_by=per_site.c.tier).label("n")).subquery()
    rows = session.exec(select(ranked.c.tier, ranked.c.desks, ranked.c.total).where(
        ranked.c.n >= minimum, ranked.c.rank >= (ranked.c.n + 1) // 2, ranked.c.rank <= ranked.c.n // 2 + 1)
        .order_by(ranked.c.tier, ranked.c.rank)).all()
    by_tier: dict[str, list[Decimal]] = {}
    for tier, desks, total in rows:   # in rank order: the middle one or two
        by_tier.setdefault(tier, []).append(Decimal(total or 0) / desks)
    medians = {t: statistics.median(v) for t, v in by_tier.items()}
    while len(_MEDIANS) >= _MEDIANS_KEPT:
        _MEDIANS.pop(next(iter(_MEDIANS)))
    _MEDIANS[key] = medians
    return dict(medians)


def _revenue_vs_cohort(sites: list[Site], cohort: Cohorts) -> float | None:
    """How far the sites' revenue per desk sits from their tier's median (−0.3 = 30 % below)."""
    ratios = [float(cohort.per_desk[s.id] / cohort.medians[s.tier]) - 1 for s in sites
              if s.id in cohort.per_desk and cohort.medians.get(s.tier)]
    return round(statistics.fmean(ratios), 4) if ratios else None


def _royalty_trend(session: Session, agreement_id: int, today: date) -> float | None:
    """Invoiced totals of the last six months against the six before (None when there is nothing to compare)."""
    def months_back(n: int) -> str:
        index = today.year * 12 + today.month - 1 - n
        return f"{index // 12:04d}-{index % 12 + 1:02d}"

    def total(first: str, last: str) -> Decimal:
        return Decimal(session.exec(select(func.coalesce(func.sum(Invoice.total), 0)).where(
            Invoice.agreement_id == agreement_id, Invoice.status != InvoiceStatus.draft,
            Invoice.period >= first, Invoice.period <= last)).one() or 0)

    recent, before = total(months_back(6), months_back(1)), total(months_back(12), months_back(7))
    return round(float(recent / before) - 1, 4) if before else None


def _overdue(session: Session, agreement_id: int, today: date) -> dict[str, float]:
    """The longest any invoice of the last two years stayed unpaid past its due date, and what is overdue now."""
    worst, balance = 0, Decimal("0")
    invoices = session.exec(select(Invoice).where(
        Invoice.agreement_id == agreement_id, Invoice.status != InvoiceStatus.draft, Invoice.due_date.is_not(None),
        Invoice.due_date >= today - timedelta(days=730))).all()
    last_paid = dict(session.exec(select(Payment.invoice_id, func.max(Payment.paid_on)).where(
        Payment.invoice_id.in_([i.id for i in invoices] or [0])).group_by(Payment.invoice_id)).all())
    for invoice in invoices:
        settled = invoice.balance <= 0
        end = last_paid.get(invoice.id, today) if settled else today
        worst = max(worst, (end - invoice.due_date).days)
        if not settled and invoice.due_date < today:
            balance += invoice.balance
    return {"overdue_days_max": float(max(worst, 0)), "overdue_balance": float(balance)}


def _acks_late_share(session: Session, site_ids: list[int]) -> float | None:
    """Of the acknowledgements already due, the share made late or not at all (None when none was due)."""
    now = datetime.now(timezone.utc)
    due_rows = session.exec(select(StandardAcknowledgement.due_at, StandardAcknowledgement.acknowledged_at).where(
        StandardAcknowledgement.site_id.in_(site_ids) if site_ids else False,
        StandardAcknowledgement.due_at < now)).all()
    if not due_rows:
        return None
    late = sum(1 for due_at, acked in due_rows if acked is None or acked > due_at)
    return round(late / len(due_rows), 4)


def _disputes_rejected(session: Session, agreement_id: int, today: date) -> float:
    """Disputes of this agreement's invoice lines that HQ rejected in the last two years (issue 11's record)."""
    from ..models.trust import DisputeStatus, InvoiceDispute

    since = datetime.combine(today - timedelta(days=730), datetime.min.time(), tzinfo=timezone.utc)
    return float(session.exec(select(func.count()).select_from(InvoiceDispute).join(
        Invoice, Invoice.id == InvoiceDispute.invoice_id).where(
        Invoice.agreement_id == agreement_id, InvoiceDispute.status == DisputeStatus.rejected,
        InvoiceDispute.opened_at >= since)).one())


def _flag_ack_hours(session: Session, site_ids: list[int], since: date) -> float | None:
    hours = [(ack - opened).total_seconds() / 3600 for opened, ack in session.exec(
        select(Flag.opened_at, Flag.acknowledged_at).where(
            Flag.site_id.in_(site_ids) if site_ids else False, Flag.acknowledged_at.is_not(None),
            Flag.opened_at >= datetime.combine(since, datetime.min.time(), tzinfo=timezone.utc))).all()]
    return round(statistics.median(hours), 1) if hours else None


def decide(*, session: Session, agreement: Agreement, outcome: str, new_end_date: date | None, conditions: str,
           recommendation: str, actor: audit.Actor) -> RenewalDecision:
    """Record HQ's decision on the agreement's current term end; a renewal moves the term end."""
    try:
        chosen = RenewalOutcome(outcome)
    except ValueError:
        raise RenewalError(f"unknown decision {outcome!r}") from None
    if agreement.end_date is None:
        raise RenewalError(f"agreement {agreement.number} has no term end to decide on")
    conditions = conditions.strip()
    if len(conditions) > 2000 or "\x00" in conditions:
        raise RenewalError("conditions are at most 2,000 characters of text")
    if chosen != RenewalOutcome.not_renewed:
        if new_end_date is None or new_end_date <= agreement.end_date:
            raise RenewalError(f"a renewal needs a new term end after {agreement.end_date.isoformat()}")
        if new_end_date > agreement.end_date + timedelta(days=366 * 20):
            raise RenewalError("a new term longer than twenty years is refused")
    elif new_end_date is not None:
        raise RenewalError("an agreement that is not renewed takes no new term end")
    if chosen == RenewalOutcome.renew_with_conditions and not conditions:
        raise RenewalError("write the conditions of the renewal")
    existing = session.exec(select(RenewalDecision).where(RenewalDecision.agreement_id == agreement.id,
                                                          RenewalDecision.term_end == agreement.end_date)).first()
    if existing is not None:
        raise RenewalError(f"the term ending {agreement.end_date.isoformat()} was already decided")
    decision = RenewalDecision(agreement_id=agreement.id, term_end=agreement.end_date, outcome=chosen,
                               new_end_date=new_end_date, conditions=conditions, recommendation=recommendation,
                               decided_by=actor.label)
    session.add(decision)
    before = {"end_date": agreement.end_date}
    if new_end_date is not None:
        agreement.end_date = new_end_date
    session.flush()
    audit.record(session=session, actor=actor, action="agreement.renewal", entity_type="agreement",
                 entity_id=agreement.number, before=before,
                 after={"outcome": chosen.value, "end_date": agreement.end_date, "conditions": conditions,
                        "recommendation": recommendation})
    return decision


def decisions_of(*, session: Session, agreement_ids: list[int]) -> dict[int, list[RenewalDecision]]:
    """Every recorded decision of these agreements, newest first: what the partner sees."""
    out: dict[int, list[RenewalDecision]] = {}
    if not agreement_ids:
        return out
    for decision in session.exec(select(RenewalDecision).where(RenewalDecision.agreement_id.in_(agreement_ids))
                                 .order_by(RenewalDecision.term_end.desc())):
        out.setdefault(decision.agreement_id, []).append(decision)
    return out


def hq_recipients(*, session: Session) -> list[str]:
    return [u.email for u in session.exec(select(User).where(User.role.in_([Role.hq_admin, Role.hq_manager]),
                                                             User.active.is_(True))).all()]


def load_rules(settings: Settings) -> RenewalRules:
    """The brand's renewal rules file (``InvalidFiles`` with file:line when it is refused)."""
    from standards.renewal_rules import load_rules as load

    return load(settings.renewal_rules_dir or None)


def remind(*, session: Session, settings: Settings, rules: RenewalRules, today: date, now: datetime) -> int:
    """Queue one reminder per undecided agreement as its term end comes within each of the rules' days.

    Only the nearest threshold crossed is sent, so a hub that was down does not send three
    mails at once; the outbox's dedupe key makes a re-run send nothing new.
    """
    from ..compliance import outbox

    recipients = hq_recipients(session=session)
    if not recipients or not rules.reminders_days:
        return 0
    queued = 0
    agreements = session.exec(_ending(max(rules.reminders_days), today).where(Agreement.end_date >= today)).all()
    cohort = cohorts(session=session, today=today, site_ids=_sites_of(agreements)) if agreements else None
    for agreement in agreements:
        renewal = record(session=session, agreement=agreement, settings=settings, rules=rules, today=today,
                         cohort=cohort)
        if renewal.decision is not None:
            continue
        threshold = min(d for d in rules.reminders_days if d >= renewal.days_left)
        outcome = {"renew": "renew", "renew_with_conditions": "renew with conditions",
                   "refer_to_review": "refer to review"}[renewal.recommendation.outcome]
        reasons = "\n".join(f"- {r.reason_en} / {r.reason_zh}" for r in renewal.recommendation.reasons) or "- none"
        message = outbox.enqueue(
            session=session, dedupe_key=f"renewal:{agreement.number}:{agreement.end_date.isoformat()}:{threshold}",
            recipients=recipients, flag_id=None, now=now,
            subject=f"[Brand Hub] 续约提醒 Renewal: {agreement.number} ({renewal.franchisee.legal_name}) ends "
                    f"{agreement.end_date.isoformat()}, in {renewal.days_left} days",
            body=(f"Agreement {agreement.number} of {renewal.franchisee.legal_name} ends on "
                  f"{agreement.end_date.isoformat()} ({renewal.days_left} days).\n"
                  f"The record recommends: {outcome} ({renewal.recommendation.rules}).\n{reasons}\n\n"
                  f"Decide on the renewals page of the HQ dashboard."))
        queued += message is not None
    return queued
