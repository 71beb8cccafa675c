"""Field checks shared by the HQ forms, the sites CSV and the network YAML.

One set of cleaners, so a value refused in one place is refused with the same
reason in all; the opening-hours parser and its compact text form live here too.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l

from standards import numbers
from standards.numbers import NumberRefused, read_decimal
from standards.text import text_problem

from ..models import AgreementStatus, FranchiseeStatus, SiteStatus
from .errors import InvalidRecord, InvalidValue

TIERS = ("flagship", "standard", "lite")
REGIONS = ("east", "north", "south", "west")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SITE_CSV_COLUMNS = ("code", "name_zh", "name_en", "franchisee", "agreement", "city", "region", "tier", "address",
                    "timezone", "opening_hours", "area_m2", "desks", "status", "opened_on", "agent_url")
SITE_CSV_COLUMNS += ("moved_on",)  # issue 17: the date a change of partner takes effect (default: today)


def _text(values: dict, name: str, *, required: bool = False, max_length: int = 200) -> str:
    raw = values.get(name)
    text = "" if raw is None else str(raw).strip()
    if required and not text:
        raise InvalidValue(name, _l("is required"))
    if len(text) > max_length:
        raise InvalidValue(name, _l("longer than %(n)s characters", n=max_length))
    if text_problem(text):
        raise InvalidValue(name, _l("contains control characters (such as NUL)"))
    return text


_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def _code(values: dict, name: str) -> str:
    code = _text(values, name, required=True, max_length=32)
    if not _CODE.match(code):
        raise InvalidValue(name, _l("%(value)r is not a code (letters, digits, '-' and '_', at most 32)", value=code))
    return code


def _choice(values: dict, name: str, choices, default: str) -> str:
    text = _text(values, name) or default
    allowed = [c.value if hasattr(c, "value") else c for c in choices]
    if text not in allowed:
        raise InvalidValue(name, _l("%(value)r is not one of %(allowed)s", value=text, allowed=", ".join(allowed)))
    return text


def _date(values: dict, name: str, *, required: bool = False) -> date | None:
    raw = values.get(name)
    if isinstance(raw, date):
        return raw
    text = "" if raw is None else str(raw).strip()
    if not text:
        if required:
            raise InvalidValue(name, _l("is required"))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(name, _l("%(value)r is not a date (YYYY-MM-DD)", value=text)) from None


MAX_MEASURE = Decimal("10000000000")  # 10^10: the Money(12, 2) column's limit, far above any site's m²


def _measure(values: dict, name: str) -> Decimal:
    """A non-money decimal (a site's area in m²): ``standards.numbers.read_decimal`` with two decimals; empty is 0.

    Never rounded: ``980.555`` is refused, not stored as 980.56. A YAML float is read as written.
    """
    raw = values.get(name)
    if isinstance(raw, float):
        raw = repr(raw)
    text = "" if raw is None else str(raw).strip()
    if not text:
        return Decimal("0")
    try:
        return read_decimal(text, places=2, below=MAX_MEASURE).quantize(Decimal("0.01"))  # exact: 2 places at most
    except NumberRefused as exc:
        if exc.kind == numbers.SCIENTIFIC:
            raise InvalidValue(name, _l("%(value)r is in scientific notation; write the number in full",
                                        value=text)) from None
        if exc.kind == numbers.TOO_PRECISE:
            raise InvalidValue(name, _l("%(value)r has more than two decimals", value=text)) from None
        if exc.kind in (numbers.NEGATIVE, numbers.TOO_LARGE):
            raise InvalidValue(name, _l("%(value)s is out of range (0 or more)", value=text)) from None
        raise InvalidValue(name, _l("%(value)r is not a number", value=text)) from None


def _int(values: dict, name: str) -> int:
    raw = values.get(name)
    text = "" if raw is None else str(raw).strip()
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise InvalidValue(name, _l("%(value)r is not a whole number", value=text)) from None
    if value < 0 or value > 1_000_000:
        raise InvalidValue(name, _l("%(value)s is out of range (0 or more)", value=value))
    return value


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    """The IANA zone names this machine knows (read once: scanning them is slow)."""
    return frozenset(available_timezones())


def _zone(values: dict, name: str) -> str:
    text = _text(values, name, max_length=64) or "Asia/Shanghai"
    if text not in _zones():
        raise InvalidValue(name, _l("%(value)r is not an IANA time zone (e.g. Asia/Shanghai)", value=text))
    return text


_INTERVAL = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def parse_opening_hours(value: Any, name: str = "opening_hours") -> dict[str, list[list[str]]]:
    """Opening hours from the mapping form or the compact text form.

    Text form, as typed in a form or a CSV cell: ``mon-fri 09:00-21:00; sat 10:00-18:00``
    (days not named are closed; ``mon-sun`` and ``daily`` work too).
    """
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, dict):
        hours: dict[str, list[list[str]]] = {}
        for day, intervals in value.items():
            if day not in WEEKDAYS:
                raise InvalidValue(name, _l("unknown weekday %(value)r (use %(days)s)", value=day, days=", ".join(WEEKDAYS)))
            if not isinstance(intervals, list):
                raise InvalidValue(name, _l("%(value)s: expected a list of [open, close] pairs", value=day))
            hours[day] = [_interval(name, f"{pair[0]}-{pair[1]}" if isinstance(pair, list) and len(pair) == 2
                                    else str(pair)) for pair in intervals]
        return hours
    hours = {}
    for part in str(value).split(";"):
        part = part.strip()
        if not part:
            continue
        days_text, _, times_text = part.partition(" ")
        days = _days(name, days_text.strip().lower())
        intervals = [_interval(name, t) for t in times_text.replace(",", " ").split()]
        if not intervals:
            raise InvalidValue(name, _l("%(value)r: no opening times (e.g. mon-fri 09:00-21:00)", value=part))
        for day in days:
            hours.setdefault(day, []).extend(intervals)
    return hours


def _days(name: str, text: str) -> list[str]:
    if text in {"daily", "mon-sun"}:
        return list(WEEKDAYS)
    days: list[str] = []
    for piece in text.split(","):
        first, _, last = piece.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise InvalidValue(name, _l("%(value)r is not a weekday or range (e.g. mon-fri)", value=piece))
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise InvalidValue(name, _l("%(value)r: the range runs backwards", value=piece))
        days.extend(WEEKDAYS[start:end + 1])
    return days


def _interval(name: str, text: str) -> list[str]:
    match = _INTERVAL.match(text.strip())
    if not match or text.strip()[:5] >= text.strip()[6:]:
        raise InvalidValue(name, _l("%(value)r is not an opening interval (e.g. 09:00-21:00)", value=text))
    opens, closes = text.strip().split("-")
    return [opens, closes]


def format_opening_hours(hours: dict[str, list[list[str]]] | None) -> str:
    """The compact text form of opening hours (what ``parse_opening_hours`` reads back)."""
    if not hours:
        return ""
    parts: list[str] = []
    run: list[str] = []
    previous = None
    for day in WEEKDAYS + ("",):
        times = " ".join(f"{a}-{b}" for a, b in hours.get(day, [])) if day else None
        if times and times == previous:
            run.append(day)
            continue
        if run and previous:
            parts.append(f"{run[0]}-{run[-1]} {previous}" if len(run) > 1 else f"{run[0]} {previous}")
        run, previous = ([day], times) if times else ([], None)
    return "; ".join(parts)


def _url(values: dict, name: str) -> str:
    text = _text(values, name, max_length=300)
    if text and not re.match(r"^https?://[^\s/]+", text):
        raise InvalidValue(name, _l("%(value)r is not an http(s) URL", value=text))
    return text


def _collect(cleaners: dict[str, Any]) -> dict[str, Any]:
    """Run every cleaner; gather all refusals so a form or row reports them together."""
    cleaned, errors = {}, {}
    for name, cleaner in cleaners.items():
        try:
            cleaned[name] = cleaner()
        except InvalidValue as exc:
            errors[exc.field] = exc.reason
    if errors:
        raise InvalidRecord(errors)
    return cleaned


def clean_franchisee(values: dict) -> dict[str, Any]:
    """Typed, checked partner fields from strings (form, YAML)."""
    return _collect({
        "code": lambda: _code(values, "code"),
        "legal_name": lambda: _text(values, "legal_name", required=True),
        "name_en": lambda: _text(values, "name_en"),
        "unified_credit_code": lambda: _text(values, "unified_credit_code", max_length=32),
        "contact_name": lambda: _text(values, "contact_name", max_length=100),
        "contact_email": lambda: _email(values, "contact_email"),
        "contact_phone": lambda: _text(values, "contact_phone", max_length=50),
        "address": lambda: _text(values, "address", max_length=300),
        "status": lambda: FranchiseeStatus(_choice(values, "status", FranchiseeStatus, "active")),
    })


def _email(values: dict, name: str) -> str:
    text = _text(values, name)
    if text and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", text):
        raise InvalidValue(name, _l("%(value)r is not an e-mail address", value=text))
    return text


def clean_agreement(values: dict) -> dict[str, Any]:
    """Typed, checked agreement fields; ``franchisee`` is the partner's code."""
    cleaned = _collect({
        "number": lambda: _code(values, "number"),
        "franchisee": lambda: _code(values, "franchisee"),
        "start_date": lambda: _date(values, "start_date", required=True),
        "end_date": lambda: _date(values, "end_date"),
        "royalty_plan_id": lambda: _text(values, "royalty_plan_id", max_length=80) or "standard-2026",
        "territory": lambda: _text(values, "territory"),
        "status": lambda: AgreementStatus(_choice(values, "status", AgreementStatus, "active")),
    })
    if cleaned["end_date"] and cleaned["end_date"] < cleaned["start_date"]:
        raise InvalidRecord({"end_date": _l("ends before it starts")})
    return cleaned


def clean_site(values: dict) -> dict[str, Any]:
    """Typed, checked site fields; ``franchisee`` is a partner code, ``agreement`` a number."""
    return _collect({
        "code": lambda: _code(values, "code"),
        "name_zh": lambda: _text(values, "name_zh", required=True),
        "name_en": lambda: _text(values, "name_en"),
        "franchisee": lambda: _code(values, "franchisee"),
        "agreement": lambda: _text(values, "agreement", max_length=40),
        "city": lambda: _text(values, "city", required=True, max_length=80),
        "region": lambda: _choice(values, "region", REGIONS, "east"),
        "tier": lambda: _choice(values, "tier", TIERS, "standard"),
        "address": lambda: _text(values, "address", max_length=300),
        "timezone": lambda: _zone(values, "timezone"),
        "opening_hours": lambda: parse_opening_hours(values.get("opening_hours")),
        "area_m2": lambda: _measure(values, "area_m2"),
        "desks": lambda: _int(values, "desks"),
        "status": lambda: SiteStatus(_choice(values, "status", SiteStatus, "onboarding")),
        "opened_on": lambda: _date(values, "opened_on"),
        "agent_url": lambda: _url(values, "agent_url"),
        "moved_on": lambda: _date(values, "moved_on"),  # issue 17: not a column, read by tenure.hand_over_if_moved
    })
