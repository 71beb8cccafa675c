"""A renewal recommendation from the record: renew, renew with conditions, or refer to review.

Pure code: the signals (numbers gathered from the record by the hub) and the rules file in,
the recommendation with every reason out. A signal the record cannot give (``None``) never
holds a test: it is listed as unknown instead, so a missing number is never read as good
or bad news.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from standards.renewal_rules import RenewalRules, Test

RENEW, CONDITIONS, REVIEW = "renew", "renew_with_conditions", "refer_to_review"


@dataclass(frozen=True)
class Reason:
    key: str                # the signal (and rule) the reason reads, so a page can link its evidence
    value: float
    reason_zh: str
    reason_en: str
    condition_zh: str = ""
    condition_en: str = ""

    def text(self, locale: str) -> str:
        return self.reason_en if str(locale).startswith("en") else self.reason_zh

    def condition(self, locale: str) -> str:
        return self.condition_en if str(locale).startswith("en") else self.condition_zh


@dataclass
class Recommendation:
    outcome: str
    reasons: list[Reason] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    rules: str = ""

    def conditions(self, locale: str) -> list[str]:
        seen: list[str] = []
        for reason in self.reasons:
            text = reason.condition(locale)
            if text and text not in seen:
                seen.append(text)
        return seen


def recommend(signals: dict[str, float | None], rules: RenewalRules) -> Recommendation:
    """Refer to review if any review test holds; else conditions if any condition test holds; else renew."""
    result = Recommendation(outcome=RENEW, rules=f"{rules.id} v{rules.version}")
    review = _holding(rules.refer_to_review, signals, result.unknown)
    if review:
        result.outcome, result.reasons = REVIEW, review
        result.reasons += _holding(rules.conditions, signals, [])
        return result
    conditions = _holding(rules.conditions, signals, result.unknown)
    if conditions:
        result.outcome, result.reasons = CONDITIONS, conditions
    return result


def _holding(tests: tuple[Test, ...], signals: dict[str, float | None], unknown: list[str]) -> list[Reason]:
    out = []
    for test in tests:
        value = signals.get(test.key())
        if value is None:
            if test.key() not in unknown:
                unknown.append(test.key())
            continue
        holds = (test.at_least is None or value >= test.at_least) and (test.at_most is None or value <= test.at_most)
        if holds:
            out.append(Reason(test.key(), float(value), test.reason_zh, test.reason_en, test.condition_zh,
                              test.condition_en))
    return out
