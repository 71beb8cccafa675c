"""The agent's buffer: sealed buckets never change, nothing accepted is lost, limits are reported."""
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
import yaml

from site_agent.agent import Agent
from site_agent.config import AgentConfig

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def make_agent(tmp_path, **config) -> Agent:
    values = dict(site_code="SH-01", token="secret-token", buffer_path=str(tmp_path / "buffer.sqlite"))
    values.update(config)
    return Agent(AgentConfig(**values), clock=lambda: NOW)


def readings(agent: Agent, *pairs):
    """(minutes before now, value) → checked co2 readings of zone a."""
    return [agent.check("a", "co2_ppm", value, (NOW - timedelta(minutes=ago)).isoformat()) for ago, value in pairs]


def test_readings_fold_into_one_bucket_with_count_mean_min_and_max(tmp_path):
    agent = make_agent(tmp_path)
    agent.ingest_readings(readings(agent, (59, 500), (55, 700), (50, 600)))   # 07:01, 07:05, 07:10 UTC

    page = agent.page("readings", 0, 100)

    assert [(r["bucket_start"], r["count"], r["mean"], r["min"], r["max"]) for r in page["records"]] == [
        ("2026-11-20T07:00:00Z", 3, 600.0, 500.0, 700.0)]


def test_a_bucket_is_published_only_after_its_grace_period(tmp_path):
    agent = make_agent(tmp_path, seal_grace_seconds=300)
    agent.ingest_readings(readings(agent, (3, 500), (17, 600)))   # bucket 07:45 ended at 08:00: still in grace

    page = agent.page("readings", 0, 100)

    assert [r["bucket_start"] for r in page["records"]] == ["2026-11-20T07:30:00Z"]
    assert agent.health()["open_buckets"] == 1


def test_a_reading_for_a_pulled_bucket_amends_it_as_a_new_revision_after_the_hubs_cursor(tmp_path):
    agent = make_agent(tmp_path)
    agent.ingest_readings(readings(agent, (50, 600)))
    [first] = agent.page("readings", 0, 100)["records"]
    assert first["revision"] == 0

    outcome = agent.ingest_readings(readings(agent, (49, 900)))

    assert (outcome.accepted, outcome.amended, outcome.refused) == (1, 1, [])
    page = agent.page("readings", first["seq"], 100)   # the hub asks after what it has
    [amended] = page["records"]
    assert amended["seq"] > first["seq"] and amended["revision"] == 1
    assert (amended["bucket_start"], amended["count"], amended["mean"], amended["max"]) == (
        first["bucket_start"], 2, 750.0, 900.0)
    assert agent.page("readings", 0, 100)["records"] == [amended]   # one bucket, its latest revision
    health = agent.health()
    assert health["rejects"] == {} and health["amended"] == 1


def test_only_a_reading_for_a_bucket_sealed_beyond_the_horizon_is_refused_and_counted(tmp_path):
    agent = make_agent(tmp_path, amend_horizon_days=1)
    agent.ingest_readings(readings(agent, (3 * 1440, 600), (50, 600)))
    agent.page("readings", 0, 100)

    outcome = agent.ingest_readings(readings(agent, (3 * 1440 - 1, 700), (49, 700)))

    assert (outcome.accepted, outcome.amended, outcome.by_reason()) == (1, 1, {"beyond_horizon": 1})
    assert agent.health()["rejects"] == {"beyond_horizon": 1}


def test_a_post_retried_after_a_timeout_counts_its_readings_once(tmp_path):
    agent = make_agent(tmp_path, seal_grace_seconds=3600)
    body = {"readings": [{"zone": "a", "metric": "co2_ppm", "value": v, "ts": (NOW - timedelta(minutes=m)).isoformat()}
                         for m, v in ((4, 600), (2, 800))]}
    assert agent.ingest_payload(body)["readings"]["accepted"] == 2
    retried = agent.ingest_payload(body)  # the site system never saw the first answer and sends it all again
    assert retried["readings"]["accepted"] == 0
    agent.ingest_readings(readings(agent, (1, 1000)))  # a new reading of the same bucket still counts
    agent.buffer.seal(NOW + timedelta(hours=2), timedelta(0))
    [bucket] = agent.page("readings", 0, 100)["records"]
    assert (bucket["count"], bucket["mean"]) == (3, 800.0)
    assert agent.health()["rejects"] == {"duplicate": 2}


def test_once_its_bucket_is_sealed_a_repeated_reading_still_counts_once_and_is_forgotten_past_the_horizon(tmp_path):
    agent = make_agent(tmp_path, amend_horizon_days=1)
    agent.ingest_readings(readings(agent, (50, 600)))
    [sealed] = agent.page("readings", 0, 100)["records"]   # seals the 07:00 bucket
    assert agent.ingest_readings(readings(agent, (50, 600))).by_reason() == {"duplicate": 1}
    assert agent.page("readings", 0, 100)["records"] == [sealed]
    agent.clock = lambda: NOW + timedelta(days=2)
    agent.housekeeping()
    remembered = agent.buffer._db.execute("SELECT count(*) FROM seen_reading").fetchone()[0]
    assert remembered == 0  # nothing kept for buckets that can no longer change


def test_refusals_are_counted_by_reason_in_health(tmp_path):
    agent = make_agent(tmp_path)
    agent.ingest_payload({"readings": [{"zone": "a", "metric": "co2_ppm", "value": 50, "ts": NOW.isoformat()},
                                       {"zone": "a", "metric": "wind", "value": 3, "ts": NOW.isoformat()},
                                       {"zone": "a", "metric": "wind", "value": 3, "ts": NOW.isoformat()},
                                       "garbage"]})
    assert agent.health()["rejects"] == {"out_of_range": 1, "unknown_metric": 2, "unparseable": 1}


def test_the_cursor_pages_through_records_in_order_and_health_counts_what_is_unpulled(tmp_path):
    agent = make_agent(tmp_path)
    agent.ingest_readings(readings(agent, *[(60 + 15 * i, 500 + i) for i in range(5)]))

    first = agent.page("readings", 0, 2)
    second = agent.page("readings", int(first["cursor"]), 2)
    assert (first["cursor"], first["more"], second["cursor"], second["more"]) == ("2", True, "4", True)
    assert agent.health()["unpulled"]["readings"] == 3   # asking after 2 says the hub has 1–2
    assert agent.health()["oldest_unpulled"] == "2026-11-20T06:30:00Z"


def test_pulled_records_past_retention_are_deleted_but_unpulled_ones_are_kept(tmp_path):
    agent = make_agent(tmp_path, retention_days=1)
    agent.ingest_readings(readings(agent, (3 * 1440, 500), (2 * 1440, 510), (60, 520)))
    agent.page("readings", 0, 1)
    agent.page("readings", 1, 1)        # the hub has committed record 1

    agent.housekeeping()

    assert [r["mean"] for r in agent.page("readings", 0, 10)["records"]] == [510.0, 520.0]


def test_at_the_buffer_limit_the_oldest_records_go_and_that_is_reported(tmp_path):
    agent = make_agent(tmp_path, buffer_limit=3)
    agent.ingest_readings(readings(agent, *[(60 + 15 * i, 500 + i) for i in range(5)]))

    dropped = agent.housekeeping()

    assert dropped == {"readings": 2}
    assert agent.health()["dropped_at_buffer_limit"] == {"readings": 2}
    assert len(agent.page("readings", 0, 10)["records"]) == 3


def test_a_delivered_config_is_kept_across_restarts_and_its_hash_reported(tmp_path):
    from standards.canonical import content_hash
    content = {"features": {"survey": True}, "hvac": {"co2_alert_ppm": 1000}}
    agent = make_agent(tmp_path)
    assert agent.apply_config({"version": 3, "hash": content_hash(content), "config": content}) == content_hash(content)
    agent.close()

    again = make_agent(tmp_path)
    assert again.health()["config_hash"] == content_hash(content)
    assert again.current_config()["config"] == content and again.current_config()["version"] == 3


def test_a_killed_agent_process_loses_no_accepted_reading(tmp_path):
    config_file = tmp_path / "agent.yaml"
    config_file.write_text(yaml.safe_dump({"site_code": "SH-01", "token_env": "AGENT_TOKEN", "port": 0,
                                           "buffer_path": "buffer.sqlite"}))
    env = dict(os.environ, AGENT_TOKEN="secret-token")
    process = subprocess.Popen([sys.executable, "-c", "from cli.main import cli; cli()", "agent", "run", "--config",
                                str(config_file)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()
        url = line.split(" on ")[1].split(" ")[0]
        now = datetime.now(timezone.utc)
        body = {"readings": [{"zone": "a", "metric": "co2_ppm", "value": 500 + i,
                              "ts": (now - timedelta(hours=3, minutes=15 * i)).isoformat()} for i in range(40)]}
        answer = requests.post(url + "/v1/ingest", json=body, headers={"Authorization": "Bearer secret-token"},
                               timeout=10).json()
        assert answer["readings"]["accepted"] == 40
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        process.stdout.close()

    agent = Agent(AgentConfig(site_code="SH-01", token="t", buffer_path=str(tmp_path / "buffer.sqlite")))
    try:
        assert len(agent.page("readings", 0, 100)["records"]) == 40
    finally:
        agent.close()
