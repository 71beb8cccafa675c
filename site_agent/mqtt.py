"""MQTT intake: subscribe to ``brandhub/<site_code>/+/+`` and hand each message to the agent.

paho-mqtt's network loop runs in its own thread and reconnects by itself (with
backoff) when the broker goes away; the subscription is renewed on every connect.
The session is persistent (a fixed client id, ``clean_session`` off, QoS 1), so
the broker keeps what sensors publish while the agent is restarting and hands it
over when the agent is back. A message is acknowledged only once the buffer has it
on disk; one handed over twice is counted once: a reading with its own time by its
zone, metric and time, a bare number by the time its first delivery was dated with
(the buffer remembers it per packet id; a redelivery carries the DUP flag and the
same packet id).

After every connect the agent publishes a *drain marker* to its own topic; the
broker queues it behind the session's backlog, so when it comes back the backlog is
in, and the agent may seal the outage's buckets (``BacklogGate``). The broker's
``$SYS`` count of dropped messages is watched so drops at its queue limit are
reported in ``/v1/health``, not silent.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import paho.mqtt.client as mqtt

from .agent import Agent
from .intake import is_bare_number, reading_from_mqtt

log = logging.getLogger(__name__)
DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"


class MqttIntake:
    def __init__(self, agent: Agent, host: str, port: int = 1883, client_id: str = ""):
        self.agent = agent
        config = agent.config
        self.topic = f"brandhub/{config.site_code}/+/+"
        self.drain_topic = f"brandhub/{config.site_code}/_agent/drained"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or
                                  f"site-agent-{config.site_code}", clean_session=False, manual_ack=True)
        if config.mqtt_username:
            self.client.username_pw_set(config.mqtt_username, config.mqtt_password or None)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.host, self.port = host, port
        self._marker = ""

    @property
    def connected(self) -> bool:
        return self.agent.mqtt_connected

    def start(self) -> "MqttIntake":
        # sealing waits for the broker's backlog (or backlog_wait_seconds) from the very start
        self.agent.backlog.arm(self.agent.clock())
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
        client.subscribe([(self.topic, 1), (DROPPED_TOPIC, 0)])
        self._marker = uuid.uuid4().hex
        client.publish(self.drain_topic, self._marker, qos=1)
        self.agent.mqtt_connected = True
        self.agent.backlog.connected()
        log.info("subscribed to %s on %s:%s", self.topic, self.host, self.port)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.agent.mqtt_connected = False
        self.agent.backlog.arm(self.agent.clock())
        if reason_code.is_failure:
            log.warning("lost the MQTT broker %s:%s (%s); reconnecting", self.host, self.port, reason_code)

    def _on_message(self, client, _userdata, message) -> None:
        agent = self.agent
        try:
            if message.topic == DROPPED_TOPIC:
                agent.broker_dropped(int(message.payload))
            elif message.topic == self.drain_topic:
                if message.payload.decode("ascii", "replace") == self._marker:
                    agent.backlog.drained()
                    log.info("MQTT backlog drained")
            else:
                self._take(message)
        except Exception:  # one bad message or a full disk must not stop the subscriber thread
            log.exception("could not take in MQTT message on %s", message.topic)
        # acknowledged once on disk (or refused and counted): a crash before this means a redelivery
        client.ack(message.mid, message.qos)

    def _take(self, message) -> None:
        agent = self.agent
        now = agent.clock()
        dated = None
        if message.qos > 0 and is_bare_number(message.payload):
            dated = agent.buffer.bare_reading_time(message.mid, message.topic, message.payload, bool(message.dup),
                                                   now)
        item = reading_from_mqtt(message.topic, message.payload, site_code=agent.config.site_code,
                                 site_zone=agent.config.zone, now=now,
                                 max_future=timedelta(seconds=agent.config.max_future_seconds), dated=dated)
        agent.ingest_readings([item], streamed=True)
