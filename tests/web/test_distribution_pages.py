"""Standards and configs on the HQ dashboard and the partner portal: acknowledgement flow, scoping, drift."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from brand_hub import distribution
from brand_hub.audit import SYSTEM
from brand_hub.models import AuditEvent, Role
from brand_hub.models.standards import Standard, StandardAcknowledgement
from standards import site_config, standard_format
from tests.builders import make_franchisee, make_site, make_user
from tests.conftest import login, post_form

NOW = datetime.now(timezone.utc)


@pytest.fixture
def network(session):
    """Two partners with one site each; standards and configs published; the other partner's site drifted."""
    ours, theirs = make_franchisee(session), make_franchisee(session)
    site = make_site(session, ours, tier="flagship", region="east", agent_url="http://127.0.0.1:9")
    other = make_site(session, theirs, tier="standard", region="north", agent_url="http://127.0.0.1:9")
    partner_user = make_user(session, Role.franchisee_admin, ours, name="王经理")
    hq = make_user(session, Role.hq_manager)
    distribution.publish_standards(session=session, specs=standard_format.load_folder(), actor=SYSTEM,
                                   now=NOW - timedelta(days=20))
    distribution.publish_configs(session=session, layers=site_config.load_folder(), actor=SYSTEM,
                                 now=NOW - timedelta(hours=3))
    for s in (site, other):
        desired = distribution.desired_config(session=session, site_id=s.id)
        distribution.record_delivery(session=session, site_id=s.id, applied_hash=desired.hash,
                                     at=NOW - timedelta(hours=2))
    distribution.record_delivery(session=session, site_id=other.id, applied_hash="sha256:" + "0" * 64,
                                 at=NOW - timedelta(hours=2))
    session.commit()
    return dict(site=site, other=other, user=partner_user, hq=hq)


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_a_partner_reads_a_standard_acknowledges_it_and_hq_sees_the_progress(client, session, network):
    login(client, network["user"].email)
    html = page(client, "/portal/standards")
    assert "室内二氧化碳浓度" in html and "<strong>1000 ppm</strong>" in html and network["site"].code in html
    assert network["other"].code not in html
    ack = session.exec(select(StandardAcknowledgement).where(StandardAcknowledgement.site_id == network["site"].id)
                       .order_by(StandardAcknowledgement.id)).first()

    response = post_form(client, f"/portal/standards/acknowledgements/{ack.id}", token_from="/portal/standards")

    assert response.status_code == 302
    session.expire_all()
    ack = session.get(StandardAcknowledgement, ack.id)
    assert ack.acknowledged_by_id == network["user"].id
    assert abs(ack.acknowledged_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert f'id="ack-{ack.id}"' not in page(client, "/portal/standards")
    client.get("/logout")
    login(client, network["hq"].email)
    html = page(client, "/hq/distribution/standards")
    key = session.get(Standard, ack.standard_id).key
    row = html[html.index(f"<code>{key}</code>"):].split("</tr>")[0]
    assert ">1 / 2<" in row  # one of the two sites acknowledged that standard
    site_row = html[html.index(f"<strong>{network['site'].code}</strong>"):].split("</tr>")[0]
    assert ">1 / 12<" in site_row  # 12 standards in the library (issue 11 added revenue-plausibility)


def test_acknowledging_without_the_csrf_token_is_refused(client, session, network):
    login(client, network["user"].email)
    ack = session.exec(select(StandardAcknowledgement).where(
        StandardAcknowledgement.site_id == network["site"].id)).first()
    assert client.post(f"/portal/standards/acknowledgements/{ack.id}").status_code == 400
    session.expire_all()
    assert session.get(StandardAcknowledgement, ack.id).acknowledged_at is None


def test_a_partner_gets_404_for_another_partners_site_by_every_route(client, session, network):
    login(client, network["user"].email)
    other = network["other"]
    their_ack = session.exec(select(StandardAcknowledgement).where(
        StandardAcknowledgement.site_id == other.id)).first()
    assert client.get(f"/portal/sites/{other.code}/config").status_code == 404
    assert client.get(f"/portal/sites/{other.code}/config?from=1&to=1").status_code == 404
    response = post_form(client, f"/portal/standards/acknowledgements/{their_ack.id}", token_from="/portal/standards")
    assert response.status_code == 404
    session.expire_all()
    assert session.get(StandardAcknowledgement, their_ack.id).acknowledged_at is None
    assert other.code not in page(client, "/portal/configs")
    assert page(client, f"/portal/sites/{network['site'].code}/config")


def test_the_portal_shows_the_config_in_force_with_its_layers(client, network):
    login(client, network["user"].email)
    html = page(client, f"/portal/sites/{network['site'].code}/config")
    assert "plans.private_office.price" in html and "3600.00" in html
    assert "旗舰" in html or "flagship" in html


def test_hq_sees_drifted_sites_first_with_the_layer_of_every_key(client, network):
    login(client, network["hq"].email)
    html = page(client, "/hq/distribution/configs")
    assert html.index(network["other"].code) < html.index(network["site"].code)
    detail = page(client, f"/hq/distribution/sites/{network['other'].code}/config")
    assert "plans.hot_desk.price" in detail and "1680.00" in detail
    assert 'class="badge drifted"' in detail
    assert 'class="badge drifted"' not in page(client, f"/hq/distribution/sites/{network['site'].code}/config")


def test_hq_compares_two_versions_of_a_standard(client, session, network, tmp_path):
    folder = tmp_path / "standards"
    shutil.copytree(standard_format.LIBRARY_DIR, folder)
    path = folder / "space-noise.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("version: 1", "version: 3")
                    .replace("max: 50", "max: 48"), encoding="utf-8")
    distribution.publish_standards(session=session, specs=standard_format.load_folder(folder), actor=SYSTEM, now=NOW)
    session.commit()
    login(client, network["hq"].email)
    html = page(client, "/hq/distribution/standards/noise")  # v3 against v1: the author skipped v2
    assert "v1" in html and "<code>rules.noise-median.max</code>" in html and "<code>48</code>" in html
    assert "<code>rules.noise-median.max</code>" in page(client, "/hq/distribution/standards/noise?from=1&to=3")
    assert client.get("/hq/distribution/standards/noise?from=2&to=3").status_code == 404
    assert client.get("/hq/distribution/standards/no-such-standard").status_code == 404


def test_hq_rolls_back_a_site_config_from_the_page(client, session, network):
    site = network["site"]
    layers = site_config.load_folder()
    layers.tiers["flagship"].data["plans"]["private_office"]["price"] = "3900.00"
    distribution.publish_configs(session=session, layers=layers, actor=SYSTEM, now=NOW)
    session.commit()
    login(client, network["hq"].email)
    path = f"/hq/distribution/sites/{site.code}/config"
    assert "3900.00" in page(client, path)

    response = post_form(client, f"{path}/rollback", {"version": "1"}, token_from=path)

    assert response.status_code == 302
    session.expire_all()
    desired = distribution.desired_config(session=session, site_id=site.id)
    assert desired.version == 3 and desired.content["plans"]["private_office"]["price"] == "3600.00"
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "site_config.publish",
                                                 AuditEvent.actor == network["hq"].email)).first()


def test_a_viewer_cannot_roll_back_and_a_partner_cannot_open_hq_pages(client, session, network):
    viewer = make_user(session, Role.hq_viewer)
    session.commit()
    login(client, viewer.email)
    path = f"/hq/distribution/sites/{network['site'].code}/config"
    assert post_form(client, f"{path}/rollback", {"version": "1"}, token_from=path).status_code == 403
    client.get("/logout")
    login(client, network["user"].email)
    assert client.get("/hq/distribution/configs").status_code == 403


def test_asking_an_unreachable_agent_for_its_keys_says_why(client, network):
    login(client, network["hq"].email)
    path = f"/hq/distribution/sites/{network['other'].code}/config"
    response = post_form(client, f"{path}/drift", token_from=path, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"site {network['other'].code}: no agent token issued" in html
