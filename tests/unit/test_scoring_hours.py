"""Open hours are the site's own: its zone, its weekdays, its closed days."""
from datetime import datetime, timezone

from scoring.hours import is_open, open_slots, slot_minutes_for
from scoring.periods import parse_period

WEEKDAYS_9_TO_18 = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [], "sun": []}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def test_a_shanghai_hour_is_open_by_shanghai_clock():
    # 2026-10-05 is a Monday; 01:00 UTC is 09:00 in Shanghai
    assert is_open(utc(2026, 10, 5, 1), 60, "Asia/Shanghai", WEEKDAYS_9_TO_18)
    assert not is_open(utc(2026, 10, 5, 0), 60, "Asia/Shanghai", WEEKDAYS_9_TO_18)      # 08:00 local
    assert not is_open(utc(2026, 10, 5, 10), 60, "Asia/Shanghai", WEEKDAYS_9_TO_18)     # 18:00 local


def test_a_site_outside_shanghai_uses_its_own_zone_and_daylight_saving():
    # Berlin is UTC+2 in summer and UTC+1 in winter: 09:00 local is 07:00 UTC, then 08:00 UTC
    assert is_open(utc(2026, 7, 6, 7), 60, "Europe/Berlin", WEEKDAYS_9_TO_18)
    assert not is_open(utc(2026, 12, 7, 7), 60, "Europe/Berlin", WEEKDAYS_9_TO_18)
    assert is_open(utc(2026, 12, 7, 8), 60, "Europe/Berlin", WEEKDAYS_9_TO_18)


def test_a_day_with_no_opening_has_no_open_hour():
    saturday = [s for s in open_slots(utc(2026, 10, 9, 16), utc(2026, 10, 10, 16), 60, "Asia/Shanghai",
                                      WEEKDAYS_9_TO_18)]
    assert saturday == []                                     # Saturday 2026-10-10, local midnight to midnight
    weekday_missing = {"mon": [["09:00", "18:00"]]}          # no entry at all for Tuesday: closed
    assert not is_open(utc(2026, 10, 6, 3), 60, "Asia/Shanghai", weekday_missing)


def test_a_full_week_counts_each_open_hour_once():
    start, end = parse_period("2026-10").bounds("Asia/Shanghai")
    slots = open_slots(start, end, 60, "Asia/Shanghai", WEEKDAYS_9_TO_18)
    assert len(slots) == 22 * 9       # October 2026 has 22 weekdays, 9 open hours each


def test_half_hour_zones_are_scored_on_quarter_hours():
    start, end = parse_period("2026-10").bounds("Asia/Kolkata")
    assert slot_minutes_for("Asia/Kolkata", start, end) == 15
    assert slot_minutes_for("America/New_York", *parse_period("2026-Q1").bounds("America/New_York")) == 60
    # 03:30 UTC is 09:00 in Kolkata
    assert is_open(utc(2026, 10, 5, 3, 30), 15, "Asia/Kolkata", WEEKDAYS_9_TO_18)
    assert not is_open(utc(2026, 10, 5, 3, 15), 15, "Asia/Kolkata", WEEKDAYS_9_TO_18)


def test_periods_start_at_local_midnight():
    q3 = parse_period("2026-Q3")
    assert str(q3) == "2026-Q3" and str(q3.previous()) == "2026-Q2"
    assert str(parse_period("2026-01").previous()) == "2025-12"
    assert q3.bounds("Asia/Shanghai") == (utc(2026, 6, 30, 16), utc(2026, 9, 30, 16))
    assert [str(m) for m in q3.month_periods()] == ["2026-07", "2026-08", "2026-09"]
