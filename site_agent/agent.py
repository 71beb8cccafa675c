"""One site's agent: intake, validation, the buffer, the pull API's data and the applied config.

The HTTP server, the MQTT subscriber and the CSV importers all hand their input to
an ``Agent``; it validates, counts refusals by reason and writes to the buffer.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from standards import agent_wire as wire
from standards.canonical import content_hash

from . import __version__
from .buffer import Buffer, iso
from .config import AgentConfig
from .intake import (NpsAnswer, Outcome, Reading, Refusal, bucket_start, check_event, check_reading, check_score)
from .privacy import scrub

log = logging.getLogger(__name__)
LANGUAGES = ("zh_CN", "en")


class ConfigRejected(ValueError):
    """A config delivery the agent refuses (its hash does not match its content, or its shape is wrong)."""


class BacklogGate:
    """Sealing waits while MQTT is away or its persistent session's backlog is still coming.

    Armed at start (when the agent has MQTT intake) and whenever the broker connection
    drops; opened when the drain marker the agent publishes after connecting comes back
    (it queues behind the backlog), or after ``wait`` at most, which is counted and
    reported: a bucket sealed too early is then amended by what arrives later.
    """

    def __init__(self, wait: timedelta):
        self.wait = wait
        self.state = "no_mqtt"          # no_mqtt | connecting | draining | drained | gave_up
        self.since: datetime | None = None
        self._lock = threading.Lock()

    def arm(self, now: datetime) -> None:
        with self._lock:
            if self.since is None:
                self.since = now
            self.state = "connecting"

    def connected(self) -> None:
        with self._lock:
            if self.since is not None:
                self.state = "draining"

    def drained(self) -> None:
        with self._lock:
            self.since = None
            self.state = "drained"

    def holds(self, now: datetime) -> tuple[bool, bool]:
        """(sealing must wait, the bounded wait just ran out)."""
        with self._lock:
            if self.since is None:
                return False, False
            if now - self.since < self.wait:
                return True, False
            self.since = None
            self.state = "gave_up"
            return False, True


class Agent:
    def __init__(self, config: AgentConfig, clock: Callable[[], datetime] | None = None):
        self.config = config
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.buffer = Buffer(config.buffer_path, bucket_minutes=config.bucket_minutes)
        self._token_digest = hashlib.sha256(config.token.encode("utf-8")).digest() if config.token else b""
        self.backlog = BacklogGate(timedelta(seconds=config.backlog_wait_seconds))
        self.mqtt_connected = False

    def close(self) -> None:
        self.buffer.close()

    # -- auth --------------------------------------------------------------------------------
    def token_ok(self, presented: str | None) -> bool:
        """Constant-time check of a bearer token; an agent without a token refuses everyone."""
        if not self._token_digest or not presented:
            return False
        return hmac.compare_digest(hashlib.sha256(presented.encode("utf-8")).digest(), self._token_digest)

    # -- readings ----------------------------------------------------------------------------
    def ingest_readings(self, items: Iterable[Reading | Refusal], streamed: bool = False) -> Outcome:
        """Take checked readings into the buffer; count every refusal by reason, and the amendments.

        A reading for a sealed bucket amends it (up to ``amend_horizon_days`` back); only one
        for an older sealed bucket is refused, as ``beyond_horizon``.
        """
        outcome = Outcome()
        rows = []
        now = self.clock()
        for item in items:
            if isinstance(item, Refusal):
                outcome.refused.append(item)
                continue
            start = bucket_start(item.at, self.config.zone, self.config.bucket_minutes)
            rows.append((item.zone, item.metric, start, item.value, item.at))
        # never past retention: a bucket pruned after its pull could not be amended, only started anew
        horizon = now - timedelta(days=min(self.config.amend_horizon_days, self.config.retention_days))
        amended, duplicate, beyond = self.buffer.add_readings(rows, now, streamed, horizon) if rows else (0, 0, 0)
        outcome.accepted = len(rows) - duplicate - beyond
        outcome.amended = amended
        outcome.refused.extend(Refusal("beyond_horizon", f"its bucket was sealed more than "
                                                         f"{self.config.amend_horizon_days:g} days ago")
                               for _ in range(beyond))
        outcome.refused.extend(Refusal("duplicate", "reading already taken") for _ in range(duplicate))
        self.buffer.count(outcome.by_reason())
        if amended:
            self.buffer.count({"amended": amended}, prefix="amend:")
        return outcome

    # -- sealing -----------------------------------------------------------------------------
    def seal(self, now: datetime) -> int:
        """Seal what is complete, unless MQTT's backlog may still hold readings for it."""
        holds, gave_up = self.backlog.holds(now)
        if gave_up:
            log.warning("MQTT backlog not drained within %s s: sealing anyway (late readings will amend)",
                        self.config.backlog_wait_seconds)
            self.buffer.count({"backlog_wait_expired": 1}, prefix="mqtt:")
        if holds:
            return 0
        return self.buffer.seal(now, timedelta(seconds=self.config.seal_grace_seconds),
                                timedelta(seconds=self.config.seal_quiet_seconds))

    def broker_dropped(self, total: int) -> int:
        """The broker's own count of messages it dropped (``$SYS``): add what is new since last seen."""
        new = self.buffer.note_broker_dropped(total)
        if new:
            log.warning("the MQTT broker dropped %d message(s) (its queue limit): readings lost at the broker", new)
        return new

    def check(self, zone: Any, metric: Any, value: Any, at: Any) -> Reading | Refusal:
        return check_reading(zone, metric, value, at, site_zone=self.config.zone, now=self.clock(),
                             max_future=timedelta(seconds=self.config.max_future_seconds))

    def ingest_payload(self, body: Any) -> dict[str, Any]:
        """``POST /v1/ingest``: ``{"readings": [{zone, metric, value, ts}], "events": [...]}``."""
        if not isinstance(body, dict):
            self.buffer.count({"unparseable": 1})
            return {"readings": Outcome(refused=[Refusal("unparseable")]).as_dict()}
        result: dict[str, Any] = {}
        readings = body.get("readings") or []
        events = body.get("events") or []
        if not isinstance(readings, list) or not isinstance(events, list):
            self.buffer.count({"unparseable": 1})
            return {"readings": Outcome(refused=[Refusal("unparseable", "readings/events must be lists")]).as_dict()}
        if readings:
            checked = [self.check(r.get("zone"), r.get("metric"), r.get("value"), r.get("ts"))
                       if isinstance(r, dict) else Refusal("unparseable", "reading is not an object")
                       for r in readings]
            result["readings"] = self.ingest_readings(checked).as_dict()
        if events:
            result["events"] = self.ingest_events(events).as_dict()
        return result

    # -- NPS and events ----------------------------------------------------------------------
    def record_nps(self, answers: Iterable[NpsAnswer | Refusal]) -> Outcome:
        outcome = Outcome()
        rows = []
        for answer in answers:
            if isinstance(answer, Refusal):
                outcome.refused.append(answer)
                continue
            rows.append({"record_id": answer.record_id, "answered_at": iso(answer.answered_at), "score": answer.score,
                         "comment": scrub(answer.comment)[:1000], "language": answer.language})
        outcome.accepted = self.buffer.add_nps(rows, self.clock()) if rows else 0
        self.buffer.count(outcome.by_reason())
        return outcome

    def survey_answer(self, score: Any, comment: str, language: str) -> NpsAnswer | Refusal:
        """An answer from the survey page: a fresh record id, answered now."""
        value = check_score(score)
        if value is None:
            return Refusal("out_of_range", f"score {score!r}")
        return NpsAnswer(record_id=f"survey-{uuid.uuid4()}", answered_at=self.clock(), score=value,
                         comment=comment or "", language=language if language in LANGUAGES else "zh_CN")

    def ingest_events(self, raw_events: list[Any]) -> Outcome:
        outcome = Outcome()
        rows = []
        now = self.clock()
        for raw in raw_events:
            event = check_event(raw, site_zone=self.config.zone, now=now,
                                max_future=timedelta(seconds=self.config.max_future_seconds))
            if isinstance(event, Refusal):
                outcome.refused.append(event)
                continue
            data = {k: scrub(v) if isinstance(v, str) else v for k, v in event.data.items()}
            rows.append({"record_id": event.record_id, "kind": event.kind, "occurred_at": iso(event.occurred_at),
                         "ref": event.ref, "quantity": event.quantity, "data": data})
        outcome.accepted = self.buffer.add_events(rows, now) if rows else 0
        self.buffer.count(outcome.by_reason())
        return outcome

    # -- pull API ----------------------------------------------------------------------------
    def page(self, stream: str, after: int, limit: int) -> dict[str, Any]:
        now = self.clock()
        if stream == "readings":
            self.seal(now)
        records, cursor, more = self.buffer.page(stream, after, limit)
        return wire.page(stream=stream, site=self.config.site_code, records=records, cursor=cursor, more=more)

    def housekeeping(self) -> dict[str, int]:
        """Seal closed buckets, drop pulled records past retention, enforce the buffer limit."""
        now = self.clock()
        self.seal(now)
        self.buffer.forget_before(now - timedelta(days=self.config.amend_horizon_days,
                                                  minutes=self.config.bucket_minutes))
        dropped = self.buffer.prune(now, timedelta(days=self.config.retention_days), self.config.buffer_limit)
        if dropped:
            log.warning("buffer limit %s reached: dropped unpulled records %s", self.config.buffer_limit, dropped)
        return dropped

    def health(self) -> dict[str, Any]:
        now = self.clock()
        self.seal(now)
        depth = self.buffer.depth()
        applied = self.buffer.config()
        return {
            "site": self.config.site_code,
            "agent_version": __version__,
            "buffer_id": self.buffer.buffer_id,
            "now": iso(now),
            "timezone": self.config.timezone,
            "bucket_minutes": self.config.bucket_minutes,
            "buffer_depth": depth["readings"] + depth["nps"] + depth["events"],
            "unpulled": {k: depth[k] for k in ("readings", "nps", "events")},
            "open_buckets": depth["open_buckets"],
            "oldest_unpulled": depth["oldest_unpulled"],
            "rejects": self.buffer.counters("reject:"),
            "amended": self.buffer.counters("amend:").get("amended", 0),
            "amend_horizon_days": self.config.amend_horizon_days,
            "mqtt": self._mqtt_health(),
            "dropped_at_buffer_limit": self.buffer.counters("dropped:"),
            "buffer_limit": self.config.buffer_limit,
            "retention_days": self.config.retention_days,
            "config_hash": applied["hash"] if applied else None,
            "config_version": applied["version"] if applied else None,
        }

    def _mqtt_health(self) -> dict[str, Any]:
        """The broker link: connected?, the backlog gate, and what the broker says it dropped."""
        counters = self.buffer.counters("mqtt:")
        since = self.backlog.since
        return {"configured": bool(self.config.mqtt_host), "connected": self.mqtt_connected,
                "backlog": self.backlog.state, "waiting_since": iso(since) if since else None,
                "backlog_wait_expired": counters.get("backlog_wait_expired", 0),
                "broker_dropped": counters.get("broker_dropped", 0)}

    # -- config ------------------------------------------------------------------------------
    def apply_config(self, body: Any) -> str:
        """Store a delivered config durably and return its hash, computed here as the hub does."""
        if not isinstance(body, dict) or not isinstance(body.get("config"), dict):
            raise ConfigRejected("expected {\"version\": int, \"hash\": \"sha256:…\", \"config\": {…}}")
        version = body.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise ConfigRejected("version must be an integer")
        applied = content_hash(body["config"])
        if body.get("hash") and body["hash"] != applied:
            raise ConfigRejected(f"hash {body['hash']} does not match the content ({applied})")
        self.buffer.save_config(version, applied, body["config"], self.clock())
        return applied

    def current_config(self) -> dict[str, Any] | None:
        return self.buffer.config()

