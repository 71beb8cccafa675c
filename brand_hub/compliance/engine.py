"""Evaluate every rule for every site (and partner) and store what changed.

The decisions are made by the pure ``lifecycle`` and ``rules`` modules; this module
reads the current flags, feeds them the observations, and writes new states,
timeline events and queued mails. Each site runs in its own savepoint: a broken
rule or site is recorded on the run and the others go on. Re-running at the same
moment changes nothing (the state machine is idempotent and mails are keyed by
the event that caused them).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, select

from brand_hub import audit
from brand_hub.models import Franchisee, Site
from brand_hub.models.compliance import (CorrectiveActionPlan, EvaluationRun, Flag, FlagEvent, FlagState, PlanStatus,
                                         Severity)
from brand_hub.settings import Settings

from . import facts as facts_module
from . import notify, outbox
from .lifecycle import CURRENT, FlagView, Observation, Outcome, Timing, observe
from .rules import (SUMMARISED, WINDOW_DAYS, Context, PartnerFacts, Rule, SiteFacts, agent_is_down, standard_rules,
                    system_rules)

VIEW_FIELDS = [f.name for f in dataclasses.fields(FlagView)]


@dataclass
class RunSummary:
    """What one evaluation did; ``errors`` name the site, rule and reason of everything skipped."""

    run_id: int | None = None
    sites: int = 0
    observations: int = 0
    opened: int = 0
    resolved: int = 0
    events: int = 0
    mails: int = 0
    errors: list[dict] = field(default_factory=list)


def context_of(settings: Settings, now: datetime, min_coverage: float = 0.7, card_rules=None) -> Context:
    return Context(now=now, timezone=settings.timezone, revenue_report_due_day=settings.revenue_report_due_day,
                   drift_grace=timedelta(minutes=settings.config_drift_grace_minutes), min_coverage=min_coverage,
                   card_rules=card_rules)


def _current_model(settings: Settings):
    """The current scoring model, read once per run (None when it cannot be read)."""
    try:
        from standards.scoring_model import current_model

        return current_model(settings.scoring_dir or None)
    except Exception:  # no readable model: the callers fall back to their defaults
        return None


_UNREAD = object()


def _card_rules(settings: Settings, model=_UNREAD):
    """The current model's card rules (None when the model has none: two reds in a row)."""
    try:
        from scoring.strikes import CardRules

        model = _current_model(settings) if model is _UNREAD else model
        section = model.source.get("card_rules")
    except Exception:  # no readable model: the plain rule
        return None
    return CardRules.from_model(section) if section else None


def _min_coverage(settings: Settings, model=_UNREAD) -> float:
    try:
        model = _current_model(settings) if model is _UNREAD else model
        return float(model.min_coverage)
    except Exception:  # no readable model: the model's shipped default
        return 0.7


def open_key(*, site_id: int | None, franchisee_id: int, rule: str, subject: str) -> str:
    owner = f"s{site_id}" if site_id is not None else f"p{franchisee_id}"
    return f"{owner}|{rule}|{subject}"


def view_of(flag: Flag) -> FlagView:
    values = {name: getattr(flag, name) for name in VIEW_FIELDS}
    values["severity"] = flag.severity.value if isinstance(flag.severity, Severity) else flag.severity
    values["state"] = FlagState(flag.state)
    return FlagView(**values)


def _timing(rule: Rule, settings: Settings) -> Timing:
    return dataclasses.replace(rule.timing, ack_within=timedelta(hours=settings.flag_ack_hours),
                               escalate_every=timedelta(hours=settings.flag_escalation_hours))


class Evaluator:
    """One run's working state: the current flags by identity and the run's counters."""

    def __init__(self, *, session: Session, settings: Settings, now: datetime, summary: RunSummary):
        self.session, self.settings, self.now, self.summary = session, settings, now, summary
        self._current: dict[tuple[int | None, int | None], dict[tuple[str, str], Flag]] | None = None
        self._known: set[tuple] = set()
        self._preloaded: tuple[set[int], set[int]] = (set(), set())
        # the steps of the site (or partner) being judged, written together when its rules are done
        self._pending: list[tuple[Flag, list]] | None = None
        self._mail_cache: dict = {}  # the run's mailed sites, partners and recipients (read once a run)

    def preload(self, site_ids: list[int], franchisee_ids: list[int]) -> None:
        """Read the current flags of a batch of sites and partners in two statements (instead of one per
        site); ``current_flags`` answers from them until the next batch."""
        current: dict[tuple[int | None, int | None], dict[tuple[str, str], Flag]] = {}
        for site_id in site_ids:
            current[(site_id, None)] = {}
        for franchisee_id in franchisee_ids:
            current[(None, franchisee_id)] = {}
        if site_ids:
            for flag in self.session.exec(select(Flag).where(Flag.open_key.is_not(None), Flag.site_id.in_(site_ids))):
                current[(flag.site_id, None)][(flag.rule, flag.subject)] = flag
        if franchisee_ids:
            for flag in self.session.exec(select(Flag).where(Flag.open_key.is_not(None), Flag.site_id.is_(None),
                                                             Flag.franchisee_id.in_(franchisee_ids))):
                current[(None, flag.franchisee_id)][(flag.rule, flag.subject)] = flag
        self._current = current
        # the identities that ever had a flag: a recurrence links to the last one, a first occurrence needs no look-up
        known = select(Flag.site_id, Flag.franchisee_id, Flag.rule, Flag.subject).distinct()
        self._known = set()
        if site_ids:
            self._known |= {tuple(r) for r in self.session.exec(known.where(Flag.site_id.in_(site_ids)))}
        if franchisee_ids:
            self._known |= {tuple(r) for r in self.session.exec(known.where(Flag.site_id.is_(None),
                                                                         Flag.franchisee_id.in_(franchisee_ids)))}
        self._preloaded = (set(site_ids), set(franchisee_ids))

    def current_flags(self, site_id: int | None, franchisee_id: int) -> dict[tuple[str, str], Flag]:
        key = (site_id, None) if site_id is not None else (None, franchisee_id)
        if self._current is not None and key in self._current:
            return dict(self._current[key])
        stmt = select(Flag).where(Flag.open_key.is_not(None))
        stmt = stmt.where(Flag.site_id == site_id) if site_id is not None else \
            stmt.where(Flag.site_id.is_(None), Flag.franchisee_id == franchisee_id)
        return {(f.rule, f.subject): f for f in self.session.exec(stmt)}

    def run_rules(self, rules: list[Rule], facts, *, site_id: int | None, franchisee_id: int, ctx: Context,
                  down: bool, label: str) -> None:
        """Judge one site (or partner) with ``rules``; its new flags and their events are written together at
        the end (one INSERT of the flags, one of the events, the mails after), not one flush per step: a
        first evaluation of a network opens thousands of flags, and a flush each cost a round trip each."""
        self._pending = []
        try:
            self._run_rules(rules, facts, site_id=site_id, franchisee_id=franchisee_id, ctx=ctx, down=down,
                            label=label)
            self._write_pending()
        finally:
            self._pending = None  # on an error the caller's savepoint drops the site's steps with it

    def _run_rules(self, rules: list[Rule], facts, *, site_id: int | None, franchisee_id: int, ctx: Context,
                   down: bool, label: str) -> None:
        current = self.current_flags(site_id, franchisee_id)
        for rule in rules:
            try:
                seen = rule.probe(facts, ctx)
            except Exception as exc:  # one broken rule never stops the others
                self.summary.errors.append({"site": label, "rule": rule.id, "error": f"{type(exc).__name__}: {exc}"})
                continue
            for (rule_id, subject), flag in current.items():
                if rule_id == rule.id and subject not in seen:
                    seen = {**seen, subject: Observation("clear")}
            for subject, obs in seen.items():
                if rule.inhibited_by_agent_down and down:
                    obs = Observation("inhibited", evidence=obs.evidence)
                if obs.severity is None:
                    obs = dataclasses.replace(obs, severity=rule.severity)
                self.summary.observations += 1
                self.apply(rule, current.get((rule.id, subject)), obs, site_id=site_id, franchisee_id=franchisee_id,
                           subject=subject)

    def apply(self, rule: Rule, flag: Flag | None, obs: Observation, *, site_id: int | None, franchisee_id: int,
              subject: str) -> None:
        previous = None
        if flag is None and obs.status in ("firing", "no_data"):  # a recurrence links to the last resolved one
            previous = self._previous(site_id, franchisee_id, rule.id, subject)
        basis = flag or previous
        before = view_of(basis) if basis is not None else None
        outcome: Outcome = observe(before, obs, _timing(rule, self.settings), self.now)
        if outcome.flag is None or (outcome.flag == before and not outcome.events):
            return
        if outcome.new:
            flag = Flag(site_id=site_id, franchisee_id=franchisee_id, rule=rule.id, subject=subject,
                        previous_id=previous.id if previous else None, created_at=self.now)
        assert flag is not None
        self._write(flag, outcome.flag, rule, site_id=site_id, franchisee_id=franchisee_id, subject=subject)
        self.session.add(flag)
        if self._pending is not None:
            if outcome.events:
                self._pending.append((flag, list(outcome.events)))
            return
        if outcome.events:
            self.session.flush()  # the events need the flag's id; plain updates wait for the next flush
        for event in outcome.events:
            self.record(flag, event.kind, event.from_state, event.to_state, event.reason, event.data)

    def _write_pending(self) -> None:
        """Write the steps gathered by ``apply``: the flags in one flush (their ids), then their events in
        one flush, in the order the steps were taken, then each event's counters, audit and mail."""
        pending, self._pending = self._pending or [], None
        if not pending:
            return
        self.session.flush()
        written = [(flag, self._event(flag, e.kind, e.from_state, e.to_state, e.reason, e.data, audit.SYSTEM))
                   for flag, events in pending for e in events]
        self.session.add_all([event for _, event in written])
        self.session.flush()
        mails = [mail for flag, event in written
                 if (mail := self._after_event(flag, event, audit.SYSTEM, queue=False)) is not None]
        queued = outbox.enqueue_many(session=self.session, mails=mails, now=self.now)
        self.summary.mails += sum(message is not None for message in queued)

    def _previous(self, site_id, franchisee_id, rule_id, subject) -> Flag | None:
        preloaded = site_id in self._preloaded[0] if site_id is not None else franchisee_id in self._preloaded[1]
        if preloaded and (site_id, franchisee_id, rule_id, subject) not in self._known:
            return None  # never flagged before (flags opened since the batch began are current, not previous)
        stmt = select(Flag).where(Flag.rule == rule_id, Flag.subject == subject, Flag.franchisee_id == franchisee_id)
        stmt = stmt.where(Flag.site_id == site_id) if site_id is not None else stmt.where(Flag.site_id.is_(None))
        return self.session.exec(stmt.order_by(Flag.id.desc()).limit(1)).first()

    def _write(self, flag: Flag, view: FlagView, rule: Rule, *, site_id, franchisee_id, subject) -> None:
        for name in VIEW_FIELDS:
            setattr(flag, name, getattr(view, name))
        flag.severity = Severity(view.severity) if view.severity in Severity.__members__ else Severity.minor
        flag.evidence = {**view.evidence, "rule_title_en": rule.title_en, "rule_title_zh": rule.title_zh}
        flag.open_key = open_key(site_id=site_id, franchisee_id=franchisee_id, rule=rule.id, subject=subject) \
            if view.state in CURRENT else None
        flag.updated_at = self.now

    def record(self, flag: Flag, kind: str, from_state, to_state, reason: str, data: dict, *,
               actor: audit.Actor = audit.SYSTEM) -> FlagEvent:
        """Append one timeline event (and queue its mail)."""
        event = self._event(flag, kind, from_state, to_state, reason, data, actor)
        self.session.add(event)
        self.session.flush()
        self._after_event(flag, event, actor)
        return event

    def _event(self, flag: Flag, kind: str, from_state, to_state, reason: str, data: dict,
               actor: audit.Actor) -> FlagEvent:
        return FlagEvent(flag_id=flag.id, at=self.now, actor=actor.label, actor_id=actor.user_id, kind=kind,
                         from_state=from_state.value if from_state else None, to_state=to_state.value,
                         reason=reason[:1000], data=data)

    def _after_event(self, flag: Flag, event: FlagEvent, actor: audit.Actor, *, queue: bool = True) -> dict | None:
        """What follows an event once written (it has its id): the run's counters, the audit, the mail
        (queued here, or returned to be queued with the others of its site when ``queue`` is False)."""
        kind, to_state = event.kind, FlagState(event.to_state)
        self.summary.events += 1
        if kind in ("opened", "reopened"):
            self.summary.opened += 1
            if flag.rule == "termination-review":
                partner = self.session.get(Franchisee, flag.franchisee_id)
                audit.record(session=self.session, actor=actor, action="partner.termination_review",
                             entity_type="franchisee", entity_id=partner.code if partner else flag.franchisee_id,
                             after={"flag": flag.id, "evidence": flag.evidence})
        if to_state == FlagState.resolved:
            self.summary.resolved += 1
        title_zh = flag.evidence.get("rule_title_zh", flag.rule)
        title_en = flag.evidence.get("rule_title_en", flag.rule)
        mail = notify.mail_for(session=self.session, settings=self.settings, flag=flag, event=event,
                               title_zh=title_zh, title_en=title_en, cache=self._mail_cache)
        if not queue or mail is None:
            return mail
        if outbox.enqueue(session=self.session, now=self.now, **mail) is not None:
            self.summary.mails += 1
        return None


def evaluate(*, session: Session, settings: Settings, now: datetime, site_codes: list[str] | None = None) -> RunSummary:
    """Evaluate every rule for every active site (or those named) and their partners; record the run."""
    summary = RunSummary()
    run = EvaluationRun(started_at=now)
    session.add(run)
    model = _current_model(settings)
    ctx = context_of(settings, now, _min_coverage(settings, model), _card_rules(settings, model))
    standards: list[dict] = []
    try:
        with session.begin_nested():
            standards = facts_module.latest_standards(session=session)
    except Exception as exc:  # the standards table unreadable: system rules still run
        summary.errors.append({"site": "", "rule": "source:standard", "error": f"{type(exc).__name__}: {exc}"[:400]})
    rules = list(system_rules(ctx)) + list(standard_rules(standards))
    site_rules = [r for r in rules if r.scope == "site"]
    partner_rules = [r for r in rules if r.scope == "partner"]
    metrics: dict[str, int] = {}
    metric_rules: list[dict] = []
    for rule in site_rules:
        if rule.source and "metric" in rule.source["rule"] and rule.source["rule"]["measure"] in SUMMARISED:
            metric_rules.append(rule.source["rule"])  # aggregated in the database, for every site at once
        elif rule.source and "metric" in rule.source["rule"]:
            days = WINDOW_DAYS.get(rule.source["rule"].get("window", "month"), 30)
            metrics[rule.source["rule"]["metric"]] = max(days, metrics.get(rule.source["rule"]["metric"], 0))
            if rule.source["rule"].get("hours") == "occupied":  # judged only where someone was in
                metrics["zone_occupied"] = max(days, metrics.get("zone_occupied", 0))
    evaluator = Evaluator(session=session, settings=settings, now=now, summary=summary)
    for chunk in _chunks(session=session, site_codes=site_codes):
        # the facts of one batch of partners at a time: memory stays flat however large the network
        sites, partners = facts_module.gather(session=session, ctx=ctx, site_codes=chunk, metrics=metrics,
                                              metric_rules=metric_rules, errors=summary.errors)
        evaluator.preload([s.site_id for s in sites], [p.franchisee_id for p in partners])
        for site in sites:
            _guard(summary, site.code, lambda s=site: evaluator.run_rules(
                site_rules, s, site_id=s.site_id, franchisee_id=s.franchisee_id, ctx=ctx,
                down=agent_is_down(s, ctx), label=s.code), session)
            summary.sites += 1
        for partner in partners:
            _guard(summary, partner.code, lambda p=partner: evaluator.run_rules(
                partner_rules, p, site_id=None, franchisee_id=p.franchisee_id, ctx=ctx, down=False, label=p.code),
                session)
    _guard(summary, "plans", lambda: _plan_deadlines(evaluator, ctx), session)
    run.finished_at = now
    for name in ("sites", "observations", "opened", "resolved", "events", "errors"):
        setattr(run, name, getattr(summary, name))
    session.add(run)
    session.flush()
    summary.run_id = run.id
    return summary


CHUNK_SITES = 50


def _chunks(*, session: Session, site_codes: list[str] | None) -> list[list[str]]:
    """The evaluated sites in batches of about ``CHUNK_SITES``, never splitting a partner
    (a partner's rules read all its sites' facts)."""
    stmt = select(Site.code, Site.franchisee_id).order_by(Site.franchisee_id, Site.code)
    if site_codes:
        stmt = stmt.where(Site.code.in_(site_codes))
    else:
        stmt = stmt.where(Site.status.in_(facts_module.EVALUATED_STATUSES))
    chunks: list[list[str]] = []
    current: list[str] = []
    last_partner = None
    for code, partner in session.exec(stmt).all():
        if current and partner != last_partner and len(current) >= CHUNK_SITES:
            chunks.append(current)
            current = []
        current.append(code)
        last_partner = partner
    if current:
        chunks.append(current)
    return chunks


def _plan_deadlines(evaluator: Evaluator, ctx: Context) -> None:
    """Tell the partner (and the regional manager) once when a plan's date passed and the flag is still open."""
    session = evaluator.session
    rows = session.exec(select(CorrectiveActionPlan, Flag).join(Flag, Flag.id == CorrectiveActionPlan.flag_id)
                        .where(CorrectiveActionPlan.status.in_([PlanStatus.submitted, PlanStatus.accepted]),
                               CorrectiveActionPlan.due_on < ctx.today,
                               CorrectiveActionPlan.overdue_notified_at.is_(None),
                               Flag.state.in_([FlagState.plan_submitted, FlagState.plan_accepted]))).all()
    for plan, flag in rows:
        evaluator.record(flag, "plan_overdue", flag.state, flag.state,
                         f"the plan was due on {plan.due_on.isoformat()} and the flag is not resolved",
                         {"plan": plan.id, "due_on": plan.due_on.isoformat()})
        plan.overdue_notified_at = evaluator.now
        session.add(plan)


def _guard(summary: RunSummary, label: str, work, session: Session) -> None:
    """Run one site's (or partner's) rules in a savepoint; on failure record it and undo only that site."""
    try:
        with session.begin_nested():
            work()
    except Exception as exc:
        summary.errors.append({"site": label, "rule": "", "error": f"{type(exc).__name__}: {exc}"[:400]})


__all__ = ["Evaluator", "RunSummary", "evaluate", "open_key", "view_of", "PartnerFacts", "SiteFacts"]
