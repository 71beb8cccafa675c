"""One site's agent: intake, validation, the buffer, the pull API's data and the applied config.

The HTTP server, the MQTT subscriber and the CSV importers all hand their input to
an ``Agent``; it validates, counts refusals by reason and writes to the buffer.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
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


class Agent:
    def __init__(self, config: AgentConfig, clock: Callable[[], datetime] | None = None):
        self.config = config
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.buffer = Buffer(config.buffer_path, bucket_minutes=config.bucket_minutes)
        self._token_digest = hashlib.sha256(config.token.encode("utf-8")).digest() if config.token else b""

    def close(self) -> None:
        self.buffer.close()

    # -- auth --------------------------------------------------------------------------------
    def token_ok(self, presented: str | None) -> bool:
        """Constant-time check of a bearer token; an agent without a token refuses everyone."""
        if not self._token_digest or not presented:
            return False
        return hmac.compare_digest(hashlib.sha256(presented.encode("utf-8")).digest(), self._token_digest)

    # -- readings ----------------------------------------------------------------------------
    def ingest_readings(self, items: Iterable[Reading | Refusal]) -> Outcome:
        """Take checked readings into the buffer; count every refusal (and late reading) by reason."""
        outcome = Outcome()
        rows = []
        for item in items:
            if isinstance(item, Refusal):
                outcome.refused.append(item)
                continue
            start = bucket_start(item.at, self.config.zone, self.config.bucket_minutes)
            rows.append((item.zone, item.metric, start, item.value, item.at))
        late, duplicate = self.buffer.add_readings(rows) if rows else (0, 0)
        outcome.accepted = len(rows) - late - duplicate
        outcome.refused.extend(Refusal("late", "bucket already sealed") for _ in range(late))
        outcome.refused.extend(Refusal("duplicate", "reading already taken") for _ in range(duplicate))
        self.buffer.count(outcome.by_reason())
        return outcome

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
            self.buffer.seal(now, timedelta(seconds=self.config.seal_grace_seconds))
        records, cursor, more = self.buffer.page(stream, after, limit)
        return wire.page(stream=stream, site=self.config.site_code, records=records, cursor=cursor, more=more)

    def housekeeping(self) -> dict[str, int]:
        """Seal closed buckets, drop pulled records past retention, enforce the buffer limit."""
        now = self.clock()
        self.buffer.seal(now, timedelta(seconds=self.config.seal_grace_seconds))
        dropped = self.buffer.prune(now, timedelta(days=self.config.retention_days), self.config.buffer_limit)
        if dropped:
            log.warning("buffer limit %s reached: dropped unpulled records %s", self.config.buffer_limit, dropped)
        return dropped

    def health(self) -> dict[str, Any]:
        now = self.clock()
        self.buffer.seal(now, timedelta(seconds=self.config.seal_grace_seconds))
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
            "dropped_at_buffer_limit": self.buffer.counters("dropped:"),
            "buffer_limit": self.config.buffer_limit,
            "retention_days": self.config.retention_days,
            "config_hash": applied["hash"] if applied else None,
            "config_version": applied["version"] if applied else None,
        }

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

