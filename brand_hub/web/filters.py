"""Template filters: CNY amounts, dates and times per locale and zone."""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import parse_pattern
from flask import Flask, current_app
from flask_babel import format_date, format_datetime, get_locale

from .i18n import request_locale
from .labels import label
from .nav import nav_for


def money(value: Decimal | int | str | None, currency: str = "CNY") -> str:
    """Format an amount the local way: ¥1,234.50 in both locales, two decimals always.

    Babel writes CNY as "CN¥" in English; the hub's readers all use yuan, so
    the plain ¥ is used everywhere (other currencies keep their own symbol).
    """
    if value is None:
        return "—"
    from babel.numbers import get_currency_symbol

    locale = str(get_locale() or "zh_CN")
    amount = Decimal(value)
    symbol = "¥" if currency == "CNY" else get_currency_symbol(currency, locale=locale)
    return f"{'-' if amount < 0 else ''}{symbol}{amount_digits(abs(amount), locale)}"


_AMOUNT = parse_pattern("#,##0.00")


@lru_cache(maxsize=8)
def _marks(name: str) -> tuple[str, str] | None:
    """The locale's group and decimal marks, as Babel writes 1,234.50 there (None: not in that shape)."""
    probe = _AMOUNT.apply(Decimal("1234.5"), _locale(name), decimal_quantization=True)
    if len(probe) != 8 or not (probe[0] + probe[2:5] + probe[6:]).isdigit():
        return None
    return probe[1], probe[5]


def amount_digits(amount: Decimal, locale: str) -> str:
    """``amount`` (not negative) as ``#,##0.00`` in ``locale``: what Babel's pattern gives, written by Python's
    own decimal formatting (the same half-even rounding) with the locale's marks (issue 10: Babel took a
    tenth of a millisecond per amount, and finance's tables show hundreds)."""
    marks = _marks(locale)
    if marks is None:
        return _AMOUNT.apply(amount, _locale(locale), decimal_quantization=True)  # the pattern parsed once
    return f"{amount:,.2f}".translate({ord(","): marks[0], ord("."): marks[1]})


@lru_cache(maxsize=8)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


READER_TIME = "yyyy-MM-dd HH:mm"  # 2026-12-02 09:15, the same in both languages (issue 10)


def local_dt(value: datetime | None, tz: str | None = None, fmt: str = READER_TIME) -> str:
    """A stored UTC time in the reader's zone (HQ's ``BRANDHUB_TIMEZONE`` unless a site's zone is given)."""
    if value is None:
        return "—"
    if tz is None:
        settings = current_app.extensions.get("brandhub.settings")
        tz = getattr(settings, "timezone", None) or "Asia/Shanghai"
    if value.tzinfo is None:  # stored naive means UTC in this hub
        from datetime import timezone

        value = value.replace(tzinfo=timezone.utc)
    return format_datetime(value.astimezone(ZoneInfo(tz)).replace(tzinfo=None), fmt, rebase=False)


def local_date(value: date | None, fmt: str = "medium") -> str:
    if value is None:
        return "—"
    return format_date(value, fmt)


def number(value, digits: int = 1) -> str:
    """``flask_babel.format_decimal`` with the pattern ``#,##0.0…`` (``digits`` decimals), as Babel writes it.

    Written by Python's decimal formatting the way Babel's pattern does it (the value as ``Decimal(str(value))``,
    its absolute value normalised and quantised half-even, grouped by three, the locale's marks, a minus for a
    signed value) when the locale writes 1,234.5 in that shape; Babel's pattern otherwise (issue 10: the partner's
    home prints 350 figures, Babel took 15 µs each).
    """
    if value is None:
        return "—"
    locale = request_locale()
    marks = _number_marks(locale) if locale is not None and 0 <= digits <= 6 else None
    if marks is not None:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        if amount.is_finite():
            text = f"{abs(amount).normalize().quantize(_QUANTA[digits]):,f}"
            if marks != (",", "."):
                text = text.translate({ord(","): marks[0], ord("."): marks[1]})
            return f"-{text}" if amount.is_signed() else text
    return _pattern(f"#,##0.{'0' * digits}" if digits else "#,##0").apply(
        value, locale, decimal_quantization=True, group_separator=True, numbering_system="latn")


_QUANTA = {digits: Decimal(1).scaleb(-digits) for digits in range(7)}
_NUMBER_MARKS: dict = {}


_LAST_MARKS: tuple = (None, None)   # (locale object, its marks): a request's figures share its locale object


def _number_marks(locale: Locale) -> tuple[str, str] | None:
    """``_marks`` of a locale object (its name is not rebuilt for every figure)."""
    global _LAST_MARKS
    last = _LAST_MARKS
    if last[0] is locale:
        return last[1]
    try:
        found = _NUMBER_MARKS[locale]
    except KeyError:
        found = _NUMBER_MARKS[locale] = _marks(str(locale))
    _LAST_MARKS = (locale, found)
    return found


def percent(value, digits: int = 0) -> str:
    """``flask_babel.format_percent`` with the pattern parsed once."""
    if value is None:
        return "—"
    return _pattern(f"#,##0.{'0' * digits}%" if digits else "#,##0%").apply(
        value, get_locale(), decimal_quantization=True, group_separator=True, numbering_system="latn")


@lru_cache(maxsize=32)
def _pattern(text: str):
    """The parsed number pattern (``babel.numbers.format_decimal`` parses it again on every call)."""
    return parse_pattern(text)


def init_app(app: Flask) -> None:
    app.add_template_filter(money, "money")
    app.add_template_filter(local_dt, "dt")
    app.add_template_filter(local_date, "d")
    app.add_template_filter(number, "number")
    app.add_template_filter(percent, "percent")
    app.add_template_filter(label, "label")
    app.jinja_env.globals["nav_for"] = nav_for
    app.jinja_env.globals["label"] = label
    app.jinja_env.globals["has_endpoint"] = has_endpoint
    app.jinja_env.globals["choices"] = choices
    app.jinja_env.globals["brand_name"] = lambda: app.extensions["brandhub.settings"].brand_name


def choices(values) -> list[tuple[str, str]]:
    """(stored value, reader's label) pairs for a drop-down."""
    return [(getattr(v, "value", v), label(v)) for v in values]


def has_endpoint(endpoint: str) -> bool:
    """True when some area has registered ``endpoint`` (so a page links it only then)."""
    return endpoint in current_app.view_functions
