"""Decimal numbers as people write them: the one reader behind every amount and measure the hub takes in.

``read_decimal`` accepts ``1234567.89`` and ``1,234,567.89`` and refuses, each with its own
kind of refusal: an empty value, scientific notation (Excel shows ``1.23457E+06`` for
1,234,567.00 and a CSV saved from it keeps the rounded display), NaN and infinity, a sign,
more decimals than the field holds, and values from ``below`` up. Nothing is rounded: a
value that does not fit is refused, never changed. Billing's ``parse_amount`` (money) and
the registry's measures (a site's area) read through it and word the refusal their way.
"""
from __future__ import annotations

import re
from decimal import Decimal

# digits with optional thousands separators, at most one point; no sign, no exponent, no other digits
_NUMBER = re.compile(r"^([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]+)?$")
_SCIENTIFIC = re.compile(r"^[+-]?[0-9.,]*[0-9][eE][+-]?[0-9]+$")
_NOT_FINITE = {"nan", "snan", "inf", "infinity", "+inf", "-inf", "+infinity", "-infinity", "+nan", "-nan"}

# The kinds of refusal, in the order they are checked.
EMPTY, SCIENTIFIC, NOT_FINITE, NEGATIVE, NOT_DECIMAL, TOO_PRECISE, TOO_LARGE = (
    "empty", "scientific", "not_finite", "negative", "not_decimal", "too_precise", "too_large")


class NumberRefused(ValueError):
    """``text`` is not a number this field takes; ``kind`` says why (one of the kinds above)."""

    def __init__(self, kind: str, text: str):
        super().__init__(f"{text!r}: {kind}")
        self.kind = kind
        self.text = text


def read_decimal(text: object, *, places: int, below: Decimal) -> Decimal:
    """The non-negative decimal written in ``text``, with at most ``places`` decimals and less than ``below``."""
    raw = str(text).strip()
    if not raw:
        raise NumberRefused(EMPTY, str(text))
    if _SCIENTIFIC.match(raw):
        raise NumberRefused(SCIENTIFIC, str(text))
    if raw.lower() in _NOT_FINITE:
        raise NumberRefused(NOT_FINITE, str(text))
    if raw.startswith("-") and _NUMBER.match(raw[1:]):
        raise NumberRefused(NEGATIVE, str(text))
    if not _NUMBER.match(raw):
        raise NumberRefused(NOT_DECIMAL, str(text))
    value = Decimal(raw.replace(",", ""))
    try:
        exact = value == value.quantize(Decimal(1).scaleb(-places))
    except ArithmeticError:  # more digits than a decimal holds: far above any bound
        raise NumberRefused(TOO_LARGE, str(text)) from None
    if not exact:
        raise NumberRefused(TOO_PRECISE, str(text))
    if value >= below:
        raise NumberRefused(TOO_LARGE, str(text))
    return value
