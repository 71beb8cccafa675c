"""Demo stage: flags. A few believable lapses, an evaluation, and partners answering some flags.

The site whose agent is dead has been unreachable for three days, one site's config drifted,
one standard's acknowledgement is overdue at two sites; the readings, cards and
missing revenue reports of the earlier stages give the rest. The rules are then
evaluated twice (three hours apart, so conditions hold through their `for`), and
some partners acknowledge, send plans, and HQ answers one and waives another.
"""
from __future__ import annotations

import copy
from datetime import timedelta

from sqlmodel import Session, select

from .. import audit, compliance, distribution
from ..db import session_scope
from ..models import Role, Site, SiteStatus, User
from ..models.collection import CollectionTarget
from ..models.compliance import Flag, FlagState
from ..models.standards import StandardAcknowledgement
from . import DemoContext
from .agents import DEAD_SITE
from .network import DEMO_ACTOR

H = timedelta(hours=1)


def run(context: DemoContext) -> None:
    now = context.now
    with session_scope(context.engine) as session:
        _lapses(session, context)
        session.commit()
    for at in (now - 3 * H, now):
        with session_scope(context.engine) as session:
            summary = compliance.evaluate(session=session, settings=context.settings, now=at)
            session.commit()
    context.echo(f"demo: flags: {summary.opened} opened, {len(summary.errors)} errors")
    with session_scope(context.engine) as session:
        answered = _answers(session, context)
        session.commit()
    context.echo(f"demo: flags: {answered} flags answered by partners and HQ")


def _lapses(session: Session, context: DemoContext) -> None:
    sites = session.exec(select(Site).where(Site.status == SiteStatus.active).order_by(Site.code)).all()
    if len(sites) < 3:
        return
    # the site whose agent the demo leaves dead went quiet three days ago; another site drifted
    down = next((s for s in sites if s.code == DEAD_SITE), sites[0])
    drifted = next(s for s in sites if s.id != down.id)
    target = session.exec(select(CollectionTarget).where(CollectionTarget.site_id == down.id)).first() \
        or CollectionTarget(site_id=down.id)
    target.last_attempt_at = context.now
    target.last_success_at = context.now - 76 * H
    target.last_error = "ConnectError: connection refused"
    session.add(target)
    desired = distribution.desired_config(session=session, site_id=drifted.id)
    if desired is not None:  # the site cut its day-pass price on its own: what its agent would report
        held = copy.deepcopy(desired.content)
        price = held.get("plans", {}).get("day_pass", {})
        if "price" in price:
            price["price"] = "98.00"
            distribution.inspect_drift(session=session, site_id=drifted.id, at=context.now - 5 * H,
                                       agent_config={"version": desired.version, "config": held})
    for ack in session.exec(select(StandardAcknowledgement).where(StandardAcknowledgement.acknowledged_at.is_(None))
                            .order_by(StandardAcknowledgement.id).limit(2)):
        ack.due_at = context.now - 2 * 24 * H
        session.add(ack)


def _partner_actor(session: Session, franchisee_id: int) -> audit.Actor:
    user = session.exec(select(User).where(User.franchisee_id == franchisee_id, User.role == Role.franchisee_admin)
                        .order_by(User.id)).first()
    return audit.Actor.of(user) if user else audit.Actor(f"partner:{franchisee_id}")


def _answers(session: Session, context: DemoContext) -> int:
    """Partners acknowledge some flags and send plans; HQ accepts one plan and waives one flag."""
    settings, now = context.settings, context.now
    candidates = session.exec(select(Flag).where(Flag.state == FlagState.open, Flag.site_id.is_not(None))
                              .order_by(Flag.id)).all()
    by_rule: dict[str, Flag] = {}
    for flag in candidates:  # one flag of each rule, so the answers show across the kinds
        by_rule.setdefault(flag.rule, flag)
    flags = list(by_rule.values())
    done = 0
    for n, flag in enumerate(flags[:6]):
        partner = _partner_actor(session, flag.franchisee_id)
        compliance.acknowledge(session=session, settings=settings, flag=flag, actor=partner, now=now)
        if n % 3 != 2:
            compliance.submit_plan(session=session, settings=settings, flag=flag, actor=partner, now=now,
                                   what="排查原因并整改：调整新风与设备设置，每周复核读数。",
                                   who="门店经理", due_on=(now + 14 * 24 * H).date())
        if n == 0:
            compliance.answer_plan(session=session, settings=settings, flag=flag, actor=DEMO_ACTOR, now=now,
                                   accept=True, answer="同意，请按期完成并上传复核结果。")
        done += 1
    if len(flags) > 6:
        compliance.waive(session=session, settings=settings, flag=flags[6], actor=DEMO_ACTOR, now=now,
                         until=now + 30 * 24 * H, reason="门店装修期间暂停考核")
        done += 1
    return done
