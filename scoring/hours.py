"""Open hours in the site's own zone, on a grid of UTC-aligned slots.

A slot (an hour, or a quarter hour where the zone's offset is not whole hours)
is *open* when its midpoint, in the site's local time, falls inside one of that
weekday's opening intervals. A weekday without an entry (or with ``[]``) is a
closed day. ``"24:00"`` closes at midnight.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def slot_minutes_for(tz: str, start: datetime, end: datetime) -> int:
    """60 when the zone's UTC offset is whole hours over the period, else 15.

    Hourly slots are UTC hours; they are local hours too only when the offset is a
    whole number of hours (not so in e.g. Asia/Kolkata, +05:30).
    """
    zone = ZoneInfo(tz)
    for moment in (start, end - timedelta(seconds=1)):
        offset = moment.astimezone(zone).utcoffset() or timedelta(0)
        if offset.total_seconds() % 3600:
            return 15
    return 60


def grid(start: datetime, end: datetime, minutes: int) -> Iterator[datetime]:
    """Every slot start from ``start`` (inclusive) to ``end`` (exclusive)."""
    step = timedelta(minutes=minutes)
    current = start
    while current < end:
        yield current
        current += step


def is_open(slot_start: datetime, minutes: int, tz: str, opening_hours: dict) -> bool:
    """True when the slot's local midpoint lies within the weekday's opening intervals."""
    local = (slot_start + timedelta(minutes=minutes / 2)).astimezone(ZoneInfo(tz))
    intervals = opening_hours.get(WEEKDAYS[local.weekday()]) or []
    at = local.hour * 60 + local.minute + local.second / 60
    return any(_minutes(opens) <= at < _minutes(closes) for opens, closes in intervals)


def open_slots(start: datetime, end: datetime, minutes: int, tz: str, opening_hours: dict) -> list[datetime]:
    """The open slots of the period, in time order.

    Remembered per (period, zone, hours): a network's sites mostly share their zone and hours, and a
    quarter is thousands of slots, each a time-zone conversion (tens of ms a site otherwise).
    """
    frozen = tuple(sorted((day, tuple(tuple(interval) for interval in intervals or ()))
                          for day, intervals in opening_hours.items()))
    return list(_open_slots(start, end, minutes, tz, frozen))


@lru_cache(maxsize=256)
def _open_slots(start: datetime, end: datetime, minutes: int, tz: str, frozen: tuple) -> tuple[datetime, ...]:
    opening_hours = {day: [list(interval) for interval in intervals] for day, intervals in frozen}
    return tuple(s for s in grid(start, end, minutes) if is_open(s, minutes, tz, opening_hours))

