"""Collectors side by side: one ``brandhub collect run`` process against three, over 1,000 simulated sites.

Scenario: SIMULATORS processes serve SITES real site agents between them (``/sites/<code>``, each
agent with its own SQLite buffer holding an hour: ZONES zones × 6 metrics × 4 buckets, 3 NPS
answers, 3 events), every request delayed by ``--latency-ms`` (a site's round trip over the
internet). The hub is PostgreSQL. Each run starts its collector processes — real
``brandhub collect run --cycles 1 --workers W`` commands — while every site is still held by a
lease of the bench's; the lease runs out at the same moment for all of them, so the cycle is timed
from that moment to the last site done (from the database), start-up left out. Between runs the
hub's data, cursors and pull times are emptied, so every run pulls the same records.

An untimed warm-up run comes first; by default the simulators then answer each request as they
did in it (``--live-agents`` to have the agents compute every answer again), since at a real
network the agents' work is done at the sites, not on the hub's machine.

The simulators count the pulls of every site (its ``/v1/health`` requests): each site must be
pulled exactly once per cycle, whatever the number of collectors. CPU seconds are read for the
collectors, the simulators and the PostgreSQL backends serving the collectors, and the run's limit
is named: the machine's cores when they are nearly all busy, else a simulator process at one
full core, else the round trips (threads × per-site requests × latency).

    .venv/bin/python bench/bench_collectors.py [--sites 1000] [--latency-ms 50] [--runs 1x16,3x16]
                                               [--simulators 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
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

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from brand_hub import migrate  # noqa: E402
from brand_hub.audit import SYSTEM  # noqa: E402
from brand_hub.collection import issue_token  # noqa: E402
from brand_hub.collection.store import ensure_targets  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402
from brand_hub.models import Franchisee, Site, SiteStatus  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SECRET = "bench-secret"
ZONES = 10
METRICS = ("co2_ppm", "temperature_c", "humidity_pct", "illuminance_lux", "noise_dba", "people_count")
HOLD = "bench-hold"
TICKS = os.sysconf("SC_CLK_TCK")


class Counting:
    """WSGI middleware: waits a round trip, then serves; counts every site's pulls (``/v1/health``).

    With ``replay``, a GET answered once is answered again from memory (the agents' data does not
    change between runs): the agents' own work stays out of the timed runs, as it is done at the
    sites, not on the hub's machine.
    """

    def __init__(self, app, seconds: float, replay: bool):
        self.app, self.seconds, self.replay = app, seconds, replay
        self.lock = threading.Lock()
        self.pulls: Counter = Counter()
        self.requests = 0
        self.answers: dict[str, tuple[str, list, bytes]] = {}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        parts = path.split("/")
        with self.lock:
            self.requests += 1
            if len(parts) > 4 and parts[1] == "sites" and parts[3:5] == ["v1", "health"]:
                self.pulls[parts[2]] += 1
        if self.seconds:
            time.sleep(self.seconds)
        if not self.replay or environ.get("REQUEST_METHOD") != "GET":
            return self.app(environ, start_response)
        key = f"{path}?{environ.get('QUERY_STRING', '')}"
        if key not in self.answers:
            answered = {}

            def keep(status, headers, exc_info=None):
                answered.update(status=status, headers=headers)
                return lambda data: None

            body = b"".join(self.app(environ, keep))
            self.answers[key] = (answered["status"], answered["headers"], body)
        status, headers, body = self.answers[key]
        start_response(status, headers)
        return [body]

    def report(self) -> dict:
        with self.lock:
            answer = {"pulls": dict(self.pulls), "requests": self.requests, "cpu": time.process_time()}
            self.pulls.clear()
            self.requests = 0
        return answer


def serve(directory: str, codes_file: str, latency_ms: str, replay: str) -> None:
    """A simulator process: real agents behind one threaded HTTP server; prints its URL.

    Then, for every line read on stdin, prints its counts as JSON and starts counting again;
    stops when stdin closes.
    """
    from site_agent.agent import Agent
    from site_agent.config import AgentConfig
    from site_agent.intake import NpsAnswer
    from site_agent.server import MultiSite, Server, create_app

    now = datetime.now(timezone.utc)
    start = (now - timedelta(hours=1, minutes=20)).replace(minute=0, second=0, microsecond=0)
    agents = {}
    for line in Path(codes_file).read_text().splitlines():
        code, token = line.split(" ", 1)
        agent = Agent(AgentConfig(site_code=code, token=token, buffer_path=f"{directory}/{code}.sqlite"))
        readings = [agent.check(f"zone-{z}", metric, 500 + (b * 7 + z) % 200 if metric == "co2_ppm" else 21 + z % 3,
                                (start + timedelta(minutes=15 * b + 7)).isoformat())
                    for b in range(4) for z in range(ZONES) for metric in METRICS]
        agent.ingest_readings(readings)
        agent.record_nps([NpsAnswer(record_id=f"{code}-{i}", answered_at=start, score=8, comment="", language="zh_CN")
                          for i in range(3)])
        agent.ingest_events([{"id": f"{code}-t{i}", "kind": "ticket_opened", "at": start.isoformat()}
                             for i in range(3)])
        agents[code] = agent
    counting = Counting(MultiSite(create_app(), agents), float(latency_ms) / 1000, replay == "replay")
    server = Server(counting, port=0).start()
    print(server.url, flush=True)
    for _ in sys.stdin:
        print(json.dumps(counting.report()), flush=True)
    server.stop()


class BackendCpu:
    """CPU seconds of the PostgreSQL backends serving the collectors (by their application name), sampled
    from /proc while they live (the server is on this machine)."""

    def __init__(self, engine, name: str):
        self.engine, self.name = engine, name
        self.seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        with self.engine.connect() as conn:
            while not self.stop.is_set():
                pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                                    {"name": self.name}).scalars().all()
                conn.rollback()
                for pid in pids:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        continue
                    self.seen[pid] = (int(fields[11]) + int(fields[12])) / TICKS
                self.stop.wait(0.1)

    def __enter__(self) -> "BackendCpu":
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen.values())


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / TICKS, sum(values) / TICKS


def reset(engine, hold_until: datetime) -> None:
    """Empty what the hub pulled and hold every site with the bench's lease until ``hold_until``."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE reading_bucket, nps_response, ops_event, collection_quarantine, "
                          "reading_amendment"))
        conn.execute(text("UPDATE collection_target SET cursor_readings = '0', cursor_nps = '0', cursor_events = '0', "
                          "last_attempt_at = NULL, last_success_at = NULL, last_error_at = NULL, last_error = '', "
                          "consecutive_failures = 0, agent_buffer_id = '', lease_owner = :hold, "
                          "lease_until = :until"), {"hold": HOLD, "until": hold_until})


def run(engine, url: str, simulators, processes: int, workers: int, sites: int, hold_seconds: float) -> dict:
    hold_until = datetime.now(timezone.utc) + timedelta(seconds=hold_seconds + processes)
    reset(engine, hold_until)
    sim_cpu_before = []
    for sim in simulators:    # counts start from here
        sim.stdin.write("report\n")
        sim.stdin.flush()
        sim_cpu_before.append(json.loads(sim.stdout.readline())["cpu"])
    name = f"bench-collector-{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, BRANDHUB_DATABASE_URL=f"{url}&application_name={name}", BRANDHUB_SECRET_KEY=SECRET, BRANDHUB_ENV="testing",
               BRANDHUB_AGENT_TLS_VERIFY="false", BRANDHUB_COLLECT_TIMEOUT_SECONDS="30",
               BRANDHUB_COLLECT_INTERVAL_SECONDS="86400", BRANDHUB_COLLECT_LEASE_SECONDS="120")
    collectors = [subprocess.Popen([str(ROOT / ".venv/bin/brandhub"), "collect", "run", "--cycles", "1",
                                    "--workers", str(workers)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
                  for _ in range(processes)]
    # measure CPU from the moment the hold ends (start-up of the processes left out)
    while datetime.now(timezone.utc) < hold_until:
        time.sleep(0.01)
    busy_before, total_before = machine_busy()
    collector_cpu = 0.0
    outputs = []
    with BackendCpu(engine, name) as backends:
        for collector in collectors:
            _, status, usage = os.wait4(collector.pid, 0)
            collector.returncode = os.waitstatus_to_exitcode(status)
            collector_cpu += usage.ru_utime + usage.ru_stime
            outputs.append(collector.stdout.read().strip().splitlines()[-1])
            collector.stdout.close()
    busy_after, total_after = machine_busy()
    pulls: Counter = Counter()
    requests, sim_cpu = 0, []
    for sim, cpu_before in zip(simulators, sim_cpu_before):
        sim.stdin.write("report\n")
        sim.stdin.flush()
        counts = json.loads(sim.stdout.readline())
        pulls.update(counts["pulls"])
        requests += counts["requests"]
        sim_cpu.append(counts["cpu"] - cpu_before)
    with engine.connect() as conn:
        first, last, failed, records = conn.execute(text(
            "SELECT min(last_attempt_at), max(greatest(last_success_at, last_error_at)), "
            "count(*) FILTER (WHERE last_error_at IS NOT NULL), sum(records_last_pull) FROM collection_target")).one()
    seconds = (last - hold_until).total_seconds()
    return dict(processes=processes, workers=workers, seconds=seconds, pulls=pulls, requests=requests,
                failed=failed, records=records, sim_cpu=sim_cpu, collector_cpu=collector_cpu,
                pg_cpu=backends.seconds, busy=busy_after - busy_before, total=total_after - total_before,
                outputs=outputs, first_claim=(first - hold_until).total_seconds())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--runs", default="1x4,3x4,1x16,3x16",
                        help="collector processes × workers per process, comma-separated; the first is the baseline")
    parser.add_argument("--simulators", type=int, default=2, help="simulator processes sharing the sites")
    parser.add_argument("--live-agents", action="store_true",
                        help="the agents compute every answer in every run (default: answers of the untimed "
                             "warm-up run replayed, the agents' work being done at the sites)")
    parser.add_argument("--serve", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    runs = [tuple(int(n) for n in spec.lower().split("x")) for spec in args.runs.split(",")]

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        simulators = []
        try:
            migrate.upgrade(url)
            engine = make_engine(url)
            tokens = []
            with Session(engine) as session:
                partner = Franchisee(code="BENCH", legal_name="基准测试伙伴")
                session.add(partner)
                session.flush()
                for i in range(args.sites):
                    session.add(Site(code=f"B{i:05d}", name_zh=f"基准站点{i}", franchisee_id=partner.id, city="上海",
                                     status=SiteStatus.active))
                session.flush()
                for i in range(args.sites):
                    code = f"B{i:05d}"
                    tokens.append(f"{code} {issue_token(session=session, site_code=code, secret_key=SECRET, actor=SYSTEM)}")
                ensure_targets(session=session, site_ids=list(session.exec(select(Site.id)).all()))
                session.commit()
            started = time.perf_counter()
            for n in range(args.simulators):
                Path(tmp, f"codes-{n}").write_text("\n".join(tokens[n::args.simulators]))
                simulators.append(subprocess.Popen(
                    [sys.executable, __file__, "--serve", tmp, str(Path(tmp, f"codes-{n}")), str(args.latency_ms),
                     "live" if args.live_agents else "replay"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT))
            with engine.begin() as conn:
                for n, sim in enumerate(simulators):
                    base = sim.stdout.readline().strip()
                    codes = [line.split(" ", 1)[0] for line in tokens[n::args.simulators]]
                    conn.execute(text("UPDATE site SET agent_url = :base || '/sites/' || code WHERE code = ANY(:codes)"),
                                 {"base": base, "codes": codes})
            print(f"{args.simulators} simulator(s) ready in {time.perf_counter() - started:.1f} s")
            warm = run(engine, url, simulators, *runs[-1], args.sites, hold_seconds=3)
            print(f"  warm-up ({runs[-1][0]} × {runs[-1][1]}, untimed): {warm['seconds']:.1f} s", flush=True)
            for processes, workers in runs:
                results.append(run(engine, url, simulators, processes, workers, args.sites, hold_seconds=3))
                r = results[-1]
                print(f"  {processes} × {workers}: {r['seconds']:.1f} s", flush=True)
            engine.dispose()
        finally:
            for sim in simulators:
                sim.stdin.close()
                sim.wait(60)
                sim.stdout.close()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()

    per_site = ZONES * len(METRICS) * 4
    cores = os.cpu_count()
    print(f"\nscenario: {args.sites} sites served by {args.simulators} simulator process(es), an hour each "
          f"({per_site} buckets + 3 NPS + 3 events per site), {args.latency_ms:g} ms added to every request, "
          f"hub on PostgreSQL (same machine), {cores} cores; "
          f"{'agents computing every answer' if args.live_agents else 'agents answering from an untimed warm-up run'}"
          f"; each run = `brandhub collect run --cycles 1` processes started together, timed from the common "
          f"start to the last site done; collector CPU includes their start-up")
    print(f"{'run':<14}{'cycle':>8}{'records':>10}{'failed':>7}  {'pulls per site':<18}{'cpu: collectors':>16}"
          f"{'simulators':>12}{'postgres':>10}{'machine':>9}   (cpu: seconds in the run; machine: busy share of "
          f"all cores, other users' processes included)")
    base = results[0]
    for r in results:
        spread = Counter(r["pulls"].get(f"B{i:05d}", 0) for i in range(args.sites))
        pulls = ", ".join(f"{n}×{k}" for k, n in sorted(spread.items(), key=lambda kv: kv[0]))
        machine = r["busy"] / r["total"] if r["total"] else 0
        print(f"{r['processes']} × {r['workers']:<10}{r['seconds']:>7.1f}s{r['records'] or 0:>10,}{r['failed']:>7}  "
              f"{pulls:<18}{r['collector_cpu']:>15.1f}s{sum(r['sim_cpu']):>11.1f}s{r['pg_cpu']:>9.1f}s"
              f"{machine:>8.0%}")
    print()
    for r in results[1:]:
        same = next((b for b in results if b["processes"] == 1 and b["workers"] == r["workers"]), base)
        for b in {id(base): base, id(same): same}.values():
            if b is not r:
                print(f"ratio {b['processes']}×{b['workers']} / {r['processes']}×{r['workers']}: "
                      f"{b['seconds'] / r['seconds']:.2f}× faster")
    for r in results:
        print(f"{r['processes']} × {r['workers']}: limit — {limit(r, args, cores)}")
    for r in results:
        per_site = [r["collector_cpu"] * 1000 / args.sites, r["pg_cpu"] * 1000 / args.sites,
                    sum(r["sim_cpu"]) * 1000 / args.sites]
        print(f"{r['processes']} × {r['workers']}: CPU a site: collectors {per_site[0]:.1f} ms, PostgreSQL "
              f"{per_site[1]:.1f} ms, simulators {per_site[2]:.1f} ms; on {cores} idle cores the cycle could not "
              f"be shorter than {max(floors(r, args, cores).values()):.1f} s")
    once = all(set(Counter(r["pulls"].get(f"B{i:05d}", 0) for i in range(args.sites))) == {1} for r in results)
    print(f"each site pulled exactly once in every run: {'yes' if once else 'NO'}")


def floors(r: dict, args, cores: int) -> dict[str, float]:
    """The shortest cycle each resource allows: all the CPU over the cores, one collector's CPU on its one
    core (Python's lock), the round trips over the threads."""
    per_site = r["requests"] / max(args.sites, 1)
    return {"cores": (r["collector_cpu"] + r["pg_cpu"] + sum(r["sim_cpu"])) / cores,
            "collector": r["collector_cpu"] / r["processes"],
            "round trips": args.sites * per_site * args.latency_ms / 1000 / (r["processes"] * r["workers"])}


def limit(r: dict, args, cores: int) -> str:
    """What the run waited on: the largest of its floors (or a simulator at a full core, or other users)."""
    wall = r["seconds"] or 1
    machine = r["busy"] / r["total"] if r["total"] else 0
    hottest = max(r["sim_cpu"]) / wall if r["sim_cpu"] else 0
    ours = r["collector_cpu"] + sum(r["sim_cpu"]) + r["pg_cpu"]
    others = max(0.0, r["busy"] - ours)
    shares = (f"collectors {r['collector_cpu'] / wall:.2f}, simulators {sum(r['sim_cpu']) / wall:.2f}, "
              f"PostgreSQL {r['pg_cpu'] / wall:.2f}, other processes on the machine {others / wall:.2f} cores; "
              f"machine {machine:.0%} busy")
    if hottest > 0.85:
        return f"a simulator process at {hottest:.0%} of a core ({shares})"
    if others / wall > 0.5:
        return f"other processes on the machine ({shares})"
    floor = floors(r, args, cores)
    name = max(floor, key=floor.get)
    said = {"cores": f"the machine's {cores} cores (all the CPU over them ≥ {floor['cores']:.1f} s)",
            "collector": f"the collector processes, each on its one core (Python's lock) ≥ {floor['collector']:.1f} s",
            "round trips": f"the round trips ({r['requests'] / max(args.sites, 1):.1f} requests a site × "
                           f"{args.latency_ms:g} ms over {r['processes'] * r['workers']} threads ≥ "
                           f"{floor['round trips']:.1f} s)"}[name]
    return f"{said} ({shares})"


if __name__ == "__main__":
    main()
