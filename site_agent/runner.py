"""Start and stop a whole agent: HTTP server, MQTT intake and the housekeeping timer."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from .agent import Agent
from .config import AgentConfig
from .mqtt import MqttIntake
from .server import Server, create_app

log = logging.getLogger(__name__)


@dataclass
class RunningAgent:
    agent: Agent
    server: Server
    mqtt: MqttIntake | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _housekeeper: threading.Thread | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def wait(self) -> None:
        """Block until ``stop`` is called (from a signal handler or another thread)."""
        while not self._stop.wait(1):
            pass

    def stop(self) -> None:
        self._stop.set()
        if self.mqtt:
            self.mqtt.stop()
        self.server.stop()
        if self._housekeeper:
            self._housekeeper.join(timeout=5)
        self.agent.close()


def start(config: AgentConfig, housekeeping_seconds: float = 60) -> RunningAgent:
    """Open the buffer, serve HTTP on ``config.host:port`` and, when configured, subscribe to MQTT."""
    agent = Agent(config)
    server = Server(create_app(agent), config.host, config.port).start()
    intake = MqttIntake(agent, config.mqtt_host, config.mqtt_port).start() if config.mqtt_host else None
    running = RunningAgent(agent=agent, server=server, mqtt=intake)

    def housekeeping() -> None:
        while not running._stop.wait(housekeeping_seconds):
            try:
                agent.housekeeping()
            except Exception:  # a full disk now must not stop the next attempt
                log.exception("housekeeping failed")

    running._housekeeper = threading.Thread(target=housekeeping, name="agent-housekeeping", daemon=True)
    running._housekeeper.start()
    return running
