"""What the measures need, aggregated in the database.

Readings are grouped by SQL into per-slot rows (one per metric and hour — or
quarter hour where the site's zone is not a whole-hour offset), summed over the
site's zones; Python only sees those few thousand rows per site and quarter and
applies the open-hours and occupancy logic to them. NPS answers and operations
events are counted in SQL too.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import BigInteger, Integer, and_, case, cast, distinct, func, literal, select, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session

from scoring import hours
from scoring.measures import MetricSlot, SiteInputs, Ticket
from scoring.nps import NpsCounts
from standards.scoring_model import ScoringModel

from ..db import is_postgres
from ..models import Site
from ..models.collection import NpsResponse, OpsEvent, ReadingBucket

MEMBERSHIP_OPEN = ("membership_started", "membership_renewed")


def _slot_number(session: Session, seconds: int):
    """The bucket's slot index (UTC epoch seconds // slot length), in the database's own dialect.

    Integer arithmetic on purpose: PostgreSQL's EXTRACT gives a numeric, and numeric
    division over every bucket of a quarter costs more than the grouping itself.
    """
    if is_postgres(session):
        return cast(func.extract("epoch", ReadingBucket.bucket_start), BigInteger) // seconds
    return cast(func.strftime("%s", ReadingBucket.bucket_start), Integer) // seconds


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
                       func.sum(rb.mean * rb.count).label("total"), func.sum(rb.count).label("n"),
                       func.max(rb.max).label("high"), func.min(rb.min).label("low"),
                       func.count().label("buckets"), func.sum(_reading_minutes(rb)).label("minutes"))
                .where(rb.site_id == site_id, rb.bucket_start >= start, rb.bucket_start < end,
                       rb.metric.in_(metrics), rb.count > 0)
                .group_by(rb.metric, slot, rb.zone)).cte("per_zone")
    z = per_zone.c
    by_slot = select(literal("slot").label("kind"), z.metric, z.slot, literal("").label("zone"),
                     func.sum(z.total), func.sum(z.n), func.max(z.high), func.min(z.low), func.sum(z.buckets),
                     func.count(), func.sum(z.minutes)).group_by(z.metric, z.slot)
    by_stream = select(literal("stream"), z.metric, func.min(z.slot), z.zone, literal(0.0), literal(0),
                       literal(0.0), literal(0.0), literal(0), literal(0), literal(0.0)).group_by(z.metric, z.zone)
    slots: dict[datetime, dict[str, MetricSlot]] = {}
    firsts: dict[tuple[str, str], datetime] = {}
    for kind, metric, number, zone, total, n, high, low, buckets, zones, minutes in session.execute(
            union_all(by_slot, by_stream)):
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


def _reported_before(*, session: Session, site_id: int, zone: str, metric: str, at: datetime) -> bool:
    rb = ReadingBucket
    return session.execute(select(rb.site_id).where(rb.site_id == site_id, rb.zone == zone, rb.metric == metric,
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
