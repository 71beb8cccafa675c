"""Hand-computed royalty arithmetic: bands, minimum, fund, tech fee, VAT, estimates, late fees, true-ups."""
from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

import pytest

from brand_hub.billing import calc
from standards.royalty_plan import load_plan_text

PLAN_YAML = """
id: test-plan
version: 3
currency: CNY
royalty:
  method: {method}
  tiers:
    - {{up_to: "500000", rate: "0.08"}}
    - {{up_to: "1000000", rate: "0.10"}}
    - {{rate: "0.12"}}
  minimum_monthly: "30000"
brand_fund_rate: "0.02"
tech_fee_per_desk: "15"
vat_rate: "0.06"
late_fee: {{daily_rate: "0.0005", grace_days: 10}}
missing_report: {{method: trailing_average, months: 3, uplift: "1.00"}}
"""


def plan(method: str = "graduated", **changes):
    loaded = load_plan_text(PLAN_YAML.format(method=method), "plan.yaml")
    return replace(loaded, **changes)


def royalty(p, revenue: str) -> D:
    return sum((line.amount for line in calc.royalty_lines(p, D(revenue))), D("0"))


def test_the_rounding_rule_is_half_up_to_the_fen():
    assert calc.fen(D("0.005")) == D("0.01")
    assert calc.fen(D("0.0049")) == D("0.00")
    assert calc.fen(D("2.675")) == D("2.68")  # a float would give 2.67


@pytest.mark.parametrize("revenue, expected", [
    ("499999.99", "40000.00"),    # 499,999.99 × 8 % = 39,999.9992
    ("500000", "40000.00"),       # exactly on the edge: nothing in the second band yet
    ("500000.01", "40000.00"),    # 0.01 × 10 % = 0.001 rounds to 0.00 on its own line
    ("750000", "65000.00"),       # 40,000 + 250,000 × 10 %
    ("999999.99", "90000.00"),    # 40,000 + 499,999.99 × 10 % = 89,999.999
    ("1000000", "90000.00"),
    ("1000000.01", "90000.00"),
    ("1200000", "114000.00"),     # 40,000 + 50,000 + 200,000 × 12 %
])
def test_graduated_royalty_charges_each_band_at_its_own_rate(revenue, expected):
    assert royalty(plan("graduated"), revenue) == D(expected)


def test_graduated_royalty_has_one_line_per_band_reached():
    lines = calc.royalty_lines(plan("graduated"), D("1200000"))
    assert [(line.base, line.rate, line.amount) for line in lines] == [
        (D("500000"), D("0.08"), D("40000.00")),
        (D("500000"), D("0.10"), D("50000.00")),
        (D("200000"), D("0.12"), D("24000.00")),
    ]


@pytest.mark.parametrize("revenue, expected", [
    ("499999.99", "40000.00"),    # × 8 %
    ("500000", "50000.00"),       # the edge belongs to the band above: × 10 %
    ("500000.01", "50000.00"),    # 50,000.001
    ("999999.99", "100000.00"),   # × 10 % = 99,999.999
    ("1000000", "120000.00"),     # × 12 %
])
def test_volume_royalty_charges_the_whole_base_at_the_reached_band(revenue, expected):
    assert royalty(plan("volume"), revenue) == D(expected)


def test_flat_royalty_charges_one_rate_whatever_the_revenue():
    flat = load_plan_text(PLAN_YAML.format(method="flat").replace(
        '    - {up_to: "500000", rate: "0.08"}\n    - {up_to: "1000000", rate: "0.10"}\n', ""), "flat.yaml")
    assert royalty(flat, "499999.99") == D("60000.00")   # 59,999.9988
    assert royalty(flat, "1000000.01") == D("120000.00")


def test_a_royalty_below_the_minimum_gets_a_separate_top_up_line():
    lines = calc.revenue_charges(plan(), D("200000"))
    kinds = {line.kind: line.amount for line in lines}
    assert kinds["royalty"] == D("16000.00")
    assert kinds["minimum_topup"] == D("14000.00")
    assert kinds["brand_fund"] == D("4000.00")


def test_no_top_up_when_the_royalty_reaches_the_minimum_exactly():
    lines = calc.revenue_charges(plan(), D("375000"))  # 375,000 × 8 % = 30,000
    assert "minimum_topup" not in {line.kind for line in lines}


def test_brand_fund_is_its_own_line_on_gross_revenue():
    line = calc.brand_fund(plan(), D("123456.78"))
    assert (line.base, line.rate, line.amount) == (D("123456.78"), D("0.02"), D("2469.14"))  # 2,469.1356


def test_tech_fee_is_per_desk_per_month():
    line = calc.tech_fee(plan(), 120)
    assert line.amount == D("1800.00")
    assert calc.tech_fee(plan(), 0) is None


def test_vat_is_computed_once_on_the_sum_of_rounded_lines():
    # three lines of 0.10: VAT per line would be 3 × round(0.006) = 0.03; on the sum it is round(0.018) = 0.02
    lines = [calc.Line(kind="tech_fee", description="x", amount=D("0.10")) for _ in range(3)]
    totals = calc.totals(lines, D("0.06"))
    assert (totals.subtotal, totals.vat, totals.total) == (D("0.30"), D("0.02"), D("0.32"))
    assert sum(calc.fen(line.amount * D("0.06")) for line in lines) == D("0.03")


def test_a_missing_report_is_estimated_from_the_three_previous_months():
    history = [D("100000"), D("110000"), D("120000.01")]
    assert calc.estimate_revenue(plan(), history) == D("110000.00")  # 330,000.01 / 3 = 110,000.0033
    uplifted = plan(estimate_uplift=D("1.10"))
    assert calc.estimate_revenue(uplifted, history) == D("121000.00")


def test_the_estimate_uses_only_the_last_months_of_the_plan():
    assert calc.estimate_revenue(plan(), [D("900000"), D("10"), D("20"), D("30")]) == D("20.00")
    assert calc.estimate_revenue(plan(), []) == D("0")


def test_site_lines_mark_revenue_lines_estimated_but_not_the_tech_fee():
    month = calc.SiteMonth(site_id=1, site_code="SH-01", desks=10, revenue=D("100000"), estimated=True,
                           report_id=None, report_version=None)
    lines = calc.site_lines(plan(), month, "2026-10")
    assert {line.kind: line.estimated for line in lines} == {
        "royalty": True, "minimum_topup": True, "brand_fund": True, "tech_fee": False}


def fee(p=None, *, principal="10000", due=date(2026, 10, 15), payments=(), as_of, charged_before="0"):
    return calc.late_fee(p or plan(), invoice_id=1, invoice_number="BH-2026-000001", principal=D(principal),
                         due_date=due, payments=[(when, D(amount)) for when, amount in payments], as_of=as_of,
                         charged_before=D(charged_before))


def test_no_late_fee_until_the_grace_period_has_passed():
    assert fee(as_of=date(2026, 10, 25)) is None  # due 10-15 + 10 days of grace = 10-25: nothing yet


def test_interest_runs_from_the_due_date_plus_grace():
    line = fee(as_of=date(2026, 10, 26))
    assert (line.inputs["days"], line.inputs["from"]) == (1, "2026-10-25")
    assert line.amount == D("5.00")  # 10,000 × 0.0005 × 1


def test_each_partial_payment_reduces_the_balance_from_its_own_date():
    line = fee(principal="86708.00", due=date(2026, 10, 16),
               payments=[(date(2026, 11, 1), "30000"), (date(2026, 11, 10), "36708")], as_of=date(2026, 12, 5))
    # from 10-26: 86,708 × 6 days (to 11-01) = 260.124; 56,708 × 9 days (to 11-10) = 255.186;
    # 20,000 × 25 days (to 12-05) = 250.000 → 765.31
    assert [(s["from"], s["to"], s["balance"], s["days"]) for s in line.inputs["spans"]] == [
        ("2026-10-26", "2026-11-01", "86708.00", 6), ("2026-11-01", "2026-11-10", "56708.00", 9),
        ("2026-11-10", "2026-12-05", "20000.00", 25)]
    assert line.amount == D("765.31")
    assert line.inputs["days"] == 40


def test_a_balance_paid_in_full_late_still_owes_its_days_and_no_more():
    line = fee(payments=[(date(2026, 11, 4), "10000")], as_of=date(2026, 12, 5))
    assert (line.inputs["days"], line.amount) == (10, D("50.00"))  # 10-25 to 11-04 on 10,000


def test_a_payment_within_grace_lowers_the_balance_from_the_first_late_day():
    line = fee(payments=[(date(2026, 10, 20), "4000")], as_of=date(2026, 11, 4))
    assert line.amount == D("30.00")  # 6,000 × 0.0005 × 10


def test_late_fees_already_charged_are_not_charged_again_and_rounding_adds_up():
    first = fee(principal="3333.33", as_of=date(2026, 11, 14))  # 20 days: 33.3333 → 33.33
    second = fee(principal="3333.33", as_of=date(2026, 11, 29), charged_before="33.33")
    assert (first.amount, second.amount) == (D("33.33"), D("25.00"))
    assert first.amount + second.amount == D("58.33")  # 35 days at once: 58.333275 → 58.33
    assert fee(principal="3333.33", as_of=date(2026, 11, 29), charged_before="58.33") is None


def test_the_plans_cap_limits_the_total_late_fee_of_one_invoice():
    capped = plan(late_fee_cap_rate=D("0.10"))
    assert fee(capped, principal="1000", as_of=date(2027, 8, 21)).amount == D("100.00")  # 300 days: 150 → cap 100
    assert fee(capped, principal="1000", as_of=date(2027, 8, 21), charged_before="100.00") is None


def test_a_corrected_report_is_trued_up_against_what_was_billed():
    # billed on 400,000: royalty 32,000 + brand fund 8,000 = 40,000; corrected to 600,000:
    # royalty 40,000 + 10,000 = 50,000, brand fund 12,000 → 62,000; true-up +22,000
    line = calc.true_up(plan(), corrected_revenue=D("600000"), billed=D("40000.00"), invoice_id=7,
                        invoice_number="BH-2026-000007")
    assert line.amount == D("22000.00")
    assert line.corrects_invoice_id == 7
    assert line.inputs["invoice"] == "BH-2026-000007"


def test_a_correction_downwards_is_a_credit_line_and_respects_the_minimum():
    # billed on 500,000: 40,000 + 10,000 = 50,000; corrected to 100,000: 8,000 + top-up 22,000 + fund 2,000
    line = calc.true_up(plan(), corrected_revenue=D("100000"), billed=D("50000.00"), invoice_id=7,
                        invoice_number="BH-2026-000007")
    assert line.amount == D("-18000.00")


def test_negative_revenue_is_refused():
    with pytest.raises(ValueError):
        calc.royalty_lines(plan(), D("-1"))


def test_an_estimate_window_is_the_plans_calendar_months_before_the_missing_one():
    assert calc.estimate_window("2026-02", 3) == ["2025-11", "2025-12", "2026-01"]
    assert calc.estimate_window("2026-10", 1) == ["2026-09"]
    assert calc.estimate_window("2026-10", 0) == []
