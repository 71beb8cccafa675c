"""One Period type for scoring and billing: months and quarters, shifted and bounded."""
from __future__ import annotations

from datetime import date

import pytest

from brand_hub import billing
from scoring.periods import parse_period


@pytest.mark.parametrize("text,count,expected", [("2026-01", -1, "2025-12"), ("2026-12", 1, "2027-01"),
                                                 ("2026-10", 14, "2027-12"), ("2026-Q1", -1, "2025-Q4"),
                                                 ("2026-Q4", 1, "2027-Q1")])
def test_a_period_shifts_by_whole_periods_across_years(text, count, expected):
    assert str(parse_period(text).shifted(count)) == expected


def test_the_last_day_of_a_period_knows_leap_years():
    assert parse_period("2024-02").last_day == date(2024, 2, 29)
    assert parse_period("2026-Q1").last_day == date(2026, 3, 31)


def test_billings_month_helpers_read_the_same_period_type():
    month = billing.billing_month("2026-10")
    assert month == parse_period("2026-10")
    assert billing.period_start("2026-10") == month.first
    assert billing.period_end("2026-10") == month.last_day == date(2026, 10, 31)
    assert billing.shift_period("2026-10", -10) == "2025-12"


def test_billing_refuses_a_quarter_where_a_month_is_meant():
    with pytest.raises(billing.BillingError):
        billing.billing_month("2026-Q3")
