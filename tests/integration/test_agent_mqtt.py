"""The agent's MQTT intake against a broker of its own: restarts, queued messages, redeliveries.

Each test runs a private Mosquitto on a free loopback port, so it can stop and start
the broker without touching the shared one.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone

import paho.mqtt.client as mqtt
import pytest

from tests.builders import start_agent
from tests.conftest import _reachable, missing

pytestmark = pytest.mark.mqtt
MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
SITE = "MQ-PRIV-01"
TWO_HOURS_AGO = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(hours=2)


class Broker:
    """A Mosquitto process on its own port, which a test can stop and start again."""

    def __init__(self, directory):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> "Broker":
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for(lambda: _reachable("127.0.0.1", self.port), "the private broker accepts connections")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def wait_for(condition, what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


@pytest.fixture
def broker(tmp_path):
    if MOSQUITTO is None:
        missing("the mosquitto program is not installed", "run scripts/setup.sh")
    b = Broker(tmp_path).start()
    yield b
    b.stop()


def publish(port: int, *messages: tuple[str, float, datetime]) -> None:
    """Publish (zone, CO2 value, time) readings with QoS 1 and wait until the broker has each."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for zone, value, at in messages:
            client.publish(f"brandhub/{SITE}/{zone}/co2_ppm", json.dumps({"ts": at.isoformat(), "value": value}),
                           qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()


def taken(running) -> dict[tuple[str, str], tuple[int, float]]:
    """(zone, bucket start) → (count, mean) of what the agent holds, sealing what has ended."""
    running.agent.health()
    return {(r["zone"], r["bucket_start"]): (r["count"], r["mean"])
            for r in running.agent.page("readings", 0, 1000)["records"]}


def agent_on(broker: Broker, tmp_path):
    running = start_agent(tmp_path, SITE, "token", mqtt_host="127.0.0.1", mqtt_port=broker.port)
    wait_for(lambda: running.mqtt.connected, "the agent subscribed")
    return running


def test_the_agent_reconnects_by_itself_after_the_broker_restarts(broker, tmp_path):
    running = agent_on(broker, tmp_path)
    try:
        publish(broker.port, ("desk", 600, TWO_HOURS_AGO))
        wait_for(lambda: len(taken(running)) == 1, "the first reading arrived")
        broker.stop()
        wait_for(lambda: not running.mqtt.connected, "the agent noticed the broker went away")
        broker.start()
        wait_for(lambda: running.mqtt.connected, "the agent reconnected and subscribed again", seconds=40)
        publish(broker.port, ("desk", 800, TWO_HOURS_AGO + timedelta(minutes=30)))
        wait_for(lambda: len(taken(running)) == 2, "a reading published after the restart arrived")
    finally:
        running.stop()


def test_readings_published_while_the_agent_restarts_are_kept_by_the_broker_and_delivered(broker, tmp_path):
    running = agent_on(broker, tmp_path)
    running.stop()  # a clean stop keeps the agent's session (and its subscription) at the broker
    publish(broker.port, ("desk", 700, TWO_HOURS_AGO), ("meeting", 900, TWO_HOURS_AGO))
    running = agent_on(broker, tmp_path)  # same site, same buffer file
    try:
        wait_for(lambda: len(taken(running)) == 2, "the queued readings were handed over")
        start = TWO_HOURS_AGO.replace(minute=TWO_HOURS_AGO.minute - TWO_HOURS_AGO.minute % 15)
        key = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert taken(running) == {("desk", key): (1, 700.0), ("meeting", key): (1, 900.0)}
    finally:
        running.stop()


def test_a_reading_delivered_twice_is_counted_once_and_the_repeat_is_reported(broker, tmp_path):
    running = agent_on(broker, tmp_path)
    try:
        same = ("desk", 650, TWO_HOURS_AGO)
        # the repeat comes last: once it is noticed, the readings before it (one topic, in order) are in too,
        # and reading the page cannot seal the bucket before the 750 arrives
        publish(broker.port, ("desk", 750, TWO_HOURS_AGO + timedelta(minutes=1)), same, same)
        wait_for(lambda: running.agent.health()["rejects"].get("duplicate") == 1, "the repeat was noticed")
        wait_for(lambda: taken(running), "the stream paused and its bucket was sealed")
        [(count, mean)] = taken(running).values()
        assert (count, mean) == (2, 700.0)
    finally:
        running.stop()
