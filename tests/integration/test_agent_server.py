"""The agent's HTTP API and survey page, served for real on a loopback port."""
import re
from datetime import datetime, timedelta, timezone

import pytest
import requests

from standards.canonical import content_hash
from tests.builders import start_agent

TOKEN = "s3cret-site-token"


@pytest.fixture
def agent(tmp_path):
    running = start_agent(tmp_path, "SH-01", TOKEN)
    yield running
    running.stop()


def page_token(browser, agent) -> str:
    """The signed token of one visit of the survey page, as a browser would send it back."""
    page = browser.get(agent.url + "/survey", timeout=5).text
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def auth(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/v1/health", "/v1/readings", "/v1/nps", "/v1/events", "/v1/config"])
def test_the_pull_api_refuses_requests_without_the_right_token(agent, path):
    assert requests.get(agent.url + path, timeout=5).status_code == 401
    assert requests.get(agent.url + path, headers=auth("wrong"), timeout=5).status_code == 401
    assert requests.get(agent.url + path, headers=auth(), timeout=5).status_code == 200


def test_ingest_needs_the_token_too(agent):
    assert requests.post(agent.url + "/v1/ingest", json={"readings": []}, timeout=5).status_code == 401


def test_a_bad_cursor_gets_a_clear_400(agent):
    answer = requests.get(agent.url + "/v1/readings?after=abc", headers=auth(), timeout=5)
    assert answer.status_code == 400 and "after must be an integer" in answer.json()["detail"]


def test_the_survey_page_speaks_chinese_by_default_and_english_on_request(agent):
    chinese = requests.get(agent.url + "/survey", timeout=5)
    english = requests.get(agent.url + "/survey?lang=en", timeout=5)
    assert "您愿意向朋友推荐我们吗" in chinese.text and 'lang="zh-CN"' in chinese.text
    assert "Would you recommend us?" in english.text and 'lang="en"' in english.text
    assert 'name="viewport"' in chinese.text and chinese.text.count('type="radio" name="score"') == 11


def test_an_english_browser_gets_the_english_survey(agent):
    page = requests.get(agent.url + "/survey", headers={"Accept-Language": "en-GB,en;q=0.9"}, timeout=5)
    assert "Would you recommend us?" in page.text


def test_a_survey_answer_is_stored_with_its_language_and_a_scrubbed_comment(agent):
    browser = requests.Session()  # issue 11: a post carries the token of the page it came from
    thanks = browser.post(agent.url + "/survey?lang=en", data={"score": "4", "lang": "en",
                                                               "comment": "noisy; mail me at x@y.com",
                                                               "token": page_token(browser, agent)}, timeout=5)
    assert thanks.status_code == 200 and "Thank you" in thanks.text
    records = requests.get(agent.url + "/v1/nps", headers=auth(), timeout=5).json()["records"]
    assert [(r["score"], r["language"], r["comment"]) for r in records] == [(4, "en", "noisy; mail me at [email]")]


def test_a_survey_without_a_score_in_range_is_refused_and_nothing_stored(agent):
    browser = requests.Session()
    answer = browser.post(agent.url + "/survey", data={"score": "11", "comment": "",
                                                       "token": page_token(browser, agent)}, timeout=5)
    assert answer.status_code == 400 and "请选择 0 到 10 之间的分数" in answer.text
    assert requests.get(agent.url + "/v1/nps", headers=auth(), timeout=5).json()["records"] == []


def test_put_config_stores_it_and_get_and_health_report_its_hash(agent):
    content = {"features": {"nps_survey": True}, "hours": {"mon": [["09:00", "21:00"]]}}
    put = requests.put(agent.url + "/v1/config", json={"version": 2, "hash": content_hash(content),
                                                         "config": content}, headers=auth(), timeout=5)
    assert put.json() == {"applied_hash": content_hash(content)}
    got = requests.get(agent.url + "/v1/config", headers=auth(), timeout=5).json()
    assert (got["version"], got["hash"], got["config"]) == (2, content_hash(content), content)
    assert requests.get(agent.url + "/v1/health", headers=auth(), timeout=5).json()["config_hash"] == \
        content_hash(content)


def test_a_config_whose_hash_does_not_match_is_refused(agent):
    answer = requests.put(agent.url + "/v1/config", json={"version": 2, "hash": "sha256:00", "config": {"a": 1}},
                          headers=auth(), timeout=5)
    assert answer.status_code == 422 and "does not match" in answer.json()["detail"]
    assert requests.get(agent.url + "/v1/health", headers=auth(), timeout=5).json()["config_hash"] is None


def test_ingested_events_come_back_through_the_events_cursor(agent):
    at = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    events = [{"id": f"M-{i}", "kind": "membership_started", "at": at, "ref": f"M-{i}"} for i in range(3)]
    result = requests.post(agent.url + "/v1/ingest", json={"events": events + events[:1]}, headers=auth(),
                           timeout=5).json()
    assert result["events"]["accepted"] == 3   # a repeated event id is taken once
    page = requests.get(agent.url + "/v1/events?after=1&limit=1", headers=auth(), timeout=5).json()
    assert [r["record_id"] for r in page["records"]] == ["M-1"] and page["more"] is True
