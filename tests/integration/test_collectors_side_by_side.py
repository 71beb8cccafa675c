"""Several ``brandhub collect run`` processes on one PostgreSQL share the sites: each pulled once, none lost."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlmodel import Session, func, select

from brand_hub.collection.cycle import run_cycle
from brand_hub.collection.store import ensure_targets
from brand_hub.db import make_engine
from brand_hub.models.collection import CollectionTarget, ReadingBucket
from site_agent.agent import Agent
from site_agent.config import AgentConfig
from site_agent.server import MultiSite, Server, create_app
from tests.builders import issue_site_token, make_franchisee, make_site
from tests.conftest import require_postgres

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(timezone.utc)
HOLD = "test-hold"


class Counting:
    """WSGI middleware: each request waits a round trip; pulls (``/v1/health``) and requests in flight per site."""

    def __init__(self, app, delay: float):
        self.app, self.delay = app, delay
        self.lock = threading.Lock()
        self.pulls: Counter = Counter()
        self.in_flight: Counter = Counter()
        self.most_in_flight: Counter = Counter()

    def __call__(self, environ, start_response):
        parts = environ.get("PATH_INFO", "").split("/")
        site = parts[2] if len(parts) > 2 and parts[1] == "sites" else ""
        with self.lock:
            if parts[3:5] == ["v1", "health"]:
                self.pulls[site] += 1
            self.in_flight[site] += 1
            self.most_in_flight[site] = max(self.most_in_flight[site], self.in_flight[site])
        try:
            time.sleep(self.delay)
            return self.app(environ, start_response)
        finally:
            with self.lock:
                self.in_flight[site] -= 1


@pytest.fixture
def network(private_pg_url, tmp_path, request):
    """Sites on PostgreSQL whose real agents share one loopback server, every site held by a lease of the test's."""
    require_postgres()
    engine = make_engine(private_pg_url)
    request.addfinalizer(engine.dispose)
    return engine, agents_for(engine, tmp_path, request)


def agents_for(engine, tmp_path, request):
    def build(sites: int, buckets: int, delay: float) -> tuple[Counting, dict[str, int]]:
        agents: dict[str, Agent] = {}
        ids: dict[str, int] = {}
        with Session(engine, expire_on_commit=False) as session:
            partner = make_franchisee(session)
            for _ in range(sites):
                site = make_site(session, partner)
                token = issue_site_token(session, site)
                agent = Agent(AgentConfig(site_code=site.code, token=token,
                                          buffer_path=str(tmp_path / f"{site.code}.buffer")))
                request.addfinalizer(agent.close)
                checked = [agent.check(f"z{i % 10}", "co2_ppm", 400 + i % 500,
                                       (NOW - timedelta(days=3) + timedelta(minutes=15 * (i // 10))).isoformat())
                           for i in range(buckets)]
                assert agent.ingest_readings(checked).accepted == buckets
                agents[site.code], ids[site.code] = agent, site.id
            counting = Counting(MultiSite(create_app(), agents), delay)
            server = Server(counting).start()
            request.addfinalizer(server.stop)
            for code in agents:
                session.execute(text("UPDATE site SET agent_url = :url WHERE code = :code"),
                                {"url": f"{server.url}/sites/{code}", "code": code})
            ensure_targets(session=session, site_ids=list(ids.values()))
            session.execute(update(CollectionTarget).where(CollectionTarget.site_id.in_(ids.values()))
                            .values(lease_owner=HOLD, lease_until=NOW + timedelta(hours=1)))
            session.commit()
        return counting, ids

    return build


def lift_hold(engine, until: datetime | None = None) -> None:
    """End the test's lease on every site (now, or let it run out at ``until``)."""
    with engine.begin() as conn:
        if until is None:
            conn.execute(text("UPDATE collection_target SET lease_owner = NULL, lease_until = NULL "
                              "WHERE lease_owner = :hold"), {"hold": HOLD})
        else:
            conn.execute(update(CollectionTarget).where(CollectionTarget.lease_owner == HOLD)
                         .values(lease_until=until))


def collector(url: str, *options: str, **env: str) -> subprocess.Popen:
    """``brandhub collect run --cycles 1`` in its own process; its first line says it is ready."""
    environment = dict(os.environ, BRANDHUB_DATABASE_URL=url, BRANDHUB_SECRET_KEY="test-secret",
                       BRANDHUB_ENV="testing", BRANDHUB_AGENT_TLS_VERIFY="false",
                       BRANDHUB_COLLECT_INTERVAL_SECONDS="86400", BRANDHUB_COLLECT_RETRIES="0", **env)
    return subprocess.Popen([sys.executable, "-c", "from cli.main import cli; cli()", "collect", "run", "--cycles",
                             "1", *options], cwd=ROOT, env=environment, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)


def start_together(engine, processes: list[subprocess.Popen]) -> None:
    """Wait for every collector to be up, then lift the test's lease: they all find the sites at once."""
    for process in processes:
        assert process.stdout.readline().startswith("collecting every")
    lift_hold(engine)


def finish(process: subprocess.Popen) -> str:
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    return out


def buckets_of(engine, site_ids) -> Counter:
    with Session(engine) as session:
        rows = session.exec(select(ReadingBucket.site_id, func.count()).where(ReadingBucket.site_id.in_(site_ids))
                            .group_by(ReadingBucket.site_id)).all()
    return Counter(dict(rows))


@pytest.mark.postgres
def test_three_collector_processes_pull_every_site_exactly_once_between_them(network, private_pg_url):
    engine, build = network
    counting, ids = build(sites=9, buckets=60, delay=0.05)

    processes = [collector(private_pg_url, "--workers", "2") for _ in range(3)]
    start_together(engine, processes)
    outputs = [finish(p) for p in processes]

    assert counting.pulls == Counter({code: 1 for code in ids}), "every site pulled once, by one collector"
    assert max(counting.most_in_flight.values()) == 1, "no site was pulled by two collectors at once"
    assert buckets_of(engine, ids.values()) == Counter({i: 60 for i in ids.values()}), "nothing lost or doubled"
    pulled = [int(out.split(" pulled")[0].rsplit(" ", 1)[-1]) for out in outputs]
    assert sum(pulled) == 9 and sum(n > 0 for n in pulled) >= 2, f"the sites were shared: {outputs}"
    with Session(engine) as session:
        targets = session.exec(select(CollectionTarget).where(CollectionTarget.site_id.in_(ids.values()))).all()
    assert all(t.last_success_at and t.lease_owner is None for t in targets)


@pytest.mark.postgres
def test_the_sites_of_a_collector_killed_mid_cycle_are_taken_over_when_its_lease_runs_out(network, private_pg_url):
    engine, build = network
    counting, ids = build(sites=4, buckets=200, delay=0.02)
    slow = dict(BRANDHUB_COLLECT_LEASE_SECONDS="2", BRANDHUB_COLLECT_PAGE_LIMIT="10")

    doomed = collector(private_pg_url, "--workers", "4", **slow)
    survivor = collector(private_pg_url, "--workers", "1", **slow)
    start_together(engine, [doomed, survivor])
    doomed_owner = f"{socket.gethostname()[:40]}:{doomed.pid}:%"
    held = half_pulled = 0
    deadline = time.monotonic() + 30
    while not half_pulled and time.monotonic() < deadline:   # best: killed with a site half pulled
        with engine.connect() as conn:
            held, half_pulled = conn.execute(text(
                "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM reading_bucket b "
                "WHERE b.site_id = t.site_id)) FROM collection_target t WHERE lease_owner LIKE :owner"),
                {"owner": doomed_owner}).one()
        time.sleep(0.01)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    doomed.stdout.close()
    assert held, "the collector was killed while it held sites"

    out = finish(survivor)

    assert buckets_of(engine, ids.values()) == Counter({i: 200 for i in ids.values()}), "nothing lost or doubled"
    assert set(counting.pulls) == set(ids) and max(counting.most_in_flight.values()) == 1
    assert " 0 failed" in out
    with Session(engine) as session:
        targets = session.exec(select(CollectionTarget).where(CollectionTarget.site_id.in_(ids.values()))).all()
    assert all(t.last_success_at and t.lease_owner is None for t in targets), "the survivor finished every site"


def test_two_collectors_on_the_same_cycle_pull_each_site_once_however_late_the_second_starts(engine, settings,
                                                                                             tmp_path, request):
    counting, ids = agents_for(engine, tmp_path, request)(sites=4, buckets=30, delay=0)
    lift_hold(engine)
    cycle = datetime.now(timezone.utc)

    first = run_cycle(engine=engine, settings=settings, cycle_start=cycle)
    second = run_cycle(engine=engine, settings=settings, cycle_start=cycle)
    next_cycle = run_cycle(engine=engine, settings=settings)

    assert [o.status for o in first.outcomes] == ["ok"] * 4 and first.records == 4 * 30
    assert [o.status for o in second.outcomes] == ["busy"] * 4, "the second found every site pulled"
    assert [o.status for o in next_cycle.outcomes] == ["ok"] * 4 and next_cycle.records == 0
    assert counting.pulls == Counter({code: 2 for code in ids}), "once in each of the two cycles"


def test_a_cycle_waits_for_a_site_held_by_a_dead_collector_and_takes_it_over_when_the_lease_runs_out(
        engine, settings, tmp_path, request):
    counting, ids = agents_for(engine, tmp_path, request)(sites=2, buckets=30, delay=0)
    lift_hold(engine, until=datetime.now(timezone.utc) + timedelta(seconds=0.5))

    started = time.monotonic()
    report = run_cycle(engine=engine, settings=settings)

    assert time.monotonic() - started >= 0.4, "it waited for the lease to run out"
    assert [o.status for o in report.outcomes] == ["ok", "ok"] and report.records == 2 * 30
    assert counting.pulls == Counter({code: 1 for code in ids})
    assert buckets_of(engine, ids.values()) == Counter({i: 30 for i in ids.values()})


def test_a_cycle_waits_for_a_live_collector_that_keeps_renewing_its_lease_however_long_it_takes(
        engine, settings, tmp_path, request):
    counting, ids = agents_for(engine, tmp_path, request)(sites=1, buckets=10, delay=0)
    (site_id,) = ids.values()

    def other_collector():   # holds the site 2 s with a 1 s lease renewed every 0.2 s, then pulls it
        for _ in range(10):
            with engine.begin() as conn:
                conn.execute(update(CollectionTarget).where(CollectionTarget.site_id == site_id)
                             .values(lease_until=datetime.now(timezone.utc) + timedelta(seconds=1)))
            time.sleep(0.2)
        with engine.begin() as conn:
            conn.execute(update(CollectionTarget).where(CollectionTarget.site_id == site_id)
                         .values(lease_owner=None, lease_until=None, last_success_at=datetime.now(timezone.utc)))

    other = threading.Thread(target=other_collector)
    started = time.monotonic()
    other.start()
    report = run_cycle(engine=engine, settings=settings.replace(collect_lease_seconds=1))
    waited = time.monotonic() - started
    other.join()

    assert waited >= 1.9, "it waited for the other collector to finish"
    assert [o.status for o in report.outcomes] == ["busy"] and counting.pulls == Counter()
