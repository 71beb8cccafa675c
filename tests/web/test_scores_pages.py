"""The scores pages as HQ and partners use them."""
from __future__ import annotations

import pytest
from sqlmodel import select

from brand_hub import audit
from brand_hub.models import Role
from brand_hub.models.scoring import CardPublication, SiteScore
from brand_hub.scores import score_period
from scoring.periods import parse_period
from standards.scoring_model import load_model_text
from tests.builders import make_user
from tests.conftest import csrf_token, login, post_form
from tests.integration.test_scores_service import known_monday
from tests.unit.test_scoring_composite import SMALL_MODEL

MODEL_TEXT = SMALL_MODEL.format(aggregation="weighted_mean")


@pytest.fixture
def settings(settings, tmp_path):
    """The app reads the small model from its own folder of model files."""
    folder = tmp_path / "scoring"
    folder.mkdir()
    (folder / "small.yaml").write_text(MODEL_TEXT, "utf-8")
    return settings.replace(scoring_dir=str(folder))


@pytest.fixture
def network(session):
    """Two partners with one known site each, scored for October and Q4; site A also had a red Q3."""
    a, b = known_monday(session, code="SH-A-01", city="上海"), known_monday(session, code="BJ-B-01", city="北京")
    session.add(SiteScore(site_id=a.id, period="2026-Q3", model_id="small", model_version=1, status="scored",
                          score=50.0, card="red", coverage=1.0, indicators={}))
    model = load_model_text(MODEL_TEXT)
    for period in ("2026-10", "2026-Q4"):
        score_period(session=session, period=parse_period(period), model=model, actor=audit.SYSTEM)
    session.commit()
    return a, b


def test_hq_sees_the_ranking_distribution_movers_and_sensitivity(client, session, network):
    email = make_user(session, Role.hq_viewer).email
    session.commit()
    login(client, email)
    page = client.get("/hq/scores/?period=2026-Q4").get_data(as_text=True)
    assert "SH-A-01" in page and "BJ-B-01" in page
    assert "vendor/chart-4.6.1.umd.min.js" in page and 'id="distribution"' in page
    assert "+19.6" in page                         # 69.6 in Q4 against 50.0 in Q3
    assert "灵敏度" in page                         # the sensitivity of the cards, before they go out
    only_b = client.get("/hq/scores/?period=2026-Q4&city=北京").get_data(as_text=True)
    assert "BJ-B-01" in only_b and "SH-A-01" not in only_b


def test_hq_scorecard_explains_every_figure_down_to_its_inputs(client, session, network):
    email = make_user(session, Role.hq_manager).email
    session.commit()
    login(client, email)
    client.post("/lang", data={"lang": "en", "csrf_token": csrf_token(client, "/hq/scores/")})
    page = client.get("/hq/scores/sites/SH-A-01?period=2026-Q4").get_data(as_text=True)
    assert "6 of 8 occupied open hours inside the limits" in page
    assert "normalised (raw − floor 0.6) ÷ (target 0.95 − floor 0.6) × 100, clipped to 0–100 = 42.9" in page
    assert "3 tickets (0 still unanswered" in page and "Median first response 120 min, 50% of the SLA" in page
    assert "69.6" in page and "card-yellow" in page
    assert client.get("/hq/scores/sites/NOPE").status_code == 404


def test_partner_sees_own_scorecard_what_to_improve_and_percentiles_but_not_others(client, session, network):
    a, b = network
    partner_user = make_user(session, Role.franchisee_admin, franchisee=_franchisee_of(session, a))
    session.commit()
    login(client, partner_user.email)
    listing = client.get("/portal/scores").get_data(as_text=True)
    assert "SH-A-01" in listing and "BJ-B-01" not in listing
    card = client.get("/portal/scores/SH-A-01?period=2026-Q4")
    text = card.get_data(as_text=True)
    assert card.status_code == 200
    assert "优先改进" in text and "二氧化碳" in text
    assert "50%" in text                         # both sites have identical values: mid-rank percentile
    assert client.get("/portal/scores/BJ-B-01").status_code == 404
    assert client.get("/hq/scores/").status_code == 403


def _franchisee_of(session, site):
    from brand_hub.models import Franchisee

    return session.get(Franchisee, site.franchisee_id)


def test_a_site_without_data_shows_why_each_indicator_is_missing_in_chinese(client, session, network):
    from tests.builders import make_franchisee, make_site

    empty = make_site(session, make_franchisee(session), code="CD-EMPTY-01")
    score_period(session=session, period=parse_period("2026-Q4"), model=load_model_text(MODEL_TEXT),
                 actor=audit.SYSTEM, site_codes=[empty.code])
    email = make_user(session, Role.hq_viewer).email
    session.commit()
    login(client, email)
    page = client.get("/hq/scores/sites/CD-EMPTY-01").get_data(as_text=True)
    assert "card-insufficient" in page
    assert "仅有 0 小时数据，最低要求 2 小时" in page            # CO2: no occupied open hour with data
    assert "仅 0 份到期会员，最低要求 3 份" in page
    assert "仅 0 张工单，最低要求 3 张" in page


def test_the_portal_shows_a_quarters_card_only_once_hq_publishes_it_through_the_form(app, client, session, network):
    a, _b = network
    partner_email = make_user(session, Role.franchisee_admin, franchisee=_franchisee_of(session, a)).email
    manager_email = make_user(session, Role.hq_manager).email
    session.commit()
    login(client, partner_email)
    listing = client.get("/portal/scores").get_data(as_text=True)
    assert "评级待发布" in listing and "card-yellow" not in listing and "card-red" not in listing
    assert "69.6" in listing                       # the quarter's score stays visible, only the card waits
    card = client.get("/portal/scores/SH-A-01?period=2026-Q4").get_data(as_text=True)
    assert "评级待发布" in card and "card-yellow" not in card and "69.6" in card

    hq = app.test_client()
    login(hq, manager_email)
    overview = hq.get("/hq/scores/?period=2026-Q4").get_data(as_text=True)
    assert "尚未发布" in overview and "发布评级" in overview and 'action="/hq/scores/publish"' in overview
    assert overview.index("灵敏度") < overview.index('action="/hq/scores/publish"')   # sensitivity first
    response = post_form(hq, "/hq/scores/publish", {"period": "2026-Q4", "model_id": "small", "model_version": "1"},
                         token_from="/hq/scores/?period=2026-Q4")
    assert response.status_code == 302 and response.headers["Location"].endswith("/hq/scores/?period=2026-Q4")
    published = hq.get("/hq/scores/?period=2026-Q4").get_data(as_text=True)
    assert manager_email in published and 'action="/hq/scores/publish"' not in published

    listing = client.get("/portal/scores").get_data(as_text=True)
    assert "card-yellow" in listing                # Q4 published
    assert "card-red" not in listing and "评级待发布" in listing   # Q3 still waits
    assert "card-yellow" in client.get("/portal/scores/SH-A-01?period=2026-Q4").get_data(as_text=True)


def test_a_viewer_cannot_publish_cards_and_a_manager_can(app, client, session, network):
    viewer_email = make_user(session, Role.hq_viewer).email
    manager_email = make_user(session, Role.hq_manager).email
    session.commit()
    login(client, viewer_email)
    overview = client.get("/hq/scores/?period=2026-Q4").get_data(as_text=True)
    assert "尚未发布" in overview and 'action="/hq/scores/publish"' not in overview
    refused = post_form(client, "/hq/scores/publish", {"period": "2026-Q4"}, token_from="/hq/scores/")
    assert refused.status_code == 403
    assert session.exec(select(CardPublication)).all() == []
    manager = app.test_client()
    login(manager, manager_email)
    month = post_form(manager, "/hq/scores/publish", {"period": "2026-10"}, token_from="/hq/scores/")
    assert month.status_code == 302
    assert "cards are quarterly" in manager.get(month.headers["Location"]).get_data(as_text=True)
    assert post_form(manager, "/hq/scores/publish", {"period": "2026-Q4"}, token_from="/hq/scores/").status_code == 302
    session.expire_all()
    (row,) = session.exec(select(CardPublication)).all()
    assert (row.period, row.model_id, row.model_version, row.published_by) == ("2026-Q4", "small", 1, manager_email)


def test_the_scorecard_says_how_many_survey_answers_were_left_out_as_repeats(client, session, network):
    """Issue 11: a device's repeat answers are left out of NPS at the site; the scorecard counts them."""
    from datetime import datetime, timezone

    from brand_hub.models.collection import OpsEvent

    a, _ = network
    for n in range(4):
        session.add(OpsEvent(site_id=a.id, record_id=f"survey-repeat-{n}", kind="survey_repeat",
                             occurred_at=datetime(2026, 11, 10, 3, n, tzinfo=timezone.utc)))
    email = make_user(session, Role.hq_manager).email
    session.commit()
    login(client, email)
    page = client.get("/hq/scores/sites/SH-A-01?period=2026-Q4").get_data(as_text=True)
    assert "4 份重复答卷未计入" in page
