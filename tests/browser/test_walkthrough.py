"""A real browser walks the product: headless Chromium against the app served by waitress.

Signs in as HQ and as a partner, opens the main pages, switches the language,
and saves a screenshot of each page under ``test-artifacts/screenshots/``.
"""
from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from sqlmodel import Session

from brand_hub.db import make_engine
from brand_hub.demo.network import DEMO_PASSWORD, seed
from brand_hub.settings import Settings
from tests.conftest import ARTIFACTS, missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = ARTIFACTS / "screenshots"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(sqlite_template, tmp_path_factory):
    """The real app on a free loopback port, with the demo network seeded (one for the module)."""
    from waitress.server import create_server

    from brand_hub import create_app

    tmp_path = tmp_path_factory.mktemp("browser")
    shutil.copy(sqlite_template, tmp_path / "hub.sqlite")
    sqlite_url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        seed(session)
        session.commit()
    engine.dispose()
    app = create_app(Settings(env="testing", database_url=sqlite_url, instance_path=tmp_path / "instance",
                              secret_key="browser-test"))
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    stop = threading.Event()

    def serve() -> None:  # waitress's own loop, in short turns so the test can stop it cleanly
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


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        missing("/usr/bin/chromium is not installed", "run scripts/setup.sh")
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state("networkidle")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_hq_manager_walks_the_dashboard_in_chinese_and_english(live_server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page.goto(f"{live_server}/login")
    _shot(page, "01-login")
    assert "登录" in page.content()
    _sign_in(page, live_server, "manager@fangcun.example")
    assert page.url.endswith("/hq/")
    assert "品牌健康度仪表盘" in page.inner_text("h1")
    _shot(page, "02-hq-overview")
    page.click("nav.mainnav >> text=门店")
    page.wait_for_load_state("networkidle")
    assert page.locator("tbody tr").count() == 24
    page.fill("input[name=q]", "静安")
    page.click("form.toolbar button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("tbody tr").count() == 1
    _shot(page, "03-hq-sites-search")
    page.goto(f"{live_server}/hq/sites?sort=desks&dir=desc")
    _shot(page, "04-hq-sites")
    page.click("text=方寸空间·陆家嘴")
    page.wait_for_load_state("networkidle")
    assert "SH-PD-01" in page.content()
    _shot(page, "05-hq-site")
    page.click("text=编辑门店")
    page.fill("input[name=desks]", "432")
    page.click("form.form-grid button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "432" in page.inner_text("dl.props")
    page.goto(f"{live_server}/hq/partners/SH01")
    _shot(page, "06-hq-partner")
    page.goto(f"{live_server}/hq/audit")
    assert "site.update" in page.content()
    _shot(page, "07-hq-audit")
    page.click("form.lang button[value=en]")
    page.wait_for_load_state("networkidle")
    assert "Audit log" in page.inner_text("h1")
    page.goto(f"{live_server}/hq/")
    assert "Brand health dashboard" in page.inner_text("h1")
    _shot(page, "08-hq-overview-en")
    page.close()


def test_hq_admin_sees_users_and_a_partner_sees_only_their_own_sites(live_server, browser):
    admin = browser.new_page(viewport={"width": 1400, "height": 900})
    _sign_in(admin, live_server, "admin@fangcun.example")
    admin.goto(f"{live_server}/hq/users")
    assert "admin@sh01.example" in admin.content()
    _shot(admin, "09-hq-users")
    admin.close()

    partner = browser.new_page(viewport={"width": 1400, "height": 900})
    _sign_in(partner, live_server, "admin@sh01.example")
    assert partner.url.endswith("/portal/")
    assert "上海静安方寸企业管理有限公司" in partner.inner_text("h1")
    _shot(partner, "10-portal-home")
    partner.click("nav.mainnav >> text=我的门店")
    partner.wait_for_load_state("networkidle")
    assert partner.locator("tbody tr").count() == 5
    assert "BJ-CY-01" not in partner.content()
    _shot(partner, "11-portal-sites")
    partner.click("text=方寸空间·静安寺")
    partner.wait_for_load_state("networkidle")
    _shot(partner, "12-portal-site")
    partner.goto(f"{live_server}/portal/agreements")
    assert "FC-2025-007" in partner.content()
    _shot(partner, "13-portal-agreements")
    response = partner.goto(f"{live_server}/portal/sites/BJ-CY-01")
    assert response.status == 404
    partner.close()
