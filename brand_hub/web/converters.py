"""One converter per kind of input, with bounds, used at the edge by every route and form.

Nothing a browser sends reaches a service unparsed: ids are bounded to the database's
integer range, page numbers to a sane maximum, periods are ``YYYY-MM`` or ``YYYY-Qn``
with a year from 2000 to 2100, amounts go through the billing amount parser with an
upper bound, dates are ISO days in range, and text is free of NUL and control
characters and bounded in length. A value that does not convert is a ``BadInput``,
which the error handlers answer with a 400 page naming the field — never a 500.

``screen_request`` runs before every view and applies the text rules to every query
and form value, so a field a view forgets is still safe to store.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from flask import abort, request
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BaseConverter

from standards.text import text_problem as _text_problem

# PostgreSQL's INTEGER (SQLite's is wider, but one bound for both keeps them alike).
MAX_ID = 2**31 - 1
MAX_PAGE = 100_000
YEARS = (2000, 2100)
MAX_AMOUNT = Decimal("999999999999.99")  # the widest Money column holds 12 digits before the point
MAX_TEXT = 4000  # any one query or form value, in characters
MAX_FIELDS = 500  # query and form values in one request
_DIGITS = re.compile(r"^[0-9]{1,12}$")
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_QUARTER = re.compile(r"^([0-9]{4})-Q([0-9])$")


class BadInput(ValueError):
    """A value from the request that does not convert; ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason):
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else str(self.reason)


def text_problem(value: str, max_length: int = MAX_TEXT) -> str | None:
    """Why ``value`` may not be stored as text, or None when it is fine (the rules of ``standards.text``)."""
    return _text_problem(value, max_length)


def text(raw: Any, field: str, *, max_length: int = MAX_TEXT, default: str = "") -> str:
    """Stripped text without control characters, at most ``max_length`` characters."""
    if raw is None:
        return default
    value = str(raw).strip()
    _refuse_text(value, field, max_length)
    return value


def _refuse_text(value: str, field: str, max_length: int) -> None:
    if len(value) > max_length:
        raise BadInput(field, _l("longer than %(n)s characters", n=max_length))
    if _text_problem(value):
        raise BadInput(field, _l("contains control characters (such as NUL)"))


def integer(raw: Any, field: str, *, low: int = 0, high: int = MAX_ID, default: int | None = None) -> int | None:
    """A plain decimal integer from ``low`` to ``high`` (no sign, exponent, spaces or fractions)."""
    if raw is None or str(raw).strip() == "":
        return default
    value = str(raw).strip()
    if not _DIGITS.match(value):
        raise BadInput(field, _l("not a whole number from %(low)s to %(high)s", low=low, high=high))
    number = int(value)
    if not low <= number <= high:
        raise BadInput(field, _l("not a whole number from %(low)s to %(high)s", low=low, high=high))
    return number


def record_id(raw: Any, field: str = "id", *, default: int | None = None) -> int | None:
    """A database id: 1 to 2³¹−1."""
    return integer(raw, field, low=1, high=MAX_ID, default=default)


def page(raw: Any = None, field: str = "page") -> int:
    """A page number: 1 to ``MAX_PAGE``; missing or unreadable means the first page."""
    if raw is None:
        raw = request.args.get(field)
    try:
        return integer(raw, field, low=1, high=MAX_PAGE, default=1) or 1
    except BadInput:
        return 1


def _year(year: int, field: str) -> None:
    if not YEARS[0] <= year <= YEARS[1]:
        raise BadInput(field, _l("the year must be from %(low)s to %(high)s", low=YEARS[0], high=YEARS[1]))


def month(raw: Any, field: str = "period", *, default: str | None = None) -> str | None:
    """A month ``YYYY-MM`` with a year from 2000 to 2100."""
    value = text(raw, field, max_length=20)
    if not value:
        return default
    match = _MONTH.match(value)
    if not match or not 1 <= int(match[2]) <= 12:
        raise BadInput(field, _l("not a month like 2026-10"))
    _year(int(match[1]), field)
    return value


def period(raw: Any, field: str = "period", *, default: str | None = None) -> str | None:
    """A month ``YYYY-MM`` or a quarter ``YYYY-Qn`` with a year from 2000 to 2100."""
    value = text(raw, field, max_length=20)
    if not value:
        return default
    match = _QUARTER.match(value)
    if match:
        if not 1 <= int(match[2]) <= 4:
            raise BadInput(field, _l("not a quarter like 2026-Q3"))
        _year(int(match[1]), field)
        return value
    try:
        return month(value, field)
    except BadInput:
        raise BadInput(field, _l("not a month like 2026-10 or a quarter like 2026-Q3")) from None


def amount(raw: Any, field: str = "amount", *, default: Decimal | None = None,
           required: bool = False) -> Decimal | None:
    """A money amount through the billing parser, refused above ``MAX_AMOUNT`` or with an exponent."""
    from brand_hub.billing import BillingError
    from brand_hub.billing.revenue import parse_amount

    value = text(raw, field, max_length=40)
    if not value:
        if required:
            raise BadInput(field, _l("is required"))
        return default
    try:
        parsed = parse_amount(value, field)  # its own reasons first: negative, not a number, fen
    except BillingError as exc:
        raise BadInput("", str(exc)) from None  # the parser's message names the field already
    except ArithmeticError:  # 1e999, 1E+30: too many digits to hold
        raise BadInput(field, _l("not an amount like 12345.67")) from None
    if not re.fullmatch(r"[0-9][0-9,]*(\.[0-9]*)?|\.[0-9]+", value):  # no exponents, signs or spaces
        raise BadInput(field, _l("not an amount like 12345.67"))
    if parsed > MAX_AMOUNT:
        raise BadInput(field, _l("more than %(max)s", max=MAX_AMOUNT))
    return parsed


def day(raw: Any, field: str = "date", *, default: date | None = None, required: bool = False) -> date | None:
    """An ISO day ``YYYY-MM-DD`` with a year from 2000 to 2100."""
    value = text(raw, field, max_length=20)
    if not value:
        if required:
            raise BadInput(field, _l("is required"))
        return default
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise BadInput(field, _l("not a date like 2026-10-31"))
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise BadInput(field, _l("not a date like 2026-10-31")) from None
    _year(parsed.year, field)
    return parsed


def choice(raw: Any, field: str, choices, *, default: str) -> str:
    """One of ``choices``; anything else is the default (sort orders, tabs, filters)."""
    value = "" if raw is None else str(raw)
    return value if value in choices else default


class IdConverter(BaseConverter):
    """``<int:…>`` in every route: digits only, 1 to 2³¹−1, so a guessed id is a 404, not a 500."""

    regex = r"[0-9]{1,10}"
    weight = 50
    part_isolating = True

    def to_python(self, value: str) -> int:
        from werkzeug.routing import ValidationError

        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


def screen_request() -> None:
    """Refuse (400) a request whose query or form values are too many, too long or hold control characters."""
    values = list(request.args.items(multi=True))
    if request.method in ("POST", "PUT", "PATCH"):
        values += list(request.form.items(multi=True))
    for value in (request.view_args or {}).values():
        if isinstance(value, str) and _text_problem(value, 200):
            abort(404)  # no code, number or key of ours holds control characters or runs that long
    if len(values) > MAX_FIELDS:
        abort(400, description=str(_l("more than %(n)s values", n=MAX_FIELDS)))
    for key, value in values:
        _refuse_text(key, "?", 200)
        _refuse_text(value, key, MAX_TEXT)


def init_app(app) -> None:
    app.url_map.converters["int"] = IdConverter
    app.before_request(screen_request)
