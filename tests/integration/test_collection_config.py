"""Config delivery on every pull: the desired config goes to an agent whose applied hash differs."""
from __future__ import annotations

import requests
from sqlmodel import Session, select

from brand_hub.collection.cycle import run_cycle
from brand_hub.models.standards import SiteConfigState, SiteConfigVersion
from standards.canonical import content_hash
from tests.builders import issue_site_token, make_franchisee, make_site, start_agent

CONFIG = {"features": {"nps_survey": True, "community_events": True}, "iaq": {"co2_alert_ppm": 1000}}


def desire(session: Session, site, content: dict, version: int = 1) -> str:
    """Make ``content`` the site's desired config, as a config publish would."""
    digest = content_hash(content)
    session.add(SiteConfigVersion(site_id=site.id, version=version, content=content, content_hash=digest))
    state = session.exec(select(SiteConfigState).where(SiteConfigState.site_id == site.id)).first() or \
        SiteConfigState(site_id=site.id)
    state.desired_version, state.desired_hash = version, digest
    session.add(state)
    session.commit()
    return digest


def state_of(session: Session, site_id: int) -> SiteConfigState:
    session.expire_all()
    return session.exec(select(SiteConfigState).where(SiteConfigState.site_id == site_id)).one()


def test_the_desired_config_is_delivered_and_its_applied_hash_recorded(engine, session, settings, tmp_path):
    site = make_site(session, make_franchisee(session))
    token = issue_site_token(session, site)
    agent = start_agent(tmp_path, site.code, token)
    try:
        site.agent_url = agent.url
        session.add(site)
        digest = desire(session, site, CONFIG)

        run_cycle(engine=engine, settings=settings)

        held = requests.get(agent.url + "/v1/config", headers={"Authorization": f"Bearer {token}"}, timeout=5).json()
        assert (held["version"], held["hash"], held["config"]) == (1, digest, CONFIG)
        state = state_of(session, site.id)
        assert (state.applied_hash, state.last_delivery_error, state.drift_since) == (digest, "", None)

        newer = dict(CONFIG, iaq={"co2_alert_ppm": 900})
        newer_digest = desire(session, site, newer, version=2)
        run_cycle(engine=engine, settings=settings)
        assert state_of(session, site.id).applied_hash == newer_digest
    finally:
        agent.stop()


def test_an_agent_already_running_the_desired_config_gets_no_delivery(engine, session, settings, tmp_path):
    site = make_site(session, make_franchisee(session))
    token = issue_site_token(session, site)
    agent = start_agent(tmp_path, site.code, token)
    try:
        site.agent_url = agent.url
        session.add(site)
        digest = desire(session, site, CONFIG)
        agent.agent.apply_config({"version": 1, "hash": digest, "config": CONFIG})
        applied_at = agent.agent.current_config()["applied_at"]

        run_cycle(engine=engine, settings=settings)

        assert agent.agent.current_config()["applied_at"] == applied_at
        assert state_of(session, site.id).applied_hash == digest
    finally:
        agent.stop()


def test_a_refused_delivery_is_recorded_and_the_data_still_pulled(engine, session, settings, tmp_path):
    site = make_site(session, make_franchisee(session))
    token = issue_site_token(session, site)
    agent = start_agent(tmp_path, site.code, token)
    try:
        site.agent_url = agent.url
        session.add(site)
        session.add(SiteConfigVersion(site_id=site.id, version=1, content=CONFIG, content_hash="sha256:wrong"))
        session.add(SiteConfigState(site_id=site.id, desired_version=1, desired_hash="sha256:wrong"))
        session.commit()

        report = run_cycle(engine=engine, settings=settings)

        assert report.outcomes[0].status == "ok"
        state = state_of(session, site.id)
        assert "config delivery" in state.last_delivery_error and "422" in state.last_delivery_error
        assert agent.agent.current_config() is None
    finally:
        agent.stop()
