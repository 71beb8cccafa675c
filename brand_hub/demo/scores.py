"""Demo stage: scores. History for the last two quarters, then the scores and cards.

The agents have only a week of data, so this stage writes believable hourly
history (``bucket_minutes=60``) for the two quarters before the running one and
the running quarter up to that week,
with NPS answers and operations events, each site following its own quality
level. Two sites of one partner stay red two quarters in a row (the compliance
stage raises the termination review). Then it scores those quarters and their
months (cards for the quarters, then published), the running quarter's finished
months, and the running month so far.
"""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from scoring import hours
from scoring.periods import Period, period_of

from .. import scores
from ..collection import rollups
from ..db import session_scope
from ..models import Site
from ..models.collection import NpsResponse, OpsEvent, ReadingBucket
from . import DemoContext
from .agents import DAYS as AGENT_DAYS
from .network import DEMO_ACTOR

ZONE = "open-desk"  # the zone every demo agent reports, so history and live data are one stream
# quality 0..1 per site and quarter (older first); unlisted sites draw a good level
QUALITY = {"CD-JJ-01": (0.12, 0.1), "CQ-YZ-01": (0.2, 0.15), "BJ-CY-02": (0.8, 0.3), "GZ-TH-02": (0.55, 0.75)}
CHUNK = 20_000


def run(context: DemoContext) -> None:
    now = context.now
    local_today = now.astimezone(ZoneInfo(context.settings.timezone)).date()
    current = period_of(local_today, quarter=True)
    quarters = [current.previous().previous(), current.previous()]
    model = scores.load_model(settings=context.settings)
    with session_scope(context.engine) as session:
        sites = list(session.exec(select(Site).where(Site.status.in_(scores.SCORED_STATUSES)).order_by(Site.code)))
        written = 0
        # the running quarter up to the week the agents hold, at each site's latest level
        agents_from = (now - timedelta(days=AGENT_DAYS)).replace(minute=0, second=0, microsecond=0)
        for site in sites:
            for n, quarter in enumerate(quarters):
                written += write_history(session=session, site=site, quarter=quarter, quality=_quality(site, n))
            written += write_history(session=session, site=site, quarter=current, quality=_quality(site, 1),
                                     until=agents_from)
        session.commit()
        context.echo(f"demo: scores: {written} hourly buckets of history")
    for quarter in quarters:
        for period in [*quarter.month_periods(), quarter]:
            _score(context, model, period, None)
    running = period_of(local_today)
    for month in current.month_periods():  # the running quarter's finished months
        if month.bounds(context.settings.timezone)[1] <= now:
            _score(context, model, month, None)
    _score(context, model, running, now)
    with session_scope(context.engine) as session:
        for quarter in quarters:  # HQ publishes the finished quarters' cards: partners see them, compliance counts them
            published = scores.publish_cards(session=session, period=quarter, model=model, actor=DEMO_ACTOR)
            # as HQ would have: two weeks after the quarter ended (cure windows run from then)
            published.published_at = min(now, datetime.combine(quarter.after + timedelta(days=14), time(2, 0),
                                                                tzinfo=timezone.utc))
        red = scores.red_twice(session=session, period=str(quarters[-1]), model_id=model.id)
        codes = [site.code for site in sites if site.id in red]
        session.commit()
    context.shared["scores"] = {"quarters": [str(q) for q in quarters], "red_twice": codes}
    context.echo(f"demo: scores: cards for {', '.join(map(str, quarters))} published; "
                 f"red twice in a row: {', '.join(codes)}")


def _score(context: DemoContext, model, period: Period, as_of: datetime | None) -> None:
    with session_scope(context.engine) as session:
        report = scores.score_period(session=session, period=period, model=model, actor=DEMO_ACTOR, as_of=as_of,
                                     workers=context.settings.score_workers,
                                     network_tz=context.settings.timezone)
        session.commit()
    for code, reason in report.failures.items():
        context.echo(f"demo: scores: {code} not scored for {period}: {reason}")


def _quality(site: Site, quarter_index: int) -> float:
    if site.code in QUALITY:
        return QUALITY[site.code][quarter_index]
    rng = random.Random(f"{site.code}-{quarter_index}")
    return rng.uniform(0.62, 0.98)


def write_history(*, session: Session, site: Site, quarter: Period, quality: float,
                  until: datetime | None = None) -> int:
    """Hourly buckets, NPS answers and operations events of one quarter, or of its part
    before ``until`` (once: a re-run adds nothing)."""
    start, end = quarter.bounds(site.timezone)
    if until is not None:
        end = min(end, until)
    if site.opened_on:
        opened = datetime(site.opened_on.year, site.opened_on.month, site.opened_on.day, tzinfo=timezone.utc)
        start = max(start, opened)
    if end - start < timedelta(days=2) or session.exec(select(ReadingBucket.site_id).where(
            ReadingBucket.site_id == site.id, ReadingBucket.bucket_minutes == 60,
            ReadingBucket.bucket_start >= start, ReadingBucket.bucket_start < end).limit(1)).first():
        return 0
    rng = random.Random(f"{site.code}-{quarter}")
    rows = _buckets(site, start, end, quality, rng)
    for i in range(0, len(rows), CHUNK):
        session.execute(ReadingBucket.__table__.insert(), rows[i:i + CHUNK])
    rollups.rebuild(session=session, site_ids=[site.id], start=start, end=end)   # written around the ingest path
    _answers_and_events(session, site, quarter, start, end, quality, rng)
    return len(rows)


def _buckets(site: Site, start: datetime, end: datetime, q: float, rng: random.Random) -> list[dict]:
    desks, area = max(site.desks, 1), float(site.area_m2 or 500)
    bad = 0.02 + (1 - q) * 0.6          # chance an occupied hour misses a limit
    rows = []
    for slot in hours.grid(start, end, 60):
        if rng.random() < (1 - q) * 0.12:
            continue                     # the feed was down for this hour
        is_open = hours.is_open(slot, 60, site.timezone, site.opening_hours or {})
        people = round(desks * rng.uniform(0.2, 0.55 + 0.35 * q)) if is_open else 0
        busy = people > 0
        values = {
            "people_count": people, "zone_occupied": int(busy),
            "co2_ppm": rng.uniform(1050, 1600) if busy and rng.random() < bad else rng.uniform(430, 900 if busy else 520),
            "temperature_c": rng.choice((rng.uniform(17, 19.5), rng.uniform(26.5, 29))) if busy and rng.random() < bad
            else rng.uniform(21, 25),
            "humidity_pct": rng.uniform(62, 75) if busy and rng.random() < bad else rng.uniform(35, 55),
            "illuminance_lux": rng.uniform(250, 460) if busy and rng.random() < bad else rng.uniform(520, 720) if busy
            else rng.uniform(0, 40),
            "noise_dba": rng.uniform(52, 66) if busy and rng.random() < bad else rng.uniform(36, 48),
            "pm25_ugm3": rng.uniform(40, 90) if rng.random() < bad / 3 else rng.uniform(6, 30),
            "energy_kwh": area * (0.034 if is_open else 0.008) * (1.6 - 0.6 * q) * rng.uniform(0.9, 1.1),
        }
        for metric, value in values.items():
            value = round(float(value), 3)
            # one reading a minute: data completeness counts reading-minutes
            rows.append(dict(site_id=site.id, zone="building" if metric == "energy_kwh" else ZONE, metric=metric,
                             bucket_start=slot, bucket_minutes=60, count=60, mean=value, min=value, max=value))
    return rows


def _answers_and_events(session: Session, site: Site, quarter: Period, start: datetime, end: datetime, q: float,
                        rng: random.Random) -> None:
    span = (end - start).total_seconds()

    def at() -> datetime:
        return start + timedelta(seconds=rng.uniform(0, span - 86400))

    prefix = f"hist-{quarter}"
    for n in range(rng.randint(25, 70)):
        roll = rng.random()
        value = rng.randint(9, 10) if roll < 0.25 + 0.5 * q else rng.randint(0, 6) if roll > 0.7 + 0.05 * q \
            else rng.randint(7, 8)
        session.add(NpsResponse(site_id=site.id, record_id=f"{prefix}-nps-{n}", answered_at=at(), score=value,
                                language="zh_CN"))
    sla = 120
    for n in range(rng.randint(20, 40)):
        opened = at()
        wait = sla * (0.3 + 1.8 * (1 - q)) * rng.uniform(0.5, 1.5)
        session.add(OpsEvent(site_id=site.id, record_id=f"{prefix}-t{n}-open", kind="ticket_opened",
                             occurred_at=opened, ref=f"{prefix}-T{n}"))
        session.add(OpsEvent(site_id=site.id, record_id=f"{prefix}-t{n}-reply", kind="ticket_first_response",
                             occurred_at=opened + timedelta(minutes=wait), ref=f"{prefix}-T{n}"))
    members = max(10, int(site.desks * 0.7))
    before = start - timedelta(days=30)
    for n in range(members):
        session.add(OpsEvent(site_id=site.id, record_id=f"{prefix}-m{n}-start", kind="membership_started",
                             occurred_at=before, ref=f"{site.code}-M{n}"))
    for n in range(rng.randint(12, 25)):
        renewed = rng.random() < 0.55 + 0.4 * q
        session.add(OpsEvent(site_id=site.id, record_id=f"{prefix}-m{n}-decision",
                             kind="membership_renewed" if renewed else "membership_ended", occurred_at=at(),
                             ref=f"{site.code}-M{n}"))
    per_event = members * (0.05 + 0.4 * q)
    for n in range(6):
        session.add(OpsEvent(site_id=site.id, record_id=f"{prefix}-ev{n}", kind="community_event", occurred_at=at(),
                             ref=f"{prefix}-E{n}", quantity=max(1, round(per_event * rng.uniform(0.7, 1.3)))))
    session.flush()
