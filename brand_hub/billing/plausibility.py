"""Revenue plausibility: gather what the site itself shows and store the verdict on each report.

The method is ``scoring.plausibility`` (pure); this service reads its signals in a few
set-based queries for a whole batch of reports (an import, the demo, one portal
submission): the reports in force of every site for the months needed (cohort and
history), the monthly scores (occupancy during open hours), and the check-in and
membership events. The thresholds are the brand's: the ``revenue-plausibility``
standard's rule ``parameters`` (as published, else as in the library file).
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from brand_hub.models import Site, SiteStatus
from brand_hub.models.billing import ReportStatus, RevenueReport
from brand_hub.models.collection import OpsEvent
from brand_hub.models.scoring import SiteScore
from brand_hub.models.standards import Standard
from brand_hub.models.trust import RevenueAssessment
from scoring.plausibility import IMPLAUSIBLE, Activity, Assessment, Signals, Thresholds, assess

from . import period_end, period_start, shift_period
from .corrections import in_force_clause

STANDARD_KEY = "revenue-plausibility"
RULE_ID = "plausible-revenue"
LIBRARY_FILE = Path(__file__).resolve().parents[2] / "standards" / "library" / "standards" / "revenue-plausibility.yaml"
CHECK_IN_KINDS = ("check_in",)
MEMBER_KINDS = ("membership_started", "membership_renewed")
MIN_MEMBER_EVENTS = 10  # median starts and renewals a month below this: too few to tell a trend
COHORT_STATUSES = (SiteStatus.active, SiteStatus.suspended)


def _rule_parameters(content: dict[str, Any]) -> dict[str, Any] | None:
    for rule in content.get("rules") or []:
        if isinstance(rule, dict) and rule.get("id") == RULE_ID:
            return rule.get("parameters") or {}
    return None


def thresholds(*, session: Session) -> Thresholds:
    """The brand's thresholds: the published standard's, else the library file's, else the method's defaults."""
    published = session.exec(select(Standard).where(Standard.key == STANDARD_KEY)
                             .order_by(Standard.version.desc()).limit(1)).first()
    if published is not None and _rule_parameters(published.content or {}) is not None:
        return Thresholds.of(_rule_parameters(published.content or {}))
    try:
        from standards.standard_format import load_folder

        for spec in load_folder(LIBRARY_FILE.parent):
            if spec.key == STANDARD_KEY:
                return Thresholds.of(_rule_parameters(spec.content) or {})
    except Exception:  # an unreadable library: the method's own defaults (the same figures as the file)
        pass
    return Thresholds()


def _months(period: str, count: int) -> list[str]:
    return [shift_period(period, -i) for i in range(count, 0, -1)]


def in_force(*, session: Session, periods: set[str], site_ids: list[int] | None = None) -> list[RevenueReport]:
    """The version in force of every (site, month) asked for: reported figures only, estimates left out."""
    if not periods:
        return []
    newest = select(RevenueReport.site_id, RevenueReport.period, func.max(RevenueReport.version).label("v")) \
        .where(RevenueReport.period.in_(sorted(periods)), in_force_clause())
    if site_ids is not None:
        newest = newest.where(RevenueReport.site_id.in_(site_ids))
    newest = newest.group_by(RevenueReport.site_id, RevenueReport.period).subquery()
    rows = session.exec(select(RevenueReport).join(
        newest, (RevenueReport.site_id == newest.c.site_id) & (RevenueReport.period == newest.c.period)
        & (RevenueReport.version == newest.c.v))).all()
    return [r for r in rows if r.status != ReportStatus.estimated]


def gather(*, session: Session, reports: list[RevenueReport], t: Thresholds) -> dict[int, Signals]:
    """The signals of each report (by report id), in a handful of queries for the whole batch."""
    if not reports:
        return {}
    targets = sorted({r.period for r in reports})
    history_periods = {p for period in targets for p in _months(period, t.history_months)}
    year_ago = {shift_period(p, -12) for p in targets}
    own_ids = sorted({r.site_id for r in reports})
    sites = {s.id: s for s in session.exec(select(Site)).all()}
    # the cohort: every billed site's report in force for the reported months
    cohort: dict[str, list[tuple[Site, RevenueReport]]] = defaultdict(list)
    for r in in_force(session=session, periods=set(targets)):
        site = sites.get(r.site_id)
        if site is not None and site.status in COHORT_STATUSES and site.desks > 0:
            cohort[r.period].append((site, r))
    own = {(r.site_id, r.period): r for r in in_force(session=session, periods=history_periods | year_ago, site_ids=own_ids)}
    occupancy = _occupancy(session, own_ids, set(targets) | history_periods)
    events = _events(session, own_ids, set(targets) | history_periods, sites)
    out: dict[int, Signals] = {}
    for r in reports:
        site = sites[r.site_id]
        months = _months(r.period, t.history_months)
        peers = [(s, p) for s, p in cohort.get(r.period, []) if s.id != site.id and s.tier == site.tier]
        history = tuple(own[(site.id, m)].gross_revenue for m in months if (site.id, m) in own)
        last_year = own.get((site.id, shift_period(r.period, -12)))
        activity = []
        for name, series in (("occupancy", occupancy), ("check_ins", events["check_ins"]),
                             ("members", events["members"])):
            now = series.get((site.id, r.period))
            past = tuple(series[(site.id, m)] for m in months if (site.id, m) in series)
            if name == "members" and (not past or statistics.median(past) < MIN_MEMBER_EVENTS):
                continue  # a handful of membership events a month says nothing about the month's trade
            if now is not None or past:
                activity.append(Activity(name, now, past))
        out[r.id] = Signals(
            period=r.period, gross=r.gross_revenue, desks=site.desks,
            breakdown={k: Decimal(str(v)) for k, v in (r.breakdown or {}).items()},
            history=history, same_month_last_year=last_year.gross_revenue if last_year else None,
            cohort_per_desk=tuple(p.gross_revenue / s.desks for s, p in peers if s.city == site.city),
            cohort_label=f"{site.tier} · {site.city}",
            network_per_desk=tuple(p.gross_revenue / s.desks for s, p in peers), network_label=site.tier,
            activity=tuple(activity))
    return out


def _occupancy(session: Session, site_ids: list[int], months: set[str]) -> dict[tuple[int, str], float]:
    """Each site's monthly desk utilisation during open hours, from its newest monthly score."""
    out: dict[tuple[int, str], float] = {}
    rows = session.exec(select(SiteScore.site_id, SiteScore.period, SiteScore.indicators)
                        .where(SiteScore.site_id.in_(site_ids), SiteScore.period.in_(sorted(months)))
                        .order_by(SiteScore.computed_at, SiteScore.id)).all()
    for site_id, period, indicators in rows:
        item = (indicators or {}).get("desk_utilisation") or {}
        raw = item.get("raw")
        if isinstance(raw, (int, float)) and item.get("status", "ok") not in ("missing", "insufficient"):
            out[(site_id, period)] = float(raw)
    return out


def _events(session: Session, site_ids: list[int], months: set[str],
            sites: dict[int, Site]) -> dict[str, dict[tuple[int, str], float]]:
    """Check-ins (their quantity, else one each) and membership starts and renewals per site and local month."""
    start = datetime.combine(period_start(min(months)), datetime.min.time(), timezone.utc) - timedelta(days=1)
    end = datetime.combine(period_end(max(months)), datetime.min.time(), timezone.utc) + timedelta(days=2)
    out: dict[str, dict[tuple[int, str], float]] = {"check_ins": defaultdict(float), "members": defaultdict(float)}
    rows = session.exec(select(OpsEvent.site_id, OpsEvent.kind, OpsEvent.occurred_at, OpsEvent.quantity)
                        .where(OpsEvent.site_id.in_(site_ids), OpsEvent.kind.in_(CHECK_IN_KINDS + MEMBER_KINDS),
                               OpsEvent.occurred_at >= start, OpsEvent.occurred_at < end)).all()
    zones: dict[int, ZoneInfo] = {}
    for site_id, kind, at, quantity in rows:
        zone = zones.setdefault(site_id, ZoneInfo(sites[site_id].timezone or "Asia/Shanghai"))
        month = at.astimezone(zone).strftime("%Y-%m")
        if month not in months:
            continue
        key = "check_ins" if kind in CHECK_IN_KINDS else "members"
        out[key][(site_id, month)] += (quantity if kind in CHECK_IN_KINDS and quantity is not None else 1)
    return {k: dict(v) for k, v in out.items()}


def _signals_record(s: Signals) -> dict[str, Any]:
    """What was read, kept with the verdict so a reader can see the inputs."""
    return {"gross": str(s.gross), "desks": s.desks, "history": [str(h) for h in s.history],
            "same_month_last_year": str(s.same_month_last_year) if s.same_month_last_year else None,
            "cohort": s.cohort_label, "cohort_size": len(s.cohort_per_desk), "network_size": len(s.network_per_desk),
            "activity": {a.name: {"now": a.now, "history": list(a.history)} for a in s.activity}}


def assess_reports(*, session: Session, reports: list[RevenueReport],
                   now: datetime | None = None) -> dict[int, Assessment]:
    """Assess each report and store (or replace) its assessment; returns them by report id."""
    reports = [r for r in reports if r is not None and r.status != ReportStatus.estimated]
    if not reports:
        return {}
    t = thresholds(session=session)
    signals = gather(session=session, reports=reports, t=t)
    stored = {a.report_id: a for a in session.exec(select(RevenueAssessment).where(
        RevenueAssessment.report_id.in_([r.id for r in reports]))).all()}
    now = now or datetime.now(timezone.utc)
    results: dict[int, Assessment] = {}
    for r in reports:
        result = assess(signals[r.id], t)
        results[r.id] = result
        row = stored.get(r.id) or RevenueAssessment(report_id=r.id, site_id=r.site_id, period=r.period,
                                                    verdict=result.verdict)
        row.verdict, row.reasons = result.verdict, [x.as_dict() for x in result.reasons]
        row.signals, row.method_version, row.assessed_at = _signals_record(signals[r.id]), result.method_version, now
        session.add(row)
    session.flush()
    return results


def assess_all(*, session: Session, periods: list[str] | None = None) -> dict[int, Assessment]:
    """Re-assess every report in force (of the months named), e.g. after the thresholds changed."""
    stmt = select(RevenueReport.period).distinct()
    chosen = set(periods) if periods else set(session.exec(stmt).all())
    return assess_reports(session=session, reports=in_force(session=session, periods=chosen))


def doubts(*, session: Session, report_ids: list[int]) -> dict[int, RevenueAssessment]:
    """The implausible assessments among these reports (for the review table and the pages)."""
    if not report_ids:
        return {}
    return {a.report_id: a for a in session.exec(select(RevenueAssessment).where(
        RevenueAssessment.report_id.in_(report_ids), RevenueAssessment.verdict == IMPLAUSIBLE)).all()}


def summary_of(assessment: RevenueAssessment) -> str:
    """The deciding reasons in one English line (the pages translate the codes)."""
    chosen = [r for r in assessment.reasons if r.get("off")] or assessment.reasons
    return "; ".join(str(r.get("text", "")) for r in chosen)


def verdicts_in_force(*, session: Session, site_ids: list[int], since: str) -> list[tuple[int, str, str, str]]:
    """(site, month, verdict, deciding reasons) of each month's report in force since ``since``, one query."""
    if not site_ids:
        return []
    newest = (select(RevenueReport.site_id, RevenueReport.period, func.max(RevenueReport.version).label("v"))
              .where(RevenueReport.site_id.in_(site_ids), RevenueReport.period >= since,
                     RevenueReport.status != ReportStatus.estimated, in_force_clause())
              .group_by(RevenueReport.site_id, RevenueReport.period).subquery())
    rows = session.exec(select(RevenueAssessment).join(RevenueReport, RevenueReport.id == RevenueAssessment.report_id)
                        .join(newest, (RevenueReport.site_id == newest.c.site_id)
                              & (RevenueReport.period == newest.c.period) & (RevenueReport.version == newest.c.v))
                        ).all()
    return [(a.site_id, a.period, a.verdict, summary_of(a)[:300]) for a in rows]
