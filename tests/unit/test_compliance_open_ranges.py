"""The UTC ranges a metric rule's "open hours" are handed to the database as hold exactly the instants
``scoring.hours.is_open`` calls open: on and off the 15-minute grid, to the second and below, across
summer-time changes, half-hour zones, midnight closes and 24-hour days."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from brand_hub.compliance.facts import open_ranges
from scoring.hours import is_open

HOURS = {
    "weekdays": {d: [["09:00", "21:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")} | {"sun": []},
    "split": {"mon": [["08:30", "12:00"], ["13:15", "24:00"]], "tue": [["00:00", "02:45"]], "sat": [["00:00", "24:00"]],
              "sun": [["23:50", "24:00"]]},
    "closed": {},
    # open across the hour a summer-time change turns the clock back over (Brussels, 25 October 2026):
    # is_open changes at the change itself, which is no opening or closing time
    "transition": {"sun": [["02:30", "03:30"]]},
}
ZONES = ("Asia/Shanghai", "Europe/Brussels", "Asia/Kolkata", "America/St_Johns", "Australia/Lord_Howe",
         "America/New_York")
WINDOWS = (datetime(2026, 11, 20, 4, 0, 12, 345678, tzinfo=timezone.utc),   # Brussels, New York: autumn change
           datetime(2027, 4, 9, 17, 3, tzinfo=timezone.utc))                 # Lord Howe's half-hour change


def inside(ranges, at: datetime) -> bool:
    return any(a <= at < b for a, b in ranges)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("hours", sorted(HOURS))
@pytest.mark.parametrize("now", WINDOWS)
def test_open_ranges_hold_exactly_the_open_instants(zone, hours, now):
    start = now - timedelta(days=40)
    ranges = open_ranges(start, now, zone, HOURS[hours])
    assert all(a < b for a, b in ranges) and all(b < c for (_, b), (c, _) in zip(ranges, ranges[1:]))
    rng = random.Random(f"{zone}{hours}{now}")
    instants = [start, now]
    grid = start.replace(minute=0, second=0, microsecond=0)
    while grid <= now:                                   # the 15-minute grid, and around each slot's edges
        instants += [grid, grid + timedelta(seconds=1), grid - timedelta(microseconds=1)]
        grid += timedelta(minutes=15)
    for a, b in ranges:                                  # both sides of every edge
        for edge in (a, b):
            instants += [edge, edge - timedelta(microseconds=1), edge - timedelta(seconds=1), edge + timedelta(seconds=1)]
    span = (now - start).total_seconds()
    instants += [start + timedelta(seconds=rng.uniform(0, span)) for _ in range(3000)]
    for at in instants:
        if start <= at <= now:
            assert inside(ranges, at) == is_open(at, 15, zone, HOURS[hours]), at
