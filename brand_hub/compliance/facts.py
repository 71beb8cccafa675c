"""Gather the facts the probes read, from every area's tables, a few queries per run.

Each source is read in its own savepoint: a source that fails (a table another area
has not migrated yet, a bad row) is reported as an error and leaves the facts of
that source empty, so the rules reading the other sources still run.
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, false, func, or_, true
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from scoring.hours import WEEKDAYS, is_open

from brand_hub import tenure
from brand_hub.models import Franchisee, Site, SiteStatus
from brand_hub.models.billing import Invoice, ReportStatus, RevenueReport
from brand_hub.models.collection import CollectionTarget, NpsResponse, OpsEvent, ReadingBucket
from brand_hub.models.scoring import SiteScore
from brand_hub.scores import card_in_force, publication_dates, published_keys
from brand_hub.models.compliance import Flag, Severity
from scoring.strikes import CriticalFlag
from brand_hub.models.standards import SiteConfigState, Standard, StandardAcknowledgement

from .rules import (AckFacts, Context, DriftFacts, InvoiceFacts, MetricSummary, PartnerFacts, ScoreFacts, SiteFacts,
                    TargetFacts, WINDOW_DAYS, summary_key)

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
           metrics: dict[str, int] | None = None, metric_rules: list[dict] | None = None,
           errors: list[dict]) -> tuple[list[SiteFacts], list[PartnerFacts]]:
    """The facts of every evaluated site (or those named) and of their partners.

    ``metrics``: the sensor metrics whose readings the probes read one by one, each with the longest
    window (days) it needs. ``metric_rules``: the standards' metric rules whose measure an aggregate
    answers (``rules.SUMMARISED``): the database aggregates their readings for all the sites at once
    (``summarise``) and no reading reaches Python.
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

    def summaries() -> None:
        if metric_rules:
            with _without_jit(session):
                summarise(session=session, ctx=ctx, sites=sites, facts=facts, rules=metric_rules)

    for name, load in (("collection_target", targets), ("reading_bucket", readings),
                       ("reading_bucket_summary", summaries), ("nps_response", nps),
                       ("ops_event", events), ("standard_ack", acks), ("site_config_state", drift),
                       ("revenue_report", revenue), ("site_score", scores),
                       ("revenue_assessment", plausibility), ("flag", critical_flags)):
        _guarded(session, errors, name, load)

    partners = _partners(session=session, ctx=ctx, sites=list(facts.values()), errors=errors)
    return list(facts.values()), partners


_MIDPOINT = 450  # seconds: ``is_open`` judges a 15-minute bucket by its midpoint, 7½ minutes after its start
_SCAN = 900      # seconds between the probes that look for a change of the zone's UTC offset


@contextmanager
def _without_jit(session: Session) -> Iterator[None]:
    """PostgreSQL's JIT off for the summaries, back to what it was after (this transaction only).

    The aggregations' estimated cost passes ``jit_above_cost``, and compiling their many CASE
    expressions took longer than running them (about 1.3 s of a 1.9 s aggregation of 50 sites'
    month, measured with EXPLAIN ANALYZE): each batch paid it again for every statement.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    before = session.exec(select(func.current_setting("jit"))).one()
    session.exec(select(func.set_config("jit", "off", True)))
    yield  # on an error the caller's savepoint is rolled back, and the setting with it
    session.exec(select(func.set_config("jit", before, True)))


def _clock(text: str) -> int:
    """Minutes after midnight of an opening-hours time ("09:30", "24:00"), as ``scoring.hours`` reads it."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def open_ranges(start: datetime, end: datetime, tz: str, opening_hours: dict) -> list[tuple[datetime, datetime]]:
    """The half-open UTC ranges ``[a, b)`` holding exactly the instants ``t`` of ``[start, end]`` at which
    ``scoring.hours.is_open(t, 15, tz, opening_hours)`` is true (as ``SiteFacts.is_open`` asks), whatever
    the instants the readings start at: on or off the grid, seconds and microseconds included.

    Computed from the calendar, not from the readings (reading every batch's distinct bucket starts
    cost a scan as large as the aggregation). ``is_open`` depends on the local time of the bucket's
    midpoint to the second; between two instants where the zone's offset changes, that local time
    moves with ``t``, so ``is_open`` can only change where the midpoint's local time crosses midnight or
    an opening or closing time, under one of the window's offsets, or where the offset changes. Those
    whole seconds are the cuts; ``is_open`` is constant from one cut to the next and is asked once per
    piece, at its first second.
    """
    zone = ZoneInfo(tz)
    first, last = math.floor(start.timestamp()), math.floor(end.timestamp())

    def at(second: int) -> datetime:
        return datetime.fromtimestamp(second, timezone.utc)

    def offset(second: int) -> int:
        return int(at(second).astimezone(zone).utcoffset().total_seconds())

    cuts = {first}
    low, high = first + _MIDPOINT - 2 * 86400, last + _MIDPOINT + 2 * 86400   # midpoints, with margins
    offsets = {offset(low)}
    probe = low
    while probe < high:
        following = probe + _SCAN
        if offset(following) != offset(probe):   # the first second of the new offset, by bisection
            before, after = probe, following
            while after - before > 1:
                middle = (before + after) // 2
                before, after = (middle, after) if offset(middle) == offset(probe) else (before, middle)
            cuts.add(after - _MIDPOINT)
            offsets.add(offset(after))
        probe = following
    epoch = date(1970, 1, 1)
    day = (at(low) + timedelta(seconds=min(offsets))).date()
    final = (at(high) + timedelta(seconds=max(offsets))).date()
    while day <= final:
        minutes = {0, 1440}
        for opens, closes in opening_hours.get(WEEKDAYS[day.weekday()]) or []:
            minutes |= {_clock(opens), _clock(closes)}
        for minute in minutes:
            local = (day - epoch).days * 86400 + minute * 60
            cuts |= {local - shift - _MIDPOINT for shift in offsets}
        day += timedelta(days=1)
    points = sorted(c for c in cuts if first <= c <= last)
    ranges: list[tuple[datetime, datetime]] = []
    for n, piece in enumerate(points):
        if not is_open(at(piece), 15, tz, opening_hours):
            continue
        upto = points[n + 1] if n + 1 < len(points) else last + 1
        if ranges and ranges[-1][1] == at(piece):
            ranges[-1] = (ranges[-1][0], at(upto))
        else:
            ranges.append((at(piece), at(upto)))
    return ranges


def summarise(*, session: Session, ctx: Context, sites: list[Site], facts: dict[int, SiteFacts],
              rules: list[dict]) -> None:
    """Each metric rule's ``MetricSummary`` for every site, aggregated in the database.

    One GROUP BY (site, metric) per kind of hours and window over all the sites of the batch and all
    the metrics judged under those hours (count, extremes, one within-band count per rule), not one
    per metric: each pass over the batch's readings reads every metric's rows anyway (the key is
    site, time, zone, metric). When a rule reads the median or the 95th percentile, one ranked pass
    per kind of hours returns only the values at those ranks. "Open hours" is decided by
    ``scoring.hours.is_open``, handed to the database as the UTC ranges where it holds
    (``open_ranges``, once per zone and opening hours, not per site); "occupied" is a join with the batch's
    occupied buckets (``_occupied``): the same zone's ``zone_occupied`` bucket above 0.
    """
    rb, occ = ReadingBucket, aliased(ReadingBucket)
    kinds: dict[tuple[str, int], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for rule in rules:
        metric, hours, days = summary_key(rule)[:3]
        kinds[(hours, days)][metric].append(rule)
    by_hours: dict[tuple[str, str], list[Site]] = defaultdict(list)
    for site in sites:
        by_hours[(site.timezone, json.dumps(site.opening_hours or {}, sort_keys=True))].append(site)
    ranges: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    if any(hours != "all" for hours, _ in kinds):
        oldest = ctx.now - timedelta(days=max(days for hours, days in kinds if hours != "all"))
        for key, members in by_hours.items():
            ranges[key] = open_ranges(oldest, ctx.now, members[0].timezone, members[0].opening_hours or {})
    for (hours, days), by_metric in sorted(kinds.items()):
        groups = [(key, members) for key, members in by_hours.items()] if hours != "all" else \
            [(None, list(sites))]
        metrics = sorted(by_metric)
        kind_rules = [(metric, rule) for metric in metrics for rule in by_metric[metric]]
        for key, members in groups:
            ids = [m.id for m in members]
            where = [rb.site_id.in_(ids), rb.metric.in_(metrics), *_within(rb, ctx.now, days, ranges.get(key))]
            if hours == "occupied":
                where += _occupied(rb, occ, ids, ctx.now, days, ranges.get(key))
            bands = [and_(rb.metric == metric, _band(rb.mean, rule)) for metric, rule in kind_rules]
            found = {(site_id, metric): MetricSummary(0) for site_id in ids for metric in metrics}
            stmt = select(rb.site_id, rb.metric, func.count(), func.min(rb.mean), func.max(rb.mean),
                          *[func.sum(case((band, 1), else_=0)) for band in bands]).where(*where) \
                .group_by(rb.site_id, rb.metric)
            withins: dict[tuple[int, str], list[int]] = {}
            for site_id, metric, n, low, high, *within in session.exec(stmt):
                found[(site_id, metric)] = MetricSummary(int(n), 0, float(low), float(high))
                withins[(site_id, metric)] = [int(w or 0) for w in within]
            ranked: dict[tuple[int, str], dict[int, float]] = defaultdict(dict)
            wants_ranks = sorted(m for m in metrics if any(r["measure"] in ("median", "p95") for r in by_metric[m]))
            if wants_ranks:
                rank = func.row_number().over(partition_by=(rb.site_id, rb.metric), order_by=rb.mean).label("rank")
                count = func.count().over(partition_by=(rb.site_id, rb.metric)).label("n")
                inner = select(rb.site_id.label("site_id"), rb.metric.label("metric"), rb.mean.label("mean"), rank,
                               count).where(*where, rb.metric.in_(wants_ranks)).subquery()
                n = inner.c.n
                wanted = or_(inner.c.rank == (n + 1) // 2, inner.c.rank == n // 2 + 1,
                             inner.c.rank == (n * 95 + 99) // 100)   # = max(1, ceil(0.95 n)) in integers
                for site_id, metric, position, mean in session.exec(
                        select(inner.c.site_id, inner.c.metric, inner.c.rank, inner.c.mean).where(wanted)):
                    ranked[(site_id, metric)][int(position)] = float(mean)
            for (site_id, metric), summary in found.items():
                within = withins.get((site_id, metric), [0] * len(kind_rules))
                for (rule_metric, rule), inside in zip(kind_rules, within):
                    if rule_metric == metric:
                        facts[site_id].metric_summaries[summary_key(rule)] = MetricSummary(
                            summary.n, inside, summary.low, summary.high, ranked.get((site_id, metric), {}))


def _within(table, now: datetime, days: int, ranges: list[tuple[datetime, datetime]] | None) -> list:
    """``table``'s buckets of the ``days`` before ``now``, and within ``ranges`` (the open hours) when given."""
    terms = [table.bucket_start >= now - timedelta(days=days), table.bucket_start <= now]
    if ranges is not None:
        terms.append(or_(false(), *[and_(table.bucket_start >= a, table.bucket_start < b) for a, b in ranges]))
    return terms


def _occupied(rb, occ, ids: list[int], now: datetime, days: int,
              ranges: list[tuple[datetime, datetime]] | None) -> list:
    """The readings of ``rb`` whose zone was occupied in their bucket: a join with the occupied buckets of
    the batch (``zone_occupied`` above 0; the key makes it at most one a reading), not with the table.

    The occupied buckets carry the batch's sites and the same constant time bounds as the readings, so
    the planner prunes the months outside the window and reads the batch's rows through the key: joined
    with the whole table (as before), it read every site's occupancy rows of every month for each batch,
    a cost that grew with the network, not with the batch (0.5 s a batch at 100 sites, 1.1 s at 1,000).
    """
    buckets = select(occ.site_id.label("site_id"), occ.zone.label("zone"), occ.bucket_start.label("bucket_start")) \
        .where(occ.site_id.in_(ids), occ.metric == "zone_occupied", occ.mean > 0,
               *_within(occ, now, days, ranges)).subquery("occupied")
    return [buckets.c.site_id == rb.site_id, buckets.c.zone == rb.zone, buckets.c.bucket_start == rb.bucket_start]


def _band(value, rule: dict):
    """``low <= value <= high`` of a share_within rule in SQL (a bound the rule leaves out is no bound)."""
    terms = []
    if rule.get("min") is not None:
        terms.append(value >= rule["min"])
    if rule.get("max") is not None:
        terms.append(value <= rule["max"])
    return and_(true(), *terms)


def _aware(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


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
