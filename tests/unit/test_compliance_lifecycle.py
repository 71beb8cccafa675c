"""The flag state machine, without a database: durations, recurrence, waivers, escalation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from brand_hub.compliance.lifecycle import FlagView, Observation, Timing, TransitionRefused, act, observe
from brand_hub.models.compliance import FlagState

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
TIMING = Timing(for_=2 * H, keep_open_for=3 * H, ack_within=10 * H, escalate_every=5 * H, remind_before=2 * H)
FIRING, CLEAR, NO_DATA = Observation("firing"), Observation("clear"), Observation("no_data")


def run(observations: list[tuple[timedelta, Observation]], flag: FlagView | None = None, timing: Timing = TIMING):
    """Feed observations at T0 + offset; return the last flag and every event kind in order."""
    kinds = []
    for offset, obs in observations:
        outcome = observe(flag, obs, timing, T0 + offset)
        flag = outcome.flag
        kinds += [e.kind for e in outcome.events]
    return flag, kinds


def test_a_condition_seen_once_is_only_pending():
    flag, kinds = run([(0 * H, FIRING)])
    assert flag.state == FlagState.pending and kinds == ["pending"]


def test_a_condition_opens_exactly_when_it_has_held_for_its_for_duration():
    just_before, _ = run([(0 * H, FIRING), (2 * H - timedelta(seconds=1), FIRING)])
    at_boundary, kinds = run([(0 * H, FIRING), (2 * H, FIRING)])
    assert just_before.state == FlagState.pending
    assert at_boundary.state == FlagState.open and kinds == ["pending", "opened"]
    assert at_boundary.ack_due_at == T0 + 2 * H + 10 * H


def test_a_spike_shorter_than_for_opens_nothing():
    flag, kinds = run([(0 * H, FIRING), (1 * H, CLEAR)])
    assert flag.state == FlagState.resolved and "opened" not in kinds


def test_a_condition_known_to_have_started_earlier_opens_at_once():
    flag, kinds = run([(0 * H, Observation("firing", since=T0 - 3 * H))])
    assert flag.state == FlagState.open and kinds == ["pending", "opened"]


def test_an_open_flag_resolves_exactly_after_keep_open_for_of_clear():
    opened = [(0 * H, FIRING), (2 * H, FIRING)]
    still, _ = run(opened + [(3 * H, CLEAR), (6 * H - timedelta(seconds=1), CLEAR)])
    gone, kinds = run(opened + [(3 * H, CLEAR), (6 * H, CLEAR)])
    assert still.state == FlagState.open
    assert gone.state == FlagState.resolved and kinds[-1] == "resolved"


def test_a_flap_back_during_keep_open_restarts_the_clear_clock():
    flag, _ = run([(0 * H, FIRING), (2 * H, FIRING), (3 * H, CLEAR), (5 * H, FIRING), (6 * H, CLEAR),
                   (8 * H, CLEAR)])
    assert flag.state == FlagState.open and flag.clear_since == T0 + 6 * H


def test_a_recurrence_after_resolution_is_a_new_reopened_flag_that_holds_its_for_again():
    resolved, _ = run([(0 * H, FIRING), (2 * H, FIRING), (3 * H, CLEAR), (6 * H, CLEAR)])
    outcome = observe(resolved, Observation("firing", since=T0), TIMING, T0 + 7 * H)
    assert outcome.new and outcome.flag.state == FlagState.pending and outcome.flag.occurrence == 2
    assert outcome.flag.pending_since == T0 + 6 * H  # not before the resolution
    later = observe(outcome.flag, FIRING, TIMING, T0 + 8 * H)
    assert later.flag.state == FlagState.open and [e.kind for e in later.events] == ["reopened"]


def test_re_observing_the_same_moment_changes_nothing():
    flag, _ = run([(0 * H, FIRING), (2 * H, FIRING)])
    again = observe(flag, FIRING, TIMING, T0 + 2 * H)
    assert again.events == () and again.flag == flag.but(last_seen_at=T0 + 2 * H)


def test_no_data_is_never_a_clean_bill():
    flag, kinds = run([(0 * H, NO_DATA)])
    assert flag.state == FlagState.no_data and kinds == ["no_data"]
    opened, _ = run([(0 * H, FIRING), (2 * H, FIRING), (3 * H, CLEAR), (4 * H, NO_DATA), (9 * H, NO_DATA)])
    assert opened.state == FlagState.open and opened.clear_since is None


def test_no_data_resolves_when_data_comes_back_within_the_rule():
    flag, kinds = run([(0 * H, NO_DATA), (1 * H, CLEAR)])
    assert flag.state == FlagState.resolved and kinds == ["no_data", "resolved"]


def test_an_inhibited_rule_opens_nothing_and_keeps_what_is_open():
    nothing, _ = run([(0 * H, Observation("inhibited"))])
    assert nothing is None
    opened, _ = run([(0 * H, FIRING), (2 * H, FIRING), (3 * H, Observation("inhibited")),
                     (30 * H, Observation("inhibited"))])
    assert opened.state in (FlagState.open, FlagState.escalated)


def test_an_unacknowledged_flag_gets_a_reminder_then_escalates_to_the_regional_manager_then_hq():
    opened = [(0 * H, FIRING), (2 * H, FIRING)]  # ack due at 12 h
    reminded, kinds = run(opened + [(10 * H, FIRING)])
    assert reminded.state == FlagState.open and kinds[-1] == "reminder"
    before_due, _ = run(opened + [(12 * H - timedelta(seconds=1), FIRING)])
    assert before_due.state == FlagState.open
    level1, kinds = run(opened + [(12 * H, FIRING)])
    assert level1.state == FlagState.escalated and level1.escalation_level == 1
    level2, kinds = run(opened + [(12 * H, FIRING), (17 * H, FIRING), (40 * H, FIRING)])
    assert level2.escalation_level == 2 and kinds.count("escalated") == 2


def test_escalation_catches_up_when_evaluation_was_late():
    flag, kinds = run([(0 * H, FIRING), (2 * H, FIRING), (30 * H, FIRING)])
    assert flag.escalation_level == 2 and kinds.count("escalated") == 2


def test_an_acknowledged_flag_does_not_escalate():
    flag, _ = run([(0 * H, FIRING), (2 * H, FIRING)])
    acked, event = act(flag, "acknowledge", T0 + 3 * H)
    later, kinds = run([(40 * H, FIRING)], flag=acked)
    assert event.to_state == FlagState.acknowledged and later.state == FlagState.acknowledged and kinds == []


def test_a_waiver_holds_until_it_expires_then_the_flag_returns():
    flag, _ = run([(0 * H, FIRING), (2 * H, FIRING)])
    waived, _ = act(flag, "waive", T0 + 3 * H, reason="landlord fixes ventilation", until=T0 + 20 * H)
    during, kinds = run([(19 * H, FIRING)], flag=waived)
    assert during.state == FlagState.waived and kinds == []
    after, kinds = run([(20 * H, FIRING)], flag=waived)
    assert after.state == FlagState.open and kinds == ["waiver_expired"]
    assert after.ack_due_at == T0 + 30 * H


def test_a_plan_goes_submitted_then_accepted_or_back_to_acknowledged():
    flag, _ = run([(0 * H, FIRING), (2 * H, FIRING)])
    submitted, _ = act(flag, "submit_plan", T0 + 3 * H)
    accepted, _ = act(submitted, "accept_plan", T0 + 4 * H)
    returned, _ = act(submitted, "reject_plan", T0 + 4 * H, reason="no date for the fan repair")
    assert (submitted.state, accepted.state, returned.state) == (
        FlagState.plan_submitted, FlagState.plan_accepted, FlagState.acknowledged)


@pytest.mark.parametrize("action, kwargs, message", [
    ("waive", {"reason": "", "until": T0 + 50 * H}, "needs a reason"),
    ("waive", {"reason": "ok", "until": T0}, "end in the future"),
    ("resolve", {"reason": " "}, "needs a reason"),
    ("accept_plan", {}, "a flag that is open cannot have its plan accepted"),
])
def test_people_cannot_take_steps_the_state_does_not_allow(action, kwargs, message):
    flag, _ = run([(0 * H, FIRING), (2 * H, FIRING)])
    with pytest.raises(TransitionRefused, match=message):
        act(flag, action, T0 + 3 * H, **kwargs)
