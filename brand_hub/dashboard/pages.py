"""What the HQ brand-health dashboard and the HQ partner page show, read from an explicit scope.

Every figure is an aggregate computed by the database (GROUP BY, percentiles on
PostgreSQL), so a network of 10,000 sites costs the same handful of statements
as a network of 20: no loop over sites, no per-row query. Money sums stay exact:
PostgreSQL sums NUMERIC; SQLite (which stores amounts as text) sums whole fen as
integers (``_fen``), never floats.

The reasons a partner is at risk are plain data (``Reason``: a kind and its
figures); ``Reason.words()`` says them in the reader's language, so the HQ pages
and the portal read the same sentence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Float, Integer, and_, case, cast, column, func, lateral, literal, or_, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from brand_hub import scores as scores_service
from brand_hub import standing as standing_service
from brand_hub.compliance.lifecycle import ACTIVE, UNACKNOWLEDGED
from brand_hub.db import is_postgres
from brand_hub.models import Franchisee, Site, SiteStatus
from brand_hub.models.billing import Invoice, InvoiceLine, InvoiceStatus, RevenueReport
from brand_hub.models.collection import CollectionTarget
from brand_hub.models.compliance import Flag, Severity
from brand_hub.models.scoring import SiteScore
from brand_hub.models.standards import StandardAcknowledgement

CARDS = ("green", "yellow", "red", "insufficient")
OPEN_INVOICE = (InvoiceStatus.issued, InvoiceStatus.partially_paid)
FEED_RULES = ("agent-unreachable", "feed-silent")
LIVE_SITES = (SiteStatus.active, SiteStatus.onboarding, SiteStatus.suspended)
_ACTIVE = sorted(ACTIVE, key=lambda s: s.value)
_UNACKNOWLEDGED = sorted(UNACKNOWLEDGED, key=lambda s: s.value)


@dataclass(frozen=True)
class Scope:
    """What a page reads: the day it is (in the reader's zone), the moment, and which partners (None: all)."""

    today: date
    now: datetime
    franchisee_ids: tuple[int, ...] | None = None

    def partners(self, column):
        """A condition limiting ``column`` (a franchisee id column) to the scope, or true."""
        return column.in_(self.franchisee_ids) if self.franchisee_ids is not None else literal(True)


# ---------------------------------------------------------------- money in SQL, exact on both engines

def _fen(column, pg: bool):
    """An amount column as something SUM adds exactly: NUMERIC on PostgreSQL, whole fen on SQLite."""
    return column if pg else cast(func.round(column * 100), Integer)


def _money(value, pg: bool) -> Decimal:
    """A summed ``_fen`` back to a Decimal amount of yuan."""
    if value is None:
        return Decimal("0.00")
    return Decimal(value).quantize(Decimal("0.01")) if pg else (Decimal(int(value)) / 100).quantize(Decimal("0.01"))


def _days_between(later: date, earlier) -> int:
    if earlier is None:
        return 0
    if isinstance(earlier, str):
        earlier = date.fromisoformat(earlier[:10])
    if isinstance(earlier, datetime):
        earlier = earlier.date()
    return (later - earlier).days


# ---------------------------------------------------------------- quarters and cards

@dataclass(frozen=True)
class Published:
    """A published quarter and the model version its cards were computed with."""

    period: str
    model_id: str
    model_version: int


def published_quarters(*, session: Session, limit: int = 6,
                       publications: scores_service.Publications | None = None) -> list[Published]:
    """The published quarters, newest first (the newest publication of each quarter).

    ``publications``: the page's card publications, when it read them already (``scores.publications``).
    """
    if publications is None:
        publications = scores_service.publications(session=session)
    out: dict[str, Published] = {}
    for period, model_id, model_version, _published_at in publications.rows:
        out.setdefault(period, Published(period, model_id, model_version))
    return list(out.values())[:limit]


def _scores_of(quarter: Published, alias=SiteScore):
    return and_(alias.period == quarter.period, alias.model_id == quarter.model_id,
                alias.model_version == quarter.model_version)


def card_trend(*, session: Session, quarters: list[Published]) -> list[tuple[str, dict[str, int]]]:
    """Per published quarter (oldest first), how many sites got each card."""
    if not quarters:
        return []
    stmt = (select(SiteScore.period, SiteScore.card, func.count()).where(or_(*[_scores_of(q) for q in quarters]))
            .group_by(SiteScore.period, SiteScore.card))
    found: dict[str, dict[str, int]] = {q.period: {c: 0 for c in CARDS} for q in quarters}
    for period, card, count in session.exec(stmt):
        found[period][card or "insufficient"] = found[period].get(card or "insufficient", 0) + count
    return [(q.period, found[q.period]) for q in reversed(quarters)]


@dataclass(frozen=True)
class IndicatorSpread:
    """One indicator across the network: median and interquartile spread per quarter (oldest first)."""

    id: str
    title_zh: str
    title_en: str
    median: float | None
    p25: float | None
    p75: float | None
    trend: list[float | None]

    @property
    def change(self) -> float | None:
        known = [v for v in self.trend if v is not None]
        return known[-1] - known[-2] if len(known) >= 2 else None


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    at = (len(values) - 1) * q
    low, high = int(at), min(int(at) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (at - low)


def indicator_spread(*, session: Session, quarters: list[Published], indicators) -> list[IndicatorSpread]:
    """Each model indicator's network median and spread (normalised 0–100) for the last quarters."""
    if not quarters or not indicators:
        return []
    shown = quarters[:4]
    stats: dict[tuple[str, str], tuple[float | None, float | None, float | None]] = {}
    condition = or_(*[_scores_of(q) for q in shown])
    if is_postgres(session):  # each row's JSON walked once (json_each), the three quartiles from one sort
        each = lateral(sa_select(column("key"), column("value"))
                       .select_from(func.json_each(SiteScore.indicators).alias("e"))).alias("each")
        value = cast(each.c.value.op("->>")("normalised"), Float)
        quartiles = func.percentile_cont(literal([0.25, 0.5, 0.75])).within_group(value)
        stmt = (select(SiteScore.period, each.c.key, quartiles).select_from(SiteScore).join(each, literal(True))
                .where(condition, each.c.key.in_([ind.id for ind in indicators]))
                .group_by(SiteScore.period, each.c.key))
        for period, key, found in session.execute(stmt):
            stats[(period, key)] = tuple(found) if found else (None, None, None)
    else:  # SQLite serves small networks: read the normalised values and take the quantiles here
        columns = [SiteScore.indicators[ind.id]["normalised"].as_float() for ind in indicators]
        values: dict[tuple[str, str], list[float]] = {}
        for row in session.execute(select(SiteScore.period, *columns).where(condition)):
            for n, ind in enumerate(indicators):
                if row[1 + n] is not None:
                    values.setdefault((row[0], ind.id), []).append(float(row[1 + n]))
        stats = {key: (_quantile(v, .25), _quantile(v, .5), _quantile(v, .75)) for key, v in values.items()}
    latest = shown[0].period
    out = []
    for ind in indicators:
        p25, median, p75 = stats.get((latest, ind.id), (None, None, None))
        out.append(IndicatorSpread(ind.id, ind.title_zh, ind.title_en, median, p25, p75,
                                   [stats.get((q.period, ind.id), (None, None, None))[1] for q in reversed(shown)]))
    return out


@dataclass(frozen=True)
class Mover:
    site_code: str
    site_name: str
    partner_code: str
    score: float
    before: float
    card: str | None
    card_before: str | None

    @property
    def change(self) -> float:
        return self.score - self.before


def movers(*, session: Session, latest: Published | None, previous: Published | None,
           limit: int = 5) -> tuple[list[Mover], list[Mover]]:
    """The sites whose score rose most and fell most between the two published quarters."""
    if latest is None or previous is None:
        return [], []
    before = aliased(SiteScore)
    change = (SiteScore.score - before.score).label("change")
    stmt = (select(Site.code, Site.name_zh, Franchisee.code, SiteScore.score, before.score, SiteScore.card,
                   before.card)
            .join(Site, Site.id == SiteScore.site_id).join(Franchisee, Franchisee.id == Site.franchisee_id)
            .join(before, and_(before.site_id == SiteScore.site_id, _scores_of(previous, before)))
            .where(_scores_of(latest), SiteScore.score.is_not(None), before.score.is_not(None)))
    rises = [Mover(*row) for row in session.execute(stmt.order_by(change.desc(), Site.code).limit(limit))]
    falls = [Mover(*row) for row in session.execute(stmt.order_by(change.asc(), Site.code).limit(limit))]
    return [m for m in rises if m.change > 0], [m for m in falls if m.change < 0]


@dataclass(frozen=True)
class Comparison:
    """One group of sites (a tier, region, city or partner) in the latest quarter."""

    key: str
    sites: int
    average: float | None
    green: int
    yellow: int
    red: int


def comparisons(*, session: Session, latest: Published | None, limit: int = 10) -> dict[str, list[Comparison]]:
    """Average score and cards by tier, region, city (largest first) and partner (weakest first)."""
    if latest is None:
        return {}
    def grouped(column, order, top: int | None = None):
        stmt = (select(column, func.count(), func.avg(SiteScore.score),
                       *[func.sum(case((SiteScore.card == c, 1), else_=0)) for c in ("green", "yellow", "red")])
                .join(Site, Site.id == SiteScore.site_id).where(_scores_of(latest)).group_by(column).order_by(*order))
        if column is Franchisee.code:
            stmt = stmt.join(Franchisee, Franchisee.id == Site.franchisee_id)
        if top:
            stmt = stmt.limit(top)
        return [Comparison(key or "—", n, None if avg is None else float(avg), int(g or 0), int(y or 0), int(r or 0))
                for key, n, avg, g, y, r in session.execute(stmt)]
    both: dict[str, dict[str, list]] = {"tier": {}, "region": {}}
    for tier, region, n, scored, total, g, y, r in session.execute(
            select(Site.tier, Site.region, func.count(), func.count(SiteScore.score), func.sum(SiteScore.score),
                   *[func.sum(case((SiteScore.card == c, 1), else_=0)) for c in ("green", "yellow", "red")])
            .join(Site, Site.id == SiteScore.site_id).where(_scores_of(latest)).group_by(Site.tier, Site.region)):
        for kind, key in (("tier", tier), ("region", region)):
            acc = both[kind].setdefault(key or "—", [0, 0, 0.0, 0, 0, 0])
            for n_, value in enumerate((n, scored, float(total or 0), int(g or 0), int(y or 0), int(r or 0))):
                acc[n_] += value

    def folded(kind: str, order) -> list[Comparison]:
        return [Comparison(k, v[0], v[2] / v[1] if v[1] else None, v[3], v[4], v[5])
                for k, v in sorted(both[kind].items(), key=order)]
    return {"tier": folded("tier", lambda kv: (TIER_ORDER.index(kv[0]) if kv[0] in TIER_ORDER else 9, kv[0])),
            "region": folded("region", lambda kv: kv[0]),
            "city": grouped(Site.city, [func.count().desc(), Site.city], limit),
            "partner": grouped(Franchisee.code, [func.avg(SiteScore.score).asc(), Franchisee.code], limit)}


@dataclass(frozen=True)
class MonthScores:
    period: str
    scored: int
    insufficient: int
    average: float | None


def running_month(*, session: Session, today: date, scope: Scope | None = None) -> MonthScores:
    """The running month's provisional scores: how many sites scored, how many lacked data, the average."""
    period = f"{today.year:04d}-{today.month:02d}"
    stmt = (select(func.sum(case((SiteScore.status == "scored", 1), else_=0)),
                   func.sum(case((SiteScore.status != "scored", 1), else_=0)), func.avg(SiteScore.score))
            .where(SiteScore.period == period))
    if scope is not None and scope.franchisee_ids is not None:
        stmt = stmt.join(Site, Site.id == SiteScore.site_id).where(scope.partners(Site.franchisee_id))
    scored, lacking, average = session.execute(stmt).one()
    return MonthScores(period, int(scored or 0), int(lacking or 0), None if average is None else float(average))


# ---------------------------------------------------------------- money by month

@dataclass(frozen=True)
class MonthMoney:
    period: str
    revenue: Decimal
    royalty: Decimal
    desks: int
    reports: int

    @property
    def per_desk(self) -> Decimal | None:
        return (self.revenue / self.desks).quantize(Decimal("0.01")) if self.desks else None


def months_back(today: date, count: int) -> list[str]:
    """The ``count`` months before ``today``'s month, oldest first."""
    year, month, out = today.year, today.month, []
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        out.append(f"{year:04d}-{month:02d}")
    return list(reversed(out))


def monthly_money(*, session: Session, today: date, months: int = 12, scope: Scope | None = None) -> list[MonthMoney]:
    """Per month: gross revenue reported (newest version of each report), royalty invoiced, revenue per desk."""
    pg = is_postgres(session)
    periods = months_back(today, months)
    # the newest version of each (site, month): no later version of it (an anti-join on the unique
    # (site, period, version), rather than the largest version per group joined back: issue 10, a third of the time)
    later = aliased(RevenueReport)
    newer = (select(later.id).where(later.site_id == RevenueReport.site_id, later.period == RevenueReport.period,
                                    later.version > RevenueReport.version).exists())
    revenue_stmt = (select(literal("revenue").label("kind"), RevenueReport.period,
                           func.sum(_fen(RevenueReport.gross_revenue, pg)), func.sum(Site.desks), func.count())
                    .join(Site, Site.id == RevenueReport.site_id)
                    .where(RevenueReport.period.in_(periods), ~newer).group_by(RevenueReport.period))
    royalty_stmt = (select(literal("royalty"), InvoiceLine.service_period, func.sum(_fen(InvoiceLine.amount, pg)),
                           literal(0), literal(0))
                    .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                    .where(Invoice.status != InvoiceStatus.draft, InvoiceLine.kind.in_(["royalty", "minimum_topup"]),
                           InvoiceLine.service_period.in_(periods)).group_by(InvoiceLine.service_period))
    if scope is not None and scope.franchisee_ids is not None:
        revenue_stmt = revenue_stmt.where(scope.partners(Site.franchisee_id))
        royalty_stmt = royalty_stmt.where(scope.partners(Invoice.franchisee_id))
    revenue, royalty = {}, {}
    for kind, p, total, desks, n in session.execute(union_all(revenue_stmt, royalty_stmt)):  # one statement
        if kind == "revenue":
            revenue[p] = (_money(total, pg), int(desks or 0), n)
        else:
            royalty[p] = _money(total, pg)
    return [MonthMoney(p, revenue.get(p, (Decimal("0.00"), 0, 0))[0], royalty.get(p, Decimal("0.00")),
                       revenue.get(p, (0, 0, 0))[1], revenue.get(p, (0, 0, 0))[2]) for p in periods]


# ---------------------------------------------------------------- partners at risk

@dataclass(frozen=True)
class Reason:
    """One reason a partner is at risk: a kind and its figures (``words()`` says it)."""

    kind: str
    points: float
    figures: dict[str, Any] = field(default_factory=dict)

    def words(self) -> str:
        f = self.figures
        if self.kind == "termination_review":
            return _("Under termination review: %(sites)s had two red cards in a row.", sites=f.get("sites") or "—")
        if self.kind == "on_notice":
            return _("On notice: a red card is in force for %(sites)s.", sites=f.get("sites") or "—") \
                if f.get("sites") else _("On notice, set by HQ in the registry.")
        if self.kind == "red_twice":
            return _("%(n)s site(s) red in both %(before)s and %(latest)s.", n=f["n"], before=f["before"],
                     latest=f["latest"])
        if self.kind == "weak_twice":
            return _("%(n)s site(s) yellow or red in both %(before)s and %(latest)s.", n=f["n"], before=f["before"],
                     latest=f["latest"])
        if self.kind == "red_now":
            return _("%(n)s site(s) red in %(latest)s.", n=f["n"], latest=f["latest"])
        if self.kind == "score_fall":
            return _("Average score fell %(points)s points (%(before)s → %(now)s).", points=f"{f['fall']:.1f}",
                     before=f"{f['before']:.1f}", now=f"{f['now']:.1f}")
        if self.kind == "flags":
            return _("%(critical)s critical and %(major)s major flag(s) open.", critical=f["critical"],
                     major=f["major"])
        if self.kind == "overdue":
            return _("%(amount)s overdue, the oldest for %(days)s days.", amount=_money_text(f["amount"]),
                     days=f["days"])
        if self.kind == "reports_missing":
            return _("%(n)s monthly revenue report(s) missing.", n=f["n"])
        if self.kind == "feeds_down":
            return _("%(n)s data feed(s) down.", n=f["n"])
        if self.kind == "acks_overdue":
            return _("%(n)s acknowledgement(s) past their due date.", n=f["n"])
        return self.kind


@dataclass
class PartnerRisk:
    """A partner, its standing and the reasons it is at risk, worst first."""

    franchisee_id: int
    code: str = ""
    name: str = ""
    standing: str = "active"
    reasons: list[Reason] = field(default_factory=list)
    balance: Decimal = Decimal("0.00")
    overdue: Decimal = Decimal("0.00")
    overdue_days: int = 0
    sites: int = 0

    @property
    def points(self) -> float:
        return sum(r.points for r in self.reasons)


def _money_text(amount: Decimal) -> str:
    from brand_hub.web.filters import money

    return money(amount)


def partner_risks(*, session: Session, scope: Scope, quarters: list[Published],
                  standings: dict[int, standing_service.Standing] | None = None) -> dict[int, PartnerRisk]:
    """Every partner in scope with its reasons to worry (an empty list: nothing to worry about).

    Seven grouped statements whatever the size of the network: the partners, their
    standings (two), cards of the last two quarters, current flags by rule and
    severity, open balances, overdue acknowledgements.
    """
    pg = is_postgres(session)
    risks: dict[int, PartnerRisk] = {}
    site_counts = (select(Site.franchisee_id, func.count().label("n")).where(Site.status.in_(LIVE_SITES))
                   .group_by(Site.franchisee_id).subquery())
    for fid, code, name, n in session.execute(
            select(Franchisee.id, Franchisee.code, Franchisee.legal_name, func.coalesce(site_counts.c.n, 0))
            .outerjoin(site_counts, site_counts.c.franchisee_id == Franchisee.id)
            .where(scope.partners(Franchisee.id))):
        risks[fid] = PartnerRisk(fid, code, name, sites=int(n or 0))
    if standings is None:  # ``standings``: the caller's, when it has read them already (the same two statements)
        standings = standing_service.standings(session=session, franchisee_ids=list(scope.franchisee_ids)
                                               if scope.franchisee_ids is not None else None)
    site_codes = dict(session.execute(select(Site.id, Site.code).where(
        Site.id.in_([f.site_id for s in standings.values() for f in s.flags if f.site_id]))).all()) \
        if any(s.flags for s in standings.values()) else {}
    for fid, found in standings.items():
        if fid not in risks:
            continue
        risk = risks[fid]
        risk.standing = found.standing
        if found.standing == "termination_review":
            sites = sorted({code for f in found.flags if f.rule == "termination-review"
                            for code in (f.evidence or {}).get("sites", [])})
            risk.reasons.append(Reason("termination_review", 100, {"sites": ", ".join(sites)}))
        elif found.standing == "on_notice":
            sites = sorted({site_codes.get(f.site_id, "") for f in found.flags if f.rule == "red-card"} - {""})
            risk.reasons.append(Reason("on_notice", 60, {"sites": ", ".join(sites)}))

    # cards: the last two published quarters, per partner
    if quarters:
        latest = quarters[0]
        previous = quarters[1] if len(quarters) > 1 else None
        before = aliased(SiteScore)
        red_now = func.sum(case((SiteScore.card == "red", 1), else_=0))
        columns = [Site.franchisee_id, red_now, func.avg(SiteScore.score)]
        stmt = select(*columns).join(Site, Site.id == SiteScore.site_id).where(_scores_of(latest),
                                                                                scope.partners(Site.franchisee_id))
        if previous is not None:
            stmt = (select(*columns,
                           func.sum(case((and_(SiteScore.card == "red", before.card == "red"), 1), else_=0)),
                           func.sum(case((and_(SiteScore.card.in_(["red", "yellow"]),
                                               before.card.in_(["red", "yellow"])), 1), else_=0)),
                           func.avg(before.score))
                    .join(Site, Site.id == SiteScore.site_id)
                    .outerjoin(before, and_(before.site_id == SiteScore.site_id, _scores_of(previous, before)))
                    .where(_scores_of(latest), scope.partners(Site.franchisee_id)))
        for row in session.execute(stmt.group_by(Site.franchisee_id)):
            risk = risks.get(row[0])
            if risk is None:
                continue
            red, now_avg = int(row[1] or 0), row[2]
            red_twice = int(row[3] or 0) if previous is not None else 0
            weak_twice = int(row[4] or 0) if previous is not None else 0
            before_avg = row[5] if previous is not None else None
            names = {"latest": latest.period, "before": previous.period if previous else ""}
            if red_twice:
                risk.reasons.append(Reason("red_twice", 30 * red_twice, {"n": red_twice, **names}))
            elif red:
                risk.reasons.append(Reason("red_now", 15 * red, {"n": red, **names}))
            if weak_twice > red_twice:
                risk.reasons.append(Reason("weak_twice", 8 * (weak_twice - red_twice),
                                           {"n": weak_twice - red_twice, **names}))
            if now_avg is not None and before_avg is not None and before_avg - now_avg >= 5:
                risk.reasons.append(Reason("score_fall", float(before_avg - now_avg),
                                           {"fall": float(before_avg - now_avg), "before": float(before_avg),
                                            "now": float(now_avg)}))

    # current flags by rule and severity
    flags: dict[int, dict[str, int]] = {}
    for fid, rule, severity, count in session.execute(
            select(Flag.franchisee_id, Flag.rule, Flag.severity, func.count())
            .where(Flag.state.in_(_ACTIVE), scope.partners(Flag.franchisee_id))
            .group_by(Flag.franchisee_id, Flag.rule, Flag.severity)):
        tally = flags.setdefault(fid, {})
        severity = getattr(severity, "value", severity)
        tally[severity] = tally.get(severity, 0) + count
        tally["rule:" + rule] = tally.get("rule:" + rule, 0) + count
    for fid, tally in flags.items():
        risk = risks.get(fid)
        if risk is None:
            continue
        critical, major = tally.get("critical", 0), tally.get("major", 0)
        if critical or major:
            risk.reasons.append(Reason("flags", 15 * critical + 4 * min(major, 20),
                                       {"critical": critical, "major": major}))
        if tally.get("rule:revenue-report-missing"):
            n = tally["rule:revenue-report-missing"]
            risk.reasons.append(Reason("reports_missing", 5 * n, {"n": n}))
        feeds = sum(tally.get("rule:" + r, 0) for r in FEED_RULES)
        if feeds:
            risk.reasons.append(Reason("feeds_down", 3 * feeds, {"n": feeds}))

    # money: the open balance and what of it is overdue
    balance = _fen(Invoice.total, pg) - _fen(Invoice.amount_paid, pg) - _fen(Invoice.amount_credited, pg)
    late = and_(Invoice.due_date < scope.today, balance > 0)
    for fid, owed, overdue, oldest in session.execute(
            select(Invoice.franchisee_id, func.sum(balance), func.sum(case((late, balance), else_=0)),
                   func.min(case((late, Invoice.due_date), else_=None)))
            .where(Invoice.status.in_(OPEN_INVOICE), scope.partners(Invoice.franchisee_id))
            .group_by(Invoice.franchisee_id)):
        risk = risks.get(fid)
        if risk is None:
            continue
        risk.balance, risk.overdue = _money(owed, pg), _money(overdue, pg)
        if risk.overdue > 0:
            risk.overdue_days = _days_between(scope.today, oldest)
            risk.reasons.append(Reason("overdue", 10 + risk.overdue_days / 3,
                                       {"amount": risk.overdue, "days": risk.overdue_days}))

    # standards acknowledgements past their due date
    for fid, count in session.execute(
            select(Site.franchisee_id, func.count()).select_from(StandardAcknowledgement)
            .join(Site, Site.id == StandardAcknowledgement.site_id)
            .where(StandardAcknowledgement.acknowledged_at.is_(None), StandardAcknowledgement.due_at < scope.now,
                   Site.status != SiteStatus.terminated, scope.partners(Site.franchisee_id))
            .group_by(Site.franchisee_id)):
        risk = risks.get(fid)
        if risk is not None and count:
            risk.reasons.append(Reason("acks_overdue", min(count, 10), {"n": count}))
    for risk in risks.values():
        risk.reasons.sort(key=lambda r: -r.points)
    return risks


def at_risk(risks: dict[int, PartnerRisk], limit: int = 15) -> tuple[list[PartnerRisk], int]:
    """The partners with reasons, worst first, at most ``limit``, and how many have any reason."""
    ranked = sorted((r for r in risks.values() if r.reasons), key=lambda r: (-r.points, r.code))
    return ranked[:limit], len(ranked)


# ---------------------------------------------------------------- the network's health strip

@dataclass(frozen=True)
class HealthNow:
    open_flags: int
    on_notice: int
    agents_failing: int
    overdue_invoices: int
    overdue_balance: Decimal


def health_now(*, session: Session, today: date, in_trouble: int | None = None) -> HealthNow:
    """The few numbers HQ looks at first, each one statement."""
    from brand_hub.compliance.lifecycle import CURRENT

    pg = is_postgres(session)
    open_flags = session.exec(select(func.count()).select_from(Flag).where(
        Flag.state.in_(sorted(CURRENT, key=lambda s: s.value)))).one()
    failing = session.exec(select(func.count()).select_from(CollectionTarget)
                           .join(Site, Site.id == CollectionTarget.site_id)
                           .where(CollectionTarget.consecutive_failures > 0, Site.agent_url != "",
                                  Site.status.in_(LIVE_SITES))).one()
    balance = _fen(Invoice.total, pg) - _fen(Invoice.amount_paid, pg) - _fen(Invoice.amount_credited, pg)
    count, owed = session.execute(select(func.count(), func.sum(balance)).where(
        Invoice.status.in_(OPEN_INVOICE), Invoice.due_date < today, balance > 0)).one()
    if in_trouble is None:
        in_trouble = standing_service.count_in_trouble(session=session)
    return HealthNow(open_flags, in_trouble, failing, int(count or 0), _money(owed, pg))


# ---------------------------------------------------------------- the census, in three statements

@dataclass
class Census:
    """Sites by status, tier, region and city, desks and area of open sites, partners, active agreements."""

    sites_by_status: dict[str, int] = field(default_factory=dict)
    sites_by_tier: dict[str, int] = field(default_factory=dict)
    sites_by_region: dict[str, int] = field(default_factory=dict)
    sites_by_city: dict[str, int] = field(default_factory=dict)
    partners_by_status: dict[str, int] = field(default_factory=dict)
    total_sites: int = 0
    total_desks: int = 0
    total_area_m2: Decimal = Decimal("0")
    active_agreements: int = 0


TIER_ORDER = ("flagship", "standard", "lite")


def census(*, session: Session) -> Census:
    """The registry's counts for the bottom of the dashboard: one grouped query over the sites, two more."""
    from brand_hub.models import Agreement, AgreementStatus, FranchiseeStatus

    pg = is_postgres(session)
    out = Census(sites_by_status={s.value: 0 for s in SiteStatus})
    live = {SiteStatus.active.value, SiteStatus.onboarding.value}
    tiers: dict[str, int] = {}
    regions: dict[str, int] = {}
    cities: dict[str, int] = {}
    area = Decimal("0")
    for status, tier, region, city, n, desks, fen in session.execute(
            select(Site.status, Site.tier, Site.region, Site.city, func.count(), func.sum(Site.desks),
                   func.sum(_fen(Site.area_m2, pg))).group_by(Site.status, Site.tier, Site.region, Site.city)):
        status = getattr(status, "value", status)
        out.sites_by_status[status] = out.sites_by_status.get(status, 0) + n
        tiers[tier] = tiers.get(tier, 0) + n
        regions[region or "—"] = regions.get(region or "—", 0) + n
        cities[city] = cities.get(city, 0) + n
        if status in live:
            out.total_desks += int(desks or 0)
            area += _money(fen, pg)
    out.sites_by_tier = {t: tiers[t] for t in sorted(tiers, key=lambda t: (TIER_ORDER.index(t) if t in TIER_ORDER
                                                                           else len(TIER_ORDER), t))}
    out.sites_by_region = dict(sorted(regions.items()))
    out.sites_by_city = dict(sorted(cities.items(), key=lambda kv: (-kv[1], kv[0])))
    out.total_sites = sum(out.sites_by_status.values())
    out.total_area_m2 = area
    out.partners_by_status = {getattr(k, "value", k): n for k, n in session.execute(
        select(Franchisee.status, func.count()).group_by(Franchisee.status))}
    out.active_agreements = session.exec(select(func.count()).select_from(Agreement).where(
        Agreement.status == AgreementStatus.active)).one()
    return out


_MODEL_CACHE: dict[str, tuple[float, Any]] = {}


def current_indicators(settings, ttl: float = 60.0):
    """The current scoring model's indicators, read from its files at most once a minute (none if unreadable)."""
    import time

    from brand_hub import scores

    key = str(getattr(settings, "scoring_dir", "") or "")
    found = _MODEL_CACHE.get(key)
    if found and time.monotonic() - found[0] < ttl:
        return found[1]
    try:
        indicators = scores.load_model(settings=settings).indicators
    except scores.ScoringError:
        indicators = ()
    _MODEL_CACHE[key] = (time.monotonic(), indicators)
    return indicators


# ---------------------------------------------------------------- the whole dashboard

@dataclass
class BrandHealth:
    health: HealthNow
    quarters: list[Published]
    cards: list[tuple[str, dict[str, int]]]
    indicators: list[IndicatorSpread]
    month: MonthScores
    at_risk: list[PartnerRisk]
    at_risk_total: int
    rises: list[Mover]
    falls: list[Mover]
    comparisons: dict[str, list[Comparison]]
    money: list[MonthMoney]
    as_of: datetime | None = None   # when read from the precomputed snapshot (``dashboard.snapshot``): its time

    @property
    def latest(self) -> Published | None:
        return self.quarters[0] if self.quarters else None

    @property
    def latest_cards(self) -> dict[str, int]:
        return self.cards[-1][1] if self.cards else {}


def brand_health(*, session: Session, scope: Scope, indicators, precomputed: bool = False) -> BrandHealth:
    """Everything the HQ landing page shows, for ``scope``.

    ``precomputed``: the network's figures from the ``refresh-dashboard`` job's snapshot when it is
    fresh (``dashboard.snapshot.fresh``), computed here otherwise.
    """
    if precomputed:
        from . import snapshot

        found = snapshot.fresh(session=session, scope=scope)
        if found is not None:
            return found
    quarters = published_quarters(session=session)
    latest = quarters[0] if quarters else None
    previous = quarters[1] if len(quarters) > 1 else None
    risks = partner_risks(session=session, scope=scope, quarters=quarters)
    ranked, total = at_risk(risks)
    rises, falls = movers(session=session, latest=latest, previous=previous)
    trouble = sum(1 for r in risks.values() if r.standing in standing_service.TROUBLE) \
        if scope.franchisee_ids is None else None
    return BrandHealth(health=health_now(session=session, today=scope.today, in_trouble=trouble), quarters=quarters,
                       cards=card_trend(session=session, quarters=quarters),
                       indicators=indicator_spread(session=session, quarters=quarters, indicators=indicators),
                       month=running_month(session=session, today=scope.today), at_risk=ranked, at_risk_total=total,
                       rises=rises, falls=falls, comparisons=comparisons(session=session, latest=latest),
                       money=monthly_money(session=session, today=scope.today))


# ---------------------------------------------------------------- one partner at HQ

@dataclass
class SiteCard:
    code: str
    name: str
    status: str
    card: str | None
    score: float | None
    card_before: str | None
    score_before: float | None


def partner_site_cards(*, session: Session, franchisee_id: int, quarters: list[Published]) -> list[SiteCard]:
    """Each site of the partner with its card in the last two published quarters (one statement)."""
    latest = quarters[0] if quarters else None
    previous = quarters[1] if len(quarters) > 1 else None
    now, before = aliased(SiteScore), aliased(SiteScore)
    nothing = [literal(None), literal(None)]
    stmt = select(Site.code, Site.name_zh, Site.status, *([now.card, now.score] if latest else nothing),
                  *([before.card, before.score] if previous else nothing)).select_from(Site)
    if latest:
        stmt = stmt.outerjoin(now, and_(now.site_id == Site.id, _scores_of(latest, now)))
    if previous:
        stmt = stmt.outerjoin(before, and_(before.site_id == Site.id, _scores_of(previous, before)))
    stmt = stmt.where(Site.franchisee_id == franchisee_id).order_by(Site.code)
    return [SiteCard(code, name, getattr(status, "value", status), card, score, card_b, score_b)
            for code, name, status, card, score, card_b, score_b in session.execute(stmt)]


def notice_history(*, session: Session, franchisee_id: int, limit: int = 20) -> list[Flag]:
    """The red-card and termination-review flags of the partner, in force or past, newest first."""
    return list(session.exec(select(Flag).where(Flag.franchisee_id == franchisee_id,
                                                Flag.rule.in_(standing_service.NOTICE_RULES))
                             .order_by(Flag.opened_at.desc().nulls_last(), Flag.id.desc()).limit(limit)).all())


def open_flags(*, session: Session, franchisee_id: int, limit: int = 15) -> tuple[list[tuple[Flag, str]], int]:
    """The partner's flags in force, worst first, with their site code, and how many there are."""
    worst = case(*[(Flag.severity == severity, rank) for rank, severity in enumerate(Severity)], else_=-1)
    condition = and_(Flag.franchisee_id == franchisee_id, Flag.state.in_(_ACTIVE))
    rows = session.execute(select(Flag, Site.code).outerjoin(Site, Site.id == Flag.site_id).where(condition)
                           .order_by(worst.desc(), Flag.opened_at.desc().nulls_last(), Flag.id.desc())
                           .limit(limit)).all()
    total = session.exec(select(func.count()).select_from(Flag).where(condition)).one()
    return [(flag, code or "") for flag, code in rows], total


__all__ = ["BrandHealth", "Comparison", "HealthNow", "IndicatorSpread", "MonthMoney", "MonthScores", "Mover",
           "PartnerRisk", "Published", "Reason", "Scope", "SiteCard", "at_risk", "brand_health", "card_trend",
           "comparisons", "health_now", "indicator_spread", "monthly_money", "months_back", "movers",
           "notice_history", "open_flags", "partner_risks", "partner_site_cards", "published_quarters",
           "running_month"]
