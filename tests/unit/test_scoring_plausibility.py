"""Revenue plausibility on hand-made cases: median and MAD, minimum cohort, insufficient data, reasons in words."""
from decimal import Decimal as D

import pytest

from scoring.plausibility import (IMPLAUSIBLE, INSUFFICIENT, PLAUSIBLE, Activity, Signals, Thresholds, assess,
                                  robust_z)

PEERS = tuple(D(v) for v in ("3400", "3500", "3600", "3650", "3700", "3800"))
HISTORY = tuple(D(v) for v in ("700000", "720000", "690000", "710000", "705000"))
BUSY = (Activity("occupancy", 0.62, (0.6, 0.61, 0.63, 0.6, 0.62)),
        Activity("check_ins", 4100, (4000, 3950, 4050, 4020, 3990)))


def signals(gross: str, **changes) -> Signals:
    values = dict(period="2026-10", gross=D(gross), desks=200, history=HISTORY, cohort_per_desk=PEERS,
                  cohort_label="standard · 上海", activity=BUSY)
    values.update(changes)
    return Signals(**values)


def codes(assessment) -> set[str]:
    return {r.code for r in assessment.reasons}


def test_a_month_like_the_others_is_plausible():
    result = assess(signals("712000"))
    assert result.verdict == PLAUSIBLE
    assert {"cohort_in_line", "revenue_in_line", "activity_held"} <= codes(result)


def test_revenue_falling_while_occupancy_and_check_ins_hold_is_implausible():
    result = assess(signals("430000"))
    assert result.verdict == IMPLAUSIBLE
    fell = next(r for r in result.reasons if r.code == "revenue_fell")
    assert fell.off and fell.params["change_pct"] == -39
    assert "occupancy during open hours held" in fell.text and "check-ins held" in fell.text


def test_revenue_falling_with_the_site_emptying_is_plausible():
    quiet = (Activity("occupancy", 0.35, (0.6, 0.61, 0.63, 0.6, 0.62)),
             Activity("check_ins", 2300, (4000, 3950, 4050, 4020, 3990)))
    result = assess(signals("480000", activity=quiet))
    assert result.verdict == PLAUSIBLE
    assert "and so did" not in result.summary() and "occupancy during open hours fell" in result.summary()


def test_revenue_per_desk_far_below_the_cohort_median_is_implausible():
    result = assess(signals("200000", history=(), activity=()))
    assert result.verdict == IMPLAUSIBLE
    low = next(r for r in result.reasons if r.code == "cohort_low")
    assert low.params["median"] == 3625.0 and low.params["n"] == 6 and low.params["z"] < -3.5
    assert "below the median ¥3,625.00 of 6 standard · 上海 sites" in low.text


def test_a_cohort_smaller_than_the_minimum_falls_back_to_the_network_then_to_nothing():
    small = PEERS[:3]
    fallback = assess(signals("200000", cohort_per_desk=small, network_per_desk=PEERS, network_label="standard",
                              history=(), activity=()))
    assert "cohort_low" in codes(fallback)
    nothing = assess(signals("200000", cohort_per_desk=small, history=(), activity=()))
    assert "cohort_low" not in codes(nothing) and nothing.verdict == INSUFFICIENT


def test_no_comparators_gives_insufficient_data_not_a_verdict():
    result = assess(signals("430000", history=(), cohort_per_desk=(), activity=()))
    assert result.verdict == INSUFFICIENT
    missing = next(r for r in result.reasons if r.code == "signals_missing")
    assert set(missing.params["missing"]) == {"breakdown", "cohort", "history", "activity"}


def test_a_fall_with_no_activity_figures_is_not_called_implausible_on_its_own():
    result = assess(signals("430000", activity=(), cohort_per_desk=()))
    assert result.verdict != IMPLAUSIBLE
    assert "no occupancy, check-in or member figures" in result.summary()


def test_a_breakdown_that_does_not_add_up_is_implausible():
    result = assess(signals("712000", breakdown={"desks": D("400000"), "offices": D("100000")}))
    assert result.verdict == IMPLAUSIBLE and "breakdown_mismatch" in codes(result)
    part = assess(signals("1000", breakdown={"desks": D("5000")}))
    assert "breakdown_part_exceeds" in codes(part)
    assert next(r for r in part.reasons if r.code == "breakdown_part_exceeds").params["fields"] == ["desks"]


def test_a_breakdown_within_rounding_adds_up():
    result = assess(signals("712000", breakdown={"desks": D("400000"), "offices": D("311999.99")}))
    assert "breakdown_adds_up" in codes(result) and result.verdict == PLAUSIBLE


def test_same_month_last_year_counts_as_history():
    result = assess(signals("430000", history=(), same_month_last_year=D("700000")))
    fell = next(r for r in result.reasons if r.code == "revenue_fell_year")
    assert fell.off and result.verdict == IMPLAUSIBLE


def test_one_wild_month_in_the_history_does_not_move_the_median():
    wild = HISTORY[:-1] + (D("5000000"),)
    assert robust_z(430000, [float(h) for h in wild]).median == pytest.approx(710000)
    assert assess(signals("430000", history=wild)).verdict == IMPLAUSIBLE


def test_identical_peers_still_leave_room_for_ordinary_noise():
    same = (D("3600"),) * 6
    assert assess(signals("700000", cohort_per_desk=same)).verdict == PLAUSIBLE


def test_thresholds_come_from_a_file_and_ignore_unknown_names():
    t = Thresholds.of({"drop_share": "0.5", "outlier_mads": "20", "min_cohort": 3, "something_else": 1})
    assert t.drop_share == 0.5 and t.min_cohort == 3
    assert assess(signals("430000"), t).verdict == PLAUSIBLE  # a 39 % fall is within a 50 % tolerance


def test_a_site_always_below_its_cohort_is_its_own_price_level_not_a_bent_month():
    low = tuple(D(v) for v in ("400000", "410000", "395000", "405000"))
    result = assess(signals("402000", history=low))
    assert result.verdict == PLAUSIBLE
    assert next(r for r in result.reasons if r.code == "cohort_low").text.endswith("as in its own earlier months")
