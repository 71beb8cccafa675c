"""What the distribution pages show, built from an explicit scope (HQ or one partner).

HQ views and portal views both call these; views only parse, call, render.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Float, and_, case, cast, exists, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from standards.site_config import flatten

from .. import distribution
from . import DistributionError
from ..models import Franchisee, Site, SiteStatus
from ..models.standards import SiteConfigState, SiteConfigVersion, Standard, StandardAcknowledgement
from ..paging import Page, paginate, paginate_ranked
from ..scope import Scope
from .configs import ConfigRow
from .standards import Pending, Progress, changes


def _newest_version():
    """The condition "this standard is the newest published version of its key"."""
    newer = aliased(Standard)
    return ~exists(select(newer.id).where(newer.key == Standard.key, newer.version > Standard.version))


def _counts(now: datetime):
    """count, acknowledged, overdue of the acknowledgements grouped by the query."""
    done = func.sum(case((StandardAcknowledgement.acknowledged_at.is_not(None), 1), else_=0))
    overdue = func.sum(case((and_(StandardAcknowledgement.acknowledged_at.is_(None),
                                  StandardAcknowledgement.due_at < now), 1), else_=0))
    return func.count(StandardAcknowledgement.id), done, overdue


def standards_progress(*, session: Session, scope: Scope, now: datetime, page: int = 1,
                       per_page: int | None = None) -> Page:
    """One page of the newest version of every standard (by category and key), each with its ``Progress``
    over the sites in scope: (standard, progress) pairs, counted in SQL."""
    found = paginate(session, select(Standard).where(_newest_version()).order_by(Standard.category, Standard.key),
                     page=page, per_page=per_page)
    total, done, overdue = _counts(now)
    stmt = (select(StandardAcknowledgement.standard_id, total, done, overdue)
            .where(StandardAcknowledgement.standard_id.in_([s.id for s in found.items]))
            .group_by(StandardAcknowledgement.standard_id))
    counts = {row[0]: Progress(row[1], row[2] or 0, row[3] or 0)
              for row in session.exec(scope.where_site(stmt, StandardAcknowledgement.site_id))} if found.items else {}
    found.items = [(s, counts.get(s.id, Progress(0, 0, 0))) for s in found.items]
    return found


def sites_progress(*, session: Session, scope: Scope, now: datetime, page: int = 1,
                   per_page: int | None = None) -> Page:
    """One page of the sites in scope with acknowledgements of the newest versions: (site, progress) pairs,
    most overdue first, then the least acknowledged; counted per site, sorted and paged in SQL (the sites'
    own rows read for the page only).

    Issue 15 (pages as the network grows, 2.0× from 100 to 10,000 sites): the page's sites are ranked and
    counted in one pass over the acknowledgements (the count a window over the ranked sites), and their
    figures are then counted from their own acknowledgements only. The page's rows used to be joined to the
    per-site counts of every site, which PostgreSQL computed whole for the 50 it kept, and the count of
    sites was a third pass."""
    total, done, overdue = _counts(now)

    def per_site(*where):
        stmt = (select(StandardAcknowledgement.site_id, total.label("total"), done.label("done"),
                       overdue.label("overdue"))
                .where(StandardAcknowledgement.standard_id.in_(select(Standard.id).where(_newest_version())),
                       *where)
                .group_by(StandardAcknowledgement.site_id))
        return scope.where_site(stmt, StandardAcknowledgement.site_id).subquery()

    every = per_site()
    ranked = (select(every.c.site_id).join(Site, Site.id == every.c.site_id)
              .order_by(every.c.overdue.desc(), (cast(every.c.done, Float) / every.c.total).asc(), Site.code))

    def load(ids):
        theirs = per_site(StandardAcknowledgement.site_id.in_(ids))
        rows = session.exec(select(Site, theirs.c.total, theirs.c.done, theirs.c.overdue)
                            .join(theirs, theirs.c.site_id == Site.id))
        return {site.id: (site, Progress(n, d or 0, o or 0)) for site, n, d, o in rows}

    return paginate_ranked(session, ranked, load, page=page, per_page=per_page)[0]


def pending(*, session: Session, scope: Scope, page: int = 1, per_page: int | None = None) -> Page:
    """One page of the open acknowledgements (newest versions only) of the sites in scope, soonest due first,
    each a ``Pending`` with what changed since the version the site last acknowledged.

    The sites, the versions acknowledged before and the diffs are read for the page's rows only, in one
    query each, never one per row.
    """
    stmt = (select(StandardAcknowledgement, Standard, Site)
            .join(Standard, Standard.id == StandardAcknowledgement.standard_id)
            .join(Site, Site.id == StandardAcknowledgement.site_id)
            .where(StandardAcknowledgement.acknowledged_at.is_(None), Site.status != SiteStatus.terminated,
                   _newest_version())
            .order_by(StandardAcknowledgement.due_at, Standard.key, Site.code, StandardAcknowledgement.id))
    found = paginate(session, scope.where_site(stmt, StandardAcknowledgement.site_id), page=page, per_page=per_page)
    previous: dict[tuple[int, str], Standard] = {}
    if found.items:
        asked = {(ack.site_id, standard.key) for ack, standard, _site in found.items}
        rows = session.exec(select(StandardAcknowledgement.site_id, Standard)
                            .join(Standard, Standard.id == StandardAcknowledgement.standard_id)
                            .where(StandardAcknowledgement.site_id.in_({site for site, _key in asked}),
                                   Standard.key.in_({key for _site, key in asked}),
                                   StandardAcknowledgement.acknowledged_at.is_not(None))).all()
        for site_id, standard in rows:
            key = (site_id, standard.key)
            if key in asked and (key not in previous or standard.version > previous[key].version):
                previous[key] = standard
    found.items = [Pending(ack, standard, site, previous.get((ack.site_id, standard.key)),
                           *changes(previous.get((ack.site_id, standard.key)), standard))
                   for ack, standard, site in found.items]
    return found


def _config_status(now: datetime, grace_minutes: int):
    """``ConfigRow.status`` as a number to sort by: drifted 0, awaiting delivery 1, none published 2, applied 3."""
    state = SiteConfigState
    return case((or_(state.id.is_(None), state.desired_version.is_(None)), 2),
                (and_(state.drift_since.is_not(None), state.drift_since <= now - timedelta(minutes=grace_minutes)), 0),
                (state.applied_hash == state.desired_hash, 3), else_=1)


def config_list(*, session: Session, scope: Scope, now: datetime, grace_minutes: int, page: int = 1,
                per_page: int | None = None) -> Page:
    """One page of the sites in scope with their desired and applied config and drift, drifted first:
    ``ConfigRow`` items, each with its partner's code as ``partner``; sorted and paged in SQL."""
    def select_sites(*columns):
        stmt = (select(*columns).select_from(Site).join(Franchisee, Franchisee.id == Site.franchisee_id)
                .outerjoin(SiteConfigState, SiteConfigState.site_id == Site.id)
                .where(Site.status != SiteStatus.terminated))
        return scope.where_site(stmt, Site.id)

    def load(ids):
        return {row[0].id: row for row in session.exec(select_sites(Site, SiteConfigState, Franchisee.code)
                                                       .where(Site.id.in_(ids)))}

    found, _none = paginate_ranked(session, select_sites(Site.id).order_by(_config_status(now, grace_minutes),
                                                                        Site.code),
                                   load, page=page, per_page=per_page)   # the count rides on the ranked ids
    ids = [site.id for site, _state, _code in found.items]
    counts = dict(session.exec(select(SiteConfigVersion.site_id, func.count()).where(
        SiteConfigVersion.site_id.in_(ids)).group_by(SiteConfigVersion.site_id)).all()) if ids else {}
    found.items = [(ConfigRow(site, state, counts.get(site.id, 0),
                              distribution.is_drifted(state, now=now, grace_minutes=grace_minutes)), code)
                   for site, state, code in found.items]
    return found


def site_config(*, session: Session, site: Site, old: int | None, new: int | None, grace_minutes: int,
                now: datetime, holding=None) -> dict:
    """What a site's config page shows (HQ and portal alike): the config in force with the layer that set
    every key, its versions, the diff between two of them (``old``/``new``, default the newest two), drift.

    ``holding`` (issue 17, the portal): the partner's tenures of the site. It sees the
    versions in force while it held the site; a partner that no longer holds it sees
    no live state, and the version in force when its tenure ended as the current one.
    An asked version that does not exist (or is of another partner's time) is a ``DistributionError``.
    """
    versions = distribution.versions(session=session, site_id=site.id)
    state = distribution.site_state(session=session, site_id=site.id)
    if holding is not None:
        versions = _versions_held(versions, holding)
        if not holding.holds_now:
            state = None
        if not {v for v in (old, new) if v is not None} <= {v.version for v in versions}:
            raise DistributionError("no such config version in the partner's time")
    current = next((v for v in versions if state and v.version == state.desired_version), None)
    if holding is not None and not holding.holds_now:
        current = versions[0] if versions else None
    changes = []
    if len(versions) > 1:
        new = versions[0].version if new is None else new
        old = max(new - 1, 1) if old is None else old
        old, new, changes = distribution.diff_versions(session=session, site=site, old=old, new=new)
    else:
        old, new = None, None
    leaves = flatten(current.content) if current else {}
    return dict(versions=versions, state=state, current=current, changes=changes, old=old, new=new,
                leaves=sorted(leaves.items()), provenance=current.provenance if current else {},
                drifted=distribution.is_drifted(state, now=now, grace_minutes=grace_minutes))


def _versions_held(versions: list, holding) -> list:
    """The versions (newest first) in force at some time of the holding: made during it, or in force at its start."""
    kept = []
    for index, version in enumerate(versions):
        successor = versions[index - 1] if index > 0 else None  # newest first: the next version is the one before
        starts, ends = version.created_at, successor.created_at if successor else None
        if any((t.held_until is None or starts < t.held_until) and (t.held_from is None or ends is None
                                                                    or ends > t.held_from)
               for t in holding.tenures):
            kept.append(version)
    return kept


def standards_by_id(*, session: Session, ids: list[int]) -> dict[int, Standard]:
    """The standard versions these acknowledgements name, by id (one query for a page's rows)."""
    if not ids:
        return {}
    return {s.id: s for s in session.exec(select(Standard).where(Standard.id.in_(set(ids))))}
