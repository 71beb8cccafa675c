"""The one amount parser: amounts as people write them, and a clear refusal for anything else."""
from __future__ import annotations

from decimal import Decimal as D

import pytest

from brand_hub.billing import BillingError
from brand_hub.billing.revenue import parse_amount


@pytest.mark.parametrize("text, expected", [
    ("1234567.89", "1234567.89"),
    (" 1,234,567.89 ", "1234567.89"),
    ("0", "0"),
    ("0.5", "0.50"),
    ("999999999999.99", "999999999999.99"),  # just below 10^12
])
def test_amounts_as_people_write_them_are_read_exactly(text, expected):
    assert parse_amount(text, "amount") == D(expected)


@pytest.mark.parametrize("text, reason", [
    ("1.23457E+06", "is in scientific notation"),  # an Excel cell: would read as 1,234,570.00
    ("1e5", "is in scientific notation"),
    ("1,234E2", "is in scientific notation"),
    ("NaN", "is not a finite amount"),
    ("inf", "is not a finite amount"),
    ("-Infinity", "is not a finite amount"),
    ("-1", "is negative"),
    ("-1,000.00", "is negative"),
    ("1.001", "has more than two decimals"),
    ("1000000000000", "is not below 1,000,000,000,000"),
    ("1,000,000,000,000.00", "is not below 1,000,000,000,000"),
    ("", "is empty"),
    ("12x", "is not a decimal number"),
    ("12,34", "is not a decimal number"),
    ("+5", "is not a decimal number"),
    ("１２３", "is not a decimal number"),  # full-width digits
    ("1.2.3", "is not a decimal number"),
    ("0x10", "is not a decimal number"),
])
def test_anything_else_is_refused_with_its_reason(text, reason):
    with pytest.raises(BillingError, match=reason):
        parse_amount(text, "amount")
