"""Royalty billing: revenue reports, billing runs, issued invoices, credit notes, payments.

``calc`` is the arithmetic (no database); ``revenue``, ``runs``, ``invoices`` and
``pdf`` are the services (keyword-only, never commit). The CLI, the dashboard and
the portal are the entry points that own the session.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from flask_babel import lazy_gettext as _l

from standards.royalty_plan import LIBRARY, RoyaltyPlan, load_library

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class BillingError(Exception):
    """Something finance asked for that billing refuses; the message says what and why.

    Messages are lazy translations: ``str(exc)`` reads in the request's language on
    the web and in English elsewhere (the CLI). Call ``str`` before storing or slicing.
    """


class NotFound(BillingError):
    """An invoice, site or plan that does not exist."""


def parse_period(text: str) -> tuple[int, int]:
    """``2026-10`` → (2026, 10); anything else is a ``BillingError`` that names the bad value."""
    match = _PERIOD.match(str(text).strip())
    if not match:
        raise BillingError(_l("period %(value)s is not a month like 2026-10", value=repr(text)))
    return int(match.group(1)), int(match.group(2))


def period_start(period: str) -> date:
    year, month = parse_period(period)
    return date(year, month, 1)


def period_end(period: str) -> date:
    """The last day of the month."""
    year, month = parse_period(period)
    following = date(year + (month == 12), month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


def shift_period(period: str, months: int) -> str:
    year, month = parse_period(period)
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def plans(directory: str = "") -> dict[str, RoyaltyPlan]:
    """The royalty plans by id, from ``directory`` or the brand's library."""
    return load_library(Path(directory) if directory else LIBRARY)
