"""Pages benchmark: every HQ page and a 50-site partner's portal pages on a 10,000-site network.

Scenario (PostgreSQL): PARTNERS partners and SITES sites (partner P0000 runs 50 of them), one
agreement per partner; two published quarters of scores (the latest and the one before, twelve
indicators each); open flags (about one site in three, plus red cards, partner-level overdue
flags and a termination review); a month of issued invoices (one per agreement, a royalty line per
site, a fifth of them overdue); a month of revenue reports; a standard to acknowledge per site;
a feed per site. Seeding is COPY (no ORM session, no audit), then VACUUM (ANALYZE) and a CHECKPOINT.

The real app is served by waitress in this process. Each page is requested REPEAT times after
a warm-up by a signed-in client (HQ administrator; the partner's administrator); its p50/p95 are
compared with a static page of the same size served by the same server in the same run (a route
added for the benchmark only), and the SQL statements of one request are counted on the app's
engine. Target: p95 ≤ 150 ms, no page over 30 statements. The CPU column is this process's CPU time a
request (server and client): steadier than the wall clock when other work shares the machine.

    .venv/bin/python bench/bench_pages.py [--sites 10000] [--partners 2000] [--repeat 10] [--trace] [--pages REGEX]
                                          [--schema bench_NAME --keep]

``--keep`` leaves the seeded schema in place (to profile or EXPLAIN on the bench's data); ``--schema`` names it,
and a schema already seeded is used as it is (no seeding: run before/after against the same data).

The ``refresh-dashboard`` job runs once after seeding (the HQ overview reads the network's figures it
keeps; the page computes them itself when they are missing or older than a quarter of an hour).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402
from sqlalchemy import event, insert, text  # noqa: E402
from werkzeug.security import generate_password_hash  # noqa: E402

from brand_hub import migrate  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402
from brand_hub.models import Agreement, Franchisee, Site, User  # noqa: E402
from brand_hub.models.billing import Invoice, InvoiceLine, RevenueReport  # noqa: E402
from brand_hub.models.collection import CollectionTarget  # noqa: E402
from brand_hub.models.compliance import Flag  # noqa: E402
from brand_hub.models.scoring import CardPublication, SiteScore  # noqa: E402
from brand_hub.models.standards import Standard, StandardAcknowledgement  # noqa: E402
from brand_hub.scores import load_model  # noqa: E402
from scoring import composite  # noqa: E402
from scoring.measures import Measurement  # noqa: E402
from brand_hub.settings import Settings  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CITIES = ("上海", "北京", "广州", "深圳", "成都", "杭州", "南京", "苏州", "武汉", "西安", "重庆", "厦门")
MODEL = load_model(settings=Settings())  # the library's model: scores are computed by its own composite
PASSWORD = "bench-password-2026"
TRACE = False  # --trace: the seconds of each seeding step
HOURS = {d: [["09:00", "21:00"]] for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": [], "sun": []}


def _inputs(measure: str, at: float, rng: random.Random) -> dict:
    """The inputs a measure writes beside its value (``scoring.measures``), with plausible figures."""
    hours = round(2184.0 * (0.9 + rng.random() * 0.1), 1)
    share = max(0.0, min(1.0, at))
    if measure == "share_within":
        return {"metric": "co2_ppm", "eligible_hours": hours, "hours_within": round(hours * share, 1), "min": None,
                "max": 1000, "occupied_only": True, "hours_with_data": hours, "open_hours": 2184.0}
    if measure == "desk_utilisation":
        return {"desks": 120, "hours_with_data": hours}
    if measure == "energy_intensity":
        return {"kwh": round(40000 + 20000 * (1 - share), 1), "hours_observed": hours, "area_m2": 800.0,
                "benchmark": 150}
    if measure == "nps":
        answers = 40 + rng.randrange(60)
        promoters = int(answers * share)
        return {"answers": answers, "promoters": promoters, "passives": (answers - promoters) // 2,
                "detractors": answers - promoters - (answers - promoters) // 2, "nps": 100 * share - 20,
                "interval_low": 100 * share - 35, "interval_high": 100 * share - 5, "network_nps": 32.0,
                "credibility": 0.6, "shrunk_nps": 100 * share - 15}
    if measure == "community_activity":
        return {"events": 12, "attendance": int(300 * share), "members": 150, "months": 3.0}
    if measure == "service_response":
        return {"tickets": 40, "unanswered": 1, "sla_minutes": 120, "median_minutes": round(120 * (1.5 - share), 1)}
    if measure == "member_renewal":
        return {"renewals": int(40 * share), "endings": 40}
    if measure == "data_completeness":
        return {"zones": 3, "metrics": 6, "streams": ["readings"], "missing_metrics": [],
                "minutes_expected": 393120.0, "minutes_received": round(393120.0 * share, 1)}
    return {}


def _scored(rng: random.Random, level: float):
    """One site-quarter scored by the real composite (``scoring.composite.score``) from measurements around
    ``level`` (0–100 on each indicator's floor→target scale): the rows have the shape the scoring service
    writes (raw, normalised, share, points, the measure's inputs), so scorecards render as for real data."""
    measurements = {}
    for ind in MODEL.indicators:
        at = max(-10.0, min(110.0, level + rng.gauss(0, 15))) / 100.0
        measurements[ind.id] = Measurement(raw=ind.floor + (ind.target - ind.floor) * at,
                                           coverage=0.9 + rng.random() * 0.1, enough=True,
                                           inputs=_inputs(ind.measure, at, rng))
    return composite.score(MODEL, measurements)


def _copy_value(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return getattr(value, "value", value)  # enums as their stored value


def _bulk(conn, model, rows: list[dict]) -> None:
    """COPY many rows at once, each completed with the model's own defaults (JSON columns, counters)."""
    columns = [c.name for c in model.__table__.columns]
    key = model.__table__.primary_key.columns.values()[0].name
    if rows and rows[0].get(key) is None:
        columns.remove(key)
    if not rows:
        return
    sample = model(**rows[0])  # the model's defaults for the columns a row leaves out (the same for every row)
    defaults = {name: getattr(sample, name, None) for name in columns if name not in rows[0]}
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(f"COPY {model.__tablename__} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([_copy_value(row[name] if name in row else defaults[name]) for name in columns])


def seed(url: str, sites: int, partners: int, today: date) -> dict:
    """The network, in bulk. Returns what the page URLs need (codes, ids)."""
    rng = random.Random(10)
    engine = make_engine(url)
    now = datetime.now(timezone.utc)
    month = f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}"
    quarter_now, quarter_before = "2026-Q3", "2026-Q2"
    started = time.perf_counter()
    step = [time.perf_counter()]

    def mark(what: str) -> None:
        if TRACE:
            print(f"  {what}: {time.perf_counter() - step[0]:.1f} s", flush=True)
        step[0] = time.perf_counter()
    with engine.begin() as conn:
        _bulk(conn, Franchisee, [dict(id=p + 1, code=f"P{p:04d}", legal_name=f"基准伙伴{p}企业管理有限公司", name_en="",
                                      unified_credit_code="", contact_name="", contact_email="", contact_phone="",
                                      address="", status="active", created_at=now) for p in range(partners)])
        _bulk(conn, Agreement, [dict(id=p + 1, number=f"AG-{p:04d}", franchisee_id=p + 1, start_date=date(2025, 1, 1),
                                     royalty_plan_id="standard-2026", territory="", status="active", created_at=now)
                                for p in range(partners)])
        owner = [0] * 50 + [1 + (n % (partners - 1)) for n in range(sites - 50)]   # P0000 runs 50 sites
        _bulk(conn, Site, [dict(id=n + 1, code=f"S{n:06d}", name_zh=f"方寸空间·基准{n}", name_en="",
                                franchisee_id=owner[n] + 1, agreement_id=owner[n] + 1, city=CITIES[n % len(CITIES)],
                                region=("east", "north", "south", "west")[n % 4],
                                tier=("flagship", "standard", "lite")[n % 3], address="", timezone="Asia/Shanghai",
                                opening_hours=HOURS, area_m2=Decimal("800.00"), desks=60 + n % 300, status="active",
                                opened_on=date(2025, 3, 1), agent_url=f"http://10.0.{n // 250}.{n % 250}:8700/",
                                agent_token_hash="", created_at=now, updated_at=now) for n in range(sites)])
        mark("registry")
        hashed = generate_password_hash(PASSWORD)
        _bulk(conn, User, [dict(email="hq@bench.example", name="HQ", password_hash=hashed, role="hq_admin",
                                franchisee_id=None, active=True, locale="", failed_logins=0, created_at=now),
                           dict(email="admin@p0000.example", name="P0000", password_hash=hashed,
                                role="franchisee_admin", franchisee_id=1, active=True, locale="", failed_logins=0,
                                created_at=now)])
        mark("password")
        for q in (quarter_before, quarter_now):
            conn.execute(insert(CardPublication.__table__), [dict(period=q, model_id=MODEL.id,
                                                                 model_version=MODEL.version, published_at=now,
                                                                 published_by="bench")])
        scores, pool = [], {}
        for n in range(sites):
            base = rng.gauss(70, 12)
            for q, drift in ((quarter_before, 0.0), (quarter_now, rng.gauss(0, 6))):
                key = (max(0, min(100, round(base + drift))), rng.randrange(4))  # a few hundred distinct results
                if key not in pool:
                    result = _scored(rng, key[0])
                    pool[key] = dict(status=result.status, score=result.score, card=result.card,
                                     coverage=round(result.coverage, 6),
                                     indicators={i.id: i.as_json() for i in result.indicators})
                scores.append(dict(site_id=n + 1, period=q, model_id=MODEL.id, model_version=MODEL.version,
                                   computed_at=now, **pool[key]))
        mark("scores computed")
        _bulk(conn, SiteScore, scores)
        mark("scores")
        flags = []
        for n in range(sites):
            if n % 3 == 0:
                flags.append(dict(site_id=n + 1, franchisee_id=owner[n] + 1, rule="feed-silent", subject="",
                                  open_key=f"feed-silent:{n}", severity=("major", "warning", "critical")[n % 9 // 3],
                                  state="open", opened_at=now - timedelta(hours=n % 200), ack_due_at=now + timedelta(days=2),
                                  escalation_level=0, occurrence=1, evidence={}, created_at=now, updated_at=now))
            if scores[2 * n + 1]["card"] == "red":
                flags.append(dict(site_id=n + 1, franchisee_id=owner[n] + 1, rule="red-card", subject="",
                                  open_key=f"red-card:{n}", severity="major", state="open", opened_at=now,
                                  ack_due_at=now + timedelta(days=3), escalation_level=0, occurrence=1,
                                  evidence={"quarter": quarter_now, "card": "red", "score": scores[2 * n + 1]["score"]},
                                  created_at=now, updated_at=now))
        flags.append(dict(site_id=None, franchisee_id=1, rule="termination-review", subject="", open_key="tr:1",
                          severity="critical", state="open", opened_at=now, ack_due_at=now + timedelta(days=3),
                          escalation_level=0, occurrence=1, evidence={"quarters": [quarter_before, quarter_now],
                                                                      "sites": ["S000001"]},
                          created_at=now, updated_at=now))
        _bulk(conn, Flag, flags)
        mark("flags")
        standard_id = conn.execute(insert(Standard.__table__).returning(Standard.__table__.c.id), [dict(
            key="iaq-co2", version=1, category="iaq", title_zh="室内空气质量", title_en="Indoor air",
            content={"text": "开放时段二氧化碳不超过 1000 ppm。", "rules": []}, content_hash="sha256:bench", ack_days=30,
            published_at=now, published_by="bench")]).scalar_one()
        _bulk(conn, StandardAcknowledgement, [dict(site_id=n + 1, standard_id=standard_id,
                                                   due_at=now + timedelta(days=(n % 20) - 10),
                                                   acknowledged_at=now if n % 2 else None) for n in range(sites)])
        _bulk(conn, CollectionTarget, [dict(site_id=n + 1, cursor_readings="0", cursor_nps="0", cursor_events="0",
                                            last_attempt_at=now, last_success_at=now - timedelta(minutes=n % 90),
                                            consecutive_failures=3 if n % 50 == 0 else 0,
                                            last_error="ConnectError: refused" if n % 50 == 0 else "",
                                            newest_record_at=now - timedelta(minutes=n % 600), records_last_pull=100,
                                            quarantined_last_pull=0, agent_version="1.0", agent_buffer_id="b",
                                            buffer_depth=0) for n in range(sites)])
        mark("acks+feeds")
        # a year of reports (the revenue-reports page shows twelve months): 1 site in 40 never reports, 1 in 15
        # reports a month late, and 1 in 25 corrected its report once
        from brand_hub.billing import shift_period

        year = [shift_period(month, -back) for back in range(12)]
        _bulk(conn, RevenueReport, [dict(site_id=n + 1, period=period, version=1, franchisee_id=owner[n] + 1,
                                         gross_revenue=Decimal(200000 + n * 7), breakdown={}, status="reported",
                                         source="portal", submitted_by="bench",
                                         submitted_at=now - timedelta(days=31 * back - (31 if n % 15 == 0 else 0)))
                                    for back, period in enumerate(year) for n in range(sites) if n % 40])
        _bulk(conn, RevenueReport, [dict(site_id=n + 1, period=period, version=2, franchisee_id=owner[n] + 1,
                                         gross_revenue=Decimal(210000 + n * 7), breakdown={}, status="corrected",
                                         source="portal", submitted_by="bench",
                                         submitted_at=now - timedelta(days=31 * back - 5))
                                    for back, period in enumerate(year[1:], start=1) for n in range(sites)
                                    if n % 40 and n % 25 == 0])
        mark("revenue")
        due_late, due_soon = today - timedelta(days=20), today + timedelta(days=10)
        _bulk(conn, Invoice, [dict(id=p + 1, number=f"BH-BENCH-{p:06d}", agreement_id=p + 1, franchisee_id=p + 1,
                                   period=month, status="draft", plan_id="standard-2026", plan_version=1,
                                   created_at=now, issued_at=now, due_date=due_late if p % 5 == 0 else due_soon,
                                   subtotal=Decimal("0"), vat_rate=Decimal("0.06"), vat=Decimal("0"),
                                   total=Decimal("0"), amount_paid=Decimal("0"), amount_credited=Decimal("0"),
                                   currency="CNY") for p in range(partners)])
        _bulk(conn, InvoiceLine, [dict(invoice_id=owner[n] + 1, position=n, site_id=n + 1, site_code=f"S{n:06d}",
                                       kind="royalty", description="royalty", service_period=month, band="",
                                       base=Decimal(200000 + n * 7), rate=Decimal("0.08"),
                                       amount=(Decimal(200000 + n * 7) * Decimal("0.08")).quantize(Decimal("0.01")),
                                       estimated=n % 40 == 0, plan_id="standard-2026", plan_version=1, inputs={})
                                  for n in range(sites)])
        mark("invoices")
        conn.execute(text("UPDATE invoice SET subtotal = s.amount, total = s.amount FROM (SELECT invoice_id, "
                          "SUM(amount) AS amount FROM invoice_line GROUP BY invoice_id) s WHERE s.invoice_id = invoice.id"))
        conn.execute(text("UPDATE invoice SET status = 'issued'"))
        mark("updates")
    # what autovacuum does to freshly loaded tables in production (it is off on this machine's PostgreSQL:
    # without it the invoices' updates leave dead rows for the first pages to step over), and a checkpoint
    # so the load's writes are not flushed under the first pages measured
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for model in (Site, Franchisee, SiteScore, Flag, Invoice, InvoiceLine, RevenueReport, StandardAcknowledgement,
                      CollectionTarget):
            conn.execute(text(f"VACUUM (ANALYZE) {model.__tablename__}"))
        conn.execute(text("CHECKPOINT"))
    mark("vacuum")
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "flags": len(flags), "scores": len(scores), "period": month,
            "partner_site": "S000001", "partner_agreement": "AG-0000", "partner_invoice": 1, "flag_id": 1}


def refresh_dashboard(url: str) -> float | None:
    """Run the ``refresh-dashboard`` job once, as the scheduler does every few minutes (None: no such job)."""
    try:
        from brand_hub.dashboard import snapshot
    except ImportError:   # a tree from before the precomputed dashboard: the page computes everything itself
        return None
    started = time.perf_counter()
    snapshot.refresh_job(settings=Settings(database_url=url))
    return time.perf_counter() - started


def serve(url: str, tmp: Path):
    from waitress.server import create_server

    from brand_hub import create_app

    app = create_app(Settings(env="testing", database_url=url, instance_path=tmp, secret_key="bench-pages"))
    app.logger.disabled = True  # a failing page shows as its HTTP status in the table, not as pages of tracebacks
    try:  # what create_app does outside tests (the bench builds a testing app): start-up objects out of the GC's way
        from brand_hub import settle_heap
    except ImportError:   # a tree from before it
        pass
    else:
        settle_heap()
    payloads: dict[int, bytes] = {}

    def static_page(size: int):
        from flask import Response

        return Response(payloads.setdefault(size, b"<!doctype html>" + b"x" * max(0, size - 15)), mimetype="text/html")

    static_page.allowed_roles = frozenset()  # public: the same server, no database
    app.add_url_rule("/bench-static/<int:size>", "bench_static", static_page)
    statements = {"n": 0}
    event.listen(app.extensions["brandhub.engine"], "before_cursor_execute",
                 lambda *args, **kwargs: statements.__setitem__("n", statements["n"] + 1))
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return app, f"http://127.0.0.1:{server.effective_port}", statements, (stop, thread, server)


def signed_in(base: str, email: str) -> requests.Session:
    client = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"{base}/login").text).group(1)
    response = client.post(f"{base}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
                           allow_redirects=False)
    assert response.status_code == 302, response.status_code
    return client


def pages_of(app, prefixes: tuple[str, ...], values: dict[str, str]) -> list[str]:
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(prefixes) or "GET" not in (rule.methods or ()) or ".pdf" in rule.rule:
            continue
        if rule.rule.endswith(("/new", "/edit")):
            continue
        path = rule.rule
        filled = {**values, "code": values["partner"]} if path.startswith("/hq/partners/") else values
        names = re.findall(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-zA-Z_]+)>", path)
        if any(n not in filled for n in names):
            continue
        for name in names:
            path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", filled[name], path, count=1)
        out.append(path)
    return sorted(out)


def measure(client: requests.Session, base: str, path: str, repeat: int, statements: dict) -> dict:
    client.get(f"{base}{path}")  # warm-up
    before = statements["n"]
    response = client.get(f"{base}{path}")
    count = statements["n"] - before
    times = []
    cpu = time.process_time()
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(f"{base}{path}")
        times.append((time.perf_counter() - start) * 1000)
    cpu = (time.process_time() - cpu) * 1000 / repeat   # this process's (server and client): steadier on a busy machine
    size = len(response.content)
    static = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(f"{base}/bench-static/{size}")
        static.append((time.perf_counter() - start) * 1000)

    def pct(values, q):
        values = sorted(values)
        return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]

    return {"status": response.status_code, "p50": statistics.median(times), "p95": pct(times, .95),
            "static_p95": pct(static, .95), "statements": count, "kb": size / 1024, "cpu": cpu}


HEADER = (f"{'front':<7} {'page':<44} {'HTTP':>4} {'KB':>6} {'p50 ms':>7} {'p95 ms':>7} {'static p95':>10} "
          f"{'ratio':>6} {'SQL':>4} {'CPU ms':>6}")


def _over(r: dict) -> bool:
    return r["p95"] > 150 or r["statements"] > 30 or r["status"] != 200


def line(front: str, path: str, r: dict) -> str:
    ratio = r["p95"] / r["static_p95"] if r["static_p95"] else float("nan")
    return (f"{front:<7} {path[:44]:<44} {r['status']:>4} {r['kb']:>6.0f} {r['p50']:>7.1f} {r['p95']:>7.1f} "
            f"{r['static_p95']:>10.1f} {ratio:>6.1f} {r['statements']:>4} {r['cpu']:>6.1f}{' !' if _over(r) else ''}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--trace", action="store_true", help="print the seconds of each seeding step")
    parser.add_argument("--pages", default="", help="only the pages whose path matches this regular expression")
    parser.add_argument("--schema", default="", help="the schema to use (default: a new bench_<random> one); "
                                                     "an existing one already seeded is used as it is")
    parser.add_argument("--keep", action="store_true", help="keep the schema afterwards (to profile or EXPLAIN "
                                                            "on the bench's data, or to run again with --schema)")
    args = parser.parse_args()
    global TRACE
    TRACE = args.trace
    today = datetime.now(timezone.utc).date()
    print(f"scenario: PostgreSQL, {args.partners} partners, {args.sites} sites (P0000 runs 50), 2 published quarters "
          f"of scores, open flags, a month of invoices, a year of revenue reports, acknowledgements, feeds; "
          f"{args.repeat} timed requests per page after a warm-up, against a static page of the same size")
    schema = args.schema or f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        reuse = bool(args.schema) and conn.execute(text(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = :s AND table_name = 'site'"),
            {"s": schema}).scalar_one() > 0
        if not reuse:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    import tempfile

    try:
        if reuse:
            month = f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}"
            seeded = {"partner_site": "S000001", "partner_agreement": "AG-0000", "partner_invoice": 1, "flag_id": 1,
                      "period": month}
            print(f"schema {schema}: already seeded, used as it is", flush=True)
        else:
            migrate.upgrade(url)
            seeded = seed(url, args.sites, args.partners, today)
            print(f"seeded in {seeded['seconds']:.1f} s: {seeded['scores']} scores, {seeded['flags']} flags",
                  flush=True)
        refreshed = refresh_dashboard(url)
        if refreshed is not None:
            print(f"refresh-dashboard job (the network's dashboard figures): {refreshed:.1f} s", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            app, base, statements, (stop, thread, server) = serve(url, Path(tmp))
            try:
                values = {"code": seeded["partner_site"], "partner": "P0000", "number": seeded["partner_agreement"],
                          "invoice_id": str(seeded["partner_invoice"]), "flag_id": str(seeded["flag_id"]),
                          "period": seeded["period"], "key": "iaq-co2"}
                rows = []
                print(HEADER, flush=True)
                hq = signed_in(base, "hq@bench.example")
                for path in pages_of(app, ("dashboard.", "billing.", "scores.", "compliance.", "collection.",
                                           "distribution.", "renewals.", "simulator.", "tenure."), values):
                    if not re.search(args.pages, path):
                        continue
                    rows.append(("HQ", path, measure(hq, base, path, args.repeat, statements)))
                    print(line(*rows[-1]), flush=True)
                partner = signed_in(base, "admin@p0000.example")
                for path in pages_of(app, ("portal.",), values):
                    if not re.search(args.pages, path):
                        continue
                    rows.append(("portal", path, measure(partner, base, path, args.repeat, statements)))
                    print(line(*rows[-1]), flush=True)
            finally:
                stop.set()
                thread.join(timeout=5)
                server.close()
                server.task_dispatcher.shutdown()
                app.extensions["brandhub.engine"].dispose()
    finally:
        if args.keep:
            print(f"schema {schema} kept (drop it with: DROP SCHEMA \"{schema}\" CASCADE)")
        else:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    over = [path for _front, path, r in rows if _over(r)]
    print(f"pages over p95 150 ms or 30 statements (or not 200): {len(over)} of {len(rows)}"
          + (f": {', '.join(over)}" if over else ""))


if __name__ == "__main__":
    main()
