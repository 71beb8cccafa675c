"""The pages still work in Chromium under the Content-Security-Policy: charts draw, forms submit, no violation.

Screenshots of the login page and a chart page at 1440 and 390 px land in
``test-artifacts/screenshots/csp-*.png``.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session, select

from brand_hub.db import make_engine
from brand_hub.models import Site
from brand_hub.models.collection import ReadingBucket
from tests.browser.test_walkthrough import SHOTS, _sign_in, browser  # noqa: F401 (fixture)
from tests.builders import rebuild_rollups

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def live(sqlite_template, tmp_path_factory):
    """The real app on a free loopback port with the demo network, and a day of readings for SH-PD-01."""
    import shutil
    import threading

    from waitress.server import create_server

    from brand_hub import create_app
    from brand_hub.demo.network import seed
    from brand_hub.settings import Settings

    tmp_path = tmp_path_factory.mktemp("csp")
    shutil.copy(sqlite_template, tmp_path / "hub.sqlite")
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    engine = make_engine(url)
    with Session(engine) as session:
        seed(session)
        session.flush()
        _readings(session, "SH-PD-01")
        session.commit()
    engine.dispose()
    app = create_app(Settings(env="testing", database_url=url, instance_path=tmp_path / "instance",
                              secret_key="browser-test"))
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    stop.set()
    thread.join(timeout=5)
    server.close()
    server.task_dispatcher.shutdown()
    app.extensions["brandhub.engine"].dispose()


def _watch(page) -> list[str]:
    """Collect CSP violations and script errors the page reports."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text)
            if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def _readings(session, code: str) -> None:
    """A day of CO2 and temperature buckets for one site, so its data page draws charts."""
    site = session.exec(select(Site).where(Site.code == code)).one()
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    for n in range(96):
        at = start + timedelta(minutes=15 * n)
        for metric, value in (("co2_ppm", 600 + 300 * math.sin(n / 10)), ("temperature_c", 23 + math.cos(n / 12))):
            session.add(ReadingBucket(site_id=site.id, zone="open-desk", metric=metric, bucket_start=at,
                                      count=15, mean=value, min=value - 5, max=value + 5))
    rebuild_rollups(session, [site.id])


@pytest.mark.parametrize("width,height", [(1440, 900), (390, 844)])
def test_login_and_a_chart_page_work_under_the_csp(live, browser, width, height):  # noqa: F811
    live_server = live
    page = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
    problems = _watch(page)
    response = page.goto(f"{live_server}/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.screenshot(path=str(SHOTS / f"csp-login-{width}.png"), full_page=True)
    _sign_in(page, live_server, "admin@fangcun.example")
    assert page.url.endswith("/hq/")
    page.screenshot(path=str(SHOTS / f"csp-overview-{width}.png"), full_page=True)
    page.goto(f"{live_server}/hq/collection/sites/SH-PD-01")
    page.wait_for_load_state("networkidle")
    canvases = page.locator("canvas[data-metric]")
    assert canvases.count() >= 2
    drawn = page.evaluate("() => Array.from(document.querySelectorAll('canvas[data-metric]'))"
                          ".every(c => window.Chart && Chart.getChart(c) !== undefined)")
    assert drawn, "Chart.js did not draw under the CSP"
    page.screenshot(path=str(SHOTS / f"csp-chart-{width}.png"), full_page=True)
    # the bars of the overview get their width from app.js, not a style attribute
    page.goto(f"{live_server}/hq/")
    widths = page.evaluate("() => Array.from(document.querySelectorAll('[data-width]')).map(e => e.style.width)")
    assert widths and all(w.endswith("%") for w in widths)
    assert [p for p in problems if "Content Security Policy" in p or "Refused" in p] == [], problems
    assert problems == [], problems
    page.close()
