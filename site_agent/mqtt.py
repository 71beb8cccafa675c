"""MQTT intake: subscribe to ``brandhub/<site_code>/+/+`` and hand each message to the agent.

paho-mqtt's network loop runs in its own thread and reconnects by itself (with
backoff) when the broker goes away; the subscription is renewed on every connect.
The session is persistent (a fixed client id, ``clean_session`` off, QoS 1), so
the broker keeps what sensors publish while the agent is restarting and hands it
over when the agent is back; a message handed over twice is counted once (the
buffer knows every reading it took by zone, metric and time).
"""
from __future__ import annotations

import logging
from datetime import timedelta

import paho.mqtt.client as mqtt

from .agent import Agent
from .intake import reading_from_mqtt

log = logging.getLogger(__name__)


class MqttIntake:
    def __init__(self, agent: Agent, host: str, port: int = 1883, client_id: str = ""):
        self.agent = agent
        self.topic = f"brandhub/{agent.config.site_code}/+/+"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or
                                  f"site-agent-{agent.config.site_code}", clean_session=False)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.host, self.port = host, port
        self.connected = False

    def start(self) -> "MqttIntake":
        # connect_async + loop_start: the first connection and every reconnection happen in paho's thread
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.warning("MQTT broker %s:%s refused the connection: %s", self.host, self.port, reason_code)
            return
        client.subscribe(self.topic, qos=1)
        self.connected = True
        log.info("subscribed to %s on %s:%s", self.topic, self.host, self.port)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.connected = False
        if reason_code.is_failure:
            log.warning("lost the MQTT broker %s:%s (%s); reconnecting", self.host, self.port, reason_code)

    def _on_message(self, _client, _userdata, message) -> None:
        agent = self.agent
        try:
            item = reading_from_mqtt(message.topic, message.payload, site_code=agent.config.site_code,
                                     site_zone=agent.config.zone, now=agent.clock(),
                                     max_future=timedelta(seconds=agent.config.max_future_seconds))
            agent.ingest_readings([item])
        except Exception:  # one bad message or a full disk must not stop the subscriber thread
            log.exception("could not take in MQTT message on %s", message.topic)
