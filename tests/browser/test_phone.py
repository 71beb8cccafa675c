"""A phone is a first-class screen: every portal page and the HQ dashboard at 390×844 in headless Chromium.

Fails when a page's document is wider than the viewport (sideways scroll), or
when an entry of the navigation cannot be reached through the menu. Runs for a
partner admin and a site manager, on the demo network plus one object of every
kind a portal URL names (flag, invoice, acknowledgement, colleague).
"""
from __future__ import annotations

import re
import shutil
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from brand_hub.db import make_engine
from brand_hub.demo.network import DEMO_PASSWORD, seed
from brand_hub.settings import Settings
from tests.browser.test_walkthrough import CHROMIUM, SHOTS, browser  # noqa: F401  (the browser fixture)

pytestmark = pytest.mark.browser
WIDTH, HEIGHT = 390, 844


def _add_objects(session: Session) -> dict[str, str]:
    """One object of every kind a portal URL names, on SH01's first site (its site manager's)."""
    from brand_hub.models import Agreement, Franchisee, Site, User
    from brand_hub.models.billing import Invoice, InvoiceStatus
    from brand_hub.models.compliance import Flag, FlagState, Severity
    from brand_hub.models.standards import Standard, StandardAcknowledgement

    partner = session.exec(select(Franchisee).where(Franchisee.code == "SH01")).one()
    site = session.exec(select(Site).where(Site.franchisee_id == partner.id).order_by(Site.code)).first()
    agreement = session.get(Agreement, site.agreement_id)
    now = datetime.now(timezone.utc)
    flag = Flag(franchisee_id=partner.id, site_id=site.id, rule="std:iaq-co2/co2-open-hours", state=FlagState.open,
                severity=Severity.major, opened_at=now, ack_due_at=now + timedelta(days=2),
                evidence={"rule_title_zh": "室内二氧化碳浓度", "rule_title_en": "Indoor CO2"})
    standard = Standard(key="iaq-co2", version=1, category="iaq", title_zh="室内空气质量：二氧化碳",
                        title_en="Indoor air: CO2", content={"text": "开放时段二氧化碳浓度不超过 1000 ppm。", "rules": []},
                        content_hash="sha256:x")
    invoice = Invoice(agreement_id=agreement.id, franchisee_id=partner.id, period="2026-10", number="BH-2026-000001",
                      status=InvoiceStatus.draft, plan_id="standard-2026", due_date=now.date(),
                      subtotal=Decimal("383840.34"), total=Decimal("383840.34"))
    session.add_all([flag, standard, invoice])
    session.flush()
    from tests.builders import make_disputed_line

    dispute, attachment = make_disputed_line(session, invoice, site, partner)
    ack = StandardAcknowledgement(site_id=site.id, standard_id=standard.id, due_at=now + timedelta(days=10))
    session.add(ack)
    session.flush()
    staff = session.exec(select(User).where(User.email == "staff@sh01.example")).one()
    return {"code": site.code, "number": agreement.number, "flag_id": str(flag.id), "invoice_id": str(invoice.id),
            "ack_id": str(ack.id), "user_id": str(staff.id), "dispute_id": str(dispute.id),
            "attachment_id": str(attachment.id)}


@pytest.fixture(scope="module")
def phone_server(sqlite_template, tmp_path_factory):
    from waitress.server import create_server

    from brand_hub import create_app

    tmp_path = tmp_path_factory.mktemp("phone")
    shutil.copy(sqlite_template, tmp_path / "hub.sqlite")
    url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    engine = make_engine(url)
    with Session(engine) as session:
        seed(session)
        values = _add_objects(session)
        session.commit()
    engine.dispose()
    app = create_app(Settings(env="testing", database_url=url, instance_path=tmp_path / "instance",
                              secret_key="phone-test"))
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", app, values
    stop.set()
    thread.join(timeout=5)
    server.close()
    server.task_dispatcher.shutdown()
    app.extensions["brandhub.engine"].dispose()


def _portal_pages(app, values: dict[str, str]) -> list[str]:
    """Every GET page of the portal (PDF downloads aside), its arguments filled with real objects."""
    paths = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("portal.") or "GET" not in (rule.methods or ()) or rule.rule.endswith(".pdf") \
                or "/attachments/" in rule.rule:  # files, not pages
            continue
        path = rule.rule
        for name in re.findall(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-zA-Z_]+)>", path):
            path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", values[name], path, count=1)
        paths.append(path)
    return sorted(paths)


def _phone(browser, base: str, email: str):  # noqa: F811
    page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT}, locale="zh-CN", is_mobile=True,
                            has_touch=True, device_scale_factor=2)
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("button[type=submit].primary")
    page.wait_for_load_state("networkidle")
    return page


def _too_wide(page) -> int:
    """How far the document reaches past the phone's 390 px (a mobile browser widens its layout viewport to fit
    wide content, so the fixed screen width is the yardstick, not ``innerWidth``)."""
    return page.evaluate(f"Math.max(document.documentElement.scrollWidth, window.innerWidth) - {WIDTH}")


@pytest.mark.parametrize("email", ["admin@sh01.example", "staff@sh01.example"])
def test_every_portal_page_fits_a_390px_phone_without_sideways_scroll(phone_server, browser, email):  # noqa: F811
    base, app, values = phone_server
    page = _phone(browser, base, email)
    wide, opened = [], 0
    for path in _portal_pages(app, values):
        response = page.goto(f"{base}{path}")
        if response.status != 200:
            assert email.startswith("staff") and response.status == 403, f"{email} {path}: {response.status}"
            continue
        opened += 1
        page.wait_for_load_state("networkidle")
        if _too_wide(page) > 0:
            wide.append(f"{path} is {_too_wide(page)} px wider than the screen")
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"phone-too-wide-{path.strip('/').replace('/', '_') or 'home'}.png"),
                            full_page=True)
    page.close()
    assert wide == []
    assert opened >= (15 if email.startswith("admin") else 10)


@pytest.mark.parametrize("email,home", [("admin@sh01.example", "/portal/"), ("admin@fangcun.example", "/hq/")])
def test_the_menu_reaches_every_navigation_entry_on_a_phone(phone_server, browser, email, home):  # noqa: F811
    base, _app, _values = phone_server
    page = _phone(browser, base, email)
    page.goto(f"{base}{home}")
    assert _too_wide(page) <= 0, f"{home} scrolls sideways"
    links = page.locator("nav.mainnav a")
    assert links.count() >= 8
    assert not links.first.is_visible()           # folded away until asked for
    page.click("label.menu-button")
    for n in range(links.count()):
        box = links.nth(n).bounding_box()
        assert links.nth(n).is_visible() and box and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, \
            links.nth(n).inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"phone-menu-{home.strip('/')}.png"))
    page.close()
