"""The agent's edge rules without a broker: sealing follows the stream, the backlog gate, bare-number
identity on redelivery, the broker's drop count, the MQTT login from the environment."""
from datetime import datetime, timedelta, timezone

import pytest

from site_agent.agent import Agent
from site_agent.config import AgentConfig, load_config
from site_agent.intake import reading_from_mqtt

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, at: datetime = NOW):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def make_agent(tmp_path, clock=None, **config) -> Agent:
    values = dict(site_code="SH-01", token="t", buffer_path=str(tmp_path / "buffer.sqlite"), timezone="UTC")
    values.update(config)
    return Agent(AgentConfig(**values), clock=clock or Clock())


def streamed(agent: Agent, *readings: tuple[datetime, float]):
    items = [agent.check("a", "co2_ppm", value, at.isoformat()) for at, value in readings]
    return agent.ingest_readings(items, streamed=True)


def sealed(agent: Agent) -> list[tuple[str, int]]:
    return [(r["bucket_start"], r["count"]) for r in agent.page("readings", 0, 100)["records"]]


def test_a_replayed_streams_bucket_stays_open_until_the_stream_moves_past_it(tmp_path):
    clock = Clock()
    agent = make_agent(tmp_path, clock)
    day_ago = NOW - timedelta(days=1)
    streamed(agent, (day_ago, 500), (day_ago + timedelta(minutes=5), 600))
    assert sealed(agent) == []                     # long past its grace, but the replay is still in it
    streamed(agent, (day_ago + timedelta(minutes=15), 700))
    assert sealed(agent) == [("2026-11-19T08:00:00Z", 2)]
    clock.at = NOW + timedelta(seconds=4)          # the replay paused longer than seal_quiet_seconds
    assert sealed(agent) == [("2026-11-19T08:00:00Z", 2), ("2026-11-19T08:15:00Z", 1)]


def test_live_readings_seal_at_the_buckets_end_plus_grace(tmp_path):
    clock = Clock(NOW - timedelta(minutes=1))
    agent = make_agent(tmp_path, clock, seal_grace_seconds=60)
    streamed(agent, (NOW - timedelta(minutes=1), 500))
    clock.at = NOW + timedelta(seconds=61)
    streamed(agent, (NOW + timedelta(seconds=61), 600))   # the stream moved on
    assert sealed(agent) == [("2026-11-20T07:45:00Z", 1)]


def test_sealing_waits_for_the_mqtt_backlog_or_a_bounded_time_which_is_reported(tmp_path):
    clock = Clock()
    agent = make_agent(tmp_path, clock, mqtt_host="127.0.0.1", backlog_wait_seconds=60)
    agent.ingest_readings([agent.check("a", "co2_ppm", 500, (NOW - timedelta(hours=1)).isoformat())])
    agent.backlog.arm(NOW)
    agent.backlog.connected()
    assert sealed(agent) == [] and agent.health()["mqtt"]["backlog"] == "draining"
    agent.backlog.drained()
    assert sealed(agent) == [("2026-11-20T07:00:00Z", 1)]

    agent.backlog.arm(NOW)                          # the broker went away again
    agent.ingest_readings([agent.check("a", "co2_ppm", 500, (NOW - timedelta(minutes=40)).isoformat())])
    assert len(sealed(agent)) == 1
    clock.at = NOW + timedelta(seconds=61)
    assert len(sealed(agent)) == 2
    mqtt = agent.health()["mqtt"]
    assert (mqtt["backlog"], mqtt["backlog_wait_expired"]) == ("gave_up", 1)


def test_a_redelivered_bare_number_keeps_the_time_of_its_first_delivery(tmp_path):
    agent = make_agent(tmp_path)
    first = agent.buffer.bare_reading_time(7, "brandhub/SH-01/a/co2_ppm", b"612", False, NOW)
    again = agent.buffer.bare_reading_time(7, "brandhub/SH-01/a/co2_ppm", b"612", True, NOW + timedelta(seconds=9))
    other = agent.buffer.bare_reading_time(7, "brandhub/SH-01/a/co2_ppm", b"613", True, NOW + timedelta(seconds=9))
    fresh = agent.buffer.bare_reading_time(7, "brandhub/SH-01/a/co2_ppm", b"612", False, NOW + timedelta(seconds=9))
    assert (first, again, other, fresh) == (NOW, NOW, NOW + timedelta(seconds=9), NOW + timedelta(seconds=9))

    def reading(dated):
        return reading_from_mqtt("brandhub/SH-01/a/co2_ppm", b"612", site_code="SH-01", site_zone=agent.config.zone,
                                 now=NOW + timedelta(seconds=9), max_future=timedelta(minutes=5), dated=dated)
    outcome = agent.ingest_readings([reading(first), reading(again)], streamed=True)
    assert (outcome.accepted, outcome.by_reason()) == (1, {"duplicate": 1})


def test_the_brokers_drop_count_is_reported_from_what_grows_after_the_agent_first_saw_it(tmp_path):
    agent = make_agent(tmp_path)
    assert agent.broker_dropped(15) == 0          # before the agent knew this broker: not its own
    assert agent.broker_dropped(55) == 40
    assert agent.broker_dropped(55) == 0
    assert agent.broker_dropped(3) == 3           # the broker restarted and counts from 0 again
    assert agent.health()["mqtt"]["broker_dropped"] == 43


def test_the_mqtt_password_comes_from_the_variable_the_config_names(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text("site_code: SH-01\nmqtt_username: agent-SH-01\nmqtt_password_env: MQ_PW\n")
    config = load_config(path, environ={"MQ_PW": "s3cret"})
    assert (config.mqtt_username, config.mqtt_password) == ("agent-SH-01", "s3cret")
    with pytest.raises(ValueError, match="MQ_PW"):
        load_config(path, environ={})


def test_the_shipped_broker_config_persists_authenticates_and_is_sized_for_a_days_outage():
    from site_agent import broker

    shipped = broker.CONFIG.read_text()
    for line in ("persistence true", "allow_anonymous false", "max_queued_messages 300000",
                 "password_file /etc/mosquitto/brandhub.passwd", "acl_file /etc/mosquitto/brandhub.acl"):
        assert f"\n{line}\n" in shipped
    assert broker.queue_limit(200, headroom=1) == 288_000 <= 300_000   # 200 readings a minute, 24 h
    private = broker.render(port=18830, bind="127.0.0.1", max_queued=50, data_dir="/tmp/x")
    assert "\nlistener 18830 127.0.0.1\n" in private and "\nmax_queued_messages 50\n" in private
    assert "\npersistence_location /tmp/x/\n" in private and "\nallow_anonymous false\n" in private
    acl = broker.acl("SH-01")
    assert "user sensors-SH-01\ntopic write brandhub/SH-01/#" in acl
    assert "user agent-SH-01\ntopic read brandhub/SH-01/#" in acl
