"""Nothing lost at the edges: real agent processes, a private broker from the project's config, the hub.

A UCI day replayed over MQTT at 250 messages a second arrives whole; an agent killed for
longer than its grace while sensors publish loses nothing; a late reading after the hub
pulled its bucket amends the hub's copy; a redelivered bare number counts once; a backlog
above the broker's queue limit is reported. Time is compressed by config (1-minute buckets,
seconds of grace), not by sleeping.
"""
from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlmodel import Session, select

from brand_hub.collection.cycle import run_cycle
from brand_hub.db import make_engine
from brand_hub.models.collection import CollectionTarget, ReadingAmendment, ReadingBucket
from brand_hub.settings import Settings
from tests.builders import issue_site_token, make_franchisee, make_site, start_agent
from tests.conftest import _empty_all, missing
from tests.integration.edges import (MOSQUITTO, AckLosingProxy, AgentProcess, OurBroker, Sensors, hour_means, uci_day,
                                     wait_for)

pytestmark = pytest.mark.mqtt


@pytest.fixture(autouse=True)
def _mosquitto():
    if MOSQUITTO is None:
        missing("the mosquitto program is not installed", "run scripts/setup.sh")


@pytest.fixture
def postgres_url(request):
    """PostgreSQL only (the production database), for the long replay."""
    url = request.getfixturevalue("postgres_schema_url")
    _empty_all(url)
    return url


def hub_site(engine, agent_url: str = "") -> tuple[int, str, str]:
    """A site at the hub with an issued token: (id, code, token)."""
    with Session(engine, expire_on_commit=False) as session:
        site = make_site(session, make_franchisee(session), code=f"E{uuid.uuid4().hex[:7].upper()}")
        token = issue_site_token(session, site)
        site.agent_url = agent_url
        session.add(site)
        session.commit()
        return site.id, site.code, token


def point_at(engine, site_id: int, url: str) -> None:
    from brand_hub.models import Site
    with Session(engine) as session:
        site = session.get(Site, site_id)
        site.agent_url = url
        session.add(site)
        session.commit()


def hub_buckets(engine, site_id: int) -> list[ReadingBucket]:
    with Session(engine) as session:
        return list(session.exec(select(ReadingBucket).where(ReadingBucket.site_id == site_id)))


def held_by_agent(buffer_path) -> int:
    """Readings the agent holds in buckets not yet sealed (read from its buffer file)."""
    with sqlite3.connect(f"file:{buffer_path}?mode=ro", uri=True) as db:
        return db.execute("SELECT coalesce(sum(count), 0) FROM open_bucket").fetchone()[0]


def all_held_by_agent(buffer_path) -> int:
    with sqlite3.connect(f"file:{buffer_path}?mode=ro", uri=True) as db:
        return (db.execute("SELECT coalesce(sum(count), 0) FROM open_bucket").fetchone()[0]
                + db.execute("SELECT coalesce(sum(count), 0) FROM bucket").fetchone()[0])


class Collector:
    """The hub pulling the site over and over while the test goes on (as the scheduled job does)."""

    def __init__(self, engine, settings, code: str, every: float = 0.3):
        self.engine, self.settings, self.code, self.every = engine, settings, code, every
        self._stop = threading.Event()
        self.cycles = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            run_cycle(engine=self.engine, settings=self.settings, site_codes=[self.code])
            self.cycles += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)


def hub_settings(url: str, tmp_path) -> Settings:
    return Settings(env="testing", database_url=url, instance_path=tmp_path / "instance", secret_key="test-secret",
                    agent_tls_verify=False, collect_page_limit=500)


@pytest.mark.slow
def test_a_uci_day_replayed_over_mqtt_at_250_a_second_arrives_at_the_hub_with_the_csvs_hour_means(
        postgres_url, tmp_path):
    engine = make_engine(postgres_url)
    try:
        settings = hub_settings(postgres_url, tmp_path)
        site_id, code, token = hub_site(engine)
        broker = OurBroker(tmp_path / "broker", code).start()
        agent = AgentProcess(tmp_path / "agent", code, token, broker, seal_grace_seconds=1).start()
        try:
            point_at(engine, site_id, agent.url)
            wait_for(lambda: agent.health()["mqtt"]["backlog"] == "drained", "the agent is subscribed")
            midnight = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
            day = uci_day(shift_to=midnight - timedelta(days=2))
            sensors = Sensors(broker)
            with Collector(engine, settings, code) as collector:
                started = time.monotonic()
                for i, (at, metric, value) in enumerate(day):
                    sensors.publish("office", metric, value, at)
                    ahead = started + i / 250 - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
                sensors.close()
                wait_for(lambda: agent.health()["open_buckets"] == 0, "the replay's last buckets are sealed", 30)
            assert collector.cycles > 10   # the hub pulled all along the replay
            run_cycle(engine=engine, settings=settings, site_codes=[code])

            buckets = hub_buckets(engine, site_id)
            assert sum(b.count for b in buckets) == len(day) and agent.health()["rejects"] == {}
            stored: dict[tuple, list[float]] = {}
            for b in buckets:
                key = (b.metric, b.bucket_start.replace(minute=0))
                total, n = stored.get(key, (0.0, 0))
                stored[key] = (total + b.mean * b.count, n + b.count)
            expected = hour_means(day)
            assert set(stored) == set(expected)
            for key, mean in expected.items():
                total, n = stored[key]
                assert total / n == pytest.approx(mean, rel=1e-9, abs=1e-9), key
        finally:
            agent.stop()
            broker.stop()
    finally:
        engine.dispose()


@pytest.mark.slow
def test_an_agent_killed_for_longer_than_its_grace_while_sensors_publish_loses_nothing(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    try:
        settings = hub_settings(sqlite_url, tmp_path)
        site_id, code, token = hub_site(engine)
        broker = OurBroker(tmp_path / "broker", code).start()
        agent = AgentProcess(tmp_path / "agent", code, token, broker, bucket_minutes=1, seal_grace_seconds=2,
                             backlog_wait_seconds=30).start()
        sensors = Sensors(broker)
        sent = 0
        try:
            point_at(engine, site_id, agent.url)
            wait_for(lambda: agent.health()["mqtt"]["backlog"] == "drained", "the agent is subscribed")
            # the outage crosses a minute boundary, so its first bucket ends (plus grace) while the agent is down
            wait_for(lambda: 50 <= datetime.now(timezone.utc).second <= 53, "late in a minute", 65, every=0.2)

            def publish_for(seconds: float) -> None:
                nonlocal sent
                until = time.monotonic() + seconds
                while time.monotonic() < until:
                    for zone in ("desk", "meeting"):
                        sensors.publish(zone, "co2_ppm", 400 + sent % 300, datetime.now(timezone.utc))
                        sent += 1
                    time.sleep(0.02)

            with Collector(engine, settings, code, every=0.5):
                publish_for(1)
                agent.kill()
                publish_for(12)          # ~10 s past the minute: longer than the grace
                agent.start()
                publish_for(2)
                sensors.flush()
                wait_for(lambda: agent.health()["mqtt"]["backlog"] == "drained", "the backlog is in")
                time.sleep(1)
            run_cycle(engine=engine, settings=settings, site_codes=[code])

            health = agent.health()
            assert health["rejects"] == {}
            at_hub = sum(b.count for b in hub_buckets(engine, site_id))
            assert at_hub + held_by_agent(agent.directory / "buffer.sqlite") == sent
            assert at_hub > 0
        finally:
            sensors.close()
            agent.stop()
            broker.stop()
    finally:
        engine.dispose()


def test_a_late_reading_after_the_hub_pulled_its_bucket_amends_the_hubs_copy_once(engine, settings, tmp_path):
    site_id, code, token = hub_site(engine)
    running = start_agent(tmp_path, code, token)
    headers = {"Authorization": f"Bearer {token}"}
    at = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)

    def post(value: float, minute: int) -> dict:
        body = {"readings": [{"zone": "desk", "metric": "co2_ppm", "value": value,
                              "ts": (at + timedelta(minutes=minute)).isoformat()}]}
        return requests.post(running.url + "/v1/ingest", json=body, headers=headers, timeout=10).json()

    try:
        point_at(engine, site_id, running.url)
        post(600, 1)
        run_cycle(engine=engine, settings=settings, site_codes=[code])
        [first] = hub_buckets(engine, site_id)
        assert (first.count, first.mean, first.revision) == (1, 600.0, 0)

        assert post(900, 2)["readings"] == {"accepted": 1, "amended": 1, "refused": 0, "reasons": {}}
        run_cycle(engine=engine, settings=settings, site_codes=[code])
        run_cycle(engine=engine, settings=settings, site_codes=[code])   # again: nothing changes
        with Session(engine) as session:   # and a re-read from the start (an older revision first) neither
            target = session.exec(select(CollectionTarget).where(CollectionTarget.site_id == site_id)).one()
            target.cursor_readings = "0"
            session.add(target)
            session.commit()
        run_cycle(engine=engine, settings=settings, site_codes=[code])

        [amended] = hub_buckets(engine, site_id)
        assert (amended.bucket_start, amended.count, amended.mean, amended.max, amended.revision) == (
            first.bucket_start, 2, 750.0, 900.0, 1)
        with Session(engine) as session:
            [touched] = session.exec(select(ReadingAmendment).where(ReadingAmendment.site_id == site_id)).all()
        assert (touched.first_bucket, touched.last_bucket, touched.buckets) == (at, at, 1)
    finally:
        running.stop()


def test_a_bare_number_the_broker_hands_over_again_counts_once(tmp_path):
    broker = OurBroker(tmp_path / "broker", "BARE-01").start()
    proxy = AckLosingProxy(broker.port)
    agent = AgentProcess(tmp_path / "agent", "BARE-01", "token", broker, mqtt_port=proxy.port).start()
    sensors = Sensors(broker)
    try:
        wait_for(lambda: agent.health()["mqtt"]["backlog"] == "drained", "the agent is subscribed")
        proxy.lose_next_puback.set()   # the agent takes the reading, its acknowledgement never arrives
        sensors.publish("desk", "co2_ppm", 612)
        sensors.flush()
        wait_for(lambda: proxy.lost == 1, "the acknowledgement was lost and the line cut")
        wait_for(lambda: agent.health()["rejects"].get("duplicate") == 1, "the broker handed the reading over again")

        assert all_held_by_agent(agent.directory / "buffer.sqlite") == 1
        assert agent.health()["rejects"] == {"duplicate": 1}
    finally:
        sensors.close()
        agent.stop()
        proxy.close()
        broker.stop()


def test_a_backlog_above_the_brokers_queue_limit_is_reported_at_the_agent_and_the_hub(sqlite_url, tmp_path):
    engine = make_engine(sqlite_url)
    try:
        settings = hub_settings(sqlite_url, tmp_path)
        site_id, code, token = hub_site(engine)
        broker = OurBroker(tmp_path / "broker", code, max_queued=20).start()
        agent = AgentProcess(tmp_path / "agent", code, token, broker, backlog_wait_seconds=5).start()
        sensors = Sensors(broker)
        try:
            point_at(engine, site_id, agent.url)
            wait_for(lambda: agent.health()["mqtt"]["backlog"] == "drained", "the agent is subscribed")
            agent.stop()   # its session (and subscription) stays at the broker
            two_hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
            for i in range(60):
                sensors.publish("desk", "co2_ppm", 500 + i, two_hours_ago + timedelta(seconds=i))
            sensors.flush()
            agent.start()

            health = wait_for(lambda: (h := agent.health())["mqtt"]["broker_dropped"] and h,
                              "the agent saw the broker's drops")
            assert health["mqtt"]["broker_dropped"] == 40
            assert all_held_by_agent(agent.directory / "buffer.sqlite") == 20
            run_cycle(engine=engine, settings=settings, site_codes=[code])
            with Session(engine) as session:
                target = session.exec(select(CollectionTarget).where(CollectionTarget.site_id == site_id)).one()
            assert target.rejects.get("broker_dropped") == 40
        finally:
            sensors.close()
            agent.stop()
            broker.stop()
    finally:
        engine.dispose()
