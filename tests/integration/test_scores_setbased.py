"""Set-based scoring reads every site of a batch at once (the hourly rollup where slots are hours) and
gives exactly what the per-site reading of the 15-minute buckets gives: inputs, scores and cards."""
from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from brand_hub import audit, scores
from brand_hub.demo.scores import write_history
from brand_hub.models.collection import NpsResponse, OpsEvent
from brand_hub.models.scoring import SiteScore
from brand_hub.db import is_postgres, make_engine
from brand_hub.scores.inputs import batch_inputs, batch_totals, site_inputs, totals_apply
from scoring import composite, hours, measures
from scoring.periods import parse_period
from standards.scoring_model import current_model
from tests.builders import add_buckets, make_franchisee, make_site
from tests.integration.test_scores_uci import OFFICE_HOURS, agent_buckets, half_month_model, uci_rows

Q3 = parse_period("2026-Q3")


def quarter_hours(site, start: datetime, days: int, zone: str, rng: random.Random) -> list[dict]:
    """15-minute buckets as agents send them (uneven counts, a gap now and then) for ``days`` from ``start``."""
    rows = []
    for n in range(days * 96):
        if rng.random() < 0.05:
            continue
        at = start + timedelta(minutes=15 * n)
        for metric, low, high in (("co2_ppm", 420, 1400), ("temperature_c", 18, 28), ("zone_occupied", 0, 1)):
            value = round(rng.uniform(low, high), 3) if metric != "zone_occupied" else float(rng.random() < 0.6)
            rows.append(dict(site_id=site.id, zone=zone, metric=metric, bucket_start=at, bucket_minutes=15,
                             count=rng.choice((15, 15, 14, 7, 30)), mean=value, min=value - 0.5, max=value + 0.5))
    return rows


def demo_like_network(session) -> list:
    """Sites as the demo makes them, in three zones (Kolkata's half-hour offset scores on 15-minute slots),
    plus live 15-minute buckets, a zone fitted mid-quarter and one that reported before the quarter."""
    partner = make_franchisee(session)
    sites = [make_site(session, partner, code="SH-A-01"), make_site(session, partner, code="SH-A-02", desks=40),
             make_site(session, partner, code="IN-K-01", timezone="Asia/Kolkata"),
             make_site(session, partner, code="BE-B-01", timezone="Europe/Brussels", opening_hours=OFFICE_HOURS),
             make_site(session, partner, code="SH-EMPTY")]
    start, _ = Q3.bounds("Asia/Shanghai")
    for site, quality in zip(sites[:4], (0.9, 0.3, 0.7, 0.6)):   # three weeks of July: the test stays fast
        write_history(session=session, site=site, quarter=Q3, quality=quality, until=start + timedelta(days=21))
    rng = random.Random(15)
    rows = quarter_hours(sites[0], start + timedelta(days=10, hours=5, minutes=15), 2, "meeting-room", rng)
    rows += quarter_hours(sites[1], start - timedelta(days=2), 1, "phone-booth", rng)      # reported before
    rows += quarter_hours(sites[1], start + timedelta(days=12), 2, "phone-booth", rng)
    kolkata, _ = Q3.bounds("Asia/Kolkata")
    rows += quarter_hours(sites[2], kolkata + timedelta(days=11, minutes=30), 2, "meeting-room", rng)
    add_buckets(session, rows)
    session.add(NpsResponse(site_id=sites[4].id, record_id="x", answered_at=start + timedelta(days=3), score=10))
    session.add(OpsEvent(site_id=sites[4].id, record_id="t", kind="ticket_opened", occurred_at=start, ref="T1"))
    session.flush()
    return sites


def reference(session, site, period, model, as_of=None, network=None):
    """The per-site path as it was: one site's 15-minute buckets and events, read on their own."""
    start, end = period.bounds(site.timezone)
    end = min(end, as_of) if as_of else end
    return site_inputs(session=session, site=site, start=start, end=end, model=model, network_nps=network)


def same_inputs(a, b) -> None:
    assert a.slot_minutes == b.slot_minutes and (a.start, a.end) == (b.start, b.end)
    assert a.slots == b.slots                         # every slot's sums, counts, extremes, minutes, to the bit
    assert a.streams == b.streams and a.zones == b.zones
    assert (a.nps, a.members, a.events, a.attendance, a.renewals, a.endings) == \
        (b.nps, b.members, b.events, b.attendance, b.renewals, b.endings)
    assert sorted(a.tickets, key=repr) == sorted(b.tickets, key=repr)


def test_a_batch_reads_exactly_what_each_site_read_on_its_own(session):
    sites = demo_like_network(session)
    model = current_model()
    as_of = datetime(2026, 7, 13, 7, 40, tzinfo=timezone.utc)       # the running month "so far", mid-hour
    checked = 0
    for period, cut in ((Q3, None), (parse_period("2026-07"), None), (parse_period("2026-07"), as_of)):
        by_zone: dict[str, list] = {}
        for site in sites:
            by_zone.setdefault(site.timezone, []).append(site)
        for zone, members in by_zone.items():
            start, end = period.bounds(zone)
            end = min(end, cut) if cut else end
            found = batch_inputs(session=session, sites=members, start=start, end=end, model=model, network_nps=12.5)
            for site in members:
                same_inputs(found[site.id], reference(session, site, period, model, cut, 12.5))
                checked += 1
    assert checked == 15
    assert hours.slot_minutes_for("Asia/Kolkata", *Q3.bounds("Asia/Kolkata")) == 15   # the buckets path is covered


def test_set_based_scores_equal_the_per_site_scores_to_the_last_decimal(session):
    sites = demo_like_network(session)
    model = current_model()
    for period, as_of in ((Q3, None), (parse_period("2026-07"), None),
                          (parse_period("2026-07"), datetime(2026, 7, 13, 7, 40, tzinfo=timezone.utc))):
        report = scores.score_period(session=session, period=period, model=model, actor=audit.SYSTEM, as_of=as_of)
        network = scores.network_nps(session=session, period=period, tz="Asia/Shanghai")
        assert [row.site_id for row in report.scores] == [s.id for s in sorted(sites, key=lambda s: s.code)]
        for site in sites:
            expected = composite.score(model, measures.measure_all(model, reference(session, site, period, model,
                                                                                    as_of, network)))
            row = session.exec(select(SiteScore).where(SiteScore.site_id == site.id,
                                                       SiteScore.period == str(period))).one()
            assert (row.status, row.score, row.coverage, row.card) == (
                expected.status, expected.score, round(expected.coverage, 6), expected.card if period.is_quarter
                else None)
            assert row.indicators == {i.id: i.as_json() for i in expected.indicators}
    july = session.exec(select(SiteScore).where(SiteScore.period == "2026-07")).all()
    assert sum(r.status == "scored" and r.score is not None for r in july) >= 3     # real scores, not only gaps


def test_the_uci_office_scores_the_same_from_the_rollup_as_from_its_buckets(session):
    model = half_month_model()
    site = make_site(session, make_franchisee(session), code="BE-UCI-01", timezone="Europe/Brussels",
                     opening_hours=OFFICE_HOURS)
    add_buckets(session, agent_buckets(uci_rows(), site.id))
    period = parse_period("2015-02")
    start, end = period.bounds(site.timezone)
    found = batch_inputs(session=session, sites=[site], start=start, end=end, model=model, network_nps=None)
    old = reference(session, site, period, model)
    same_inputs(found[site.id], old)
    row = scores.score_period(session=session, period=period, model=model, actor=audit.SYSTEM,
                              site_codes=[site.code]).scores[0]
    expected = composite.score(model, measures.measure_all(model, old))
    assert (row.score, row.indicators) == (expected.score, {i.id: i.as_json() for i in expected.indicators})


def awkward_network(session) -> list:
    """Sites whose slots make the database's counting easy to get wrong: three zones per metric (the sum
    over zones depends on the order it adds in), partial hours and gaps, opening times that cut an hour
    (08:30, 17:45: the slot's midpoint decides), a zone fitted mid-period, a stream that reported before,
    a site without desks, one in Brussels across the end of summer time, and one without any reading."""
    partner = make_franchisee(session)
    odd_hours = {d: [["08:30", "12:15"], ["13:00", "17:45"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    sites = [make_site(session, partner, code="AW-SH-01", desks=7),
             make_site(session, partner, code="AW-SH-02", desks=0, opening_hours=odd_hours),
             make_site(session, partner, code="AW-BE-01", timezone="Europe/Brussels", opening_hours=odd_hours, desks=3),
             make_site(session, partner, code="AW-SH-EMPTY")]
    rng = random.Random(1515)
    rows = []

    def stream(site, zone, first: datetime, hours_: int, metrics=("co2_ppm", "temperature_c", "humidity_pct",
                                                                     "people_count", "zone_occupied", "energy_kwh")):
        for n in range(hours_ * 4):
            if rng.random() < 0.08:          # a gap: the hour keeps its other buckets
                continue
            at = first + timedelta(minutes=15 * n)
            for metric in metrics:
                value = {"co2_ppm": rng.uniform(750, 1250), "temperature_c": rng.uniform(19.5, 26.5),
                         "humidity_pct": rng.uniform(25, 65), "people_count": float(rng.randint(0, 5)),
                         "zone_occupied": float(rng.random() < 0.5), "energy_kwh": rng.uniform(0.1, 0.9) / 3}[metric]
                value = value * 1.0000001 ** rng.randint(1, 99)    # long mantissas: order-dependent sums
                rows.append(dict(site_id=site.id, zone=zone, metric=metric, bucket_start=at, bucket_minutes=15,
                                 count=rng.choice((15, 15, 14, 7, 30, 1)), mean=value, min=value - 0.5,
                                 max=value + 0.5 if metric not in ("people_count", "zone_occupied") else value))

    q3, _ = Q3.bounds("Asia/Shanghai")
    for zone in ("a-hall", "b-room", "c-booth"):
        stream(sites[0], zone, q3 + timedelta(days=2), 60)
        stream(sites[1], zone, q3 + timedelta(days=5, minutes=45), 40)     # starts mid-hour
    stream(sites[0], "d-late", q3 + timedelta(days=3, hours=7), 20)         # fitted during the period
    stream(sites[1], "e-before", q3 - timedelta(hours=3), 2)                # reported before it only
    stream(sites[1], "e-before", q3 + timedelta(days=6), 5)
    brussels = datetime(2026, 10, 24, 20, tzinfo=timezone.utc)              # summer time ends 25 Oct 01:00 UTC
    for zone in ("a-hall", "b-room", "c-booth"):
        stream(sites[2], zone, brussels, 60)
    add_buckets(session, rows)
    session.flush()
    return sites


@pytest.fixture
def postgres_session(postgres_schema_url):
    """A session on the worker's emptied PostgreSQL schema: the slots are counted in SQL there only."""
    from tests.conftest import _empty_all

    _empty_all(postgres_schema_url)
    engine = make_engine(postgres_schema_url)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


@pytest.mark.postgres
def test_the_slots_counted_in_the_database_equal_the_slots_counted_in_python(postgres_session):
    """``batch_totals`` (PostgreSQL, hourly slots) gives the totals ``scoring.measures.reading_totals``
    counts from the per-site reference slots, to the bit, and so the same measures and scores
    (SQLite sends the slots to Python, which the other tests here cover)."""
    session = postgres_session
    assert is_postgres(session)
    sites = awkward_network(session)
    model = current_model()
    cut = datetime(2026, 7, 7, 5, 40, tzinfo=timezone.utc)                  # mid-hour: the tail's buckets
    checked = 0

    def planner():
        return tuple(session.execute(text("SELECT current_setting('enable_seqscan'), current_setting("
                                          "'enable_bitmapscan'), current_setting('max_parallel_workers_per_gather')")).one())

    before = planner()
    # the model's expected metrics: every metric read (the minutes summed unfiltered), some of them only
    # (the minutes of the others left out), none (every metric read counts)
    variants = (model, dataclasses.replace(model, expected_metrics=("co2_ppm", "zone_occupied")),
                dataclasses.replace(model, expected_metrics=()))
    for model, (period, as_of, members) in itertools.product(variants, (
            (Q3, None, sites[:2] + sites[3:]), (parse_period("2026-07"), cut, sites[:2]),
            (parse_period("2026-10"), None, sites[2:3]),
            (parse_period("2026-10"), datetime(2026, 10, 25, 9, 10, tzinfo=timezone.utc), sites[2:3]))):
        start, end = period.bounds(members[0].timezone)
        end = min(end, as_of) if as_of else end
        assert totals_apply(session, start, end, hours.slot_minutes_for(members[0].timezone, start, end))
        found = batch_totals(session=session, sites=members, start=start, end=end, model=model, network_nps=3.0)
        for site in members:
            old = reference(session, site, period, model, as_of, 3.0)
            new = found[site.id]
            assert new.slots == {} and new.totals is not None
            assert new.totals == measures.reading_totals(model, old)
            assert (new.streams, new.zones) == (old.streams, old.zones)
            assert measures.measure_all(model, new) == measures.measure_all(model, old)
            assert composite.score(model, measures.measure_all(model, new)) == \
                composite.score(model, measures.measure_all(model, old))
            checked += 1
    assert checked == 21
    assert planner() == before      # the counting statement's planner settings were its own
    model = current_model()
    received = {measures.reading_totals(m, reference(session, sites[0], Q3, m)).received for m in variants}
    assert len(received) == 2 and min(received) > 0        # a subset of the metrics counts fewer minutes
    busy = measures.reading_totals(model, reference(session, sites[0], Q3, model))
    assert busy.indicators["co2_compliance"].eligible > 0 and busy.indicators["desk_utilisation"].with_data > 0
    assert 0 < busy.indicators["co2_compliance"].within < busy.indicators["co2_compliance"].eligible
