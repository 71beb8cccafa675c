"""Renewal recommendations from hand-made records, and the rules file refusing typos by line."""
from __future__ import annotations

import pytest

from scoring.renewal import CONDITIONS, RENEW, REVIEW, recommend
from standards.loader import InvalidFiles
from standards.renewal_rules import LIBRARY, load_rules, load_rules_text

RULES = load_rules()
CLEAN = {"termination_review": 0, "strikes": 0, "missed_windows": 0, "cured_windows": 0, "score_trend": 2.0,
         "revenue_per_desk_vs_cohort": 0.05, "overdue_days_max": 3, "acks_late_share": 0.0,
         "flags:revenue-report-missing": 0, "flags:std:revenue-plausibility/plausible-revenue": 0,
         "disputes_rejected": 0}


def test_a_clean_record_is_renewed():
    result = recommend(CLEAN, RULES)
    assert (result.outcome, result.reasons, result.unknown) == (RENEW, [], [])


def test_a_falling_score_and_a_late_invoice_call_for_their_conditions():
    result = recommend({**CLEAN, "score_trend": -7.5, "overdue_days_max": 41}, RULES)
    assert result.outcome == CONDITIONS
    assert [r.key for r in result.reasons] == ["score_trend", "overdue_days_max"]
    assert result.conditions("en") == ["Score back to last year's level within six months",
                                       "Prepayment or a bank guarantee"]
    assert result.conditions("zh_CN")[1] == "改为预付或提供保函"


def test_termination_review_refers_to_review_and_keeps_the_conditions_as_reasons_too():
    result = recommend({**CLEAN, "termination_review": 1, "strikes": 2.5, "missed_windows": 1}, RULES)
    assert result.outcome == REVIEW
    assert [r.key for r in result.reasons] == ["termination_review", "strikes", "missed_windows", "strikes"]


def test_a_signal_the_record_cannot_give_holds_no_test_and_is_listed_as_unknown():
    result = recommend({**CLEAN, "revenue_per_desk_vs_cohort": None}, RULES)
    assert result.outcome == RENEW and result.unknown == ["revenue_per_desk_vs_cohort"]


def test_the_rules_file_refuses_a_typo_with_its_line():
    text = (LIBRARY / "renewal-rules.yaml").read_text(encoding="utf-8").replace("signal: score_trend",
                                                                                 "signal: score_trnd")
    with pytest.raises(InvalidFiles) as refused:
        load_rules_text(text, "rules.yaml")
    assert str(refused.value).startswith("rules.yaml:37:") and "score_trnd" in str(refused.value)


def test_implausible_revenue_and_rejected_disputes_call_for_their_conditions():
    result = recommend({**CLEAN, "flags:std:revenue-plausibility/plausible-revenue": 1, "disputes_rejected": 2},
                       RULES)
    assert result.outcome == CONDITIONS
    assert [r.key for r in result.reasons] == ["flags:std:revenue-plausibility/plausible-revenue", "disputes_rejected"]
    assert result.conditions("en") == [
        "Revenue reports backed by the site's own system records, audited quarterly",
        "Disputes only with the contract clause or payment record attached"]
