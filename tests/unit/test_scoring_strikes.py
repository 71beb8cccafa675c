"""Cure windows and strikes, on hand-made card histories."""
from __future__ import annotations

from datetime import date

from scoring.strikes import CardRules, CriticalFlag, PublishedCard, history

RULES = CardRules()   # 120-day windows, cure at yellow, red 1, yellow 0.5, review at 2 within 8 quarters


def card(quarter: str, colour: str, published: date) -> PublishedCard:
    return PublishedCard(quarter, colour, published)


def test_two_reds_in_a_row_put_the_site_under_review_as_before():
    result = history([card("2026-Q2", "red", date(2026, 7, 15)), card("2026-Q3", "red", date(2026, 10, 15))], [],
                     RULES, today=date(2026, 11, 1))
    assert [(w.quarter, w.state) for w in result.windows] == [("2026-Q2", "missed"), ("2026-Q3", "open")]
    assert [(s.quarter, s.reason) for s in result.strikes] == [("2026-Q2", "red_missed"), ("2026-Q3", "red_open")]
    assert result.total == 2.0 and result.review


def test_a_red_is_cured_by_a_yellow_card_once_its_critical_flags_are_resolved():
    flags = [CriticalFlag("feed-silent", date(2026, 7, 1), date(2026, 8, 20))]
    result = history([card("2026-Q2", "red", date(2026, 7, 15)), card("2026-Q3", "yellow", date(2026, 10, 15))],
                     flags, RULES, today=date(2026, 11, 1))
    (window,) = result.windows
    assert (window.state, window.closed_on, window.flags, window.unresolved) == \
        ("cured", date(2026, 10, 15), ("feed-silent",), ())
    # a cured red keeps counting for a year after its cure; the yellow counts half
    assert [(s.reason, s.weight) for s in result.strikes] == [("red_cured", 1.0), ("yellow", 0.5)]
    assert result.total == 1.5 and not result.review
    later = history(result.cards, flags, RULES, today=date(2027, 10, 16))
    assert [s.reason for s in later.strikes] == ["yellow"]


def test_a_good_next_card_does_not_cure_while_a_critical_flag_stays_open_past_the_due_date():
    flags = [CriticalFlag("invoice-overdue BH-2026-000007", date(2026, 7, 1), None)]
    cards = [card("2026-Q2", "red", date(2026, 7, 15)), card("2026-Q3", "green", date(2026, 10, 15))]
    before_due = history(cards, flags, RULES, today=date(2026, 11, 1))
    assert before_due.windows[0].state == "open"
    assert before_due.windows[0].unresolved == ("invoice-overdue BH-2026-000007",)
    after_due = history(cards, flags, RULES, today=date(2026, 11, 13))   # due 2026-11-12
    assert after_due.windows[0].state == "missed" and after_due.windows[0].closed_on == date(2026, 11, 12)


def test_flags_opened_after_the_window_are_not_named_by_it():
    flags = [CriticalFlag("config-drift", date(2026, 9, 1), None)]
    result = history([card("2026-Q2", "red", date(2026, 7, 15)), card("2026-Q3", "yellow", date(2026, 10, 15))],
                     flags, RULES, today=date(2026, 11, 1))
    assert result.windows[0].state == "cured" and result.windows[0].flags == ()


def test_yellows_accumulate_to_review_and_old_cards_leave_the_rolling_period():
    cards = [card(q, "yellow", d) for q, d in (("2025-Q3", date(2025, 10, 15)), ("2025-Q4", date(2026, 1, 15)),
                                               ("2026-Q1", date(2026, 4, 15)), ("2026-Q2", date(2026, 7, 15)))]
    assert history(cards, [], RULES, today=date(2026, 8, 1)).review        # 4 × 0.5 = 2
    strict = CardRules(rolling_quarters=3)
    short = history(cards, [], strict, today=date(2026, 8, 1))              # the last 3 finished quarters: 2025-Q4 … 2026-Q2
    assert short.total == 1.5 and not short.review and short.since_quarter == "2025-Q4"


def test_the_rules_come_from_the_model_file_section():
    rules = CardRules.from_model({"version": 2, "cure": {"window_days": 90, "min_card": "green"},
                                  "strikes": {"red": 1, "yellow": 0, "review_at": 3, "rolling_quarters": 4}})
    assert (rules.version, rules.cure_window_days, rules.cure_min_card, rules.yellow_strike, rules.review_at,
            rules.rolling_quarters) == (2, 90, "green", 0.0, 3.0, 4)
    result = history([card("2026-Q2", "red", date(2026, 7, 15)), card("2026-Q3", "yellow", date(2026, 10, 15))], [],
                     rules, today=date(2026, 11, 1))
    assert result.windows[0].state == "missed" and result.windows[0].next_card == "yellow"
