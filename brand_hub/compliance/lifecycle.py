"""The flag state machine: observations over time in, flag states and timeline events out.

Pure Python (no database, no request) so every duration boundary is unit-tested
directly. ``observe`` is what the evaluator calls for each rule and subject on
every run; ``act`` is what people do (acknowledge, plan, waive, resolve). A refused
step's message is a lazy translation: English outside a request.

States: pending → open → acknowledged → plan_submitted → plan_accepted → resolved,
plus escalated, waived and no_data. A condition must hold for the rule's ``for``
duration before a pending flag opens, and must stay clear for ``keep_open_for``
before an open flag resolves (no flapping). A recurrence after resolution starts a
new flag linked to the old one.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from flask_babel import lazy_gettext as _l, lazy_pgettext

from brand_hub.models.compliance import FlagState

ACTIVE = frozenset({FlagState.open, FlagState.acknowledged, FlagState.plan_submitted, FlagState.plan_accepted,
                    FlagState.escalated, FlagState.waived})
UNACKNOWLEDGED = frozenset({FlagState.open, FlagState.escalated})
CURRENT = ACTIVE | {FlagState.pending, FlagState.no_data}
TOP_ESCALATION = 2  # 0 partner, 1 regional manager, 2 brand HQ
ESCALATION_TARGETS = {1: "regional manager", 2: "brand HQ"}

Status = Literal["firing", "clear", "no_data", "inhibited"]


class TransitionRefused(ValueError):
    """A person asked for a step the flag's state does not allow (the message is a lazy translation)."""


@dataclass(frozen=True)
class Timing:
    """How long a condition must hold before opening, stay clear before resolving, and the answer deadlines."""

    for_: timedelta = timedelta(0)
    keep_open_for: timedelta = timedelta(0)
    ack_within: timedelta = timedelta(hours=72)
    escalate_every: timedelta = timedelta(hours=72)
    remind_before: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Observation:
    """What a probe saw for one subject now. ``since``: when the condition began, if the facts know it."""

    status: Status
    since: datetime | None = None
    severity: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FlagView:
    """The parts of a flag the machine decides on (a plain copy of the stored row)."""

    state: FlagState
    severity: str
    pending_since: datetime | None = None
    opened_at: datetime | None = None
    clear_since: datetime | None = None
    resolved_at: datetime | None = None
    resolution: str = ""
    waived_until: datetime | None = None
    ack_due_at: datetime | None = None
    ack_reminded_at: datetime | None = None
    acknowledged_at: datetime | None = None
    escalation_level: int = 0
    last_seen_at: datetime | None = None
    occurrence: int = 1
    evidence: dict[str, Any] = field(default_factory=dict)

    def but(self, **changes) -> "FlagView":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Event:
    """One step of the timeline; ``kind`` says what happened, ``reason`` why."""

    kind: str
    from_state: FlagState | None
    to_state: FlagState
    reason: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """The flag after an observation (``None``: there is none) and the events that got it there.

    ``new`` is true when a new flag row starts (first sight, or a recurrence after a
    resolved one, which the caller links as its history).
    """

    flag: FlagView | None
    events: tuple[Event, ...] = ()
    new: bool = False


def _hours(delta: timedelta) -> str:
    hours = round(delta.total_seconds() / 3600, 1)
    return f"{hours:g} h"


def observe(flag: FlagView | None, obs: Observation, timing: Timing, now: datetime) -> Outcome:
    """Advance one flag identity by one observation at ``now``."""
    if flag is None or flag.state == FlagState.resolved:
        return _first_sight(flag, obs, timing, now)
    if obs.status == "inhibited":
        return Outcome(flag)
    if flag.state == FlagState.pending:
        return _from_pending(flag, obs, timing, now)
    if flag.state == FlagState.no_data:
        return _from_no_data(flag, obs, timing, now)
    return _from_active(flag, obs, timing, now)


def _first_sight(previous: FlagView | None, obs: Observation, timing: Timing, now: datetime) -> Outcome:
    if obs.status == "firing":
        since = obs.since or now
        if previous is not None and previous.resolved_at is not None:
            since = max(since, previous.resolved_at)  # a recurrence holds its `for` again from the resolution
        occurrence = previous.occurrence + 1 if previous is not None else 1
        pending = FlagView(state=FlagState.pending, severity=obs.severity or "minor", pending_since=since,
                           last_seen_at=now, occurrence=occurrence, evidence=obs.evidence)
        start = Event("pending", None, FlagState.pending, "condition seen")
        promoted, events = _promote(pending, timing, now)
        return Outcome(promoted, (start, *events), new=True)
    if obs.status == "no_data":
        occurrence = previous.occurrence + 1 if previous is not None else 1
        flag = FlagView(state=FlagState.no_data, severity="info", last_seen_at=now, occurrence=occurrence,
                        evidence=obs.evidence)
        return Outcome(flag, (Event("no_data", None, FlagState.no_data, "no data to judge by"),), new=True)
    return Outcome(previous)


def _promote(flag: FlagView, timing: Timing, now: datetime) -> tuple[FlagView, list[Event]]:
    assert flag.pending_since is not None
    if now - flag.pending_since < timing.for_:
        return flag, []
    opened = flag.but(state=FlagState.open, opened_at=now, ack_due_at=now + timing.ack_within, clear_since=None)
    kind = "reopened" if flag.occurrence > 1 else "opened"
    reason = f"condition held for {_hours(now - flag.pending_since)} (rule needs {_hours(timing.for_)})"
    return opened, [Event(kind, FlagState.pending, FlagState.open, reason)]


def _from_pending(flag: FlagView, obs: Observation, timing: Timing, now: datetime) -> Outcome:
    if obs.status == "firing":
        flag = flag.but(severity=obs.severity or flag.severity, last_seen_at=now, evidence=obs.evidence)
        promoted, events = _promote(flag, timing, now)
        return Outcome(promoted, tuple(events))
    if obs.status == "no_data":
        return Outcome(flag.but(state=FlagState.no_data, evidence=obs.evidence),
                       (Event("no_data", FlagState.pending, FlagState.no_data, "no data to judge by"),))
    resolved = flag.but(state=FlagState.resolved, resolved_at=now, resolution="cleared before it opened")
    return Outcome(resolved, (Event("cleared", FlagState.pending, FlagState.resolved,
                                    f"condition cleared before it held for {_hours(timing.for_)}"),))


def _from_no_data(flag: FlagView, obs: Observation, timing: Timing, now: datetime) -> Outcome:
    if obs.status == "no_data":
        return Outcome(flag.but(last_seen_at=now))
    if obs.status == "firing":
        pending = flag.but(state=FlagState.pending, severity=obs.severity or "minor", pending_since=obs.since or now,
                           last_seen_at=now, evidence=obs.evidence)
        start = Event("pending", FlagState.no_data, FlagState.pending, "data is back; condition seen")
        promoted, events = _promote(pending, timing, now)
        return Outcome(promoted, (start, *events))
    resolved = flag.but(state=FlagState.resolved, resolved_at=now, resolution="data is back and meets the rule",
                        evidence=obs.evidence)
    return Outcome(resolved, (Event("resolved", FlagState.no_data, FlagState.resolved,
                                    "data is back and meets the rule"),))


def _from_active(flag: FlagView, obs: Observation, timing: Timing, now: datetime) -> Outcome:
    events: list[Event] = []
    if obs.status == "firing":
        severity = obs.severity or flag.severity
        if severity != flag.severity:
            events.append(Event("severity", flag.state, flag.state, f"severity {flag.severity} → {severity}",
                                {"from": flag.severity, "to": severity}))
        flag = flag.but(severity=severity, clear_since=None, last_seen_at=now, evidence=obs.evidence)
    elif obs.status == "clear":
        clear_since = flag.clear_since or obs.since or now
        flag = flag.but(clear_since=clear_since)
        if now - clear_since >= timing.keep_open_for:
            reason = f"condition clear for {_hours(now - clear_since)} (rule keeps open {_hours(timing.keep_open_for)})"
            resolved = flag.but(state=FlagState.resolved, resolved_at=now, resolution=reason)
            return Outcome(resolved, (*events, Event("resolved", flag.state, FlagState.resolved, reason)))
    else:  # no data is never compliance: the clock toward resolution stops
        flag = flag.but(clear_since=None)
    flag, timed = deadlines(flag, timing, now)
    return Outcome(flag, (*events, *timed))


def deadlines(flag: FlagView, timing: Timing, now: datetime) -> tuple[FlagView, list[Event]]:
    """Waiver expiry, the reminder before the acknowledgement deadline, and escalation after it."""
    events: list[Event] = []
    if flag.state == FlagState.waived and flag.waived_until is not None and now >= flag.waived_until:
        events.append(Event("waiver_expired", FlagState.waived, FlagState.open,
                            f"waiver ended {flag.waived_until.isoformat()}"))
        flag = flag.but(state=FlagState.open, waived_until=None, ack_due_at=now + timing.ack_within,
                        ack_reminded_at=None)
    if flag.state not in UNACKNOWLEDGED or flag.ack_due_at is None:
        return flag, events
    if (flag.state == FlagState.open and flag.ack_reminded_at is None
            and flag.ack_due_at - timing.remind_before <= now < flag.ack_due_at):
        events.append(Event("reminder", flag.state, flag.state, "acknowledgement due soon",
                            {"due_at": flag.ack_due_at.isoformat()}))
        flag = flag.but(ack_reminded_at=now)
    while (flag.escalation_level < TOP_ESCALATION
           and now >= flag.ack_due_at + flag.escalation_level * timing.escalate_every):
        level = flag.escalation_level + 1
        events.append(Event("escalated", flag.state, FlagState.escalated,
                            f"not acknowledged by {flag.ack_due_at.isoformat()}; escalated to "
                            f"{ESCALATION_TARGETS[level]}", {"level": level}))
        flag = flag.but(state=FlagState.escalated, escalation_level=level)
    return flag, events


# ---------------------------------------------------------------- what people do

ALLOWED: dict[str, frozenset[FlagState]] = {
    "acknowledge": UNACKNOWLEDGED,
    "submit_plan": frozenset({FlagState.open, FlagState.escalated, FlagState.acknowledged, FlagState.plan_submitted}),
    "accept_plan": frozenset({FlagState.plan_submitted}),
    "reject_plan": frozenset({FlagState.plan_submitted}),
    "waive": ACTIVE | {FlagState.pending, FlagState.no_data},
    "resolve": CURRENT,
}
TARGET = {"acknowledge": FlagState.acknowledged, "submit_plan": FlagState.plan_submitted,
          "accept_plan": FlagState.plan_accepted, "reject_plan": FlagState.acknowledged,
          "waive": FlagState.waived, "resolve": FlagState.resolved}


def _not_allowed(action: str, state: FlagState):
    """Why ``action`` is refused in ``state``: one whole sentence per step, so it translates as a sentence."""
    word = lazy_pgettext("flag state", state.value)
    return {
        "acknowledge": _l("a flag that is %(state)s cannot be acknowledged", state=word),
        "submit_plan": _l("a flag that is %(state)s cannot have a plan submitted", state=word),
        "accept_plan": _l("a flag that is %(state)s cannot have its plan accepted", state=word),
        "reject_plan": _l("a flag that is %(state)s cannot have its plan rejected", state=word),
        "waive": _l("a flag that is %(state)s cannot be waived", state=word),
        "resolve": _l("a flag that is %(state)s cannot be resolved", state=word),
    }[action]


_NEEDS_REASON = {"waive": _l("waive needs a reason"), "resolve": _l("resolve needs a reason"),
                 "reject_plan": _l("reject plan needs a reason")}


def waiver_refusal(until: datetime | None, now: datetime):
    """Why a waiver ending at ``until`` is refused, or None: the one rule, asked by the views before they act."""
    if until is None:
        return _l("A waiver needs an end date (YYYY-MM-DD).")
    if until <= now:
        return _l("a waiver needs an end in the future")
    return None


def act(flag: FlagView, action: str, now: datetime, *, reason: str = "",
        until: datetime | None = None) -> tuple[FlagView, Event]:
    """Apply a person's step to a flag, or refuse it with the reason."""
    if action not in ALLOWED:
        raise TransitionRefused(_l("unknown action %(action)s", action=repr(action)))
    if flag.state not in ALLOWED[action]:
        raise TransitionRefused(_not_allowed(action, flag.state))
    if action in _NEEDS_REASON and not reason.strip():
        raise TransitionRefused(_NEEDS_REASON[action])
    if action == "waive" and waiver_refusal(until, now) is not None:
        raise TransitionRefused(waiver_refusal(until, now))
    target = TARGET[action]
    changes: dict[str, Any] = {"state": target}
    if action == "acknowledge":
        changes["acknowledged_at"] = now
    elif action == "waive":
        changes["waived_until"] = until
    elif action == "resolve":
        changes.update(resolved_at=now, resolution=reason)
    data = {"until": until.isoformat()} if until else {}
    return flag.but(**changes), Event(action, flag.state, target, reason, data)
