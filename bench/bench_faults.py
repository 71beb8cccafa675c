"""Fault benchmark: nothing lost and nothing doubled at the edges, with kill -9 at random moments.

Real processes: a private Mosquitto from the project's config (site_agent/broker/), agent
processes (``brandhub agent run``) killed with SIGKILL at random moments and started again,
sensors publishing QoS 1, and the hub's collector pulling all along into a fresh database
(PostgreSQL when reachable, else SQLite). Per scenario it prints what the sensors sent, what
the hub stored (plus what the agent still holds in buckets not yet sealed), and per bucket what
was lost and what was doubled. Target: lost 0 and duplicated 0 everywhere; for the broker-limit
scenario the messages the broker dropped must be *reported* (lost = reported).

Scenarios (time compressed by config: 1-minute buckets, 1–2 s of grace):
  uci_replay     a UCI office day (7,200 readings with their own times) over MQTT at 250 msg/s,
                 the agent killed twice mid-replay
  outage         live sensors, the agent killed for longer than its grace (across a bucket end)
  late_amend     late readings POSTed for buckets the hub already pulled, a kill between
  bare_redeliver bare numbers (no time) at 100 msg/s, the agent killed three times
  broker_limit   a backlog of 300 for a broker queue limit of 100 while the agent is down

    .venv/bin/python bench/bench_faults.py [--seed 7] [--sqlite]
"""
from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from brand_hub import migrate  # noqa: E402
from brand_hub.audit import SYSTEM  # noqa: E402
from brand_hub.collection import issue_token  # noqa: E402
from brand_hub.collection.cycle import run_cycle  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402
from brand_hub.models import Franchisee, Site, SiteStatus  # noqa: E402
from brand_hub.models.collection import ReadingBucket  # noqa: E402
from brand_hub.settings import Settings  # noqa: E402
from tests.integration.edges import (AgentProcess, OurBroker, Sensors, reachable, uci_day,  # noqa: E402
                                     wait_for)

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class Hub:
    """A fresh hub database with one franchisee; sites are added per scenario."""

    def __init__(self, workdir: Path, use_postgres: bool):
        self.schema = None
        if use_postgres:
            self.schema = f"bench_faults_{uuid.uuid4().hex[:8]}"
            admin = make_engine(PG)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            admin.dispose()
            self.url = f"{PG}?options=-csearch_path%3D{self.schema}"
        else:
            self.url = f"sqlite:///{workdir / 'hub.sqlite'}"
        migrate.upgrade(self.url)
        self.engine = make_engine(self.url)
        self.settings = Settings(env="testing", database_url=self.url, instance_path=workdir / "instance",
                                 secret_key="bench-secret", agent_tls_verify=False, collect_page_limit=500)
        with Session(self.engine) as session:
            partner = Franchisee(code="PF", legal_name="基准伙伴有限公司", name_en="Bench Partner",
                                 contact_email="p@example.com")
            session.add(partner)
            session.commit()
            self.partner_id = partner.id

    def site(self, code: str) -> tuple[int, str]:
        with Session(self.engine) as session:
            site = Site(code=code, name_zh=f"门店{code}", name_en=code, franchisee_id=self.partner_id, city="上海",
                        region="east", tier="standard", status=SiteStatus.active, opening_hours={})
            session.add(site)
            session.flush()
            token = issue_token(session=session, site_code=code, secret_key="bench-secret", actor=SYSTEM)
            session.commit()
            return site.id, token

    def point(self, site_id: int, url: str) -> None:
        with Session(self.engine) as session:
            site = session.get(Site, site_id)
            site.agent_url = url
            session.add(site)
            session.commit()

    def pull(self, code: str) -> None:
        run_cycle(engine=self.engine, settings=self.settings, site_codes=[code])

    def buckets(self, site_id: int) -> Counter:
        with Session(self.engine) as session:
            rows = session.exec(select(ReadingBucket.zone, ReadingBucket.metric, ReadingBucket.bucket_start,
                                       ReadingBucket.count).where(ReadingBucket.site_id == site_id)).all()
        return Counter({(zone, metric, start.strftime("%Y-%m-%dT%H:%M:%SZ")): n for zone, metric, start, n in rows})

    def close(self) -> None:
        self.engine.dispose()
        if self.schema:
            admin = make_engine(PG)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            admin.dispose()


class Collector:
    def __init__(self, hub: Hub, code: str, every: float = 0.5):
        self.hub, self.code, self.every = hub, code, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.hub.pull(self.code)
            except Exception as exc:  # an agent being killed is the point; keep pulling
                print(f"  (collector: {type(exc).__name__})", file=sys.stderr)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(60)


def floor(at: datetime, minutes: int) -> str:
    start = at.replace(second=0, microsecond=0) - timedelta(minutes=at.minute % minutes)
    return start.strftime("%Y-%m-%dT%H:%M:%SZ")


def open_in_agent(agent: AgentProcess) -> Counter:
    with sqlite3.connect(f"file:{agent.directory / 'buffer.sqlite'}?mode=ro", uri=True) as db:
        return Counter({(z, m, s): n for z, m, s, n in db.execute(
            "SELECT zone, metric, bucket_start, count FROM open_bucket")})


def settle(hub: Hub, agent: AgentProcess, site_id: int, code: str) -> Counter:
    """Let the agent take in what is queued, pull until it has nothing unpulled; hub + still-open buckets.

    Called once the scenario's collector has stopped (no lease held elsewhere).
    """
    wait_for(lambda: agent.health()["mqtt"]["backlog"] in ("drained", "no_mqtt"), "the backlog is in", 60)
    time.sleep(4)   # the replay's last buckets: quiet for seal_quiet_seconds
    for _ in range(10):
        hub.pull(code)
        if agent.health()["unpulled"]["readings"] == 0:
            break
    return hub.buckets(site_id) + open_in_agent(agent)


def report(name: str, sent: Counter, stored: Counter, seconds: float, note: str = "", reported: int = 0) -> dict:
    lost = sum(max(0, n - stored.get(k, 0)) for k, n in sent.items())
    doubled = sum(max(0, n - sent.get(k, 0)) for k, n in stored.items())
    row = {"scenario": name, "sent": sum(sent.values()), "stored": sum(stored.values()), "lost": lost,
           "duplicated": doubled, "reported": reported, "seconds": round(seconds, 1), "note": note}
    print(f"{name:<15} sent {row['sent']:>6}  stored {row['stored']:>6}  lost {lost:>4}  duplicated {doubled:>4}"
          f"  reported {reported:>4}  {seconds:6.1f} s  {note}", flush=True)
    return row


def kill_and_restart(agent: AgentProcess, rng: random.Random, down: tuple[float, float], sensors_during=None) -> None:
    agent.kill()
    until = time.monotonic() + rng.uniform(*down)
    while time.monotonic() < until:
        if sensors_during:
            sensors_during()
        else:
            time.sleep(0.05)
    agent.start()


def uci_replay(hub: Hub, work: Path, rng: random.Random) -> dict:
    started = time.monotonic()
    site_id, token = hub.site("F-UCI")
    broker = OurBroker(work / "uci-broker", "F-UCI").start()
    agent = AgentProcess(work / "uci-agent", "F-UCI", token, broker, seal_grace_seconds=1).start()
    hub.point(site_id, agent.url)
    sensors = Sensors(broker)
    try:
        wait_for(lambda: agent.health()["mqtt"]["backlog"] == "drained", "subscribed")
        midnight = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        day = uci_day(shift_to=midnight - timedelta(days=2))
        kills = sorted(rng.sample(range(500, len(day) - 500), 2))
        sent: Counter = Counter()
        with Collector(hub, "F-UCI"):
            t0 = time.monotonic()
            for i, (at, metric, value) in enumerate(day):
                sensors.publish("office", metric, value, at)
                sent[("office", metric, floor(at, 15))] += 1
                if kills and i == kills[0]:
                    kills.pop(0)
                    kill_and_restart(agent, rng, (1.0, 3.0))
                    t0 = time.monotonic() - i / 250
                ahead = t0 + i / 250 - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            sensors.flush()
        stored = settle(hub, agent, site_id, "F-UCI")
        return report("uci_replay", sent, stored, time.monotonic() - started, "2 kills mid-replay")
    finally:
        sensors.close()
        agent.stop()
        broker.stop()


def outage(hub: Hub, work: Path, rng: random.Random) -> dict:
    started = time.monotonic()
    site_id, token = hub.site("F-OUT")
    broker = OurBroker(work / "out-broker", "F-OUT").start()
    agent = AgentProcess(work / "out-agent", "F-OUT", token, broker, bucket_minutes=1, seal_grace_seconds=2,
                         backlog_wait_seconds=30).start()
    hub.point(site_id, agent.url)
    sensors = Sensors(broker)
    sent: Counter = Counter()

    def publish_a_little() -> None:
        for zone in ("desk", "meeting", "lounge"):
            now = datetime.now(timezone.utc)
            sensors.publish(zone, "co2_ppm", 400 + len(sent) % 300, now)
            sent[(zone, "co2_ppm", floor(now, 1))] += 1
        time.sleep(0.03)

    try:
        wait_for(lambda: agent.health()["mqtt"]["backlog"] == "drained", "subscribed")
        # a random moment late in a minute, so the outage crosses the bucket's end (plus grace)
        wait_for(lambda: datetime.now(timezone.utc).second >= rng.randint(48, 55), "late in a minute", 70, 0.1)
        with Collector(hub, "F-OUT"):
            until = time.monotonic() + rng.uniform(0.5, 2)
            while time.monotonic() < until:
                publish_a_little()
            kill_and_restart(agent, rng, (9.0, 14.0), publish_a_little)
            until = time.monotonic() + 2
            while time.monotonic() < until:
                publish_a_little()
            sensors.flush()
        stored = settle(hub, agent, site_id, "F-OUT")
        return report("outage", sent, stored, time.monotonic() - started, "agent down 9–14 s, grace 2 s")
    finally:
        sensors.close()
        agent.stop()
        broker.stop()


def late_amend(hub: Hub, work: Path, rng: random.Random) -> dict:
    started = time.monotonic()
    site_id, token = hub.site("F-LATE")
    agent = AgentProcess(work / "late-agent", "F-LATE", token).start()
    hub.point(site_id, agent.url)
    headers = {"Authorization": f"Bearer {token}"}
    base = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    sent: Counter = Counter()
    moments = [base + timedelta(seconds=s) for s in rng.sample(range(5 * 3600), 600)]   # distinct times
    kill_at = rng.randrange(100, 500)

    for i in range(0, len(moments), 50):
        batch = moments[i:i + 50]
        body = {"readings": [{"zone": "desk", "metric": "co2_ppm", "value": 500 + j % 100, "ts": at.isoformat()}
                             for j, at in enumerate(batch)]}
        while True:   # a site system retries until it has an answer
            try:
                requests.post(agent.url + "/v1/ingest", json=body, headers=headers, timeout=10).raise_for_status()
                break
            except requests.RequestException:
                time.sleep(0.2)
        for at in batch:
            sent[("desk", "co2_ppm", floor(at, 15))] += 1
        hub.pull("F-LATE")    # every batch after the first amends buckets the hub already has
        if i <= kill_at < i + 50:
            kill_and_restart(agent, rng, (0.2, 1.0))
    hub.pull("F-LATE")
    stored = hub.buckets(site_id) + open_in_agent(agent)
    amended = agent.health()["amended"]
    agent.stop()
    return report("late_amend", sent, stored, time.monotonic() - started, f"{amended} amendments, 1 kill")


def bare_redeliver(hub: Hub, work: Path, rng: random.Random) -> dict:
    started = time.monotonic()
    broker = OurBroker(work / "bare-broker", "F-BARE").start()
    agent = AgentProcess(work / "bare-agent", "F-BARE", "bench-token", broker, bucket_minutes=60).start()
    sensors = Sensors(broker)
    try:
        wait_for(lambda: agent.health()["mqtt"]["backlog"] == "drained", "subscribed")
        total = 1500
        kills = sorted(rng.sample(range(100, total - 100), 3))
        for i in range(total):
            sensors.publish("desk", "co2_ppm", 400 + i % 500)
            if kills and i == kills[0]:
                kills.pop(0)
                kill_and_restart(agent, rng, (0.3, 1.5))
            time.sleep(0.01)
        sensors.flush()
        wait_for(lambda: agent.health()["mqtt"]["backlog"] == "drained", "the backlog is in", 60)
        time.sleep(2)
        with sqlite3.connect(f"file:{agent.directory / 'buffer.sqlite'}?mode=ro", uri=True) as db:
            held = (db.execute("SELECT coalesce(sum(count), 0) FROM open_bucket").fetchone()[0]
                    + db.execute("SELECT coalesce(sum(count), 0) FROM bucket").fetchone()[0])
        duplicates = agent.health()["rejects"].get("duplicate", 0)
        # bare numbers are dated on arrival, so compare totals (their buckets are the agent's clock's)
        return report("bare_redeliver", Counter({"all": total}), Counter({"all": held}), time.monotonic() - started,
                      f"3 kills, {duplicates} redeliveries counted once")
    finally:
        sensors.close()
        agent.stop()
        broker.stop()


def broker_limit(hub: Hub, work: Path, rng: random.Random) -> dict:
    started = time.monotonic()
    site_id, token = hub.site("F-LIM")
    broker = OurBroker(work / "lim-broker", "F-LIM", max_queued=100).start()
    agent = AgentProcess(work / "lim-agent", "F-LIM", token, broker, backlog_wait_seconds=5).start()
    hub.point(site_id, agent.url)
    sensors = Sensors(broker)
    try:
        wait_for(lambda: agent.health()["mqtt"]["backlog"] == "drained", "subscribed")
        agent.kill()
        sent: Counter = Counter()
        base = datetime.now(timezone.utc) - timedelta(hours=3)
        for i in range(300):
            at = base + timedelta(seconds=20 * i)
            sensors.publish("desk", "co2_ppm", 450 + i, at)
            sent[("desk", "co2_ppm", floor(at, 15))] += 1
        sensors.flush()
        agent.start()
        wait_for(lambda: agent.health()["mqtt"]["broker_dropped"], "the drops are seen", 30)
        stored = settle(hub, agent, site_id, "F-LIM")
        reported = agent.health()["mqtt"]["broker_dropped"]
        with Session(hub.engine) as session:
            from brand_hub.models.collection import CollectionTarget
            at_hub = session.exec(select(CollectionTarget.rejects).where(CollectionTarget.site_id == site_id)).one()
        return report("broker_limit", sent, stored, time.monotonic() - started,
                      f"queue limit 100; hub feed shows broker_dropped={at_hub.get('broker_dropped')}",
                      reported=reported)
    finally:
        sensors.close()
        agent.stop()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sqlite", action="store_true", help="the hub on SQLite even if PostgreSQL is up")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    use_postgres = not args.sqlite and reachable(5432)
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        work = Path(tmp)
        hub = Hub(work, use_postgres)
        print(f"bench_faults: hub on {'PostgreSQL' if use_postgres else 'SQLite'}, seed {args.seed}; "
              "stored = at the hub + held by the agent in buckets not yet sealed")
        rows = []
        try:
            for scenario in (uci_replay, outage, late_amend, bare_redeliver, broker_limit):
                rows.append(scenario(hub, work, rng))
        finally:
            hub.close()
        bad = [r["scenario"] for r in rows
               if r["duplicated"] or (r["lost"] != r["reported"])]
        print("result:", "every scenario 0 lost (or every loss reported) and 0 duplicated" if not bad
              else f"FAILED: {', '.join(bad)}")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
