"""Gather the facts the probes read, from every area's tables, a few queries per run.

Each source is read in its own savepoint: a source that fails (a table another area
has not migrated yet, a bad row) is reported as an error and leaves the facts of
that source empty, so the rules reading the other sources still run.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from brand_hub import tenure
from brand_hub.models import Franchisee, Site, SiteStatus
from brand_hub.models.billing import Invoice, ReportStatus, RevenueReport
from brand_hub.models.collection import CollectionTarget, NpsResponse, OpsEvent, ReadingBucket
from brand_hub.models.scoring import SiteScore
from brand_hub.scores import card_in_force, publication_dates, published_keys
from brand_hub.models.compliance import Flag, Severity
from scoring.strikes import CriticalFlag
from brand_hub.models.standards import SiteConfigState, Standard, StandardAcknowledgement

from .rules import (AckFacts, Context, DriftFacts, InvoiceFacts, PartnerFacts, ScoreFacts, SiteFacts, TargetFacts,
                    WINDOW_DAYS)

EVALUATED_STATUSES = (SiteStatus.active, SiteStatus.suspended)


def _guarded(session: Session, errors: list[dict], source: str, load: Callable[[], None]) -> None:
    """Run one loader in a savepoint; on failure keep the error and go on."""
    try:
        with session.begin_nested():
            load()
    except Exception as exc:  # one broken source must not stop the run
        errors.append({"site": "", "rule": f"source:{source}", "error": f"{type(exc).__name__}: {exc}"[:400]})


def latest_standards(*, session: Session) -> list[dict]:
    """The newest published version of every standard, as plain dicts for the rule catalogue."""
    newest = select(Standard.key, func.max(Standard.version).label("v")).group_by(Standard.key).subquery()
    rows = session.exec(select(Standard).join(newest, (Standard.key == newest.c.key)
                                              & (Standard.version == newest.c.v)).order_by(Standard.key)).all()
    return [{"id": s.id, "key": s.key, "version": s.version, "title_zh": s.title_zh, "title_en": s.title_en,
             "content": s.content or {}} for s in rows]


def gather(*, session: Session, ctx: Context, site_codes: list[str] | None = None,
           metrics: dict[str, int] | None = None, errors: list[dict]) -> tuple[list[SiteFacts], list[PartnerFacts]]:
    """The facts of every evaluated site (or those named) and of their partners.

    ``metrics``: the sensor metrics the standards' rules read, each with the longest window (days) it needs.
    """
    metrics = metrics or {}
    stmt = select(Site).where(Site.status.in_(EVALUATED_STATUSES)).order_by(Site.code)
    if site_codes:
        stmt = select(Site).where(Site.code.in_(site_codes)).order_by(Site.code)
    sites = session.exec(stmt).all()
    facts = {s.id: SiteFacts(site_id=s.id, code=s.code, franchisee_id=s.franchisee_id, tier=s.tier, region=s.region,
                             timezone=s.timezone, opening_hours=s.opening_hours or {}, opened_on=s.opened_on,
                             has_agent=bool(s.agent_url)) for s in sites}
    ids = list(facts)
    if not ids:
        return [], []
    oldest = ctx.now - timedelta(days=max(WINDOW_DAYS.values()))

    def targets() -> None:
        for t in session.exec(select(CollectionTarget).where(CollectionTarget.site_id.in_(ids))):
            facts[t.site_id].target = TargetFacts(t.last_attempt_at, t.last_success_at, t.newest_record_at,
                                                  t.health_at, t.last_error or "")

    def readings() -> None:
        if not metrics:
            return
        for metric, days in sorted(metrics.items()):
            rows = session.exec(select(ReadingBucket.site_id, ReadingBucket.bucket_start, ReadingBucket.mean,
                                       ReadingBucket.zone)
                                .where(ReadingBucket.site_id.in_(ids), ReadingBucket.metric == metric,
                                       ReadingBucket.bucket_start >= ctx.now - timedelta(days=days),
                                       ReadingBucket.bucket_start <= ctx.now))
            for site_id, at, mean, zone in rows:
                facts[site_id].readings.setdefault(metric, []).append((at, mean, zone))

    def nps() -> None:
        for site_id, at, score in session.exec(select(NpsResponse.site_id, NpsResponse.answered_at, NpsResponse.score)
                                               .where(NpsResponse.site_id.in_(ids), NpsResponse.answered_at >= oldest)):
            facts[site_id].nps.append((at, score))

    def events() -> None:
        rows = session.exec(select(OpsEvent.site_id, OpsEvent.kind, OpsEvent.occurred_at, OpsEvent.ref,
                                   OpsEvent.quantity)
                            .where(OpsEvent.site_id.in_(ids), OpsEvent.occurred_at >= oldest)
                            .order_by(OpsEvent.occurred_at))
        for site_id, kind, at, ref, quantity in rows:
            facts[site_id].events.append((kind, at, ref, quantity))

    def acks() -> None:
        current = [s["id"] for s in latest_standards(session=session)]
        rows = session.exec(select(StandardAcknowledgement, Standard.key, Standard.version)
                            .join(Standard, Standard.id == StandardAcknowledgement.standard_id)
                            .where(StandardAcknowledgement.site_id.in_(ids), Standard.id.in_(current)))
        for ack, key, version in rows:
            facts[ack.site_id].acks.append(AckFacts(key, version, ack.due_at, ack.acknowledged_at))

    def drift() -> None:
        for state in session.exec(select(SiteConfigState).where(SiteConfigState.site_id.in_(ids))):
            facts[state.site_id].drift = DriftFacts(state.drift_since, list(state.drifted_keys or []),
                                                    state.desired_hash, state.applied_hash)

    def revenue() -> None:
        since = str(date(ctx.today.year - 1, ctx.today.month, 1))[:7]
        # an estimate HQ made for a missing month is not the partner's report
        for site_id, period in session.exec(select(RevenueReport.site_id, RevenueReport.period).distinct()
                                            .where(RevenueReport.site_id.in_(ids), RevenueReport.period >= since,
                                                   RevenueReport.status != ReportStatus.estimated)):
            facts[site_id].revenue_periods.add(period)

    def scores() -> None:
        published = published_keys(session=session)  # a quarter's card is in force once HQ published it
        published_on = publication_dates(session=session, tz=ctx.timezone)
        rows = session.exec(select(SiteScore).where(SiteScore.site_id.in_(ids))
                            .order_by(SiteScore.computed_at, SiteScore.id))
        in_force: set[tuple[int, str]] = set()
        for s in rows:  # newest computation of each period wins, a published card over an unpublished one
            card, key = card_in_force(s, published), (s.site_id, s.period)
            if s.card is not None and card is None and key in in_force:
                continue  # an unpublished newer card does not replace the one published
            if card is not None:
                in_force.add(key)
            facts[s.site_id].scores[s.period] = ScoreFacts(s.period, s.status, s.score, card, s.coverage or 0.0,
                                                           s.indicators or {}, s.computed_at,
                                                           published_on.get((s.period, s.model_id, s.model_version)))

    def critical_flags() -> None:
        zone = ZoneInfo(ctx.timezone)
        for site_id, rule, subject, opened, resolved in session.exec(
                select(Flag.site_id, Flag.rule, Flag.subject, Flag.opened_at, Flag.resolved_at)
                .where(Flag.site_id.in_(ids), Flag.severity == Severity.critical, Flag.opened_at.is_not(None))):
            facts[site_id].critical_flags.append(CriticalFlag(
                f"{rule} {subject}".strip(), opened.astimezone(zone).date(),
                resolved.astimezone(zone).date() if resolved else None))

    def plausibility() -> None:  # issue 11: the verdict on each month's report in force
        from brand_hub.billing.plausibility import verdicts_in_force

        since = str(date(ctx.today.year - 1, ctx.today.month, 1))[:7]
        for site_id, period, verdict, why in verdicts_in_force(session=session, site_ids=ids, since=since):
            facts[site_id].revenue_verdicts[period] = verdict
            if verdict == "implausible":
                facts[site_id].revenue_doubts[period] = why

    for name, load in (("collection_target", targets), ("reading_bucket", readings), ("nps_response", nps),
                       ("ops_event", events), ("standard_ack", acks), ("site_config_state", drift),
                       ("revenue_report", revenue), ("site_score", scores),
                       ("revenue_assessment", plausibility), ("flag", critical_flags)):
        _guarded(session, errors, name, load)

    partners = _partners(session=session, ctx=ctx, sites=list(facts.values()), errors=errors)
    return list(facts.values()), partners


def _partners(*, session: Session, ctx: Context, sites: list[SiteFacts], errors: list[dict]) -> list[PartnerFacts]:
    by_partner = tenure.judged_sites(session=session, sites=sites)  # issue 17: each partner on its own periods
    codes = dict(session.exec(select(Franchisee.id, Franchisee.code).where(Franchisee.id.in_(list(by_partner)))).all())
    partners = {fid: PartnerFacts(fid, codes.get(fid, str(fid)), sites=members) for fid, members in by_partner.items()}

    def invoices() -> None:
        for inv in session.exec(select(Invoice).where(Invoice.franchisee_id.in_(list(partners)),
                                                      Invoice.number.is_not(None))):
            partners[inv.franchisee_id].invoices.append(InvoiceFacts(
                inv.number or "", inv.period, inv.due_date, str(inv.balance), inv.is_overdue(ctx.today)))

    _guarded(session, errors, "invoice", invoices)
    return list(partners.values())
