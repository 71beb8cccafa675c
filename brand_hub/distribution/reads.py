"""What the distribution pages show, built from an explicit scope (HQ or one partner).

HQ views and portal views both call these; views only parse, call, render.
"""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from standards.site_config import flatten

from .. import distribution
from . import DistributionError
from ..models import Site
from ..scope import Scope


def config_list(*, session: Session, scope: Scope, now: datetime, grace_minutes: int) -> list:
    """Every site in scope with its desired and applied config and drift, drifted first."""
    rows = distribution.config_rows(session=session, now=now, grace_minutes=grace_minutes,
                                    franchisee_id=scope.franchisee_id)
    return rows if scope.sites is None else [row for row in rows if row.site.id in scope.sites]


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
