"""The agent's own configuration file (YAML), read once at start."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from standards.loader import load_yaml, schema_problems

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "standards" / "agent_config.schema.json"


class AgentConfigError(ValueError):
    """The configuration file cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class AgentConfig:
    site_code: str
    token: str = ""
    timezone: str = "Asia/Shanghai"
    host: str = "127.0.0.1"
    port: int = 8710
    buffer_path: str = "agent-buffer.sqlite"
    mqtt_host: str = ""          # empty: no MQTT intake
    mqtt_port: int = 1883
    bucket_minutes: int = 15
    seal_grace_seconds: int = 300   # how long a closed bucket still takes late readings
    retention_days: int = 30        # pulled records older than this are deleted
    buffer_limit: int = 2_000_000   # records kept at most; the oldest go first, and that is reported
    max_future_seconds: int = 300   # a reading further ahead of the agent's clock is refused
    seal_quiet_seconds: float = 3   # an MQTT stream behind the clock that pauses this long is done replaying
    amend_horizon_days: float = 7   # a late reading amends its (sealed, even pulled) bucket up to this age
    backlog_wait_seconds: int = 120  # after an outage, sealing waits this long at most for MQTT's backlog
    mqtt_username: str = ""         # the agent's own login at the site's broker (one per site)
    mqtt_password: str = ""         # from the variable named by ``mqtt_password_env``

    def __post_init__(self) -> None:
        if not self.site_code:
            raise AgentConfigError("site_code: required")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise AgentConfigError(f"timezone: unknown IANA time zone {self.timezone!r}") from exc
        if self.bucket_minutes <= 0 or 1440 % self.bucket_minutes:
            raise AgentConfigError(f"bucket_minutes: must divide a day evenly, not {self.bucket_minutes}")
        if self.retention_days <= 0 or self.buffer_limit <= 0:
            raise AgentConfigError("retention_days and buffer_limit: must be positive")
        if self.amend_horizon_days <= 0:
            raise AgentConfigError("amend_horizon_days: must be positive")
        if self.backlog_wait_seconds < 0:
            raise AgentConfigError("backlog_wait_seconds: must not be negative")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_config(path: str | Path, environ: dict[str, str] | None = None) -> AgentConfig:
    """Read the YAML file at ``path``; the token may come from the variable named by ``token_env``."""
    environ = os.environ if environ is None else environ
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AgentConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    doc = load_yaml(text, str(path))
    problems = doc.problems or schema_problems(doc, _schema())
    if problems:  # every key checked against the schema: type, range, unknown keys, at their lines
        raise AgentConfigError("\n".join(str(p) for p in problems))
    data = dict(doc.data)
    token_env = data.pop("token_env", None)
    if token_env:
        if token_env not in environ:
            raise AgentConfigError(f"{path}: token_env names {token_env!r}, which is not set")
        data["token"] = environ[token_env]
    password_env = data.pop("mqtt_password_env", None)
    if password_env:
        if password_env not in environ:
            raise AgentConfigError(f"{path}: mqtt_password_env names {password_env!r}, which is not set")
        data["mqtt_password"] = environ[password_env]
    known = {f.name for f in fields(AgentConfig)}
    unknown = sorted(set(data) - known)
    if unknown:  # the schema and the dataclass disagree: a bug, said plainly
        raise AgentConfigError(f"{path}: unknown setting(s): {', '.join(unknown)}")
    buffer_path = data.get("buffer_path")
    if buffer_path and not Path(buffer_path).is_absolute():
        data["buffer_path"] = str(path.parent / buffer_path)
    try:
        return AgentConfig(**data)
    except TypeError as exc:
        raise AgentConfigError(f"{path}: {exc}") from exc
    except AgentConfigError as exc:
        raise AgentConfigError(f"{path}: {exc}") from exc


@lru_cache(maxsize=1)
def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
