"""Surveys people cannot stuff: the real agent on a loopback port, replaying the stuffing of issue 11."""
from __future__ import annotations

import re
import sqlite3
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

from scoring.nps import NpsCounts, nps_value
from site_agent.survey import RateLimit, SurveyLedger, TokenRefused, ledger_for, window_days
from standards.canonical import content_hash
from tests.builders import start_agent

TOKEN = "s3cret-site-token"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"


@pytest.fixture
def agent(tmp_path):
    running = start_agent(tmp_path, "SH-01", TOKEN)
    yield running
    running.stop()


def answer(browser: requests.Session, agent, score: int, **headers) -> requests.Response:
    page = browser.get(agent.url + "/survey", headers=headers, timeout=5).text
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    return browser.post(agent.url + "/survey", data={"score": str(score), "comment": "", "token": token},
                        headers=headers, timeout=5)


def hub_nps(agent) -> tuple[float | None, int]:
    """The NPS the hub would compute from what it can pull, and how many repeats it is told of."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    scores = [r["score"] for r in requests.get(agent.url + "/v1/nps?limit=5000", headers=auth, timeout=5)
              .json()["records"]]
    events = requests.get(agent.url + "/v1/events?limit=5000", headers=auth, timeout=5).json()["records"]
    return nps_value(NpsCounts.of(scores)), sum(1 for e in events if e["kind"] == "survey_repeat")


def members_answer(agent, scores):
    for n, score in enumerate(scores):
        assert answer(requests.Session(), agent, score, **{"User-Agent": f"member-phone-{n}"}).status_code == 200


def test_five_zeros_from_one_phone_in_two_seconds_leave_the_nps_unchanged(agent):
    ledger_for(agent.agent).limits = RateLimit(limit=100)  # the members below share the test's loopback address
    members_answer(agent, [9, 10, 9, 8, 7, 10, 6, 9])
    phone = requests.Session()
    assert answer(phone, agent, 9, **{"User-Agent": PHONE}).status_code == 200  # the phone's one honest answer
    before = hub_nps(agent)
    ledger_for(agent.agent).limits = RateLimit()  # the site's real limit from here on
    started = time.monotonic()
    replies = [answer(phone, agent, 0, **{"User-Agent": PHONE}) for _ in range(5)]
    assert time.monotonic() - started < 2
    after = hub_nps(agent)
    assert after[0] == before[0]  # the NPS is unchanged
    assert [r.status_code for r in replies] == [200, 200, 200, 429, 429]  # three a minute, then wait
    assert "谢谢" in replies[0].text  # thanked like anyone: a stuffer learns nothing
    assert after[1] == 3  # the hub is told three answers were left out (no score, no device)
    assert ledger_for(agent.agent).counts() == {"counted": 9, "repeats": 3}  # kept at the site, marked


def test_a_stuffer_dropping_the_cookie_is_still_the_same_device_by_address_and_browser(agent):
    members_answer(agent, [10])
    for _ in range(2):
        answer(requests.Session(), agent, 0, **{"User-Agent": PHONE})  # a fresh cookie each time
    assert hub_nps(agent) == (0.0, 1)  # one 10, one 0 counted; the second 0 left out


def test_a_post_without_a_valid_token_of_this_site_is_refused(agent, tmp_path):
    ledger_for(agent.agent).limits = RateLimit(limit=100)  # refusals count against the limit too
    browser = requests.Session()
    refused = browser.post(agent.url + "/survey", data={"score": "0", "token": "forged.token"}, timeout=5)
    assert refused.status_code == 400 and "过期" in refused.text
    other = SurveyLedger(tmp_path / "other.sqlite", "BJ-01").issue_token(datetime.now(timezone.utc))
    assert browser.post(agent.url + "/survey", data={"score": "0", "token": other}, timeout=5).status_code == 400
    page = browser.get(agent.url + "/survey", timeout=5).text
    token = re.search(r'name="token" value="([^"]+)"', page).group(1)
    assert browser.post(agent.url + "/survey", data={"score": "9", "token": token}, timeout=5).status_code == 200
    assert browser.post(agent.url + "/survey", data={"score": "9", "token": token}, timeout=5).status_code == 400
    assert hub_nps(agent) == (100.0, 0)


def test_the_device_hash_and_its_salt_never_leave_the_site(agent):
    phone = requests.Session()
    answer(phone, agent, 9, **{"User-Agent": PHONE})
    answer(phone, agent, 0, **{"User-Agent": PHONE})
    ledger = ledger_for(agent.agent)
    hashes = [row[0] for row in sqlite3.connect(ledger.path).execute("SELECT device_hash FROM survey_answer")]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    pulled = "".join(requests.get(agent.url + f"/v1/{s}", headers=auth, timeout=5).text
                     for s in ("nps", "events", "health", "readings"))
    assert hashes and not any(h in pulled for h in hashes)
    assert ledger._secret.hex() not in pulled


def test_the_window_comes_from_the_delivered_site_config(agent, tmp_path):
    assert window_days(None) == 30 and window_days({"survey": {"window_days": 7}}) == 7
    assert window_days({"survey": {"window_days": "nonsense"}}) == 30
    content = {"survey": {"window_days": 1}}
    requests.put(agent.url + "/v1/config", json={"version": 2, "hash": content_hash(content), "config": content},
                 headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).raise_for_status()
    ledger = SurveyLedger(tmp_path / "ledger.sqlite", "SH-01")
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    first = ledger.judge(cookie="c", address="10.0.0.5", user_agent=PHONE, score=9, now=now, window=1)
    again = ledger.judge(cookie="c", address="10.0.0.5", user_agent=PHONE, score=9, now=now + timedelta(hours=3),
                         window=1)
    later = ledger.judge(cookie="c", address="10.0.0.5", user_agent=PHONE, score=9, now=now + timedelta(days=2),
                         window=1)
    assert (first.repeat, again.repeat, later.repeat) == (False, True, False)


def test_an_old_token_is_refused(tmp_path):
    ledger = SurveyLedger(tmp_path / "ledger.sqlite", "SH-01")
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    token = ledger.issue_token(now)
    with pytest.raises(TokenRefused):
        ledger.spend_token(token, now + timedelta(hours=3))
