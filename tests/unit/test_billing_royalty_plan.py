"""Royalty plan files: the brand's library loads; mistakes are refused with file and line."""
from __future__ import annotations

from decimal import Decimal

import pytest

from standards.loader import InvalidFiles
from standards.royalty_plan import load_library, load_plan_text

GOOD = """id: p
version: 1
currency: CNY
royalty:
  method: graduated
  tiers:
    - {up_to: "500000", rate: "0.08"}
    - {rate: "0.12"}
  minimum_monthly: "30000"
brand_fund_rate: "0.02"
tech_fee_per_desk: "15"
vat_rate: "0.06"
late_fee: {daily_rate: "0.0005", grace_days: 10}
missing_report: {method: trailing_average, months: 3, uplift: "1.00"}
"""


def test_the_brand_library_holds_both_plans_with_decimal_amounts():
    plans = load_library()
    assert set(plans) >= {"standard-2026", "lite-2026"}
    standard = plans["standard-2026"]
    assert standard.method == "graduated"
    assert [t.rate for t in standard.tiers] == [Decimal("0.08"), Decimal("0.10"), Decimal("0.12")]
    assert standard.minimum_monthly == Decimal("30000")
    assert isinstance(standard.vat_rate, Decimal)


def test_a_float_amount_is_refused_at_its_line():
    with pytest.raises(InvalidFiles) as caught:
        load_plan_text(GOOD.replace('vat_rate: "0.06"', "vat_rate: 0.06"), "royalty/p.yaml")
    assert str(caught.value) == ('royalty/p.yaml:12: vat_rate: amounts and rates are decimal strings, '
                                 'write "0.06" (a bare number is read as a float)')


def test_an_open_band_before_the_last_is_refused_at_its_line():
    text = GOOD.replace('    - {up_to: "500000", rate: "0.08"}\n', '    - {rate: "0.08"}\n')
    with pytest.raises(InvalidFiles) as caught:
        load_plan_text(text, "p.yaml")
    assert "p.yaml:7: royalty.tiers.0: only the last band may leave out up_to" in str(caught.value)


def test_bands_must_rise():
    text = GOOD.replace('    - {rate: "0.12"}\n', '    - {up_to: "400000", rate: "0.10"}\n    - {rate: "0.12"}\n')
    with pytest.raises(InvalidFiles) as caught:
        load_plan_text(text, "p.yaml")
    assert "must be above the band's start 500000" in str(caught.value)


def test_an_unknown_method_and_a_missing_field_are_both_reported():
    text = GOOD.replace("method: graduated", "method: progressive").replace('brand_fund_rate: "0.02"\n', "")
    with pytest.raises(InvalidFiles) as caught:
        load_plan_text(text, "p.yaml")
    message = str(caught.value)
    assert "p.yaml:5: royalty.method:" in message
    assert "'brand_fund_rate' is missing" in message
