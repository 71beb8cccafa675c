"""Validation at the edge: what a reading, an NPS answer or an operations event must look like.

Everything here is plain data in, values out. A refused input gets a short reason
code (counted by the agent and shown in ``/v1/health``) and never raises.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from standards.agent_wire import EVENT_KINDS, ZONE
from standards.metrics import METRICS



@dataclass(frozen=True)
class Reading:
    zone: str
    metric: str
    at: datetime  # aware UTC
    value: float


@dataclass(frozen=True)
class Refusal:
    reason: str   # short code: unknown_metric, out_of_range, unparseable, missing_timestamp, future_timestamp, ...
    detail: str = ""


@dataclass
class Outcome:
    """What happened to a batch: how many were taken, and every refusal with its reason."""

    accepted: int = 0
    refused: list[Refusal] = field(default_factory=list)
    amended: int = 0   # of the accepted, those that amended a bucket already sealed

    def by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for refusal in self.refused:
            counts[refusal.reason] = counts.get(refusal.reason, 0) + 1
        return counts

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "amended": self.amended, "refused": len(self.refused),
                "reasons": self.by_reason()}


def parse_time(raw: Any, zone: ZoneInfo) -> datetime | None:
    """An aware UTC time from ISO 8601 text or epoch seconds; a time without zone is site-local."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            return None
        return datetime.fromtimestamp(raw, tz=timezone.utc)
    if not isinstance(raw, str):
        return None
    # ISO 8601, or the 2026/11/18 10:02:11 that Chinese survey tools export
    text = raw.strip().strip('"').replace("Z", "+00:00").replace("/", "-")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(timezone.utc)


def parse_number(raw: Any) -> float | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip().strip('"'))
        except ValueError:
            return None
    return None


def check_reading(zone: Any, metric: Any, value: Any, at: Any, *, site_zone: ZoneInfo, now: datetime,
                  max_future: timedelta) -> Reading | Refusal:
    """One reading, or the reason it is refused."""
    if not isinstance(zone, str) or not ZONE.match(zone):
        return Refusal("bad_zone", f"zone {zone!r}")
    if metric not in METRICS:
        return Refusal("unknown_metric", f"metric {metric!r}")
    number = parse_number(value)
    if number is None:
        return Refusal("unparseable", f"value {value!r}")
    if not METRICS[metric].accepts(number):
        return Refusal("out_of_range", f"{metric}={number}")
    if at is None or at == "":
        return Refusal("missing_timestamp")
    moment = parse_time(at, site_zone)
    if moment is None:
        return Refusal("unparseable", f"timestamp {at!r}")
    if moment > now + max_future:
        return Refusal("future_timestamp", moment.isoformat())
    return Reading(zone=zone, metric=metric, at=moment, value=number)


def is_bare_number(payload: bytes) -> bool:
    """A payload that is only a number (no time of its own)."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, (int, float)) and not isinstance(data, bool)


def reading_from_mqtt(topic: str, payload: bytes, *, site_code: str, site_zone: ZoneInfo, now: datetime,
                      max_future: timedelta, dated: datetime | None = None) -> Reading | Refusal:
    """A reading from topic ``brandhub/<site>/<zone>/<metric>`` and a number or ``{"ts", "value"}`` payload.

    A bare number carries no time: it is dated ``dated`` (the time its first delivery was
    taken, which a redelivery keeps: see ``Buffer.bare_reading_time``), or now.
    """
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "brandhub" or parts[1] != site_code:
        return Refusal("bad_topic", topic)
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return Refusal("unparseable", "payload is not JSON or a number")
    if isinstance(data, dict):
        return check_reading(parts[2], parts[3], data.get("value"), data.get("ts"), site_zone=site_zone, now=now,
                             max_future=max_future)
    if isinstance(data, (int, float)) and not isinstance(data, bool):
        return check_reading(parts[2], parts[3], data, (dated or now).isoformat(), site_zone=site_zone, now=now,
                             max_future=max_future)
    return Refusal("unparseable", "payload is neither a number nor {ts, value}")


def bucket_start(moment: datetime, zone: ZoneInfo, minutes: int) -> datetime:
    """The UTC start of the bucket holding ``moment``: buckets are aligned on the site's local clock.

    Flooring local wall time keeps 30- and 45-minute offset zones on their quarter hours, and
    the fold keeps the repeated hour of a DST change apart.
    """
    local = moment.astimezone(zone)
    minute_of_day = local.hour * 60 + local.minute
    floored = minute_of_day - minute_of_day % minutes
    start = local.replace(hour=floored // 60, minute=floored % 60, second=0, microsecond=0)
    return start.astimezone(timezone.utc)


@dataclass(frozen=True)
class NpsAnswer:
    record_id: str
    answered_at: datetime
    score: int
    comment: str
    language: str


def check_score(raw: Any) -> int | None:
    number = parse_number(raw)
    if number is None or not math.isfinite(number) or number != int(number) or not 0 <= number <= 10:
        return None  # NaN, inf and 1e309 are refused, not a crash
    return int(number)


@dataclass(frozen=True)
class OpsEvent:
    record_id: str
    kind: str
    occurred_at: datetime
    ref: str
    quantity: int | None
    data: dict


def check_event(raw: Any, *, site_zone: ZoneInfo, now: datetime, max_future: timedelta) -> OpsEvent | Refusal:
    """An operations event ``{"id", "kind", "at", "ref", "quantity"?, "data"?}`` or its refusal."""
    if not isinstance(raw, dict):
        return Refusal("unparseable", "event is not an object")
    record_id = raw.get("id")
    if not isinstance(record_id, str) or not 0 < len(record_id) <= 100:
        return Refusal("missing_id", "event needs an id (text, up to 100 characters)")
    kind = raw.get("kind")
    if kind not in EVENT_KINDS:
        return Refusal("unknown_kind", f"kind {kind!r}")
    if not raw.get("at"):
        return Refusal("missing_timestamp", record_id)
    moment = parse_time(raw.get("at"), site_zone)
    if moment is None:
        return Refusal("unparseable", f"timestamp {raw.get('at')!r}")
    if moment > now + max_future:
        return Refusal("future_timestamp", moment.isoformat())
    quantity = raw.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0):
        return Refusal("out_of_range", f"quantity {quantity!r}")
    data = raw.get("data") or {}
    if not isinstance(data, dict):
        return Refusal("unparseable", "data is not an object")
    return OpsEvent(record_id=record_id, kind=kind, occurred_at=moment, ref=str(raw.get("ref") or "")[:100],
                    quantity=quantity, data=data)
