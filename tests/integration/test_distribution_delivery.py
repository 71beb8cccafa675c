"""Config delivery to a real site agent over real HTTP: applied, kept across a restart, drift seen and cleared."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlmodel import Session

from brand_hub import distribution
from brand_hub.audit import SYSTEM
from brand_hub.collection.cycle import run_cycle
from brand_hub.distribution.drift import check_drift
from standards import site_config
from standards.canonical import content_hash
from tests.builders import issue_site_token, make_franchisee, make_site, start_agent


@pytest.fixture
def hub(settings):
    """Settings for fast pulls: no retries, short timeouts."""
    return settings.replace(collect_retries=0, collect_timeout_seconds=3, config_drift_grace_minutes=30)


@pytest.fixture
def agents(tmp_path):
    started = []

    def start(site_code: str, token: str):
        running = start_agent(tmp_path, site_code, token)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def connect(session: Session, site, agent) -> None:
    site.agent_url = agent.url
    session.add(site)
    session.commit()


def publish(session: Session, layers: site_config.ConfigLayers, now: datetime | None = None):
    outcomes = distribution.publish_configs(session=session, layers=layers, actor=SYSTEM,
                                            now=now or datetime.now(timezone.utc))
    session.commit()
    return outcomes


def agent_config(agent, token: str) -> dict:
    answer = requests.get(agent.url + "/v1/config", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    answer.raise_for_status()
    return answer.json()


def state_of(session: Session, site):
    session.expire_all()
    return distribution.site_state(session=session, site_id=site.id)


def test_the_next_pull_delivers_the_desired_config_and_a_restarted_agent_keeps_it(session, engine, hub, agents):
    site = make_site(session, make_franchisee(session), region="east", tier="flagship")
    token = issue_site_token(session, site)
    agent = agents(site.code, token)
    connect(session, site, agent)
    publish(session, site_config.load_folder())
    desired = distribution.desired_config(session=session, site_id=site.id)

    report = run_cycle(engine=engine, settings=hub, site_codes=[site.code])

    assert [o.status for o in report.outcomes] == ["ok"]
    held = agent_config(agent, token)
    assert held["hash"] == desired.hash == content_hash(held["config"]) and held["version"] == 1
    assert held["config"]["plans"]["private_office"]["price"] == "3600.00"
    state = state_of(session, site)
    assert state.applied_hash == desired.hash and state.applied_at is not None and state.drift_since is None

    agent.stop()
    restarted = agents(site.code, token)
    connect(session, site, restarted)
    health = requests.get(restarted.url + "/v1/health", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert health.json()["config_hash"] == desired.hash
    assert agent_config(restarted, token)["config"] == desired.content


def test_a_failing_delivery_is_drift_after_the_grace_period_and_the_next_good_pull_clears_it(
        session, engine, hub, agents, tmp_path):
    site = make_site(session, make_franchisee(session), region="west", tier="standard")
    token = issue_site_token(session, site)
    agent = agents(site.code, token)
    connect(session, site, agent)
    layers = site_config.load_folder()
    publish(session, layers)
    run_cycle(engine=engine, settings=hub, site_codes=[site.code])
    agent.stop()

    layers.regions["west"].data["plans"]["day_pass"]["price"] = "99.00"
    published_at = datetime.now(timezone.utc)
    publish(session, layers, published_at)
    report = run_cycle(engine=engine, settings=hub, site_codes=[site.code])

    assert report.outcomes[0].status == "failed"
    state = state_of(session, site)
    assert state.desired_version == 2 and state.drift_since == published_at
    assert state.drifted_keys == ["plans.day_pass.price"]  # the agent still holds v1, which the hub knows
    grace = hub.config_drift_grace_minutes
    assert not distribution.is_drifted(state, now=published_at + timedelta(minutes=grace - 1), grace_minutes=grace)
    assert distribution.is_drifted(state, now=published_at + timedelta(minutes=grace), grace_minutes=grace)

    restarted = agents(site.code, token)
    connect(session, site, restarted)
    run_cycle(engine=engine, settings=hub, site_codes=[site.code])

    state = state_of(session, site)
    assert state.applied_hash == state.desired_hash and state.drift_since is None and state.drifted_keys == []
    assert agent_config(restarted, token)["config"]["plans"]["day_pass"]["price"] == "99.00"


def test_a_config_changed_on_site_is_named_key_by_key_and_undone_on_the_next_pull(session, engine, hub, agents):
    site = make_site(session, make_franchisee(session), region="south", tier="standard")
    token = issue_site_token(session, site)
    agent = agents(site.code, token)
    connect(session, site, agent)
    publish(session, site_config.load_folder())
    run_cycle(engine=engine, settings=hub, site_codes=[site.code])
    desired = distribution.desired_config(session=session, site_id=site.id)

    local = dict(desired.content, timezone="Asia/Tokyo")
    local["meeting_rooms"] = dict(local["meeting_rooms"], hourly_price="1.00")
    answer = requests.put(agent.url + "/v1/config", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                          json={"version": 1, "hash": content_hash(local), "config": local})
    assert answer.json()["applied_hash"] == content_hash(local)
    seen = datetime.now(timezone.utc)
    # what the collector records when its re-delivery fails: the agent's own hash and the error
    distribution.record_delivery(session=session, site_id=site.id, applied_hash=content_hash(local), at=seen,
                                 error="config delivery: no answer within 3 s")
    checks = check_drift(session=session, settings=hub, now=seen)
    session.commit()

    assert [(c.site_code, c.keys, c.error) for c in checks] == [
        (site.code, ["meeting_rooms.hourly_price", "timezone"], "")]
    assert state_of(session, site).drift_since == seen

    run_cycle(engine=engine, settings=hub, site_codes=[site.code])

    assert agent_config(agent, token)["hash"] == desired.hash
    state = state_of(session, site)
    assert state.drift_since is None and state.drifted_keys == [] and state.last_delivery_error == ""


def test_an_agent_that_cannot_be_asked_keeps_what_is_known(session, hub):
    site = make_site(session, make_franchisee(session), agent_url="http://127.0.0.1:9")
    issue_site_token(session, site)
    publish(session, site_config.load_folder())
    checks = check_drift(session=session, settings=hub, now=datetime.now(timezone.utc))
    assert [c.site_code for c in checks] == [site.code]
    assert checks[0].error == "GET /v1/config: cannot connect" and checks[0].keys == []
