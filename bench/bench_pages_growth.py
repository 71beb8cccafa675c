"""Pages as the network grows: each page's time on a small and a large seeded network, side by side.

Issue 15's target for pages is "time per site as sites grow 100 → 1,000 → 10,000: flat within 1.5×", that is
each page's time on the large network at most 1.5× its time on the small one. ``bench_pages`` measures one
network per run, so two runs compare pages measured minutes apart under different load. This serves both
networks' apps from one process and measures each page on the small one, then the large one, then the small
one again, interleaved page by page, so a page's pair shares the machine's load; the static control page of
the same server is measured in the same rounds.

Both schemas must be seeded first with ``bench_pages.py --schema NAME --keep`` (the first with
``--sites 100 --partners 20``, the second with ``--sites 10000 --partners 2000``)::

    flock /tmp/bench.lock .venv/bin/python bench/bench_pages_growth.py --small growth_100 --large growth_10k \
        [--repeat 20] [--pages REGEX]

The ratio is the large network's p50 over the small one's (the median of REPEAT requests in each of two
rounds, pooled); CPU is this process's CPU time a request (server and client), steadier on a busy machine.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_pages as bp  # noqa: E402


def _timed(client, url: str, repeat: int) -> tuple[list[float], float, int]:
    times = []
    cpu = time.process_time()
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return times, (time.process_time() - cpu) * 1000 / repeat, len(response.content)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", required=True, help="a seeded schema (bench_pages --keep), e.g. 100 sites")
    parser.add_argument("--large", required=True, help="a seeded schema, e.g. 10,000 sites")
    parser.add_argument("--medium", default="", help="a seeded schema between them, e.g. 1,000 sites: also the "
                                                     "ratio of the large network's p50 over this one's")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--pages", default="", help="only the pages whose path matches this regular expression")
    parser.add_argument("--limit", type=float, default=1.5, help="the ratio a page must stay within")
    args = parser.parse_args()
    today = datetime.now(timezone.utc).date()
    month = f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}"
    values = {"code": "S000001", "partner": "P0000", "number": "AG-0000", "invoice_id": "1", "flag_id": "1",
              "period": month, "key": "iaq-co2"}
    print(f"{args.small} vs {args.large}: {args.repeat} requests per page and network, in two interleaved rounds "
          f"(small, [medium,] large, then back); load before: {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        names = [n for n in (args.small, args.medium, args.large) if n]
        for name in names:
            url = f"{bp.PG_URL}?options=-csearch_path%3D{name}"
            bp.refresh_dashboard(url)
            path = Path(tmp) / name
            path.mkdir()
            app, base, statements, handle = bp.serve(url, path)
            servers[name] = (app, base, statements, handle,
                             {"HQ": bp.signed_in(base, "hq@bench.example"),
                              "portal": bp.signed_in(base, "admin@p0000.example")})
        try:
            app = servers[args.small][0]
            pages = [("HQ", p) for p in bp.pages_of(app, ("dashboard.", "billing.", "scores.", "compliance.",
                                                          "collection.", "distribution.", "renewals.", "simulator.",
                                                          "tenure."), values)]
            pages += [("portal", p) for p in bp.pages_of(app, ("portal.",), values)]
            pages = [(front, p) for front, p in pages if re.search(args.pages, p)]
            print(f"{'front':<7} {'page':<44} {'small p50':>9} {'large p50':>9} {'ratio':>6} {'CPU ratio':>9} "
                  f"{'SQL':>9} {'static ratio':>12}" + (f" {'medium p50':>10} {'L/M':>5}" if args.medium else ""),
                  flush=True)
            rows = []
            for front, path in pages:
                got = {name: {"times": [], "cpu": [], "static": [], "sql": 0, "status": 0}
                       for name in servers}
                for name in [*names, *reversed(names)]:
                    _app, base, statements, _handle, clients = servers[name]
                    client = clients[front]
                    response = client.get(f"{base}{path}")   # warm-up, and the statements of one request
                    before = statements["n"]
                    response = client.get(f"{base}{path}")
                    got[name]["sql"] = statements["n"] - before
                    got[name]["status"] = response.status_code
                    times, cpu, size = _timed(client, f"{base}{path}", args.repeat)
                    got[name]["times"] += times
                    got[name]["cpu"].append(cpu)
                    got[name]["static"] += _timed(client, f"{base}/bench-static/{size}", args.repeat)[0]
                small, large = got[args.small], got[args.large]
                p50 = {k: statistics.median(v["times"]) for k, v in got.items()}
                cpu = {k: statistics.mean(v["cpu"]) for k, v in got.items()}
                static = {k: statistics.median(v["static"]) for k, v in got.items()}
                ratio = p50[args.large] / p50[args.small]
                row = (front, path, p50[args.small], p50[args.large], ratio, cpu[args.large] / cpu[args.small],
                       f"{small['sql']}→{large['sql']}", static[args.large] / static[args.small],
                       small["status"], large["status"])
                rows.append(row)
                flag = " !" if ratio > args.limit or 200 not in (row[8],) or row[9] != 200 else ""
                print(f"{front:<7} {path[:44]:<44} {row[2]:>9.1f} {row[3]:>9.1f} {row[4]:>6.2f} {row[5]:>9.2f} "
                      f"{row[6]:>9} {row[7]:>12.2f}"
                      + (f" {p50[args.medium]:>10.1f} {row[3] / p50[args.medium]:>5.2f}" if args.medium else "")
                      + flag, flush=True)
        finally:
            for _app, _base, _statements, (stop, thread, server), _clients in servers.values():
                stop.set()
                thread.join(timeout=5)
                server.close()
                server.task_dispatcher.shutdown()
                _app.extensions["brandhub.engine"].dispose()
    over = [r for r in rows if r[4] > args.limit]
    ratios = sorted(r[4] for r in rows)
    print(f"load after: {os.getloadavg()[0]:.2f}; median page ratio {statistics.median(ratios):.2f}; "
          f"{len(over)} of {len(rows)} pages above {args.limit}×"
          + (f": {', '.join(f'{r[1]} {r[4]:.2f}×' for r in sorted(over, key=lambda r: -r[4]))}" if over else ""))


if __name__ == "__main__":
    main()
