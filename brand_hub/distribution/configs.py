"""Site configs: publish effective configs as versions, roll back, deliver, and watch for drift.

The hub keeps every effective config it ever meant a site to run as an immutable
``SiteConfigVersion``; ``SiteConfigState`` says which one is desired and what the
agent reports it has applied. The collector delivers the desired version on its next
pull and calls ``record_delivery`` with what the agent answered.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlmodel import Session, select

from standards import site_config
from standards.canonical import content_hash
from standards.loader import InvalidFiles, Problem

from ..audit import Actor, record
from ..models import Site, SiteStatus
from ..models.standards import SiteConfigState, SiteConfigVersion
from . import DistributionError


@dataclass(frozen=True)
class DesiredConfig:
    """What a site's agent should hold: the version, its hash and the content to PUT."""

    version: int
    hash: str
    content: dict[str, Any]


@dataclass(frozen=True)
class SitePublish:
    """The outcome of a config publish for one site: the new version, or None when unchanged."""

    site_code: str
    version: int
    created: bool


def configurable_sites(*, session: Session) -> list[Site]:
    """Sites that get a config: every site that is not terminated."""
    return list(session.exec(select(Site).where(Site.status != SiteStatus.terminated).order_by(Site.code)))


def check_for_sites(*, layers: site_config.ConfigLayers, sites: list[Site]) -> list[Problem]:
    """Problems of the merged config of each site, each at the layer file and line that set the key."""
    problems: list[Problem] = []
    checked: set[tuple] = set()
    for site in sites:
        chain = tuple(name for name, _doc in layers.for_site(code=site.code, region=site.region, tier=site.tier))
        if chain in checked:
            continue  # the same layers merge to the same config: one check (naming its first site) is enough
        checked.add(chain)
        problems += site_config.effective_problems(layers, code=site.code, region=site.region, tier=site.tier)
    return problems


def unused_site_layers(*, layers: site_config.ConfigLayers, sites: list[Site]) -> list[Problem]:
    """Site layers that name no site of the registry (a typo, or a site not registered yet): warnings."""
    codes = {s.code for s in sites}
    return [doc.problem((), f"no site with code '{code}' in the registry; this layer is not used")
            for code, doc in sorted(layers.sites.items()) if code not in codes]


def publish_configs(*, session: Session, layers: site_config.ConfigLayers, actor: Actor,
                    now: datetime) -> list[SitePublish]:
    """Store a new version for every site whose effective config changed, and make it the desired one.

    The folder is checked against every site first and refused as a whole; a site whose
    config hash is unchanged gets nothing new, so publishing twice creates nothing.
    """
    sites = configurable_sites(session=session)
    problems = check_for_sites(layers=layers, sites=sites)
    if problems:
        raise InvalidFiles(problems)
    heads = _latest_heads(session=session)
    states = {s.site_id: s for s in session.exec(select(SiteConfigState))}
    outcomes = []
    for site in sites:
        config = site_config.effective_config(layers, code=site.code, region=site.region, tier=site.tier)
        outcomes.append(_store(session=session, site=site, content=config.content, provenance=config.provenance,
                               actor=actor, now=now, note="published from files", head=heads.get(site.id),
                               state=states.get(site.id) or _new_state(session=session, site_id=site.id),
                               preloaded=True))
    return outcomes


def _latest_heads(*, session: Session) -> dict[int, tuple[int, str]]:
    """The newest (version, hash) of every site, in one query (publishing must scale to large networks)."""
    newest = (select(SiteConfigVersion.site_id, func.max(SiteConfigVersion.version).label("version"))
              .group_by(SiteConfigVersion.site_id).subquery())
    rows = session.exec(select(SiteConfigVersion.site_id, SiteConfigVersion.version, SiteConfigVersion.content_hash)
                        .join(newest, (newest.c.site_id == SiteConfigVersion.site_id)
                              & (newest.c.version == SiteConfigVersion.version))).all()
    return {site_id: (version, digest) for site_id, version, digest in rows}


def _store(*, session: Session, site: Site, content: dict[str, Any], provenance: dict[str, str], actor: Actor,
           now: datetime, note: str, head: tuple[int, str] | None = None,
           state: SiteConfigState | None = None, preloaded: bool = False) -> SitePublish:
    """A new version unless the newest already has this content; either way it becomes the desired one.

    ``preloaded``: the caller looked up ``head`` (newest version and hash, None for none)
    and ``state`` for many sites at once.
    """
    if not preloaded:
        latest = latest_version(session=session, site_id=site.id)
        head = (latest.version, latest.content_hash) if latest else None
    state = state or _state(session=session, site_id=site.id)
    digest = content_hash(content)
    if head is not None and head[1] == digest:
        _desire(session=session, site=site, state=state, version=head[0], digest=digest, content=content, now=now)
        return SitePublish(site.code, head[0], created=False)
    version = SiteConfigVersion(site_id=site.id, version=head[0] + 1 if head else 1, content=content,
                                content_hash=digest, provenance=provenance, created_at=now,
                                created_by=actor.label, note=note)
    session.add(version)
    _desire(session=session, site=site, state=state, version=version.version, digest=digest, content=content,
            now=now)
    record(session=session, actor=actor, action="site_config.publish", entity_type="site", entity_id=site.code,
           before={"version": head[0], "hash": head[1]} if head else None,
           after={"version": version.version, "hash": digest, "note": note})
    return SitePublish(site.code, version.version, created=True)


def _desire(*, session: Session, site: Site, state: SiteConfigState, version: int, digest: str,
            content: dict[str, Any], now: datetime) -> None:
    """Queue delivery: the collector sends the desired version on its next pull.

    From now until the agent reports the new hash the site runs something else; for a
    site with an agent that starts the drift clock, so a delivery that keeps failing
    shows up after the grace period.
    """
    if state.desired_version == version and state.desired_hash == digest:
        return
    state.desired_version = version
    state.desired_hash = digest
    if site.agent_url:
        applied = _version_by_hash(session=session, site_id=site.id, digest=state.applied_hash)
        state.drifted_keys = ([c.path for c in site_config.diff(applied.content, content)]
                              if applied is not None and state.applied_hash != digest else [])
        _update_drift(state=state, at=now)
    session.add(state)


def _version_by_hash(*, session: Session, site_id: int, digest: str) -> SiteConfigVersion | None:
    if not digest:
        return None
    return session.exec(select(SiteConfigVersion).where(SiteConfigVersion.site_id == site_id,
                                                        SiteConfigVersion.content_hash == digest)
                        .order_by(SiteConfigVersion.version.desc())).first()


def _state(*, session: Session, site_id: int) -> SiteConfigState:
    state = session.exec(select(SiteConfigState).where(SiteConfigState.site_id == site_id)).first()
    return state if state is not None else _new_state(session=session, site_id=site_id)


def _new_state(*, session: Session, site_id: int) -> SiteConfigState:
    state = SiteConfigState(site_id=site_id)
    session.add(state)
    return state


def latest_version(*, session: Session, site_id: int) -> SiteConfigVersion | None:
    return session.exec(select(SiteConfigVersion).where(SiteConfigVersion.site_id == site_id)
                        .order_by(SiteConfigVersion.version.desc())).first()


def versions(*, session: Session, site_id: int) -> list[SiteConfigVersion]:
    """Every config version of a site, newest first."""
    return list(session.exec(select(SiteConfigVersion).where(SiteConfigVersion.site_id == site_id)
                             .order_by(SiteConfigVersion.version.desc())))


def get_version(*, session: Session, site: Site, version: int) -> SiteConfigVersion:
    found = session.exec(select(SiteConfigVersion).where(SiteConfigVersion.site_id == site.id,
                                                         SiteConfigVersion.version == version)).first()
    if found is None:
        raise DistributionError(_l("site %(site)s has no config version %(version)s", site=site.code, version=version))
    return found


def site_by_code(*, session: Session, code: str) -> Site:
    """``registry.get_site``, refused as this area's error (the CLI reports it)."""
    from .. import registry

    try:
        return registry.get_site(session=session, code=code)
    except registry.NotFound as exc:
        raise DistributionError(str(exc)) from None


def diff_versions(*, session: Session, site: Site, old: int | None = None,
                  new: int | None = None) -> tuple[int, int, list[site_config.Change]]:
    """The changes between two config versions of a site (default: the one before the newest, and the newest)."""
    newest = latest_version(session=session, site_id=site.id)
    if newest is None:
        raise DistributionError(_l("site %(site)s has no config published yet", site=site.code))
    new = new if new is not None else newest.version
    old = old if old is not None else max(new - 1, 1)
    before = get_version(session=session, site=site, version=old)
    after = get_version(session=session, site=site, version=new)
    return old, new, site_config.diff(before.content, after.content)


def rollback(*, session: Session, site: Site, to_version: int, actor: Actor, now: datetime) -> SitePublish:
    """Publish the content of an older version as a new version (history is never rewritten)."""
    old = get_version(session=session, site=site, version=to_version)
    latest = latest_version(session=session, site_id=site.id)
    if latest is not None and latest.content_hash == old.content_hash:
        raise DistributionError(_l("site %(site)s: version %(version)s has the same content as the config in force "
                                   "(version %(current)s); nothing to roll back", site=site.code, version=to_version,
                                   current=latest.version))
    return _store(session=session, site=site, content=old.content, provenance=old.provenance, actor=actor, now=now,
                  note=f"rollback to version {to_version}")


# -- delivery and drift ----------------------------------------------------------------------

def desired_config(*, session: Session, site_id: int) -> DesiredConfig | None:
    """The config the collector should deliver to a site, or None when none was published for it."""
    state = session.exec(select(SiteConfigState).where(SiteConfigState.site_id == site_id)).first()
    if state is None or state.desired_version is None:
        return None
    version = session.exec(select(SiteConfigVersion).where(SiteConfigVersion.site_id == site_id,
                                                           SiteConfigVersion.version == state.desired_version)).one()
    return DesiredConfig(version.version, version.content_hash, version.content)


def record_delivery(*, session: Session, site_id: int, applied_hash: str | None, at: datetime,
                    error: str | None = None) -> None:
    """Record what a site's agent reports it holds after a pull, and start or end its drift.

    Drift starts the first time the applied hash is seen differing from the desired one
    and ends when they agree again. When the applied content is a version the hub
    published, the differing keys are known at once; otherwise ``inspect_drift`` names
    them from the agent's own copy.
    """
    state = _state(session=session, site_id=site_id)
    state.last_delivery_at = at
    state.last_delivery_error = (error or "")[:500]
    if applied_hash and applied_hash != state.applied_hash:
        state.applied_hash = applied_hash
        state.applied_at = at
    known = _known_drift(session=session, site_id=site_id, state=state)
    if known or state.applied_hash == state.desired_hash:
        state.drifted_keys = known
    _update_drift(state=state, at=at)
    session.add(state)


def _update_drift(*, state: SiteConfigState, at: datetime) -> None:
    if not state.desired_hash or state.applied_hash == state.desired_hash:
        state.drift_since = None
        state.drifted_keys = []
    elif state.drift_since is None:
        state.drift_since = at


def _known_drift(*, session: Session, site_id: int, state: SiteConfigState) -> list[str]:
    """Differing keys when the applied hash is one of the site's published versions."""
    if state.applied_hash == state.desired_hash or not state.desired_hash:
        return []
    applied = _version_by_hash(session=session, site_id=site_id, digest=state.applied_hash)
    desired = desired_config(session=session, site_id=site_id)
    if applied is None or desired is None:
        return []
    return [c.path for c in site_config.diff(applied.content, desired.content)]


def inspect_drift(*, session: Session, site_id: int, agent_config: dict[str, Any] | None, at: datetime) -> list[str]:
    """Name the differing keys from the agent's ``GET /v1/config`` answer and record them.

    ``agent_config`` is that answer (``{"version", "hash", "config"}``); None when the
    agent could not be asked, in which case what is known stays recorded.
    """
    state = _state(session=session, site_id=site_id)
    desired = desired_config(session=session, site_id=site_id)
    if agent_config is None or desired is None:
        return list(state.drifted_keys)
    held = agent_config.get("config") if isinstance(agent_config.get("config"), dict) else {}
    applied = content_hash(held) if held else ""
    if applied != state.applied_hash:
        state.applied_hash = applied
        state.applied_at = at
    state.drifted_keys = [c.path for c in site_config.diff(held, desired.content)] if applied != desired.hash else []
    _update_drift(state=state, at=at)
    session.add(state)
    return list(state.drifted_keys)


def is_drifted(state: SiteConfigState | None, *, now: datetime, grace_minutes: int) -> bool:
    """A site is shown as drifted once its applied hash has differed for longer than the grace period."""
    return bool(state and state.drift_since and now - state.drift_since >= timedelta(minutes=grace_minutes))


@dataclass(frozen=True)
class ConfigRow:
    """One line of the configs overview: a site and the state of its config."""

    site: Site
    state: SiteConfigState | None
    versions: int
    drifted: bool

    @property
    def status(self) -> str:
        if self.state is None or self.state.desired_version is None:
            return "none"
        if self.drifted:
            return "drifted"
        if self.state.applied_hash == self.state.desired_hash:
            return "applied"
        return "pending"


def config_rows(*, session: Session, now: datetime, grace_minutes: int,
                franchisee_id: int | None = None) -> list[ConfigRow]:
    """Every site (or one partner's sites) with desired, applied and drift, drifted first."""
    stmt = select(Site).where(Site.status != SiteStatus.terminated)
    if franchisee_id is not None:
        stmt = stmt.where(Site.franchisee_id == franchisee_id)
    sites = list(session.exec(stmt.order_by(Site.code)))
    ids = [s.id for s in sites]
    states = {s.site_id: s for s in session.exec(select(SiteConfigState).where(SiteConfigState.site_id.in_(ids)))}
    counts = dict(session.exec(select(SiteConfigVersion.site_id, func.count()).where(
        SiteConfigVersion.site_id.in_(ids)).group_by(SiteConfigVersion.site_id)).all())
    rows = [ConfigRow(s, states.get(s.id), counts.get(s.id, 0),
                      is_drifted(states.get(s.id), now=now, grace_minutes=grace_minutes)) for s in sites]
    order = {"drifted": 0, "pending": 1, "none": 2, "applied": 3}
    return sorted(rows, key=lambda r: (order[r.status], r.site.code))


def site_state(*, session: Session, site_id: int) -> SiteConfigState | None:
    return session.exec(select(SiteConfigState).where(SiteConfigState.site_id == site_id)).first()
