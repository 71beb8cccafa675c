"""The agent's API and survey refuse hostile input cleanly (4xx), never a 500."""
from __future__ import annotations

import pytest
import requests

from tests.builders import start_agent

TOKEN = "s3cret-site-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def agent(tmp_path):
    running = start_agent(tmp_path, "SH-01", TOKEN)
    yield running
    running.stop()


@pytest.mark.parametrize("score", ["NaN", "nan", "inf", "-inf", "1e309", "Infinity", "1e20", "10.5", "\x00"])
def test_the_survey_refuses_scores_that_are_not_0_to_10(agent, score):
    answer = requests.post(agent.url + "/survey", data={"score": score}, timeout=5)
    assert answer.status_code == 400


@pytest.mark.parametrize("after", ["1e20", "100000000000000000000", "18446744073709551616", "-1", "NaN", "9" * 400])
def test_a_cursor_beyond_any_sequence_is_a_400(agent, after):
    answer = requests.get(agent.url + f"/v1/readings?after={after}", headers=AUTH, timeout=5)
    assert answer.status_code == 400, answer.text


def test_the_largest_cursor_is_still_answered(agent):
    answer = requests.get(agent.url + f"/v1/readings?after={2**63 - 1}", headers=AUTH, timeout=5)
    assert answer.status_code == 200 and answer.json()["records"] == []


@pytest.mark.parametrize("path,method", [("/v1/ingest", "post"), ("/v1/config", "put")])
def test_deeply_nested_json_is_refused_quickly(agent, path, method):
    body = "[" * 100_000 + "]" * 100_000
    answer = requests.request(method, agent.url + path, data=body, headers={**AUTH, "Content-Type": "application/json"},
                              timeout=10)
    assert answer.status_code == 400 and "nested" in answer.json()["detail"]
    one_sided = requests.request(method, agent.url + path, data="{" * 5000,
                                 headers={**AUTH, "Content-Type": "application/json"}, timeout=10)
    assert one_sided.status_code == 400


def test_brackets_inside_strings_do_not_count_as_nesting(agent):
    body = {"readings": [], "events": [], "note": "[" * 1000}
    answer = requests.post(agent.url + "/v1/ingest", json=body, headers=AUTH, timeout=5)
    assert answer.status_code == 200


def test_an_oversized_body_is_refused(agent):
    answer = requests.post(agent.url + "/v1/ingest", data=b"[" + b" " * (5 * 1024 * 1024) + b"]",
                           headers={**AUTH, "Content-Type": "application/json"}, timeout=20)
    assert answer.status_code == 413
