"""The compliance service: evaluate the rules, and what people do with the flags.

Every step is a ``lifecycle`` transition written as an append-only timeline event;
HQ steps also leave an audit event. Functions never commit: the request, command
or job that calls them does.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func
from sqlmodel import Session, select

from brand_hub import audit
from brand_hub.models import Franchisee, Site
from brand_hub.models.compliance import CorrectiveActionPlan, Flag, FlagEvent, FlagState, PlanStatus, Severity
from brand_hub.settings import Settings

from .engine import Evaluator, RunSummary, evaluate, view_of
from .lifecycle import ACTIVE, CURRENT, TransitionRefused, act


class ComplianceError(Exception):
    """A flag step that cannot be done (wrong state, missing reason, bad date).

    Messages are lazy translations: ``str(exc)`` reads in the request's language on
    the web and in English elsewhere (the CLI). Call ``str`` before storing or slicing.
    """


class FlagNotFound(ComplianceError):
    """No flag with that id."""


class PlanIncomplete(ComplianceError):
    """A corrective action plan without what, who or by when (``missing`` names the fields)."""

    def __init__(self, missing: list[str]):
        super().__init__(f"the plan needs: {', '.join(missing)}")
        self.missing = missing


AGE_BUCKETS = {"1d": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}


@dataclass(frozen=True)
class FlagFilters:
    """The queue's filters; empty strings mean all."""

    severity: str = ""
    rule: str = ""
    partner: str = ""
    city: str = ""
    state: str = "current"  # current | a FlagState value | all
    age: str = ""  # opened more than 1d / 7d / 30d ago
    site: str = ""


def flag_select(filters: FlagFilters, now: datetime):
    """Flags with their site (or none) and partner, filtered as the queue asks, worst first."""
    stmt = (select(Flag, Site, Franchisee).join(Franchisee, Franchisee.id == Flag.franchisee_id)
            .outerjoin(Site, Site.id == Flag.site_id))
    if filters.state == "current":
        stmt = stmt.where(Flag.state.in_(sorted(CURRENT, key=lambda s: s.value)))
    elif filters.state and filters.state != "all":
        stmt = stmt.where(Flag.state == FlagState(filters.state))
    if filters.severity:
        stmt = stmt.where(Flag.severity == Severity(filters.severity))
    if filters.rule:
        stmt = stmt.where(Flag.rule == filters.rule)
    if filters.partner:
        stmt = stmt.where(Franchisee.code == filters.partner)
    if filters.city:
        stmt = stmt.where(Site.city == filters.city)
    if filters.site:
        stmt = stmt.where(Site.code == filters.site)
    if filters.age in AGE_BUCKETS:
        stmt = stmt.where(Flag.opened_at <= now - AGE_BUCKETS[filters.age])
    worst = case(*[(Flag.severity == severity, rank) for rank, severity in enumerate(Severity)], else_=-1)
    return stmt.order_by(worst.desc(), Flag.opened_at.desc().nulls_last(), Flag.id.desc())


def get_flag(*, session: Session, flag_id: int) -> Flag:
    flag = session.get(Flag, flag_id)
    if flag is None:
        raise FlagNotFound(_l("no flag #%(id)s", id=flag_id))
    return flag


def timeline(*, session: Session, flag: Flag) -> list[FlagEvent]:
    """The flag's events, and those of the earlier occurrences it reopens, oldest first."""
    ids, current = [], flag
    while current is not None and len(ids) < 50:
        ids.append(current.id)
        current = session.get(Flag, current.previous_id) if current.previous_id else None
    return list(session.exec(select(FlagEvent).where(FlagEvent.flag_id.in_(ids))
                             .order_by(FlagEvent.at, FlagEvent.id)).all())


def history(*, session: Session, flag: Flag) -> list[Flag]:
    """The earlier occurrences of the same finding, newest first."""
    out, current = [], flag
    while current.previous_id and len(out) < 50:
        current = session.get(Flag, current.previous_id)
        if current is None:
            break
        out.append(current)
    return out


def plans(*, session: Session, flag: Flag) -> list[CorrectiveActionPlan]:
    return list(session.exec(select(CorrectiveActionPlan).where(CorrectiveActionPlan.flag_id == flag.id)
                             .order_by(CorrectiveActionPlan.submitted_at.desc(), CorrectiveActionPlan.id.desc())).all())


def _step(*, session: Session, settings: Settings, flag: Flag, action: str, actor: audit.Actor, now: datetime,
          reason: str = "", until: datetime | None = None, data: dict[str, Any] | None = None,
          hq: bool = True) -> FlagEvent:
    """Apply one person's step, write its event (and mail), and audit it when HQ took it."""
    try:
        after, event = act(view_of(flag), action, now, reason=reason, until=until)
    except TransitionRefused as exc:
        why = exc.args[0] if exc.args else str(exc)  # itself lazy: both parts read in the request's language
        raise ComplianceError(_l("flag #%(id)s: %(reason)s", id=flag.id, reason=why)) from exc
    before = audit.snapshot(flag, ["state", "waived_until", "resolution"])
    for name in ("state", "acknowledged_at", "waived_until", "resolved_at", "resolution"):
        setattr(flag, name, getattr(after, name))
    if after.state == FlagState.resolved:
        flag.open_key = None
    flag.updated_at = now
    session.add(flag)
    session.flush()
    evaluator = Evaluator(session=session, settings=settings, now=now, summary=RunSummary())
    recorded = evaluator.record(flag, event.kind, event.from_state, event.to_state, event.reason,
                                {**event.data, **(data or {})}, actor=actor)
    if hq:
        audit.record(session=session, actor=actor, action=f"flag.{action}", entity_type="flag", entity_id=flag.id,
                     before=before, after=audit.snapshot(flag, ["state", "waived_until", "resolution"]))
    return recorded


def acknowledge(*, session: Session, settings: Settings, flag: Flag, actor: audit.Actor, now: datetime,
                hq: bool = False, note: str = "") -> FlagEvent:
    """The partner (or HQ on its behalf) has seen the flag: escalation stops."""
    return _step(session=session, settings=settings, flag=flag, action="acknowledge", actor=actor, now=now,
                 reason=note or ("acknowledged by HQ" if hq else "acknowledged by the partner"), hq=hq)


def waive(*, session: Session, settings: Settings, flag: Flag, actor: audit.Actor, now: datetime, until: datetime,
          reason: str) -> FlagEvent:
    """HQ excuses a flag until ``until`` (attributed, reasoned); it returns when the waiver ends."""
    return _step(session=session, settings=settings, flag=flag, action="waive", actor=actor, now=now,
                 reason=reason, until=until)


def resolve(*, session: Session, settings: Settings, flag: Flag, actor: audit.Actor, now: datetime,
            reason: str) -> FlagEvent:
    """HQ closes a flag with a reason (a recurrence opens a new, linked one)."""
    return _step(session=session, settings=settings, flag=flag, action="resolve", actor=actor, now=now,
                 reason=reason)


def submit_plan(*, session: Session, settings: Settings, flag: Flag, actor: audit.Actor, now: datetime,
                what: str, who: str, due_on: date | None) -> CorrectiveActionPlan:
    """The partner says what they will do, who does it and by when."""
    what, who = (what or "").strip(), (who or "").strip()
    missing = [name for value, name in ((what, "what"), (who, "who"), (due_on, "due_on")) if not value]
    if missing:
        raise PlanIncomplete(missing)
    assert due_on is not None
    if due_on < now.date():
        raise ComplianceError(_l("the plan's date %(date)s is in the past", date=due_on.isoformat()))
    event = _step(session=session, settings=settings, flag=flag, action="submit_plan", actor=actor, now=now,
                  reason=what[:300], data={"who": who, "due_on": due_on.isoformat()}, hq=False)
    for old in plans(session=session, flag=flag):
        if old.status == PlanStatus.submitted:
            old.status = PlanStatus.rejected
            old.answer = old.answer or "replaced by a newer plan"
            session.add(old)
    plan = CorrectiveActionPlan(flag_id=flag.id, what=what, who=who[:200], due_on=due_on, submitted_at=now,
                                submitted_by=actor.label)
    session.add(plan)
    session.flush()
    event.data = {**event.data, "plan": plan.id}
    return plan


def answer_plan(*, session: Session, settings: Settings, flag: Flag, actor: audit.Actor, now: datetime,
                accept: bool, answer: str) -> CorrectiveActionPlan:
    """HQ accepts the plan, or returns it with what is missing."""
    plan = next((p for p in plans(session=session, flag=flag) if p.status == PlanStatus.submitted), None)
    if plan is None:
        raise ComplianceError(_l("flag #%(id)s has no plan waiting for an answer", id=flag.id))
    _step(session=session, settings=settings, flag=flag, action="accept_plan" if accept else "reject_plan",
          actor=actor, now=now, reason=answer or ("plan accepted" if accept else ""), data={"plan": plan.id})
    plan.status = PlanStatus.accepted if accept else PlanStatus.rejected
    plan.answer, plan.answered_at, plan.answered_by = answer, now, actor.label
    session.add(plan)
    return plan


def bulk(*, session: Session, settings: Settings, flag_ids: list[int], action: str, actor: audit.Actor,
         now: datetime, reason: str = "", until: datetime | None = None) -> tuple[list[int], list[str]]:
    """Acknowledge or waive many flags; returns the ids done and a line per flag refused."""
    done, refused = [], []
    for flag_id in flag_ids:
        flag = session.get(Flag, flag_id)
        if flag is None:
            refused.append(str(_l("#%(id)s: not found", id=flag_id)))
            continue
        try:
            with session.begin_nested():
                if action == "acknowledge":
                    acknowledge(session=session, settings=settings, flag=flag, actor=actor, now=now, hq=True,
                                note=reason)
                elif action == "waive":
                    waive(session=session, settings=settings, flag=flag, actor=actor, now=now, until=until,
                          reason=reason)
                else:
                    raise ComplianceError(_l("unknown bulk action %(action)s", action=repr(action)))
            done.append(flag_id)
        except ComplianceError as exc:
            refused.append(str(exc))
    return done, refused


@dataclass(frozen=True)
class PartnerStanding:
    franchisee: Franchisee
    standing: str  # on_notice | termination_review
    flags: list[Flag]


def network_standing(*, session: Session, limit: int | None = None) -> list[PartnerStanding]:
    """Partners on notice (a red card in force, or set by HQ) or under termination review (two reds in a row).

    The decision itself lives in ``brand_hub.standing`` so every page says the same. ``limit``: the first so many.
    """
    from brand_hub import standing

    return [PartnerStanding(partner, found.standing, list(found.flags))
            for partner, found in standing.in_trouble(session=session, limit=limit)]


def current_by_rule(*, session: Session) -> list[tuple[Flag, int]]:
    """Each rule with unresolved flags: one of its flags (it carries the rule's titles) and how many, most first."""
    rows = session.exec(select(Flag.rule, func.count(), func.min(Flag.id))
                        .where(Flag.state.in_(sorted(CURRENT, key=lambda s: s.value)))
                        .group_by(Flag.rule)).all()
    samples = {f.id: f for f in session.exec(select(Flag).where(Flag.id.in_([first for _, _, first in rows])))}
    return sorted(((samples[first], n) for _, n, first in rows), key=lambda pair: (-pair[1], pair[0].rule))


def counts_by_state(*, session: Session, franchisee_id: int | None = None) -> dict[str, int]:
    stmt = select(Flag.state, func.count()).group_by(Flag.state)
    if franchisee_id is not None:
        stmt = stmt.where(Flag.franchisee_id == franchisee_id)
    return {FlagState(s).value: n for s, n in session.exec(stmt).all()}


__all__ = ["ComplianceError", "FlagFilters", "FlagNotFound", "PartnerStanding", "PlanIncomplete", "RunSummary",
           "acknowledge", "answer_plan", "bulk", "counts_by_state", "current_by_rule", "evaluate", "flag_select", "get_flag", "history",
           "network_standing", "plans", "resolve", "submit_plan", "timeline", "waive"]
