"""Demo stage: agents. Every active demo site gets a real site agent on a loopback port.

All agents live in this process behind one HTTP server (``/sites/<code>``). One site
replays the real UCI office sensor log through the agent's real HTTP intake,
time-shifted by whole weeks so weekdays stay weekdays; the others get synthetic but
believable streams (working-day occupancy, CO2 following people, a couple of sites
with poor air), NPS answers and operations events. One site's agent is dead (its URL
points at nothing). Then one collection cycle pulls them all.
"""
from __future__ import annotations

import csv
import math
import random
import shutil
import socket
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from sqlmodel import select

from ..collection import issue_token
from ..collection.cycle import run_cycle
from ..db import session_scope
from ..models import Site, SiteStatus
from . import DemoContext
from .network import DEMO_ACTOR

UCI_DIR = Path(__file__).resolve().parents[2] / "site_agent" / "data" / "uci-occupancy"
UCI_FILES = ("datatest.txt", "datatraining.txt", "datatest2.txt")   # in time order
UCI_COLUMNS = {"Temperature": "temperature_c", "Humidity": "humidity_pct", "Light": "illuminance_lux",
               "CO2": "co2_ppm", "Occupancy": "zone_occupied"}
UCI_SITE = "SH-JA-01"
DEAD_SITE = "XM-SM-01"
POOR_AIR = {"BJ-CY-02": 2.4, "CD-JJ-01": 2.0}    # CO2 per person well above the others
DAYS = 7
COMMENTS_GOOD = ("咖啡很好喝，前台很热情", "社区活动很有意思", "网络稳定，会议室好订", "Great community and quiet phone booths",
                 "环境干净，推荐给朋友了")
COMMENTS_BAD = ("下午会议室很闷，空气不好", "空调太冷", "打印机经常坏，请联系我 13912345678", "Too noisy near the pantry",
                "报修两天没人回复")


def run(context: DemoContext) -> None:
    from site_agent.agent import Agent
    from site_agent.config import AgentConfig
    from site_agent.server import MultiSite, Server, create_app

    buffers = context.data_dir / "agents"
    shutil.rmtree(buffers, ignore_errors=True)
    multi = MultiSite(create_app())
    server = Server(multi).start()
    agents: dict[str, Agent] = {}
    plan: list[tuple[str, str, int, str, str]] = []

    def stop() -> None:
        server.stop()
        for agent in agents.values():
            agent.close()

    context.stops.append(stop)
    with session_scope(context.engine) as session:
        sites = session.exec(select(Site).where(Site.status == SiteStatus.active).order_by(Site.code)).all()
        for site in sites:
            token = issue_token(session=session, site_code=site.code, secret_key=context.settings.secret_key,
                                actor=DEMO_ACTOR, rotate=True)
            if site.code == DEAD_SITE:
                site.agent_url = f"http://127.0.0.1:{_closed_port()}"
            else:
                agents[site.code] = Agent(AgentConfig(site_code=site.code, token=token, timezone=site.timezone,
                                                      buffer_path=str(buffers / f"{site.code}.sqlite")))
                multi.agents[site.code] = agents[site.code]
                site.agent_url = f"{server.url}/sites/{site.code}"
            session.add(site)
            plan.append((site.code, site.timezone, site.desks, site.tier, token))
        session.commit()
    end = context.now - timedelta(minutes=20)
    for code, tz, desks, tier, token in plan:
        if code not in agents:
            continue
        agent = agents[code]
        if code == UCI_SITE:
            replayed = replay_uci(f"{server.url}/sites/{code}", token, ZoneInfo(tz), end)
            context.echo(f"demo:   {code} replays the UCI office log: {replayed} readings through /v1/ingest")
        else:
            simulate_readings(agent, code, ZoneInfo(tz), desks, tier, end)
        simulate_nps(agent, code, end)
        simulate_events(agent, code, desks, end)
    context.shared["agents_url"] = server.url
    report = run_cycle(engine=context.engine, settings=context.settings.replace(collect_retries=1,
                                                                                collect_timeout_seconds=5))
    context.echo(f"demo:   collection: {report.summary()}")


def _closed_port() -> int:
    """A loopback port nothing listens on: the dead agent's address."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def replay_uci(url: str, token: str, zone: ZoneInfo, end: datetime) -> int:
    """Post the three UCI files, as they are, to the agent's ``/v1/ingest``; return readings sent."""
    last = datetime(2015, 2, 18, 9, 20, tzinfo=zone)
    weeks = math.ceil((end - last).days / 7)
    shift = timedelta(weeks=weeks)
    if last + shift > end:
        shift -= timedelta(weeks=1)
    sent = 0
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    batch: list[dict] = []
    for name in UCI_FILES:
        with (UCI_DIR / name).open(newline="", encoding="utf-8") as fh:
            rows = csv.reader(fh)
            header = next(rows)
            for row in rows:
                if len(row) == len(header) + 1:
                    row = row[1:]   # the unnamed row-id column
                values = dict(zip(header, row))
                try:
                    at = datetime.fromisoformat(values["date"]).replace(tzinfo=zone) + shift
                except (KeyError, ValueError):
                    continue   # the agent would refuse it too; nothing to send
                for column, metric in UCI_COLUMNS.items():
                    batch.append({"zone": "office-a", "metric": metric, "value": values.get(column),
                                  "ts": at.isoformat()})
                if len(batch) >= 5000:
                    sent += _post(http, url, batch)
                    batch = []
    if batch:
        sent += _post(http, url, batch)
    http.close()
    return sent


def _post(http: requests.Session, url: str, readings: list[dict]) -> int:
    http.post(url + "/v1/ingest", json={"readings": readings}, timeout=60).raise_for_status()
    return len(readings)


def occupancy(local: datetime, rng: random.Random) -> float:
    """Share of desks in use: a working-day curve with a lunch dip, quiet weekends, nothing at night."""
    hour = local.hour + local.minute / 60
    if not 8 <= hour < 21:
        return 0.0
    base = math.exp(-((hour - 11) ** 2) / 4) * 0.8 + math.exp(-((hour - 15.5) ** 2) / 5) * 0.75
    if local.weekday() >= 5:
        base *= 0.2
    return max(0.0, min(1.0, base + rng.gauss(0, 0.05)))


def simulate_readings(agent, code: str, zone: ZoneInfo, desks: int, tier: str, end: datetime) -> None:
    """A week of 15-minute readings per zone: people, CO2 following them, temperature, humidity, light, noise."""
    rng = random.Random(code)
    zones = {"flagship": ("open-desk", "meeting", "phone-booth", "lounge"),
             "standard": ("open-desk", "meeting", "lounge")}.get(tier, ("open-desk", "meeting"))
    per_zone = max(4, desks // len(zones))
    co2_per_person = POOR_AIR.get(code, 1.0)
    start = end - timedelta(days=DAYS)
    moment = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    items = []
    co2 = {z: 430.0 for z in zones}
    while moment < end:
        local = moment.astimezone(zone)
        occ = occupancy(local, rng)
        at = (moment + timedelta(minutes=7)).isoformat()
        for name in zones:
            people = round(per_zone * occ * rng.uniform(0.7, 1.1))
            target = 420 + people / per_zone * 700 * co2_per_person
            co2[name] += (target - co2[name]) * 0.45
            values = {"people_count": people, "zone_occupied": 1 if people else 0,
                      "co2_ppm": round(co2[name] + rng.gauss(0, 15), 1),
                      "temperature_c": round(23 + occ * 1.5 + rng.gauss(0, 0.3), 2),
                      "humidity_pct": round(45 - occ * 6 + rng.gauss(0, 2), 1),
                      "illuminance_lux": round((560 if occ else 15) * (0.6 if code.endswith("02") else 1)
                                               + rng.gauss(0, 20), 0),
                      "noise_dba": round(34 + occ * 22 + rng.gauss(0, 2), 1),
                      "pm25_ugm3": round(12 + 10 * occ + abs(rng.gauss(0, 5)), 1)}
            for metric, value in values.items():
                items.append(agent.check(name, metric, max(value, 0), at))
        items.append(agent.check("building", "energy_kwh", round(desks * (0.02 + occ * 0.06), 2), at))
        moment += timedelta(minutes=15)
    agent.ingest_readings(items)


def simulate_nps(agent, code: str, end: datetime) -> None:
    from site_agent.intake import NpsAnswer

    rng = random.Random("nps" + code)
    unhappy = code in POOR_AIR
    answers = []
    for n in range(rng.randint(25, 60)):
        score = min(10, max(0, round(rng.gauss(6 if unhappy else 8.4, 2))))
        comments = COMMENTS_BAD if score <= 6 else COMMENTS_GOOD
        answers.append(NpsAnswer(record_id=f"demo-{code}-{n}", score=score,
                                 answered_at=end - timedelta(days=rng.uniform(0, 30)),
                                 comment=rng.choice(comments) if rng.random() < 0.6 else "",
                                 language="en" if rng.random() < 0.15 else "zh_CN"))
    agent.record_nps(answers)


def simulate_events(agent, code: str, desks: int, end: datetime) -> None:
    """A month of service tickets (slower answers where air is poor), community events and memberships."""
    rng = random.Random("ops" + code)
    slow = code in POOR_AIR
    events = []
    for n in range(rng.randint(15, 40)):
        opened = end - timedelta(days=rng.uniform(0.5, 30))
        first = opened + timedelta(hours=rng.uniform(2, 30) if slow else rng.uniform(0.1, 3))
        resolved = first + timedelta(hours=rng.uniform(1, 48))
        ref = f"T-{code}-{n}"
        events += [{"id": f"{ref}-o", "kind": "ticket_opened", "at": opened.isoformat(), "ref": ref},
                   {"id": f"{ref}-f", "kind": "ticket_first_response", "at": first.isoformat(), "ref": ref}]
        if resolved < end:
            events.append({"id": f"{ref}-r", "kind": "ticket_resolved", "at": resolved.isoformat(), "ref": ref})
    for n in range(rng.randint(2, 8)):
        events.append({"id": f"E-{code}-{n}", "kind": "community_event", "ref": f"E-{code}-{n}",
                       "at": (end - timedelta(days=rng.uniform(0, 30))).isoformat(),
                       "quantity": rng.randint(8, max(10, desks // 5)), "data": {"title": "周五分享会"}})
    for n in range(max(3, desks // 12)):
        kind = rng.choices(("membership_started", "membership_renewed", "membership_ended"), (4, 5, 2))[0]
        events.append({"id": f"M-{code}-{n}", "kind": kind, "ref": f"M-{code}-{n}",
                       "at": (end - timedelta(days=rng.uniform(0, 30))).isoformat()})
    agent.ingest_events(events)
