"""Scoring periods: months (``2026-10``) and quarters (``2026-Q3``), in a site's own time zone."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


class PeriodError(ValueError):
    """A period that is neither ``YYYY-MM`` nor ``YYYY-Qn``."""


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month or quarter; its bounds depend on the site's zone."""

    first: date      # first day
    months: int      # 1 or 3

    @property
    def is_quarter(self) -> bool:
        return self.months == 3

    @property
    def after(self) -> date:
        """The first day after the period."""
        month = self.first.month - 1 + self.months
        return date(self.first.year + month // 12, month % 12 + 1, 1)

    @property
    def days(self) -> int:
        return (self.after - self.first).days

    def __str__(self) -> str:
        if self.is_quarter:
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        return f"{self.first.year}-{self.first.month:02d}"

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        """Start and end (exclusive) in UTC of the period in the zone ``tz`` (local midnights)."""
        zone = ZoneInfo(tz)
        start = datetime(self.first.year, self.first.month, 1, tzinfo=zone)
        end = datetime(self.after.year, self.after.month, 1, tzinfo=zone)
        return start.astimezone(timezone.utc), end.astimezone(timezone.utc)

    def previous(self) -> "Period":
        month = self.first.month - 1 - self.months
        return Period(date(self.first.year + month // 12, month % 12 + 1, 1), self.months)

    @property
    def last_day(self) -> date:
        """The last day in the period."""
        return date.fromordinal(self.after.toordinal() - 1)

    def shifted(self, count: int) -> "Period":
        """The period ``count`` periods of the same length later (earlier when negative)."""
        index = self.first.year * 12 + self.first.month - 1 + count * self.months
        return Period(date(index // 12, index % 12 + 1, 1), self.months)

    def month_periods(self) -> list["Period"]:
        out, current = [], Period(self.first, 1)
        for _ in range(self.months):
            out.append(current)
            current = Period(current.after, 1)
        return out


def parse_period(text: str) -> Period:
    text = text.strip()
    if match := _MONTH.match(text):
        return Period(date(int(match[1]), int(match[2]), 1), 1)
    if match := _QUARTER.match(text):
        return Period(date(int(match[1]), (int(match[2]) - 1) * 3 + 1, 1), 3)
    raise PeriodError(f"period {text!r}: expected a month like 2026-10 or a quarter like 2026-Q3")


def period_of(day: date, quarter: bool = False) -> Period:
    """The month (or quarter) that contains ``day``."""
    if quarter:
        return Period(date(day.year, (day.month - 1) // 3 * 3 + 1, 1), 3)
    return Period(date(day.year, day.month, 1), 1)
