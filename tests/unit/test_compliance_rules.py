"""Every rule of the catalogue, probe and state machine together, without a database.

For each rule: it opens exactly when its condition has held for its `for`, stays open
until the condition has been clear for its `keep_open_for` (boundaries to the second),
and a recurrence starts a new, linked occurrence.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from brand_hub.compliance.lifecycle import Observation, Timing, observe
from brand_hub.compliance.rules import (AckFacts, Context, DriftFacts, InvoiceFacts, PartnerFacts, ScoreFacts,
                                        SiteFacts, TargetFacts, _measure, agent_is_down, standard_rules, system_rules)
from brand_hub.models.compliance import FlagState
from scoring.hours import is_open

T0 = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
S = timedelta(seconds=1)
HOURS = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CO2_STANDARD = {"key": "iaq-co2", "version": 3, "title_zh": "二氧化碳", "title_en": "CO2", "content": {"rules": [
    {"id": "co2-open-hours", "metric": "co2_ppm", "measure": "share_within", "max": 1000, "share": 0.95,
     "hours": "open", "window": "month", "severity": "major"}]}}
NPS_STANDARD = {"key": "member-nps", "version": 1, "title_zh": "NPS", "title_en": "NPS", "content": {"rules": [
    {"id": "nps-quarter", "indicator": "nps", "measure": "value", "min": 30, "window": "quarter",
     "severity": "major"}]}}


def site(**fields) -> SiteFacts:
    return SiteFacts(site_id=1, code="SH-JA-01", franchisee_id=1, opening_hours=HOURS, **fields)


def up(now):
    return TargetFacts(last_attempt_at=now, last_success_at=now, newest_record_at=now, health_at=now)


def co2(now, ppm):
    return {"co2_ppm": [(now - (n + 1) * timedelta(minutes=15), ppm, "open-desk") for n in range(96)]}


def red_twice(last: str):
    return {"2026-Q2": ScoreFacts("2026-Q2", "scored", 40, "red", 0.9, {}),
            "2026-Q3": ScoreFacts("2026-Q3", "scored", 40 if last == "red" else 80, last, 0.9, {})}


# rule id → (facts while the condition holds since T0, facts while it is clear); each gets the time `now`
CASES = {
    "agent-unreachable": (
        lambda now: site(target=TargetFacts(now, T0, T0, T0)), lambda now: site(target=up(now))),
    "feed-silent": (
        lambda now: site(target=TargetFacts(now, now, T0 - 2 * H, now)), lambda now: site(target=up(now))),
    "standard-unacknowledged": (
        lambda now: site(acks=[AckFacts("iaq-co2", 3, T0, None)]),
        lambda now: site(acks=[AckFacts("iaq-co2", 3, T0, now)])),
    "config-drift": (
        lambda now: site(drift=DriftFacts(T0, ["hvac.setpoint"], "sha256:a", "sha256:b")),
        lambda now: site(drift=DriftFacts(None, [], "sha256:a", "sha256:a"))),
    "revenue-report-missing": (
        lambda now: site(revenue_periods={"2026-08", "2026-09"}),
        lambda now: site(revenue_periods={"2026-08", "2026-09", "2026-10"})),
    "invoice-overdue": (
        lambda now: PartnerFacts(1, "SHP", invoices=[InvoiceFacts("BH-2026-000001", "2026-09", date(2026, 10, 15),
                                                                  "1200.00", True)]),
        lambda now: PartnerFacts(1, "SHP", invoices=[InvoiceFacts("BH-2026-000001", "2026-09", date(2026, 10, 15),
                                                                  "0.00", False)])),
    "red-card": (
        lambda now: site(scores={"2026-Q3": ScoreFacts("2026-Q3", "scored", 41.0, "red", 0.9, {})}),
        lambda now: site(scores={"2026-Q3": ScoreFacts("2026-Q3", "scored", 70.0, "yellow", 0.9, {})})),
    "termination-review": (
        lambda now: PartnerFacts(1, "SHP", sites=[site(scores=red_twice("red"))]),
        lambda now: PartnerFacts(1, "SHP", sites=[site(scores=red_twice("green"))])),
    "data-completeness": (
        lambda now: site(scores={"2026-10": ScoreFacts("2026-10", "insufficient", None, None, 0.4, {})}),
        lambda now: site(scores={"2026-10": ScoreFacts("2026-10", "scored", 77.0, None, 0.92, {})})),
    "std:iaq-co2/co2-open-hours": (
        lambda now: site(target=up(now), readings=co2(now, 1450.0)),
        lambda now: site(target=up(now), readings=co2(now, 620.0))),
    "std:member-nps/nps-quarter": (
        lambda now: site(target=up(now), nps=[(now - H, 3)] * 12 + [(now - H, 10)] * 4),
        lambda now: site(target=up(now), nps=[(now - H, 10)] * 12 + [(now - H, 5)] * 2)),
}


def rules_by_id(now=T0):
    ctx = Context(now=now)
    return {r.id: r for r in (*system_rules(ctx), *standard_rules([CO2_STANDARD, NPS_STANDARD]))}


def test_every_rule_of_the_catalogue_has_a_case():
    assert set(rules_by_id()) == set(CASES)


class Identity:
    """One flag identity per subject, advanced through probe and machine as the evaluator does."""

    def __init__(self, rule_id):
        self.rule_id, self.flags, self.kinds = rule_id, {}, []

    def at(self, now, facts):
        rule = rules_by_id(now)[self.rule_id]
        seen = rule.probe(facts, Context(now=now))
        for subject in self.flags:
            seen.setdefault(subject, Observation("clear"))
        for subject, obs in seen.items():
            if obs.severity is None:
                obs = Observation(obs.status, obs.since, rule.severity, obs.evidence)
            outcome = observe(self.flags.get(subject), obs, rule.timing, now)
            if outcome.flag is not None:
                self.flags[subject] = outcome.flag
            self.kinds += [e.kind for e in outcome.events]
        return self

    def states(self):
        return {f.state for f in self.flags.values()}


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_each_rule_opens_holds_through_its_for_resolves_after_keep_open_and_reopens(rule_id):
    firing, clear = CASES[rule_id]
    timing: Timing = rules_by_id()[rule_id].timing
    flag = Identity(rule_id)
    if timing.for_:
        flag.at(T0, firing(T0)).at(T0 + timing.for_ - S, firing(T0 + timing.for_ - S))
        assert flag.states() == {FlagState.pending}, "opened before its `for`"
    opened_at = T0 + timing.for_
    flag.at(opened_at, firing(opened_at))
    assert flag.states() == {FlagState.open} and "opened" in flag.kinds
    cleared = opened_at + H
    flag.at(cleared, clear(cleared))
    if timing.keep_open_for:
        flag.at(cleared + timing.keep_open_for - S, clear(cleared + timing.keep_open_for - S))
        assert flag.states() == {FlagState.open}, "resolved before its keep_open_for"
        flag.at(cleared + timing.keep_open_for, clear(cleared + timing.keep_open_for))
    assert flag.states() == {FlagState.resolved}
    again = cleared + timing.keep_open_for + H
    flag.at(again, firing(again)).at(again + timing.for_ + H, firing(again + timing.for_ + H))
    assert flag.states() == {FlagState.open} and "reopened" in flag.kinds
    assert {f.occurrence for f in flag.flags.values()} == {2}


def test_the_agent_rule_is_a_warning_until_72_hours_then_critical():
    rule = rules_by_id()["agent-unreachable"]
    at_71 = rule.probe(site(target=TargetFacts(T0, T0 - 72 * H + S, None, None)), Context(now=T0))[""]
    at_72 = rule.probe(site(target=TargetFacts(T0, T0 - 72 * H, None, None)), Context(now=T0))[""]
    assert (at_71.severity, at_72.severity) == ("warning", "critical")


def test_an_agent_counts_as_down_for_inhibition_only_after_24_hours():
    assert not agent_is_down(site(target=TargetFacts(T0, T0 - 24 * H + S, None, None)), Context(now=T0))
    assert agent_is_down(site(target=TargetFacts(T0, T0 - 24 * H, None, None)), Context(now=T0))


def test_metric_rules_without_readings_say_no_data_and_carry_the_standard_version():
    rule = rules_by_id()["std:iaq-co2/co2-open-hours"]
    seen = rule.probe(site(target=up(T0)), Context(now=T0))[""]
    assert seen.status == "no_data" and seen.evidence["version"] == 3 and seen.evidence["samples"] == 0


def test_share_within_counts_only_open_hours_when_the_rule_says_so():
    rule = rules_by_id()["std:iaq-co2/co2-open-hours"]
    hours = {d: [["09:00", "21:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    starts = [T0 - (n + 1) * timedelta(minutes=15) for n in range(96)]
    closed_high = {"co2_ppm": [(at, 600.0 if is_open(at, 15, "Asia/Shanghai", hours) else 1500.0, "open-desk")
                               for at in starts]}
    facts = SiteFacts(site_id=1, code="X", franchisee_id=1, opening_hours=hours, readings=closed_high)
    seen = rule.probe(facts, Context(now=T0))[""]
    assert seen.status == "clear" and seen.evidence["value"] == 1.0 and seen.evidence["samples"] == 48


def test_an_occupied_hours_rule_judges_only_zones_with_people_in_them():
    lighting = {"key": "desk-lighting", "version": 2, "title_zh": "照度", "title_en": "Lighting", "content": {
        "rules": [{"id": "desk-lux-median", "metric": "illuminance_lux", "measure": "median", "min": 500,
                   "hours": "occupied", "window": "month", "severity": "minor"}]}}
    [rule] = standard_rules([lighting])
    starts = [T0 - (n + 1) * timedelta(minutes=15) for n in range(96)]
    # the open desks are busy and lit at 550 lx; the meeting room stands empty with its lights at 20 lx
    readings = {"illuminance_lux": [(at, 550.0, "open-desk") for at in starts] + [(at, 20.0, "meeting") for at in starts],
                "zone_occupied": [(at, 1.0, "open-desk") for at in starts] + [(at, 0.0, "meeting") for at in starts]}
    seen = rule.probe(site(target=up(T0), readings=readings), Context(now=T0))[""]
    assert seen.status == "clear" and seen.evidence["value"] == 550.0 and seen.evidence["samples"] == 96
    # once people sit in the dark meeting room, its readings count and the median falls below 500 lx
    readings["zone_occupied"] = [(at, 1.0, zone) for at, _, zone in readings["zone_occupied"]]
    seen = rule.probe(site(target=up(T0), readings=readings), Context(now=T0))[""]
    assert seen.status == "firing" and seen.evidence["samples"] == 192


def test_revenue_reports_are_due_after_the_due_day_of_the_next_month():
    rule = rules_by_id()["revenue-report-missing"]
    facts = site(revenue_periods={"2026-08", "2026-09"})
    on_due_day = datetime(2026, 11, 10, 15, 59, tzinfo=timezone.utc)  # 23:59 on the 10th in Shanghai
    after = datetime(2026, 11, 10, 16, 0, tzinfo=timezone.utc)
    assert "2026-10" not in rule.probe(facts, Context(now=on_due_day))
    assert rule.probe(facts, Context(now=after))["2026-10"].status == "firing"


def test_measures_p95_by_nearest_rank_median_and_share_within():
    hours = [float(h) for h in range(1, 21)]  # 20 tickets, 1 h … 20 h
    assert _measure(hours, "p95", {}) == 19.0 and _measure(hours, "median", {}) == 10.5
    assert _measure(hours, "share_within", {"max": 10}) == 0.5


