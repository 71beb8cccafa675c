"""List pages benchmark: every paginated list of HQ and of a 50-site partner's portal on a 10,000-site network.

Scenario (PostgreSQL): the network of ``bench_pages.seed`` (PARTNERS partners, SITES sites, P0000
running 50 of them, two published quarters of scores, open flags, a month of invoices and revenue
reports, a standard to acknowledge per site, a feed per site). Each list is requested REPEAT times
after a warm-up by a signed-in client (HQ administrator; the partner's administrator), its first page
and a page further on, sorted and filtered; p50/p95 against a static page of the same size served
by the same server in the same run, and the SQL statements of one request. Target: p95 ≤ 150 ms,
no list over 30 statements.

    .venv/bin/python bench/bench_lists.py [--sites 10000] [--partners 2000] [--repeat 10]
                                          [--schema NAME [--keep]]   # reuse / keep a seeded schema
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_pages  # noqa: E402
from sqlalchemy import text  # noqa: E402

from brand_hub import migrate  # noqa: E402
from brand_hub.db import make_engine  # noqa: E402

HQ_LISTS = ("/hq/partners", "/hq/partners?page=3", "/hq/sites", "/hq/sites?page=40&sort=desks&dir=desc",
            "/hq/users", "/hq/collection/agents", "/hq/collection/agents?page=20&sort=lag&dir=desc",
            "/hq/distribution/standards", "/hq/distribution/standards?page=30", "/hq/distribution/configs",
            "/hq/distribution/configs?page=30", "/hq/scores/", "/hq/scores/?page=30",
            "/hq/scores/?city=上海&tier=standard")
PORTAL_LISTS = ("/portal/sites", "/portal/agents", "/portal/standards", "/portal/configs", "/portal/scores",
                "/portal/flags", "/portal/invoices", "/portal/revenue", "/portal/agreements", "/portal/team")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=10_000)
    parser.add_argument("--partners", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--schema", default="", help="a schema seeded by an earlier --keep run, reused as it is")
    parser.add_argument("--keep", action="store_true", help="keep the seeded schema (its name is printed)")
    parser.add_argument("--only", default="", help="measure only the paths containing this text")
    args = parser.parse_args()
    today = datetime.now(timezone.utc).date()
    admin = make_engine(bench_pages.PG_URL)
    schema = args.schema or f"bench_{uuid.uuid4().hex[:8]}"
    url = f"{bench_pages.PG_URL}?options=-csearch_path%3D{schema}"
    saved = Path(tempfile.gettempdir()) / f"bench_lists_{schema}.json"
    if args.schema:
        seeded = json.loads(saved.read_text())
        migrate.upgrade(url)  # an index added since it was seeded
    else:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        migrate.upgrade(url)
        seeded = bench_pages.seed(url, args.sites, args.partners, today)
        saved.write_text(json.dumps(seeded))
    print(f"scenario: PostgreSQL, {seeded.get('sites', args.sites)} sites, {args.partners} partners (P0000 runs 50), "
          f"{seeded['scores']} scores, {seeded['flags']} flags, a month of invoices and revenue, a standard to "
          f"acknowledge per site; {args.repeat} timed requests per list after a warm-up, against a static page of "
          f"the same size (schema {schema})", flush=True)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app, base, statements, (stop, thread, server) = bench_pages.serve(url, Path(tmp))
            try:
                print(bench_pages.HEADER, flush=True)
                for front, email, paths in (("HQ", "hq@bench.example", HQ_LISTS),
                                            ("portal", "admin@p0000.example", PORTAL_LISTS)):
                    client = bench_pages.signed_in(base, email)
                    for path in paths:
                        if args.only and not any(part in path for part in args.only.split(",")):
                            continue
                        rows.append((front, path, bench_pages.measure(client, base, path, args.repeat, statements)))
                        print(bench_pages.line(*rows[-1]), flush=True)
            finally:
                stop.set()
                thread.join(timeout=5)
                server.close()
                server.task_dispatcher.shutdown()
                app.extensions["brandhub.engine"].dispose()
    finally:
        if not args.keep and not args.schema:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            saved.unlink(missing_ok=True)
        admin.dispose()
    over = [path for _front, path, r in rows if bench_pages._over(r)]
    print(f"lists over p95 150 ms or 30 statements (or not 200): {len(over)} of {len(rows)}"
          + (f": {', '.join(over)}" if over else ""))


if __name__ == "__main__":
    main()
