"""One reader of decimals: money (billing) and measures (a site's area) refuse the same things, never round."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from brand_hub.registry import InvalidRecord, clean_site
from standards import numbers
from standards.numbers import NumberRefused, read_decimal

SITE = {"code": "SH-01", "name_zh": "方寸空间", "franchisee": "SH", "city": "上海"}


@pytest.mark.parametrize("text, kind", [
    ("", numbers.EMPTY), ("1.2E+3", numbers.SCIENTIFIC), ("nan", numbers.NOT_FINITE), ("-2", numbers.NEGATIVE),
    ("12,34", numbers.NOT_DECIMAL), ("1.234", numbers.TOO_PRECISE), ("100", numbers.TOO_LARGE),
    ("9" * 40 + ".5", numbers.TOO_LARGE),
])
def test_every_refusal_has_its_kind(text, kind):
    with pytest.raises(NumberRefused) as refused:
        read_decimal(text, places=2, below=D("100"))
    assert refused.value.kind == kind


def test_a_decimal_is_read_exactly_as_written():
    assert read_decimal(" 1,234.5 ", places=2, below=D("1e6")) == D("1234.5")
    assert read_decimal("7.125", places=3, below=D("10")) == D("7.125")


@pytest.mark.parametrize("area, expected", [("980.5", D("980.50")), ("1,200", D("1200.00")), (980.25, D("980.25")),
                                            (1200, D("1200.00")), ("", D("0"))])
def test_a_sites_area_is_read_without_rounding(area, expected):
    assert clean_site({**SITE, "area_m2": area})["area_m2"] == expected


@pytest.mark.parametrize("area, reason", [
    ("980.555", "'980.555' has more than two decimals"),
    ("1e3", "'1e3' is in scientific notation; write the number in full"),
    (1e16, "'1e+16' is in scientific notation; write the number in full"),
    ("-5", "-5 is out of range (0 or more)"),
    ("NaN", "'NaN' is not a number"),
    ("12,34", "'12,34' is not a number"),
])
def test_a_sites_area_that_would_need_rounding_or_guessing_is_refused(area, reason):
    with pytest.raises(InvalidRecord) as refused:
        clean_site({**SITE, "area_m2": area})
    assert str(refused.value.errors["area_m2"]) == reason
