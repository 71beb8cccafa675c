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

from scoring.periods import Period
from standards.royalty_plan import LIBRARY, RoyaltyPlan, load_library

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class BillingError(Exception):
    """Something finance asked for that billing refuses; the message says what and why.

    Messages are lazy translations: ``str(exc)`` reads in the request's language on
    the web and in English elsewhere (the CLI). Call ``str`` before storing or slicing.
    """


class NotFound(BillingError):
    """An invoice, site or plan that does not exist."""


def billing_month(text: str) -> Period:
    """The billing month ``2026-10`` as the one ``Period`` type; anything else is a ``BillingError``."""
    match = _PERIOD.match(str(text).strip())
    if not match or not 2000 <= int(match.group(1)) <= 2100:  # the years a billing month can be (as the forms say)
        raise BillingError(_l("period %(value)s is not a month like 2026-10", value=repr(text)))
    return Period(date(int(match.group(1)), int(match.group(2)), 1), 1)


def parse_period(text: str) -> tuple[int, int]:
    """``2026-10`` → (2026, 10); anything else is a ``BillingError`` that names the bad value."""
    month = billing_month(text)
    return month.first.year, month.first.month


def period_start(period: str) -> date:
    return billing_month(period).first


def period_end(period: str) -> date:
    """The last day of the month."""
    return billing_month(period).last_day


def shift_period(period: str, months: int) -> str:
    return str(billing_month(period).shifted(months))


_PARSED: dict[tuple, dict[str, RoyaltyPlan]] = {}


def plans(directory: str = "") -> dict[str, RoyaltyPlan]:
    """The royalty plans by id, from ``directory`` or the brand's library.

    The files are read on every call and parsed once per content (issue 10: parsing the YAML
    cost every billing page tens of milliseconds): a plan edited, added or removed is read anew
    on the next call, and a refused file is refused every time.
    """
    root = Path(directory) if directory else LIBRARY
    key = (str(root), tuple((path.name, path.read_bytes()) for path in sorted(root.glob("*.yaml"))))
    found = _PARSED.get(key)
    if found is None:
        found = load_library(root)
        if len(_PARSED) >= 8:
            _PARSED.clear()
        _PARSED[key] = found
    return dict(found)
