"""Real processes for the edge cases: a private broker from the project's config, agent processes
that can be killed, sensors that publish, a proxy that loses acknowledgements, the UCI day.

Used by ``tests/integration/test_agent_edges.py`` and ``bench/bench_faults.py``.
"""
from __future__ import annotations

import csv
import getpass
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import requests
import yaml

from site_agent import broker as site_broker

ROOT = Path(__file__).resolve().parents[2]
MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
UCI_DAY = ROOT / "site_agent" / "data" / "uci-occupancy" / "datatraining.txt"
UCI_METRICS = {"Temperature": "temperature_c", "Humidity": "humidity_pct", "Light": "illuminance_lux",
               "CO2": "co2_ppm", "Occupancy": "zone_occupied"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(condition, what: str, seconds: float = 20, every: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting until {what}")


class OurBroker:
    """Mosquitto from ``site_agent/broker/mosquitto.conf`` on a free loopback port, with one site's logins."""

    def __init__(self, directory: Path, site: str, max_queued: int | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.site, self.port = site, free_port()
        self.agent_login = (site_broker.agent_login(site), secrets.token_urlsafe(12))
        self.sensor_login = (site_broker.sensors_login(site), secrets.token_urlsafe(12))
        (self.directory / "brandhub.acl").write_text(site_broker.acl(site))
        site_broker.write_passwords(self.directory / "brandhub.passwd", dict([self.agent_login, self.sensor_login]))
        (self.directory / "data").mkdir(exist_ok=True)
        self.conf = self.directory / "mosquitto.conf"
        self.conf.write_text(site_broker.render(
            port=self.port, bind="127.0.0.1", data_dir=self.directory / "data",
            password_file=self.directory / "brandhub.passwd", acl_file=self.directory / "brandhub.acl",
            max_queued=max_queued, sys_interval=1, pid_file=self.directory / "mosquitto.pid",
            user=getpass.getuser()))
        self.process: subprocess.Popen | None = None

    def start(self) -> "OurBroker":
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        wait_for(lambda: reachable(self.port), "the private broker accepts connections")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class AgentProcess:
    """``brandhub agent run`` in its own process, on a fixed port, so it can be killed and started again."""

    def __init__(self, directory: Path, site: str, token: str, broker: OurBroker | None = None,
                 mqtt_port: int | None = None, **settings):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.site, self.token, self.port = site, token, free_port()
        config = {"site_code": site, "token_env": "AGENT_TOKEN", "host": "127.0.0.1", "port": self.port,
                  "buffer_path": "buffer.sqlite", "timezone": "UTC"}
        self.env = dict(os.environ, AGENT_TOKEN=token)
        if broker is not None:
            config.update(mqtt_host="127.0.0.1", mqtt_port=mqtt_port or broker.port,
                          mqtt_username=broker.agent_login[0], mqtt_password_env="AGENT_MQTT_PASSWORD")
            self.env["AGENT_MQTT_PASSWORD"] = broker.agent_login[1]
        config.update(settings)
        self.config_file = self.directory / "agent.yaml"
        self.config_file.write_text(yaml.safe_dump(config))
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> "AgentProcess":
        with open(self.directory / "agent.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from cli.main import cli; cli()", "agent", "run", "--config",
                 str(self.config_file)], cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=log)

        def up() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"the agent exited: {(self.directory / 'agent.log').read_text()[-2000:]}")
            return reachable(self.port)
        wait_for(up, "the agent answers HTTP", 60)
        return self

    def kill(self) -> None:
        """kill -9: no clean shutdown, no goodbye to the broker."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def health(self) -> dict:
        return requests.get(self.url + "/v1/health", headers={"Authorization": f"Bearer {self.token}"},
                            timeout=10).json()


class Sensors:
    """The site's sensors: one MQTT client with the sensors' login, publishing QoS 1."""

    def __init__(self, broker: OurBroker):
        self.site = broker.site
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sensors-{secrets.token_hex(4)}")
        self.client.username_pw_set(*broker.sensor_login)
        self.client.max_queued_messages_set(0)
        self.client.max_inflight_messages_set(100)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.pending: list = []

    def publish(self, zone: str, metric: str, value: float, at: datetime | None = None) -> None:
        payload = json.dumps(value if at is None else {"ts": at.isoformat(), "value": value})
        self.pending.append(self.client.publish(f"brandhub/{self.site}/{zone}/{metric}", payload, qos=1))

    def flush(self, seconds: float = 30) -> None:
        for info in self.pending:
            info.wait_for_publish(seconds)
        self.pending.clear()

    def close(self) -> None:
        self.flush()
        self.client.loop_stop()
        self.client.disconnect()


def uci_day(day: str = "2015-02-05", shift_to: datetime | None = None) -> list[tuple[datetime, str, float]]:
    """One whole day of the UCI office, (time, metric, value) in file order, moved to ``shift_to``'s day.

    The CSV's times are the office's local clock; the replay takes them as UTC (the agent runs in UTC).
    """
    start = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
    shift = (shift_to - start) if shift_to else timedelta(0)
    rows = []
    with open(UCI_DAY, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        for row in reader:
            values = dict(zip(["id"] + header, row)) if len(row) == len(header) + 1 else dict(zip(header, row))
            at = datetime.fromisoformat(values["date"]).replace(tzinfo=timezone.utc)
            if not start <= at < start + timedelta(days=1):
                continue
            for column, metric in UCI_METRICS.items():
                rows.append((at + shift, metric, float(values[column])))
    return rows


def hour_means(readings) -> dict[tuple[str, datetime], float]:
    """(metric, hour) → mean of the readings, as the CSV has them."""
    sums: dict[tuple[str, datetime], list[float]] = {}
    for at, metric, value in readings:
        key = (metric, at.replace(minute=0, second=0, microsecond=0))
        sums.setdefault(key, []).append(value)
    return {key: sum(values) / len(values) for key, values in sums.items()}


class AckLosingProxy:
    """A TCP relay between an agent and its broker that can lose the agent's next PUBACK and cut the line.

    That is what a crash (or a dropped network) between taking a message and acknowledging it
    looks like to the broker: it hands the message over again, with the DUP flag, on reconnect.
    """

    def __init__(self, broker_port: int):
        self.broker_port = broker_port
        self.port = free_port()
        self.lose_next_puback = threading.Event()
        self.lost = 0
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", self.port))
        self._server.listen(5)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                agent, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.broker_port))
            threading.Thread(target=self._pump, args=(upstream, agent, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(agent, upstream, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_agent: bool) -> None:
        buffer = b""
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                if not from_agent:
                    sink.sendall(chunk)
                    continue
                buffer += chunk
                while True:
                    packet, buffer = _split_packet(buffer)
                    if packet is None:
                        break
                    if packet[0] >> 4 == 4 and self.lose_next_puback.is_set():   # PUBACK
                        self.lose_next_puback.clear()
                        self.lost += 1
                        raise ConnectionAbortedError("PUBACK lost, line cut")
                    sink.sendall(packet)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self) -> None:
        self._server.close()


def _split_packet(buffer: bytes) -> tuple[bytes | None, bytes]:
    """One whole MQTT control packet from the front of ``buffer`` (fixed header, variable length)."""
    if len(buffer) < 2:
        return None, buffer
    length, multiplier, i = 0, 1, 1
    while True:
        if i >= len(buffer):
            return None, buffer
        byte = buffer[i]
        length += (byte & 0x7F) * multiplier
        multiplier *= 128
        i += 1
        if not byte & 0x80:
            break
    end = i + length
    if len(buffer) < end:
        return None, buffer
    return buffer[:end], buffer[end:]
