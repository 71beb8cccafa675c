"""Collection benchmark: one cycle over 1,000 simulated sites, concurrent against sequential.

Scenario: one simulator process serves SITES real site agents (``/sites/<code>`` on one port, each
with its own SQLite buffer) holding an hour of data each: ZONES zones × 6 metrics × 4 buckets,
plus a few NPS answers and events. The hub (PostgreSQL) runs one collection cycle with the
bounded pool (``collect_workers``), then — after emptying the hub's tables and cursors — the
same pulls with one worker, one site after another.

On loopback the cycle is bound by the two cores (the hub validates and inserts, the
simulator serves); ``--latency-ms`` adds a site's round trip to every request, which is
what the bounded pool exists for.

    .venv/bin/python bench/bench_collect.py [--sites 1000] [--workers 16] [--latency-ms 50]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from brand_hub import migrate  # noqa: E402
from brand_hub.collection import issue_token  # noqa: E402
from brand_hub.audit import SYSTEM  # noqa: E402
from brand_hub.collection.cycle import run_cycle  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402
from brand_hub.models import Franchisee, Site, SiteStatus  # noqa: E402
from brand_hub.settings import Settings  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET = "bench-secret"
ZONES = 10
METRICS = ("co2_ppm", "temperature_c", "humidity_pct", "illuminance_lux", "noise_dba", "people_count")


class Latency:
    """WSGI middleware: each request waits as long as a round trip to a site over the internet would."""

    def __init__(self, app, seconds: float):
        self.app, self.seconds = app, seconds

    def __call__(self, environ, start_response):
        time.sleep(self.seconds)
        return self.app(environ, start_response)


def serve(directory: str, tokens_file: str, latency_ms: str = "0") -> None:
    """The simulator process: real agents behind one threaded HTTP server; prints its URL, then waits."""
    from site_agent.agent import Agent
    from site_agent.config import AgentConfig
    from site_agent.intake import NpsAnswer
    from site_agent.server import MultiSite, Server, create_app

    now = datetime.now(timezone.utc)
    start = (now - timedelta(hours=1, minutes=20)).replace(minute=0, second=0, microsecond=0)
    agents = {}
    for line in Path(tokens_file).read_text().splitlines():
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
    app = MultiSite(create_app(), agents)
    server = Server(Latency(app, float(latency_ms) / 1000) if float(latency_ms) else app, port=0).start()
    print(server.url, flush=True)
    sys.stdin.read()   # until the parent closes our stdin
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=0,
                        help="added to every request to a site, as a WAN round trip would (default: loopback only)")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            migrate.upgrade(url)
            engine = make_engine(url, pool_size=args.workers + 4)
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
                    token = issue_token(session=session, site_code=code, secret_key=SECRET, actor=SYSTEM)
                    tokens.append(f"{code} {token}")
                session.commit()
            Path(tmp, "tokens").write_text("\n".join(tokens))
            started = time.perf_counter()
            simulator = subprocess.Popen([sys.executable, __file__, "--serve", tmp, str(Path(tmp, "tokens")),
                                          str(args.latency_ms)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                         env=dict(os.environ))
            simulator_url = simulator.stdout.readline().strip()
            print(f"simulator ready in {time.perf_counter() - started:.1f} s at {simulator_url}")
            with engine.begin() as conn:
                conn.execute(text("UPDATE site SET agent_url = :base || '/sites/' || code"), {"base": simulator_url})
            settings = Settings(env="testing", database_url=url, secret_key=SECRET, agent_tls_verify=False,
                                collect_workers=args.workers, collect_timeout_seconds=30)
            concurrent = run_cycle(engine=engine, settings=settings)
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE reading_bucket, nps_response, ops_event, collection_target"))
            sequential = run_cycle(engine=engine, settings=settings.replace(collect_workers=1))
            simulator.stdin.close()
            simulator.wait(60)
            simulator.stdout.close()
            engine.dispose()
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()

    per_site = ZONES * len(METRICS) * 4
    print(f"scenario: {args.sites} sites on one simulator process, an hour each ({per_site} buckets + 3 NPS + "
          f"3 events per site), {args.latency_ms:g} ms added per request, hub on PostgreSQL, {os.cpu_count()} cores")
    for name, report in (("concurrent", concurrent), ("sequential", sequential)):
        print(f"{name:<10} ({args.workers if name == 'concurrent' else 1:>2} workers): {report.seconds:7.1f} s, "
              f"{report.records:,} records, {len(report.failed)} failed, "
              f"{report.records / report.seconds:,.0f} records/s")
    print(f"ratio sequential / concurrent: {sequential.seconds / concurrent.seconds:.2f}×")


if __name__ == "__main__":
    main()
