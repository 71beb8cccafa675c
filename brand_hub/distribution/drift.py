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

import requests
from sqlmodel import Session, select

from ..collection import TokenError, site_token
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
    """The agent's answer to ``GET /v1/config``; raises ``requests.RequestException`` or ``TokenError``."""
    token = site_token(site, settings.secret_key)
    response = requests.get(site.agent_url.rstrip("/") + "/v1/config", headers={"Authorization": f"Bearer {token}"},
                            timeout=settings.collect_timeout_seconds, verify=settings.agent_tls_verify)
    response.raise_for_status()
    return response.json()


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
            except (requests.RequestException, ValueError, TokenError) as exc:
                error = f"GET /v1/config: {_reason(exc, settings)}"
                log.warning("site %s: cannot read the agent's config: %s", site.code, error)
        keys = inspect_drift(session=session, site_id=site.id, agent_config=answer, at=now)
        checks.append(DriftCheck(site.code, keys, error))
    return checks


def _reason(exc: Exception, settings: Settings) -> str:
    """One short line saying why the agent could not be asked (never the token)."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {settings.collect_timeout_seconds:g} s"
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, TokenError):
        return str(exc)
    return f"{type(exc).__name__}: {str(exc)[:120]}"
