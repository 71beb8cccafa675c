"""Evaluate every rule for every site (and partner) and store what changed.

The decisions are made by the pure ``lifecycle`` and ``rules`` modules; this module
reads the current flags, feeds them the observations, and writes new states,
timeline events and queued mails. Each site with current flags runs in its own
savepoint: a broken rule or site is recorded on the run and the others go on. A site
with none (every site, on a first evaluation) changes no stored row while judged: its
new flags, events and mails are written with those of its whole batch, one INSERT
each, and if that fails, site by site in savepoints as above. Re-running at the same
moment changes nothing (the state machine is idempotent and mails are keyed by
the event that caused them).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import insert, text
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
        self._pending: list[tuple[Flag | SimpleNamespace, list]] | None = None
        # the steps of the batch's sites (and partners) that had no current flag, written together at the
        # batch's end (``write_deferred``): one INSERT of their flags, one of their events, one of their mails
        self._deferred: list[tuple[str, list[tuple[SimpleNamespace, list]]]] = []
        self._bare = False  # judging a site outside a savepoint of its own: its reads take one each
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

    def untouched(self, site_id: int | None, franchisee_id: int) -> bool:
        """True when the site (or partner) was preloaded and has no current flag: judging it changes no stored
        row, so its steps can wait for the batch's writes (``run_rules(defer=True)``)."""
        key = (site_id, None) if site_id is not None else (None, franchisee_id)
        return self._current is not None and key in self._current and not self._current[key]

    def run_rules(self, rules: list[Rule], facts, *, site_id: int | None, franchisee_id: int, ctx: Context,
                  down: bool, label: str, defer: bool = False) -> None:
        """Judge one site (or partner) with ``rules``; its new flags and their events are written together at
        the end (one INSERT of the flags, one of the events, the mails after), not one flush per step: a
        first evaluation of a network opens thousands of flags, and a flush each cost a round trip each.

        ``defer`` (a site with no current flag, see ``untouched``): its steps are kept for ``write_deferred``,
        which writes those of the whole batch at once."""
        self._pending, self._bare = [], defer
        try:
            self._run_rules(rules, facts, site_id=site_id, franchisee_id=franchisee_id, ctx=ctx, down=down,
                            label=label)
            steps = self._pending
        finally:
            self._pending, self._bare = None, False  # on an error the caller's savepoint drops the site's steps
        if defer:
            if steps:
                self._deferred.append((label, steps))
            return
        self._write_steps(steps)

    def write_deferred(self, guard) -> None:
        """Write the deferred steps of the batch: all at once in a savepoint; if that fails, each site's on its
        own through ``guard(label, work)`` (which records the error of the one that fails, as when judged)."""
        units, self._deferred = self._deferred, []
        if not units:
            return
        counters = self._counters()
        try:
            with self.session.begin_nested():
                self._write_steps([step for _, steps in units for step in steps])
            return
        except Exception:  # one site's rows refused (another evaluator opened the same flag): one at a time
            self._restore(counters)
        for label, steps in units:
            counters = self._counters()
            if not guard(label, lambda steps=steps: self._write_steps(steps)):
                self._restore(counters)

    def _counters(self) -> tuple[int, int, int, int]:
        return self.summary.events, self.summary.opened, self.summary.resolved, self.summary.mails

    def _restore(self, counters: tuple[int, int, int, int]) -> None:
        self.summary.events, self.summary.opened, self.summary.resolved, self.summary.mails = counters

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
        if outcome.new and self._pending is not None:  # a plain row, INSERTed with the others (``_write_steps``)
            self._pending.append((self._new_row(outcome.flag, rule, site_id=site_id, franchisee_id=franchisee_id,
                                                subject=subject, previous=previous), list(outcome.events)))
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

    def _new_row(self, view: FlagView, rule: Rule, *, site_id, franchisee_id, subject,
                 previous: Flag | None) -> SimpleNamespace:
        """A new flag as the values of its row (what ``_write`` sets on a ``Flag``), without the ORM object:
        building and flushing ``Flag`` objects was most of a first evaluation's time."""
        row = {name: getattr(view, name) for name in VIEW_FIELDS}
        row.update(id=None, site_id=site_id, franchisee_id=franchisee_id, rule=rule.id, subject=subject,
                   previous_id=previous.id if previous else None, created_at=self.now, updated_at=self.now,
                   severity=Severity(view.severity) if view.severity in Severity.__members__ else Severity.minor,
                   evidence={**view.evidence, "rule_title_en": rule.title_en, "rule_title_zh": rule.title_zh},
                   open_key=open_key(site_id=site_id, franchisee_id=franchisee_id, rule=rule.id, subject=subject)
                   if view.state in CURRENT else None)
        return SimpleNamespace(**row)

    def _write_steps(self, steps: list[tuple[Flag | SimpleNamespace, list]]) -> None:
        """Write the steps gathered by ``apply``, in the order they were taken: the changed flags (one flush),
        the new flags as plain rows (one INSERT, ``_insert_numbered``), the events (another), then each event's
        counters, audit and mail: the sites, partners and partner admins the mails name read in one statement
        each, the mails rendered in one pass and queued with one INSERT."""
        if not steps:
            return
        self.session.flush()
        new = [flag for flag, _ in steps if isinstance(flag, SimpleNamespace)]
        if new:
            table = Flag.__table__
            ids = _insert_numbered(self.session, table, [{c.name: getattr(f, c.name) for c in table.c if c.name != "id"}
                                                         for f in new])
            for flag, flag_id in zip(new, ids, strict=True):
                flag.id = flag_id
        actor = audit.SYSTEM
        rows = [(flag, dict(flag_id=flag.id, at=self.now, actor=actor.label, actor_id=actor.user_id, kind=e.kind,
                            from_state=e.from_state.value if e.from_state else None, to_state=e.to_state.value,
                            reason=e.reason[:1000], data=e.data))
                for flag, events in steps for e in events]
        if not rows:
            return
        ids = _insert_numbered(self.session, FlagEvent.__table__, [row for _, row in rows])
        written = [(flag, SimpleNamespace(id=event_id, **row)) for (flag, row), event_id in zip(rows, ids, strict=True)]
        notify.preload(session=self.session, cache=self._mail_cache,
                       site_ids=[f.site_id for f, e in written if e.kind in notify.MAILED_KINDS and f.site_id],
                       franchisee_ids=[f.franchisee_id for f, e in written if e.kind in notify.MAILED_KINDS])
        mails = [mail for flag, event in written
                 if (mail := self._after_event(flag, event, actor, queue=False)) is not None]
        self.summary.mails += outbox.insert_many(session=self.session, mails=mails, now=self.now)

    def _previous(self, site_id, franchisee_id, rule_id, subject) -> Flag | None:
        preloaded = site_id in self._preloaded[0] if site_id is not None else franchisee_id in self._preloaded[1]
        if preloaded and (site_id, franchisee_id, rule_id, subject) not in self._known:
            return None  # never flagged before (flags opened since the batch began are current, not previous)
        stmt = select(Flag).where(Flag.rule == rule_id, Flag.subject == subject, Flag.franchisee_id == franchisee_id)
        stmt = stmt.where(Flag.site_id == site_id) if site_id is not None else stmt.where(Flag.site_id.is_(None))
        if self._bare:  # no savepoint around the site: a failed read must not spoil the transaction
            with self.session.begin_nested():
                return self.session.exec(stmt.order_by(Flag.id.desc()).limit(1)).first()
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

    def _after_event(self, flag: Flag | SimpleNamespace, event: FlagEvent | SimpleNamespace, actor: audit.Actor, *,
                     queue: bool = True) -> dict | None:
        """What follows an event once written (it has its id): the run's counters, the audit, the mail
        (queued here, or returned to be queued with the others written with it when ``queue`` is False).
        ``flag`` and ``event`` may be the plain rows ``_write_steps`` inserted."""
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
            _judge(summary, evaluator, session, site_rules, site, site_id=site.site_id,
                   franchisee_id=site.franchisee_id, ctx=ctx, down=agent_is_down(site, ctx), label=site.code)
            summary.sites += 1
        for partner in partners:
            _judge(summary, evaluator, session, partner_rules, partner, site_id=None,
                   franchisee_id=partner.franchisee_id, ctx=ctx, down=False, label=partner.code)
        evaluator.write_deferred(lambda label, work: _guard(summary, label, work, session))
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


def _insert_numbered(session: Session, table, rows: list[dict]) -> list[int]:
    """INSERT ``rows`` into ``table`` in one go; their new ids, in the rows' order (ascending, as one at a time).

    On PostgreSQL the ids are drawn from the table's sequence first (one statement) and the rows sent as one
    executemany: an ``INSERT … VALUES … RETURNING`` of a thousand rows spent seconds in the driver parsing
    its tens of thousands of placeholders (1,500 flags: 2.8 s against 0.5 s). SQLite returns them."""
    if not rows:
        return []
    if session.connection().dialect.name == "postgresql":
        ids = list(session.execute(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                                        "FROM generate_series(1, :n) ORDER BY 1"),
                                   {"table": table.name, "n": len(rows)}).scalars())
        session.execute(insert(table), [{**row, "id": row_id} for row, row_id in zip(rows, ids, strict=True)])
        return ids
    return list(session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars())


def _judge(summary: RunSummary, evaluator: Evaluator, session: Session, rules: list[Rule], facts, *,
           site_id: int | None, franchisee_id: int, ctx: Context, down: bool, label: str) -> None:
    """Judge one site (or partner). One with no current flag changes no stored row: it needs no savepoint,
    and its new flags wait for the batch's writes. One with current flags is written at once in its own
    savepoint, after the steps deferred before it (the rows keep the order the steps were taken in)."""
    if evaluator.untouched(site_id, franchisee_id):
        _guard(summary, label, lambda: evaluator.run_rules(rules, facts, site_id=site_id, franchisee_id=franchisee_id,
                                                           ctx=ctx, down=down, label=label, defer=True),
               session, savepoint=False)
        return
    evaluator.write_deferred(lambda label, work: _guard(summary, label, work, session))
    _guard(summary, label, lambda: evaluator.run_rules(rules, facts, site_id=site_id, franchisee_id=franchisee_id,
                                                       ctx=ctx, down=down, label=label), session)


def _guard(summary: RunSummary, label: str, work, session: Session, *, savepoint: bool = True) -> bool:
    """Run one site's (or partner's) rules in a savepoint; on failure record it and undo only that site.

    ``savepoint=False``: the work writes nothing (its reads take savepoints of their own). False on failure."""
    try:
        if not savepoint:
            work()
            return True
        with session.begin_nested():
            work()
        return True
    except Exception as exc:
        summary.errors.append({"site": label, "rule": "", "error": f"{type(exc).__name__}: {exc}"[:400]})
        return False


__all__ = ["Evaluator", "RunSummary", "evaluate", "open_key", "view_of", "PartnerFacts", "SiteFacts"]
