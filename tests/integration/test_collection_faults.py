"""The hard cases with real processes: MQTT through the broker, kill -9 mid-pull, two collectors at once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import requests
from sqlmodel import Session, func, select

from brand_hub.collection.cycle import run_cycle
from brand_hub.db import make_engine
from brand_hub.models import Site
from brand_hub.models.collection import ReadingBucket
from brand_hub.settings import Settings
from site_agent.agent import Agent
from site_agent.config import AgentConfig
from site_agent.server import MultiSite, Server, create_app
from tests.builders import issue_site_token, make_franchisee, make_site, start_agent
from tests.conftest import MQTT_HOST, MQTT_PORT, require_mqtt, require_postgres

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(timezone.utc)


def bucket_count(engine, site_id: int | None = None) -> int:
    with Session(engine) as s:
        stmt = select(func.count()).select_from(ReadingBucket)
        if site_id is not None:
            stmt = stmt.where(ReadingBucket.site_id == site_id)
        return s.exec(stmt).one()


def fill(agent: Agent, buckets: int, zones: int = 10) -> None:
    """``buckets`` sealed-to-be buckets: one reading each, in the past."""
    checked = [agent.check(f"z{i % zones}", "co2_ppm", 400 + i % 500,
                           (NOW - timedelta(days=3) + timedelta(minutes=15 * (i // zones))).isoformat())
               for i in range(buckets)]
    assert agent.ingest_readings(checked).accepted == buckets


class Slow:
    """WSGI middleware: every request waits a little and is counted per site, concurrently in flight."""

    def __init__(self, app, delay: float):
        self.app, self.delay = app, delay
        self.lock = threading.Lock()
        self.in_flight: Counter = Counter()
        self.most_in_flight: Counter = Counter()

    def __call__(self, environ, start_response):
        site = environ.get("PATH_INFO", "").split("/")[2] if environ.get("PATH_INFO", "").startswith("/sites/") else ""
        with self.lock:
            self.in_flight[site] += 1
            self.most_in_flight[site] = max(self.most_in_flight[site], self.in_flight[site])
        try:
            time.sleep(self.delay)
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.in_flight[site] -= 1


@pytest.mark.mqtt
def test_a_reading_published_to_the_broker_reaches_the_hubs_database(engine, session, settings, tmp_path):
    require_mqtt()
    site = make_site(session, make_franchisee(session), code=f"MQ{uuid.uuid4().hex[:6].upper()}")
    token = issue_site_token(session, site)
    agent = start_agent(tmp_path, site.code, token, mqtt_host=MQTT_HOST, mqtt_port=MQTT_PORT)
    try:
        site.agent_url = agent.url
        session.add(site)
        session.commit()
        deadline = time.monotonic() + 10
        while not agent.mqtt.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert agent.mqtt.connected, "the agent subscribed to the broker"
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        publisher.connect(MQTT_HOST, MQTT_PORT)
        publisher.loop_start()
        at = (NOW - timedelta(hours=2)).isoformat()
        publisher.publish(f"brandhub/{site.code}/meeting-1/co2_ppm", json.dumps({"ts": at, "value": 812}),
                          qos=1).wait_for_publish(5)
        publisher.publish(f"brandhub/{site.code}/meeting-1/co2_ppm", b"not a number", qos=1).wait_for_publish(5)
        publisher.loop_stop()
        publisher.disconnect()
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            health = requests.get(agent.url + "/v1/health", headers=headers, timeout=5).json()
            if health["unpulled"]["readings"] and health["rejects"].get("unparseable"):
                break
            time.sleep(0.05)

        run_cycle(engine=engine, settings=settings)

        session.expire_all()
        bucket = session.exec(select(ReadingBucket).where(ReadingBucket.site_id == site.id)).one()
        assert (bucket.zone, bucket.metric, bucket.count, bucket.mean) == ("meeting-1", "co2_ppm", 1, 812.0)
        assert health["rejects"] == {"unparseable": 1}
    finally:
        agent.stop()


def test_a_collector_killed_mid_pull_and_run_again_ends_with_exactly_the_agents_records(database_url, tmp_path,
                                                                                        request):
    engine = make_engine(database_url)
    request.addfinalizer(engine.dispose)
    with Session(engine, expire_on_commit=False) as session:
        site = make_site(session, make_franchisee(session))
        token = issue_site_token(session, site)
        session.commit()
        site_id, code = site.id, site.code
    agent = Agent(AgentConfig(site_code=code, token=token, buffer_path=str(tmp_path / "kill.buffer")))
    fill(agent, 600)
    server = Server(Slow(create_app(agent), delay=0.05)).start()
    with Session(engine) as session:
        site = session.get(Site, site_id)
        site.agent_url = server.url
        session.add(site)
        session.commit()
    env = dict(os.environ, BRANDHUB_DATABASE_URL=database_url, BRANDHUB_SECRET_KEY="test-secret",
               BRANDHUB_ENV="testing", BRANDHUB_COLLECT_PAGE_LIMIT="40", BRANDHUB_COLLECT_LEASE_SECONDS="1",
               BRANDHUB_AGENT_TLS_VERIFY="false")
    command = [sys.executable, "-c", "from cli.main import cli; cli()", "collect", "once"]
    try:
        collector = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while bucket_count(engine, site_id) < 120 and time.monotonic() < deadline:
            time.sleep(0.01)
        collector.send_signal(signal.SIGKILL)
        collector.wait(10)
        at_kill = bucket_count(engine, site_id)
        assert 0 < at_kill < 600, "the collector was killed in the middle of the pull"

        time.sleep(1.1)  # the dead collector's lease runs out
        settings = Settings(env="testing", database_url=database_url, secret_key="test-secret",
                            collect_page_limit=40, agent_tls_verify=False)
        again = run_cycle(engine=engine, settings=settings)
        assert [o.status for o in again.outcomes] == ["ok"]
        assert again.records == 600 - at_kill
    finally:
        server.stop()
        agent.close()

    assert bucket_count(engine, site_id) == 600


@pytest.mark.postgres
def test_two_collectors_at_once_on_postgresql_never_pull_a_site_together_nor_twice(tmp_path, request):
    require_postgres()
    url = request.getfixturevalue("postgres_schema_url")
    engine = make_engine(url)
    request.addfinalizer(engine.dispose)
    agents: dict[str, Agent] = {}
    with Session(engine, expire_on_commit=False) as session:
        partner = make_franchisee(session)
        sites = [make_site(session, partner) for _ in range(12)]
        for site in sites:
            token = issue_site_token(session, site)
            agents[site.code] = Agent(AgentConfig(site_code=site.code, token=token,
                                                  buffer_path=str(tmp_path / f"{site.code}.buffer")))
            fill(agents[site.code], 120)
        session.commit()
        slow = Slow(MultiSite(create_app(), agents), delay=0.02)
        server = Server(slow).start()
        for site in sites:
            site.agent_url = f"{server.url}/sites/{site.code}"
            session.add(site)
        session.commit()
    settings = Settings(env="testing", database_url=url, secret_key="test-secret", collect_workers=4,
                        collect_page_limit=30, agent_tls_verify=False)
    reports = []
    try:
        threads = [threading.Thread(target=lambda: reports.append(run_cycle(
                   engine=engine, settings=settings, site_codes=list(agents))))
                   for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        server.stop()
        for agent in agents.values():
            agent.close()

    assert len(reports) == 2
    assert max(slow.most_in_flight[code] for code in agents) == 1, "no site was pulled by both at once"
    assert sum(r.records for r in reports) == 12 * 120, "no record was pulled twice"
    assert sum(bucket_count(engine, site.id) for site in sites) == 12 * 120
    pulled_by = Counter(o.site_code for r in reports for o in r.outcomes if o.records)
    assert set(pulled_by) == set(agents) and set(pulled_by.values()) == {1}
