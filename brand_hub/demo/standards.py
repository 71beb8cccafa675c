"""Demo stage: standards. Publish the brand library's standards and site configs, then deliver the configs.

The thermal-comfort standard is first published in its 2025 edition (humidity up to
65 %RH), acknowledged by every site, and then replaced by the library's current
edition, so partners see what changed. Sites of four partners acknowledge the
current standards; the others are left with acknowledgements due and, for the
short deadlines, overdue. Configs are published two days ago and delivered by one
collection round; the site whose agent is down keeps running nothing the hub
published, which the dashboard shows as drift.
"""
from __future__ import annotations

import copy
from datetime import timedelta

from sqlmodel import select

from standards import site_config, standard_format

from .. import distribution
from ..db import session_scope
from ..models import Franchisee, Site, User
from ..models.standards import StandardAcknowledgement
from . import DemoContext
from .network import DEMO_ACTOR

DILIGENT_PARTNERS = ("SH01", "HZ01", "GZ01", "SZ01")   # acknowledged everything
EDITION_2025 = "thermal-comfort"


def run(context: DemoContext) -> None:
    specs = standard_format.load_folder()
    with session_scope(context.engine) as session:
        old = _edition_2025(next(s for s in specs if s.key == EDITION_2025))
        distribution.publish_standards(session=session, specs=[old], actor=DEMO_ACTOR,
                                       now=context.now - timedelta(days=120))
        _acknowledge_all(session, context.now - timedelta(days=110), partners=None)
        result = distribution.publish_standards(session=session, specs=specs, actor=DEMO_ACTOR,
                                                now=context.now - timedelta(days=40))
        _acknowledge_all(session, context.now - timedelta(days=20), partners=DILIGENT_PARTNERS)
        outcomes = distribution.publish_configs(session=session, layers=site_config.load_folder(), actor=DEMO_ACTOR,
                                                now=context.now - timedelta(days=2))
        session.commit()
    context.echo(f"demo:   {len(result.published)} standards published, {result.acknowledgements} "
                 f"acknowledgements asked; configs for {len(outcomes)} sites")
    _deliver(context)


def _edition_2025(current: standard_format.StandardSpec) -> standard_format.StandardSpec:
    """The standard as it was before the humidity limit was lowered."""
    content = copy.deepcopy(current.content)
    content["version"] = 1
    content["text"]["zh"] = content["text"]["zh"].replace("30–60 %RH", "30–65 %RH")
    content["text"]["en"] = content["text"]["en"].replace("30–60 %RH", "30–65 %RH")
    for rule in content["rules"]:
        if rule["metric"] == "humidity_pct":
            rule["max"] = 65
    return standard_format.StandardSpec(current.key, 1, content, current.file, current.line)


def _acknowledge_all(session, when, partners: tuple[str, ...] | None) -> None:
    """Acknowledge every open acknowledgement of the partners' sites, as their site manager."""
    stmt = select(Site, User).join(Franchisee, Franchisee.id == Site.franchisee_id).join(
        User, User.franchisee_id == Franchisee.id).where(User.email.like("staff@%"))
    if partners:
        stmt = stmt.where(Franchisee.code.in_(partners))
    managers = {site.id: user for site, user in session.exec(stmt).all()}
    for ack in session.exec(select(StandardAcknowledgement).where(
            StandardAcknowledgement.acknowledged_at.is_(None),
            StandardAcknowledgement.site_id.in_(list(managers)))).all():
        distribution.acknowledge(session=session, ack=ack, user=managers[ack.site_id], now=when)


def _deliver(context: DemoContext) -> None:
    """One delivery round through the collector: each agent receives its site's config on this pull."""
    from ..collection.cycle import run_cycle

    report = run_cycle(engine=context.engine, settings=context.settings)
    context.echo(f"demo:   config delivery round: {report.summary()}")
