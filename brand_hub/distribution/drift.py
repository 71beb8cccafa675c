"""Name the keys of a drifted config by asking the site's agent what it holds (``GET /v1/config``).

The collector only learns the agent's hash; when that hash is not a version the hub
published (changed locally on site), the differing keys are found by reading the
agent's own copy. An agent that cannot be asked keeps what is already known.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from ..collection import AgentError, TokenError, site_token
from ..collection.client import AgentClient
from ..models import Site
from ..models.standards import SiteConfigState
from ..settings import Settings
from .configs import inspect_drift

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftCheck:
    site_code: str
    keys: list[str]
    error: str = ""


def fetch_agent_config(*, site: Site, settings: Settings) -> dict[str, Any]:
    """The agent's answer to ``GET /v1/config`` through the one agent client; raises ``AgentError`` or ``TokenError``."""
    client = AgentClient.from_settings(site.agent_url, site_token(site, settings.secret_key), settings)
    try:
        return client.config()
    finally:
        client.close()


def check_drift(*, session: Session, settings: Settings, now: datetime,
                site_codes: list[str] | None = None) -> list[DriftCheck]:
    """For every site whose applied hash differs from the desired one, record the differing keys."""
    stmt = (select(Site, SiteConfigState).join(SiteConfigState, SiteConfigState.site_id == Site.id)
            .where(SiteConfigState.desired_hash != "", SiteConfigState.applied_hash != SiteConfigState.desired_hash)
            .order_by(Site.code))
    if site_codes:
        stmt = stmt.where(Site.code.in_(site_codes))
    checks = []
    for site, _state in session.exec(stmt).all():
        answer, error = None, ""
        if not site.agent_url:
            error = "no agent URL registered"
        else:
            try:
                answer = fetch_agent_config(site=site, settings=settings)
            except (AgentError, TokenError) as exc:
                error = f"GET /v1/config: {_reason(exc)}"
                log.warning("site %s: cannot read the agent's config: %s", site.code, error)
        keys = inspect_drift(session=session, site_id=site.id, agent_config=answer, at=now)
        checks.append(DriftCheck(site.code, keys, error))
    return checks


def _reason(exc: Exception) -> str:
    """One short line saying why the agent could not be asked (never the token)."""
    return getattr(exc, "reason", None) or str(exc)[:160]
