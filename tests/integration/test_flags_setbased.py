"""The standards' metric rules judge aggregates the database computed for every site at once, and see
exactly what they saw judging each site's 15-minute readings one by one in Python."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, text

from brand_hub.compliance import engine, facts
from brand_hub.compliance.rules import standard_rules
from brand_hub.models.collection import ReadingBucket
from brand_hub.models.standards import Standard
from tests.builders import make_franchisee, make_site

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
RULES = [
    {"id": "co2", "metric": "co2_ppm", "measure": "share_within", "max": 1000, "share": 0.95, "hours": "occupied"},
    {"id": "co2-max", "metric": "co2_ppm", "measure": "max", "max": 1500, "hours": "open"},
    {"id": "noise", "metric": "noise_dba", "measure": "median", "max": 50, "hours": "open"},
    {"id": "noise-all", "metric": "noise_dba", "measure": "p95", "max": 60, "hours": "all", "window": "quarter"},
    {"id": "warm", "metric": "temperature_c", "measure": "share_within", "min": 20, "share": 0.9, "hours": "open"},
    {"id": "cold", "metric": "temperature_c", "measure": "min", "min": 18, "hours": "all"},
    {"id": "lux", "metric": "illuminance_lux", "measure": "median", "min": 500, "hours": "occupied"},
]


def readings(site, rng: random.Random, days: int = 32) -> list[dict]:
    """Readings on the 15-minute grid (every other bucket: the test stays fast) and a few off it, ties and
    values right at the rules' limits."""
    rows = []
    for n in range(days * 48):
        at = NOW - timedelta(minutes=30 * n)
        if rng.random() < 0.02:
            at += timedelta(minutes=7, seconds=30)            # a bucket off the grid
        for zone in ("desk", "meeting"):
            occupied = float(rng.random() < 0.5)
            for metric, value in (("zone_occupied", occupied), ("co2_ppm", rng.choice((1000.0, 999.5, 1200.25))
                                                                 if rng.random() < 0.1 else rng.uniform(450, 1100)),
                                  ("noise_dba", rng.choice((50.0, 44.5, 61.0, 50.0))),
                                  ("temperature_c", round(rng.uniform(17.5, 27), 1)),
                                  ("illuminance_lux", rng.choice((500.0, 480.0, 650.5)))):
                if zone == "meeting" and metric in ("noise_dba", "temperature_c"):
                    continue
                rows.append(dict(site_id=site.id, zone=zone, metric=metric, bucket_start=at, bucket_minutes=15,
                                 count=15, mean=value, min=value, max=value))
    return rows


def observations(session, settings, *, in_the_database: bool) -> dict:
    if in_the_database and session.get_bind().dialect.name == "postgresql":
        # what autovacuum does within a minute of rows landing in a partition: without statistics the
        # planner takes the freshly written buckets for a few rows and joins them in nested loops (49 s
        # instead of 0.3 s here). Rows written in the test's open transaction are invisible to autovacuum.
        session.execute(text("ANALYZE reading_bucket"))
    ctx = engine.context_of(settings, NOW)
    standards = facts.latest_standards(session=session)
    rules = standard_rules(standards)
    if in_the_database:
        found, _ = facts.gather(session=session, ctx=ctx, metric_rules=[r.source["rule"] for r in rules], errors=[])
        assert all(site.readings == {} for site in found)                    # no reading reached Python
    else:
        metrics = {m: 91 for m in ("co2_ppm", "noise_dba", "temperature_c", "illuminance_lux", "zone_occupied",
                                         "humidity_pct")}
        found, _ = facts.gather(session=session, ctx=ctx, metrics=metrics, errors=[])
        assert all(site.metric_summaries == {} for site in found)
    return {(site.code, rule.id): rule.probe(site, ctx) for site in found for rule in rules}


def test_metric_rules_judge_the_same_figures_from_the_database_as_from_the_readings(session, settings):
    partner = make_franchisee(session)
    rng = random.Random(15)
    sites = [make_site(session, partner, code="SH-01"),
             make_site(session, partner, code="BE-01", timezone="Europe/Brussels"),    # summer time ends in the window
             make_site(session, partner, code="IN-01", timezone="Asia/Kolkata"),
             make_site(session, partner, code="SH-02", opening_hours={"sat": [["00:00", "24:00"]]}),
             make_site(session, partner, code="SH-FEW")]
    for site in sites[:4]:
        session.execute(insert(ReadingBucket), readings(site, rng))
    session.execute(insert(ReadingBucket), [
        dict(site_id=sites[4].id, zone="desk", metric="noise_dba", bucket_start=NOW - timedelta(hours=n),
             bucket_minutes=15, count=15, mean=40.0, min=40.0, max=40.0) for n in range(1, 8)])
    session.add(Standard(key="space", version=1, category="space", title_zh="空间", title_en="Space",
                         content={"id": "space", "rules": RULES}, content_hash="sha256:x",
                         published_at=NOW - timedelta(days=40)))
    session.flush()
    summarised = observations(session, settings, in_the_database=True)
    one_by_one = observations(session, settings, in_the_database=False)
    assert summarised == one_by_one
    statuses = {obs.status for seen in summarised.values() for obs in seen.values()}
    assert statuses == {"firing", "clear", "no_data"}
    assert summarised[("SH-FEW", "std:space/noise")][""].evidence["samples"] == 0      # 7 readings: no verdict
    assert summarised[("SH-01", "std:space/co2")][""].evidence["samples"] > 250


EDGE_RULES = [   # two metrics judged under the same hours in one pass, each against its own band
    {"id": "temp", "metric": "temperature_c", "measure": "share_within", "min": 20, "max": 26, "share": 0.9,
     "hours": "open"},
    {"id": "humid", "metric": "humidity_pct", "measure": "share_within", "min": 30, "max": 60, "share": 0.8,
     "hours": "open"},
    {"id": "humid-median", "metric": "humidity_pct", "measure": "median", "max": 45, "hours": "open"},
    {"id": "temp-p95", "metric": "temperature_c", "measure": "p95", "max": 25, "hours": "open"},
    {"id": "lux", "metric": "illuminance_lux", "measure": "median", "min": 500, "hours": "occupied"},
    {"id": "co2", "metric": "co2_ppm", "measure": "share_within", "max": 1000, "share": 0.95, "hours": "occupied"},
]


def edge_readings(site, tz: str, rng: random.Random) -> list[dict]:
    """Buckets whose midpoint falls right on an opening or closing time, a second either side of it and
    at odd seconds, through a summer-time change; values that pass one metric's band and fail the other's."""
    from zoneinfo import ZoneInfo

    zone, rows = ZoneInfo(tz), []
    for local in sorted({(NOW - timedelta(days=day + 1)).astimezone(zone).date() for day in range(29)}):
        for clock in ("09:00", "21:00", "00:00", "13:00"):
            hours, minutes = map(int, clock.split(":"))
            edge = datetime(local.year, local.month, local.day, hours, minutes, tzinfo=zone).astimezone(timezone.utc)
            for shift in (-1, 0, 1, 17):           # seconds from the midpoint on the edge
                at = edge - timedelta(minutes=7, seconds=30) + timedelta(seconds=shift)
                if rng.random() < 0.3:
                    at += timedelta(microseconds=rng.randrange(1, 10**6))
                for zone_name in ("desk", "meeting"):
                    for metric, value in (("temperature_c", rng.choice((19.5, 20.0, 26.0, 26.5, 23.0))),
                                          ("humidity_pct", rng.choice((29.0, 30.0, 45.0, 60.0, 61.0, 20.0))),
                                          ("illuminance_lux", rng.choice((499.0, 500.0, 700.0))),
                                          ("co2_ppm", rng.choice((999.0, 1000.0, 1000.5))),
                                          ("zone_occupied", float(rng.random() < 0.6))):
                        rows.append(dict(site_id=site.id, zone=zone_name, metric=metric, bucket_start=at,
                                         bucket_minutes=15, count=15, mean=value, min=value, max=value))
    return rows


def test_metric_rules_judge_buckets_on_the_edges_of_open_hours_as_the_readings_do(session, settings):
    """Open hours go to the database as UTC ranges from the calendar, and the metrics of one kind of hours
    share one pass: a bucket a second inside or outside the opening time, or across a summer-time change,
    and two metrics' bands side by side give what judging each reading in Python gives."""
    partner = make_franchisee(session)
    rng = random.Random(19)
    sites = [make_site(session, partner, code="BE-EDGE", timezone="Europe/Brussels"),
             make_site(session, partner, code="NY-EDGE", timezone="America/New_York"),
             make_site(session, partner, code="IN-EDGE", timezone="Asia/Kolkata",
                       opening_hours={d: [["09:00", "13:00"], ["13:00", "24:00"]] for d in ("mon", "wed", "sat")}),
             make_site(session, partner, code="SH-EDGE")]
    for site in sites:
        session.execute(insert(ReadingBucket), edge_readings(site, site.timezone, rng))
    session.add(Standard(key="edges", version=1, category="space", title_zh="边界", title_en="Edges",
                         content={"id": "edges", "rules": EDGE_RULES}, content_hash="sha256:y",
                         published_at=NOW - timedelta(days=40)))
    session.flush()
    postgres = session.get_bind().dialect.name == "postgresql"
    jit = session.execute(text("SHOW jit")).scalar() if postgres else None
    summarised = observations(session, settings, in_the_database=True)
    if postgres:   # JIT is off only while the summaries run
        assert session.execute(text("SHOW jit")).scalar() == jit
    one_by_one = observations(session, settings, in_the_database=False)
    assert summarised == one_by_one
    assert {obs.status for seen in summarised.values() for obs in seen.values()} >= {"firing", "clear"}
    assert all(seen[""].evidence["samples"] >= 8 for (code, rule), seen in summarised.items()
               if rule in ("std:edges/temp", "std:edges/humid"))


OCCUPIED_RULES = [
    {"id": "co2", "metric": "co2_ppm", "measure": "share_within", "max": 1000, "share": 0.95, "hours": "occupied"},
    {"id": "lux", "metric": "illuminance_lux", "measure": "median", "min": 500, "hours": "occupied"},
    {"id": "lux-p95", "metric": "illuminance_lux", "measure": "p95", "max": 900, "hours": "occupied"},
]


def test_occupied_hours_are_judged_on_the_batch_occupied_buckets_as_the_readings_do(session, settings):
    """"Occupied" joins the readings with the batch's occupied buckets (not the whole table): a zone with
    occupancy rows in some buckets only, several zones of which one has none, a site with no occupancy
    metric at all, occupancy rows outside the window or at 0, and another site occupied at the same
    instants give what judging each reading in Python gives."""
    partner = make_franchisee(session)
    rng = random.Random(23)
    some, zones, none, other = (make_site(session, partner, code=code)
                                for code in ("OC-SOME", "OC-ZONES", "OC-NONE", "OC-OTHER"))
    rows = []
    for n in range(30 * 48):
        at = NOW - timedelta(minutes=30 * n)
        for site, zone in ((some, "desk"), (zones, "desk"), (zones, "meeting"), (none, "desk"), (other, "desk")):
            for metric, value in (("co2_ppm", rng.choice((999.0, 1000.0, 1000.5, 700.0))),
                                  ("illuminance_lux", rng.choice((499.0, 500.0, 901.0, 650.0)))):
                rows.append(dict(site_id=site.id, zone=zone, metric=metric, bucket_start=at, bucket_minutes=15,
                                 count=15, mean=value, min=value, max=value))
            occupancy = None
            if site is some and n % 7 < 3:                     # occupancy rows in some buckets only
                occupancy = float(rng.random() < 0.7)
            elif site is zones and zone == "desk":            # one zone has occupancy, the other none
                occupancy = rng.choice((0.0, 0.5, 1.0))
            elif site is other:                                # always occupied: must not leak to the others
                occupancy = 1.0
            if occupancy is not None:
                rows.append(dict(site_id=site.id, zone=zone, metric="zone_occupied", bucket_start=at,
                                 bucket_minutes=15, count=15, mean=occupancy, min=occupancy, max=occupancy))
    for days in (31, 45, -1):   # occupied, but outside the month judged (and after now)
        at = NOW - timedelta(days=days)
        rows += [dict(site_id=some.id, zone="desk", metric=metric, bucket_start=at, bucket_minutes=15, count=15,
                      mean=value, min=value, max=value)
                 for metric, value in (("zone_occupied", 1.0), ("co2_ppm", 2000.0), ("illuminance_lux", 10.0))]
    session.execute(insert(ReadingBucket), rows)
    session.add(Standard(key="occupied", version=1, category="space", title_zh="有人", title_en="Occupied",
                         content={"id": "occupied", "rules": OCCUPIED_RULES}, content_hash="sha256:z",
                         published_at=NOW - timedelta(days=40)))
    session.flush()
    summarised = observations(session, settings, in_the_database=True)
    one_by_one = observations(session, settings, in_the_database=False)
    assert summarised == one_by_one
    samples = {code: seen[""].evidence["samples"] for (code, rule), seen in summarised.items()
               if rule == "std:occupied/co2"}
    assert samples["OC-NONE"] == 0 < samples["OC-SOME"] < samples["OC-OTHER"]
    assert 0 < samples["OC-ZONES"] < samples["OC-OTHER"]
