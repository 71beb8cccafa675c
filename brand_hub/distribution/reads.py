"""What the distribution pages show, built from an explicit scope (HQ or one partner).

HQ views and portal views both call these; views only parse, call, render.
"""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from standards.site_config import flatten

from .. import distribution
from ..models import Site
from ..scope import Scope


def config_list(*, session: Session, scope: Scope, now: datetime, grace_minutes: int) -> list:
    """Every site in scope with its desired and applied config and drift, drifted first."""
    return distribution.config_rows(session=session, now=now, grace_minutes=grace_minutes,
                                    franchisee_id=scope.franchisee_id)


def site_config(*, session: Session, site: Site, old: int | None, new: int | None, grace_minutes: int,
                now: datetime) -> dict:
    """What a site's config page shows (HQ and portal alike): the config in force with the layer that set
    every key, its versions, the diff between two of them (``old``/``new``, default the newest two), drift.

    An asked version that does not exist is a ``DistributionError``.
    """
    versions = distribution.versions(session=session, site_id=site.id)
    state = distribution.site_state(session=session, site_id=site.id)
    current = next((v for v in versions if state and v.version == state.desired_version), None)
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
