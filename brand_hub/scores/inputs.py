"""What the measures need, aggregated in the database.

Readings are grouped by SQL into per-slot rows (one per metric and hour — or
quarter hour where the site's zone is not a whole-hour offset), summed over the
site's zones; Python only sees those few thousand rows per site and quarter and
applies the open-hours and occupancy logic to them. NPS answers and operations
events are counted in SQL too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import BigInteger, Integer, and_, bindparam, case, cast, distinct, func, literal, select, text, union_all
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import aliased
from sqlmodel import Session

from scoring import hours, measures
from scoring.measures import MetricSlot, SiteInputs, Ticket
from scoring.nps import NpsCounts
from standards.scoring_model import ScoringModel

from ..db import is_postgres
from ..models import Site
from ..models.collection import NpsResponse, OpsEvent, ReadingBucket
from ..models.rollups import ReadingHourly
from ..models.types import UTCDateTime

MEMBERSHIP_OPEN = ("membership_started", "membership_renewed")


def _slot_number(session: Session, seconds: int):
    """The bucket's slot index (UTC epoch seconds // slot length), in the database's own dialect.

    Integer arithmetic on purpose: PostgreSQL's EXTRACT gives a numeric, and numeric
    division over every bucket of a quarter costs more than the grouping itself.
    """
    if is_postgres(session):
        return cast(func.extract("epoch", ReadingBucket.bucket_start), BigInteger) // seconds
    return cast(func.strftime("%s", ReadingBucket.bucket_start), Integer) // seconds


def _sum(session: Session, value, order):
    """SUM(value) adding in ``order`` on PostgreSQL: a floating-point sum depends on the order it adds in,
    and PostgreSQL adds in whatever order its plan reads (the rollups add the same way, so a sum read from
    ``reading_hourly`` equals the one from the buckets to the bit). SQLite adds in the order of its index."""
    if is_postgres(session):
        return func.sum(aggregate_order_by(value, order))
    return func.sum(value)


def _reading_minutes(rb):
    """A bucket's reading-minutes in SQL, as ``scoring.measures.reading_minutes`` says: min(count, minutes)."""
    return case((rb.count < rb.bucket_minutes, rb.count), else_=rb.bucket_minutes)


def model_metrics(model: ScoringModel) -> set[str]:
    names = {i.metric for i in model.indicators if i.metric} | set(model.expected_metrics)
    return names | {"zone_occupied", "people_count"}


@dataclass
class Readings:
    """A site's buckets in a period, as the measures read them."""

    slots: dict[datetime, dict[str, MetricSlot]]   # slot start → metric → over all zones
    streams: dict[str, list[datetime]]             # metric → when each zone's stream began
    zones: int                                     # zones that reported anything


def readings(*, session: Session, site_id: int, start: datetime, end: datetime, slot_minutes: int,
             metrics: set[str]) -> Readings:
    """Per-slot aggregates and the streams of one site's buckets in [start, end), in one SQL pass.

    The buckets are grouped per metric, slot and zone once (a hash aggregate, no
    DISTINCT); that small result is grouped again per metric and slot (the slots)
    and per metric and zone (the streams and when each began).
    """
    seconds = slot_minutes * 60
    rb = ReadingBucket
    slot = _slot_number(session, seconds).label("slot")
    per_zone = (select(rb.metric.label("metric"), slot, rb.zone.label("zone"),
                       _sum(session, rb.mean * rb.count, rb.bucket_start).label("total"), func.sum(rb.count).label("n"),
                       func.max(rb.max).label("high"), func.min(rb.min).label("low"),
                       func.count().label("buckets"), func.sum(_reading_minutes(rb)).label("minutes"))
                .where(rb.site_id == site_id, rb.bucket_start >= start, rb.bucket_start < end,
                       rb.metric.in_(metrics), rb.count > 0)
                .group_by(rb.metric, slot, rb.zone)).cte("per_zone")
    z = per_zone.c
    by_slot = select(literal("slot").label("kind"), z.metric, z.slot, literal("").label("zone"),
                     _sum(session, z.total, z.zone), func.sum(z.n), func.max(z.high), func.min(z.low), func.sum(z.buckets),
                     func.count(), func.sum(z.minutes)).group_by(z.metric, z.slot)
    by_stream = select(literal("stream"), z.metric, func.min(z.slot), z.zone, literal(0.0), literal(0),
                       literal(0.0), literal(0.0), literal(0), literal(0), literal(0.0)).group_by(z.metric, z.zone)
    slots: dict[datetime, dict[str, MetricSlot]] = {}
    firsts: dict[tuple[str, str], datetime] = {}
    for kind, metric, number, zone, total, n, high, low, buckets, zones, minutes in sorted(session.execute(
            union_all(by_slot, by_stream)).all(), key=_in_time_order):
        begins = datetime.fromtimestamp(int(number) * seconds, tz=timezone.utc)
        if kind == "slot":
            slots.setdefault(begins, {})[metric] = MetricSlot(float(total), int(n), float(high), float(low),
                                                              int(buckets), int(zones), float(minutes))
        else:
            firsts[(metric, zone)] = max(begins, start)
    streams: dict[str, list[datetime]] = {}
    for (metric, zone), first in sorted(firsts.items()):
        if first > start and _reported_before(session=session, site_id=site_id, zone=zone, metric=metric, at=start):
            first = start  # it reported before the period: expected from the period's start
        streams.setdefault(metric, []).append(first)
    return Readings(slots=slots, streams=streams, zones=len({zone for _, zone in firsts}))


def _in_time_order(row) -> tuple:
    """Rows (kind, metric, slot, zone, …) by kind, slot, metric, zone: the slots are added in time order, so
    sums over them in Python add in one order whatever order the database answered in."""
    return row[0], row[2], row[1], row[3]


def _site_in_time_order(row) -> tuple:
    """The same order for the rows of a batch (kind, site, metric, slot, zone, …)."""
    return row[0], row[1], row[3], row[2], row[4]


def _reported_before(*, session: Session, site_id: int, zone: str, metric: str, at: datetime) -> bool:
    rb = ReadingBucket
    return session.execute(select(literal(1)).where(rb.site_id == site_id, rb.zone == zone, rb.metric == metric,
                                                    rb.bucket_start < at, rb.count > 0).limit(1)).first() is not None


def nps_counts(*, session: Session, start: datetime, end: datetime, site_id: int | None = None) -> NpsCounts:
    """Answers, promoters and detractors of one site (or the whole network) in [start, end)."""
    r = NpsResponse
    stmt = select(func.count(), func.sum(case((r.score >= 9, 1), else_=0)), func.sum(case((r.score <= 6, 1), else_=0))
                  ).where(r.answered_at >= start, r.answered_at < end)
    if site_id is not None:
        stmt = stmt.where(r.site_id == site_id)
    n, promoters, detractors = session.execute(stmt).one()
    return NpsCounts(int(n or 0), int(promoters or 0), int(detractors or 0))


def tickets(*, session: Session, site_id: int, start: datetime, end: datetime) -> list[Ticket]:
    """Tickets opened in the period, each with its first response (if any, up to the period end)."""
    opened, reply = aliased(OpsEvent), aliased(OpsEvent)
    stmt = (select(opened.ref, opened.occurred_at, func.min(reply.occurred_at))
            .outerjoin(reply, and_(reply.site_id == opened.site_id, reply.ref == opened.ref,
                                   reply.kind == "ticket_first_response", reply.occurred_at < end))
            .where(opened.site_id == site_id, opened.kind == "ticket_opened",
                   opened.occurred_at >= start, opened.occurred_at < end)
            .group_by(opened.ref, opened.occurred_at))
    out = []
    for _ref, at, first in session.execute(stmt):
        out.append(Ticket(_aware(at), _aware(first) if first is not None else None))
    return out


def _aware(value):
    """MIN() over a UTCDateTime column comes back as text or naive on SQLite: make it aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def ops_counts(*, session: Session, site_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """Members, community events and attendance, renewals and endings of the period."""
    e = OpsEvent
    in_period = and_(e.site_id == site_id, e.occurred_at >= start, e.occurred_at < end)
    events, attendance = session.execute(
        select(func.count(distinct(e.ref)), func.coalesce(func.sum(e.quantity), 0))
        .where(in_period, e.kind == "community_event")).one()
    renewals, endings = session.execute(
        select(func.sum(case((e.kind == "membership_renewed", 1), else_=0)),
               func.sum(case((e.kind == "membership_ended", 1), else_=0)))
        .where(in_period, e.kind.in_(("membership_renewed", "membership_ended")))).one()
    ended_before = select(e.ref).where(e.site_id == site_id, e.kind == "membership_ended", e.occurred_at < start)
    members = session.execute(
        select(func.count(distinct(e.ref)))
        .where(e.site_id == site_id, e.kind.in_(MEMBERSHIP_OPEN), e.occurred_at < end,
               e.ref.not_in(ended_before))).scalar_one()
    return {"events": int(events or 0), "attendance": int(attendance or 0), "members": int(members or 0),
            "renewals": int(renewals or 0), "endings": int(endings or 0)}


def site_inputs(*, session: Session, site: Site, start: datetime, end: datetime, model: ScoringModel,
                network_nps: float | None) -> SiteInputs:
    """Everything the measures need for ``site`` over [start, end)."""
    minutes = hours.slot_minutes_for(site.timezone, start, end)
    found = readings(session=session, site_id=site.id, start=start, end=end, slot_minutes=minutes,
                     metrics=model_metrics(model))
    return SiteInputs(
        timezone=site.timezone, opening_hours=site.opening_hours or {}, start=start, end=end, slot_minutes=minutes,
        slots=found.slots, zones=found.zones, streams=found.streams,
        desks=site.desks or 0, area_m2=float(site.area_m2 or 0),
        nps=nps_counts(session=session, site_id=site.id, start=start, end=end), network_nps=network_nps,
        tickets=tickets(session=session, site_id=site.id, start=start, end=end),
        **ops_counts(session=session, site_id=site.id, start=start, end=end))


# ------------------------------------------------------------------ set-based: every site of a batch at once
#
# ``site_inputs`` above reads one site (it stays as the reference the tests compare with). The
# functions below read a whole batch of sites that share one window (the sites of one time zone)
# in one statement per kind of input, and read the coarsest rows that answer exactly: a site
# scored on hourly slots reads the hourly rollup (``reading_hourly`` holds, per site, hour, zone
# and metric, what the per-zone grouping of ``readings`` computes from the buckets), a site on
# 15-minute slots (a zone that is not a whole-hour offset) reads the buckets.

def _epoch_slot(session: Session, column, seconds: int):
    """``column``'s slot index (UTC epoch seconds // ``seconds``), in the database's own dialect."""
    if is_postgres(session):
        return cast(func.extract("epoch", column), BigInteger) // seconds
    return cast(func.strftime("%s", column), Integer) // seconds


def _hour_floor(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _reads_hours(start: datetime, end: datetime, slot_minutes: int) -> datetime | None:
    """Where the hourly rollup stops answering for a window: the last whole hour before ``end``
    (None: the window is read from the buckets)."""
    if slot_minutes != 60 or start != _hour_floor(start):
        return None
    return max(start, _hour_floor(end))


def batch_readings(*, session: Session, site_ids: list[int], start: datetime, end: datetime, slot_minutes: int,
                   metrics: set[str]) -> dict[int, Readings]:
    """``readings`` for every site of ``site_ids`` over the same window, in one SQL pass.

    Hourly slots read ``reading_hourly`` up to the last whole hour of the window and the
    buckets of the hour ``end`` cuts (the running month scored "up to now"); 15-minute
    slots read the buckets, grouped as ``readings`` groups them.
    """
    seconds = slot_minutes * 60
    rb, rh = ReadingBucket, ReadingHourly
    hours_until = _reads_hours(start, end, slot_minutes)
    parts = []
    bucket_from = start if hours_until is None else hours_until
    if hours_until is not None and hours_until > start:
        parts.append(select(rh.site_id.label("site_id"), rh.metric.label("metric"),
                            _epoch_slot(session, rh.hour_start, seconds).label("slot"), rh.zone.label("zone"),
                            rh.total.label("total"), rh.n.label("n"), rh.high.label("high"), rh.low.label("low"),
                            rh.buckets.label("buckets"), rh.minutes.label("minutes"))
                     .where(rh.site_id.in_(site_ids), rh.hour_start >= start, rh.hour_start < hours_until,
                            rh.metric.in_(metrics)))
    if bucket_from < end:
        slot = _epoch_slot(session, rb.bucket_start, seconds)
        parts.append(select(rb.site_id.label("site_id"), rb.metric.label("metric"), slot.label("slot"),
                            rb.zone.label("zone"), _sum(session, rb.mean * rb.count, rb.bucket_start).label("total"),
                            func.sum(rb.count).label("n"), func.max(rb.max).label("high"),
                            func.min(rb.min).label("low"), func.count().label("buckets"),
                            func.sum(_reading_minutes(rb)).label("minutes"))
                     .where(rb.site_id.in_(site_ids), rb.bucket_start >= bucket_from, rb.bucket_start < end,
                            rb.metric.in_(metrics), rb.count > 0)
                     .group_by(rb.site_id, rb.metric, slot, rb.zone))
    found = {site_id: Readings(slots={}, streams={}, zones=0) for site_id in site_ids}
    if not parts or not site_ids:
        return found
    per_zone = (parts[0] if len(parts) == 1 else union_all(*parts)).cte("per_zone")
    z = per_zone.c
    by_slot = select(literal("slot").label("kind"), z.site_id, z.metric, z.slot, literal("").label("zone"),
                     _sum(session, z.total, z.zone), func.sum(z.n), func.max(z.high), func.min(z.low), func.sum(z.buckets),
                     func.count(), func.sum(z.minutes)).group_by(z.site_id, z.metric, z.slot)
    by_stream = select(literal("stream"), z.site_id, z.metric, func.min(z.slot), z.zone, literal(0.0), literal(0),
                       literal(0.0), literal(0.0), literal(0), literal(0), literal(0.0)
                       ).group_by(z.site_id, z.metric, z.zone)
    firsts: dict[int, dict[tuple[str, str], datetime]] = {site_id: {} for site_id in site_ids}
    for kind, site_id, metric, number, zone, total, n, high, low, buckets, zones, minutes in sorted(
            session.execute(union_all(by_slot, by_stream)).all(), key=_site_in_time_order):
        begins = datetime.fromtimestamp(int(number) * seconds, tz=timezone.utc)
        if kind == "slot":
            found[site_id].slots.setdefault(begins, {})[metric] = MetricSlot(
                float(total), int(n), float(high), float(low), int(buckets), int(zones), float(minutes))
        else:
            firsts[site_id][(metric, zone)] = max(begins, start)
    for site_id, site_firsts in firsts.items():
        streams: dict[str, list[datetime]] = {}
        for (metric, zone), first in sorted(site_firsts.items()):
            if first > start and _reported_before_batch(session=session, site_id=site_id, zone=zone, metric=metric,
                                                        at=start, hourly=hours_until is not None):
                first = start  # it reported before the period: expected from the period's start
            streams.setdefault(metric, []).append(first)
        found[site_id].streams = streams
        found[site_id].zones = len({zone for _, zone in site_firsts})
    return found


def _reported_before_batch(*, session: Session, site_id: int, zone: str, metric: str, at: datetime,
                           hourly: bool) -> bool:
    """Whether a stream reported before ``at`` (a whole hour when ``hourly``: an hour of the rollup
    before it exists exactly when a bucket before it held readings)."""
    if not hourly:
        return _reported_before(session=session, site_id=site_id, zone=zone, metric=metric, at=at)
    rh = ReadingHourly
    return session.execute(select(literal(1)).where(rh.site_id == site_id, rh.zone == zone, rh.metric == metric,
                                                    rh.hour_start < at).limit(1)).first() is not None


def batch_nps(*, session: Session, site_ids: list[int], start: datetime, end: datetime) -> dict[int, NpsCounts]:
    """``nps_counts`` of every site of ``site_ids`` in [start, end), one GROUP BY."""
    r = NpsResponse
    out = {site_id: NpsCounts(0, 0, 0) for site_id in site_ids}
    for site_id, n, promoters, detractors in session.execute(
            select(r.site_id, func.count(), func.sum(case((r.score >= 9, 1), else_=0)),
                   func.sum(case((r.score <= 6, 1), else_=0)))
            .where(r.site_id.in_(site_ids), r.answered_at >= start, r.answered_at < end).group_by(r.site_id)):
        out[site_id] = NpsCounts(int(n or 0), int(promoters or 0), int(detractors or 0))
    return out


def batch_tickets(*, session: Session, site_ids: list[int], start: datetime, end: datetime) -> dict[int, list[Ticket]]:
    """``tickets`` of every site of ``site_ids``, one statement."""
    opened, reply = aliased(OpsEvent), aliased(OpsEvent)
    stmt = (select(opened.site_id, opened.ref, opened.occurred_at, func.min(reply.occurred_at))
            .outerjoin(reply, and_(reply.site_id == opened.site_id, reply.ref == opened.ref,
                                   reply.kind == "ticket_first_response", reply.occurred_at < end))
            .where(opened.site_id.in_(site_ids), opened.kind == "ticket_opened",
                   opened.occurred_at >= start, opened.occurred_at < end)
            .group_by(opened.site_id, opened.ref, opened.occurred_at))
    out: dict[int, list[Ticket]] = {site_id: [] for site_id in site_ids}
    for site_id, _ref, at, first in session.execute(stmt):
        out[site_id].append(Ticket(_aware(at), _aware(first) if first is not None else None))
    return out


def batch_ops_counts(*, session: Session, site_ids: list[int], start: datetime,
                     end: datetime) -> dict[int, dict[str, int]]:
    """``ops_counts`` of every site of ``site_ids``, three GROUP BYs."""
    e = OpsEvent
    out = {site_id: {"events": 0, "attendance": 0, "members": 0, "renewals": 0, "endings": 0} for site_id in site_ids}
    in_period = and_(e.site_id.in_(site_ids), e.occurred_at >= start, e.occurred_at < end)
    for site_id, events, attendance in session.execute(
            select(e.site_id, func.count(distinct(e.ref)), func.coalesce(func.sum(e.quantity), 0))
            .where(in_period, e.kind == "community_event").group_by(e.site_id)):
        out[site_id].update(events=int(events or 0), attendance=int(attendance or 0))
    for site_id, renewals, endings in session.execute(
            select(e.site_id, func.sum(case((e.kind == "membership_renewed", 1), else_=0)),
                   func.sum(case((e.kind == "membership_ended", 1), else_=0)))
            .where(in_period, e.kind.in_(("membership_renewed", "membership_ended"))).group_by(e.site_id)):
        out[site_id].update(renewals=int(renewals or 0), endings=int(endings or 0))
    ended = aliased(OpsEvent)
    ended_before = select(literal(1)).where(ended.site_id == e.site_id, ended.ref == e.ref,
                                            ended.kind == "membership_ended", ended.occurred_at < start)
    for site_id, members in session.execute(
            select(e.site_id, func.count(distinct(e.ref)))
            .where(e.site_id.in_(site_ids), e.kind.in_(MEMBERSHIP_OPEN), e.occurred_at < end,
                   ~ended_before.exists()).group_by(e.site_id)):
        out[site_id]["members"] = int(members or 0)
    return out


def batch_inputs(*, session: Session, sites: list[Site], start: datetime, end: datetime, model: ScoringModel,
                 network_nps: float | None) -> dict[int, SiteInputs]:
    """``site_inputs`` of every site of ``sites`` (all in one window: their zone's period bounds), set-based.

    The sites must share their slot length too (``hours.slot_minutes_for`` of their zone):
    the caller groups them by zone.
    """
    if not sites:
        return {}
    minutes = hours.slot_minutes_for(sites[0].timezone, start, end)
    ids = [site.id for site in sites]
    found = batch_readings(session=session, site_ids=ids, start=start, end=end, slot_minutes=minutes,
                           metrics=model_metrics(model))
    answers = batch_nps(session=session, site_ids=ids, start=start, end=end)
    opened = batch_tickets(session=session, site_ids=ids, start=start, end=end)
    counts = batch_ops_counts(session=session, site_ids=ids, start=start, end=end)
    return {site.id: SiteInputs(
        timezone=site.timezone, opening_hours=site.opening_hours or {}, start=start, end=end, slot_minutes=minutes,
        slots=found[site.id].slots, zones=found[site.id].zones, streams=found[site.id].streams,
        desks=site.desks or 0, area_m2=float(site.area_m2 or 0), nps=answers[site.id], network_nps=network_nps,
        tickets=opened[site.id], **counts[site.id]) for site in sites}


# ------------------------------------------------------------------ set-based totals: the slots counted in SQL
#
# ``batch_inputs`` sends every slot of every site to Python (a quarter of hourly slots is about 17,000
# aggregates a site) for the measures to count. On PostgreSQL, where the slots are hours, the counting
# itself runs in the database: one statement per batch groups the rollup per site and hour (each metric
# a column, its zones summed in zone order as ``batch_readings`` sums them), marks each hour open or
# closed from the site's open hours (computed in Python by ``scoring.hours``, sent as one byte per
# slot), and returns per site the counts and sums ``scoring.measures.ReadingTotals`` holds. The pure
# measures still decide (coverage, minimum data, thresholds' ratio) on those totals; a sum over slots
# is an ordered aggregate in time order, as the Python loop adds.

def totals_apply(session: Session, start: datetime, end: datetime, slot_minutes: int) -> bool:
    """Whether ``batch_totals`` can read this window (PostgreSQL, hourly slots on whole UTC hours)."""
    return is_postgres(session) and _reads_hours(start, end, slot_minutes) is not None


def _open_mask(start: datetime, end: datetime, tz: str, opening_hours: dict) -> bytes:
    """One byte per hourly slot of [start, end): 1 where ``scoring.hours`` says the slot is open."""
    open_ = set(hours.open_slots(start, end, 60, tz, opening_hours))
    return bytes(1 if slot in open_ else 0 for slot in hours.grid(start, end, 60))


def _totals_sql(model: ScoringModel, metrics: list[str], hourly: bool, tail: bool) -> tuple[str, dict]:
    """The statement counting a batch's slots for ``model`` and its parameters (besides the batch's own)."""
    params: dict = {}
    slot_cols, site_cols = [], []

    def p(name: str, value) -> str:
        params[name] = value
        return f":{name}"

    names = {metric: f"m{n}" for n, metric in enumerate(metrics)}
    summed = {i.metric for i in model.indicators if i.measure in measures.SLOT_MEASURES and i.metric}
    counted_means = {i.metric for i in model.indicators if i.measure in ("share_within", "desk_utilisation")}
    for metric in metrics:
        col, where = names[metric], f"metric = {p('name_' + names[metric], metric)}"
        slot_cols.append(f"count(*) FILTER (WHERE {where}) AS {col}_z")
        if metric in summed:
            slot_cols.append(f"sum(total) FILTER (WHERE {where}) AS {col}_t")   # in zone order: see ``source``
        if metric in counted_means:
            slot_cols.append(f"sum(n) FILTER (WHERE {where}) AS {col}_n")
        if metric in measures.OCCUPANCY_METRICS:
            slot_cols.append(f"max(high) FILTER (WHERE {where}) AS {col}_h")
    counted = list(model.expected_metrics or metrics)
    if set(metrics) <= set(counted):   # every row read is of a counted metric: no filter to test on each
        slot_cols.append("sum(minutes) AS minutes")
    else:
        slot_cols.append(f"sum(minutes) FILTER (WHERE metric = ANY(CAST({p('counted', counted)} AS text[]))) "
                         f"AS minutes")
    occupancy = [names[m] for m in measures.OCCUPANCY_METRICS if m in names]
    occupied = "(" + " OR ".join([" AND ".join(f"{c}_z = 0" for c in occupancy) or "TRUE"]
                                 + [f"coalesce({c}_h > 0, FALSE)" for c in occupancy]) + ")"
    for n, indicator in enumerate(model.indicators):
        if indicator.measure not in measures.SLOT_MEASURES or indicator.metric not in names:
            continue
        col = names[indicator.metric]
        has = f"{col}_z > 0"
        mean = f"({col}_t / CAST({col}_n AS float8))"
        if indicator.measure == "share_within":
            low, high = indicator.thresholds.get("min"), indicator.thresholds.get("max")
            eligible = f"is_open AND {has}" + (f" AND {occupied}" if indicator.hours == "occupied_open" else "")
            band = [f"{mean} >= CAST({p(f'low{n}', float(low))} AS float8)"] if low is not None else []
            band += [f"{mean} <= CAST({p(f'high{n}', float(high))} AS float8)"] if high is not None else []
            site_cols += [f"count(*) FILTER (WHERE is_open AND {has})",
                          f"count(*) FILTER (WHERE {eligible})",
                          f"count(*) FILTER (WHERE {' AND '.join([eligible] + band)})", "NULL", "0"]
        elif indicator.measure == "desk_utilisation":
            share = f"least(CAST(1 AS float8), {mean} * CAST({col}_z AS float8) / CAST(desks AS float8))"
            with_share = f"is_open AND {has} AND desks > 0"
            site_cols += [f"count(*) FILTER (WHERE {with_share})", "0", "0",
                          f"sum({share} ORDER BY at) FILTER (WHERE {with_share})", "0"]
        else:   # energy_intensity: every slot, open or not
            site_cols += ["0", "0", "0", f"sum({col}_t ORDER BY at) FILTER (WHERE {has})",
                          f"count(*) FILTER (WHERE {has})"]
    parts = []
    if hourly:
        parts.append("SELECT site_id, hour_start AS at, zone, metric, total, n, high, minutes FROM reading_hourly "
                     "WHERE site_id = ANY(CAST(:sites AS int[])) AND hour_start >= :start AND hour_start < :until "
                     "AND metric = ANY(CAST(:metrics AS text[]))")
    if tail:   # the hour ``end`` cuts (the running month "up to now"): from its buckets, per zone
        parts.append(f"SELECT site_id, date_trunc('hour', bucket_start, 'UTC'), zone, metric, "
                     f"sum(mean * count ORDER BY bucket_start), sum(count), max(max), "
                     f"sum(CASE WHEN count < bucket_minutes THEN count ELSE bucket_minutes END) FROM reading_bucket "
                     f"WHERE site_id = ANY(CAST(:sites AS int[])) AND bucket_start >= :until AND bucket_start < :end "
                     f"AND metric = ANY(CAST(:metrics AS text[])) AND count > 0 "
                     f"GROUP BY site_id, date_trunc('hour', bucket_start, 'UTC'), zone, metric")
    # Each slot's zones are summed in zone order, as ``batch_readings`` sums them (a float sum depends on the
    # order it adds in): the rows come from a subquery ordered by (site, hour, zone) and the grouping above
    # adds them in that order. PostgreSQL never flattens a subquery with an ORDER BY, and a GROUP BY, sorted
    # or hashed, advances each group in the order its input arrives; parallel plans are off for the
    # statement (``_TOTALS_SETTINGS``), so no partial sums are combined out of order. (Cheaper than
    # ``sum(total ORDER BY zone)``, which sorts every slot's few rows once per aggregate: about a third of
    # the statement's CPU on PostgreSQL 15.)
    source = (f"{parts[0]} ORDER BY site_id, at, zone" if len(parts) == 1 else
              f"SELECT * FROM ({' UNION ALL '.join(parts)}) u ORDER BY site_id, at, zone")
    sql = (f"WITH s AS MATERIALIZED (SELECT * FROM unnest(CAST(:sites AS int[]), CAST(:desks AS int[]), "
           f"CAST(:masks AS bytea[])) AS s(site_id, desks, mask)), "
           f"slot AS (SELECT site_id, at, {', '.join(slot_cols)} FROM ({source}) z GROUP BY site_id, at), "
           f"marked AS (SELECT slot.*, s.desks, get_byte(s.mask, CAST((CAST(extract(epoch FROM at) AS bigint) "
           f"- :first) / 3600 AS int)) = 1 AS is_open FROM slot JOIN s ON s.site_id = slot.site_id) "
           f"SELECT site_id, sum(minutes){''.join(', ' + c for c in site_cols)} FROM marked GROUP BY site_id")
    return sql, params


def _timed_text(sql: str):
    """``text(sql)`` with its time parameters typed (aware UTC on every dialect)."""
    times = [k for k in ("start", "until", "end", "day_from") if f":{k} " in sql + " " or f":{k})" in sql]
    return text(sql).bindparams(*(bindparam(k, type_=UTCDateTime) for k in times))


# The planner settings of the counting statement, for it alone. Parallel plans off: partial sums combined
# across workers would add a slot's zones out of order. Sequential and bitmap scans off: the rows are wanted
# in key order (site, hour, zone), which the primary key of each monthly partition gives as it is read (a
# Merge Append of index scans, no sort). On rows stored in time order, as the rollups write them (a site's
# rows of an hour on their own page), the planner rates the key's order as random and instead sorts the
# batch's ~900,000 rows after a bitmap scan (spilling to disk with the default work_mem: a third more
# backend CPU), or, with only bitmap scans off, reads the whole partitions of a 1,000-site network for
# each batch (447,000 pages instead of 72,000, growing with the network): bench/bench_score.py, 2026-12-03.
_TOTALS_SETTINGS = {"max_parallel_workers_per_gather": "0", "enable_bitmapscan": "off", "enable_seqscan": "off"}


def _with_settings(session: Session, stmt, params: dict) -> list:
    """``stmt``'s rows, fetched with ``_TOTALS_SETTINGS`` (``SET LOCAL``, then the values before back)."""
    names = list(_TOTALS_SETTINGS)
    before = session.execute(text("SELECT " + ", ".join(f"current_setting('{name}')" for name in names))).one()
    for name, value in _TOTALS_SETTINGS.items():
        session.execute(text(f"SET LOCAL {name} = '{value}'"))
    rows = session.execute(stmt, params).all()
    session.execute(text("SELECT " + ", ".join(f"set_config('{name}', :v{n}, true)" for n, name in enumerate(names))),
                    {f"v{n}": value for n, value in enumerate(before)})
    return rows


def batch_totals(*, session: Session, sites: list[Site], start: datetime, end: datetime, model: ScoringModel,
                 network_nps: float | None) -> dict[int, SiteInputs]:
    """``batch_inputs`` with the slots already counted (``SiteInputs.totals``, ``slots`` left empty), for
    a window ``totals_apply`` accepts: the same measures, to the bit, from a few numbers per site."""
    if not sites:
        return {}
    until = _reads_hours(start, end, 60)
    assert until is not None and is_postgres(session), "batch_totals reads hourly windows on PostgreSQL"
    ids = [site.id for site in sites]
    metrics = sorted(model_metrics(model))
    masks: dict[tuple[str, str], bytes] = {}
    for site in sites:
        key = (site.timezone, json.dumps(site.opening_hours or {}, sort_keys=True))
        if key not in masks:
            masks[key] = _open_mask(start, end, site.timezone, site.opening_hours or {})
    sql, params = _totals_sql(model, metrics, until > start, until < end)
    params |= {"sites": ids, "desks": [site.desks or 0 for site in sites],
               "masks": [masks[(site.timezone, json.dumps(site.opening_hours or {}, sort_keys=True))]
                         for site in sites],
               "metrics": metrics, "start": start, "until": until, "end": end, "first": int(start.timestamp())}
    stmt = _timed_text(sql)
    counted: dict[int, measures.ReadingTotals] = {}
    slot_ids = [i.id for i in model.indicators if i.measure in measures.SLOT_MEASURES and i.metric in metrics]
    for row in _with_settings(session, stmt, params):
        found = {}
        for n, indicator_id in enumerate(slot_ids):
            with_data, eligible, within, total, observed = row[2 + 5 * n: 7 + 5 * n]
            found[indicator_id] = measures.SlotTotals(
                with_data=int(with_data), eligible=int(eligible), within=int(within),
                total=0 if total is None else 0 + float(total), observed=int(observed))
        counted[row[0]] = measures.ReadingTotals(found, 0 if row[1] is None else float(row[1]))
    empty = measures.ReadingTotals({i: measures.SlotTotals() for i in slot_ids}, 0)
    streams = batch_streams(session=session, site_ids=ids, start=start, until=until, end=end, metrics=metrics)
    answers = batch_nps(session=session, site_ids=ids, start=start, end=end)
    opened = batch_tickets(session=session, site_ids=ids, start=start, end=end)
    ops = batch_ops_counts(session=session, site_ids=ids, start=start, end=end)
    return {site.id: SiteInputs(
        timezone=site.timezone, opening_hours=site.opening_hours or {}, start=start, end=end, slot_minutes=60,
        totals=counted.get(site.id, empty), zones=streams[site.id].zones, streams=streams[site.id].streams,
        desks=site.desks or 0, area_m2=float(site.area_m2 or 0), nps=answers[site.id], network_nps=network_nps,
        tickets=opened[site.id], **ops[site.id]) for site in sites}


def batch_streams(*, session: Session, site_ids: list[int], start: datetime, until: datetime, end: datetime,
                  metrics: list[str]) -> dict[int, Readings]:
    """Each site's streams (when each zone's metric began in the window) and zones, as ``batch_readings``
    finds them, without grouping every hour: the daily rollup names the streams of the window's days, and
    each stream's first hour is one probe of the hourly key (the buckets of the hour ``end`` cuts, if any,
    are grouped as they are)."""
    parts = []
    if until > start:
        parts.append("SELECT c.site_id, c.metric, c.zone, f.first FROM (SELECT DISTINCT site_id, metric, zone "
                     "FROM reading_daily WHERE site_id = ANY(CAST(:sites AS int[])) AND day_start >= :day_from "
                     "AND day_start < :until AND metric = ANY(CAST(:metrics AS text[]))) c CROSS JOIN LATERAL "
                     "(SELECT min(h.hour_start) AS first FROM reading_hourly h WHERE h.site_id = c.site_id "
                     "AND h.hour_start >= :start AND h.hour_start < :until AND h.zone = c.zone "
                     "AND h.metric = c.metric) f WHERE f.first IS NOT NULL")
    if until < end:
        parts.append("SELECT site_id, metric, zone, min(date_trunc('hour', bucket_start, 'UTC')) FROM reading_bucket "
                     "WHERE site_id = ANY(CAST(:sites AS int[])) AND bucket_start >= :until AND bucket_start < :end "
                     "AND metric = ANY(CAST(:metrics AS text[])) AND count > 0 GROUP BY site_id, metric, zone")
    stmt = _timed_text(" UNION ALL ".join(parts))
    firsts: dict[int, dict[tuple[str, str], datetime]] = {site_id: {} for site_id in site_ids}
    day_from = start.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    for site_id, metric, zone, first in session.execute(stmt, {"sites": site_ids, "metrics": metrics, "start": start,
                                                                 "until": until, "end": end, "day_from": day_from}):
        first = _aware(first)
        known = firsts[site_id].get((metric, zone))
        firsts[site_id][(metric, zone)] = first if known is None else min(known, first)
    found = {}
    for site_id, site_firsts in firsts.items():
        streams: dict[str, list[datetime]] = {}
        for (metric, zone), first in sorted(site_firsts.items()):
            if first > start and _reported_before_batch(session=session, site_id=site_id, zone=zone, metric=metric,
                                                        at=start, hourly=True):
                first = start  # it reported before the period: expected from the period's start
            streams.setdefault(metric, []).append(first)
        found[site_id] = Readings(slots={}, streams=streams, zones=len({zone for _, zone in site_firsts}))
    return found
