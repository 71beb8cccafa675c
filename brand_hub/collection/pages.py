"""Checking a page an agent sent: the good records become rows, the bad ones get a reason.

Plain data in, values out: no session. The agent validates at the edge too, but the
hub trusts nothing it did not check itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from operator import itemgetter
from typing import Any

from standards.agent_wire import EVENT_KINDS, STREAMS, ZONE, frame_problem, scrub
from standards.metrics import METRICS

from . import PageError

__all__ = ["STREAMS", "CheckedPage", "check_page"]


@dataclass
class CheckedPage:
    cursor: str
    more: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    bad: list[tuple[Any, str]] = field(default_factory=list)   # (record as sent, reason)
    newest: datetime | None = None


class _Bad(ValueError):
    pass


def check_page(stream: str, body: dict[str, Any], site_id: int, after: str) -> CheckedPage:
    """Validate a page; a page whose frame is broken (no records list, bad cursor) is refused whole."""
    problem = frame_problem(stream, body, after)
    if problem:
        raise PageError(problem)
    records, cursor = body["records"], body["cursor"]
    page = CheckedPage(cursor=cursor, more=bool(body.get("more")) and bool(records))
    if stream == "readings":
        _check_readings(records, site_id, page)
        return page
    check = {"nps": _nps, "events": _event}[stream]
    for record in records:
        try:
            row = check(record)
        except _Bad as exc:
            page.bad.append((record, str(exc)))
            continue
        row["site_id"] = site_id
        page.rows.append(row)
        moment = row.get("bucket_start") or row.get("answered_at") or row.get("occurred_at")
        if page.newest is None or moment > page.newest:
            page.newest = moment
    return page


# Zone names already matched against ``ZONE`` (a network has few; bounded all the same).
_ZONES_SEEN: set[str] = set()
_ZONES_SEEN_LIMIT = 100_000


def _check_readings(records: list, site_id: int, page: CheckedPage) -> None:
    """``_reading`` over a page, fast: a record is first tried with plain comparisons (each bucket
    start parsed once per page, each zone name matched once, each metric's range looked up once);
    anything the fast path does not accept outright goes through ``_reading``, which gives the one
    verdict and its reason.

    The fast path is never more lenient than ``_reading``: it accepts a subset of what it accepts
    (exact types only, every field present but ``bucket_minutes`` and ``revision``, the mean within
    [min, max] without the tolerance), with the same range rules, so a page's outcome is the same
    either way. Its comparisons stand in for ``math.isfinite``: NaN fails every one, min is at least
    the metric's finite low bound, max at most its high bound and below infinity, the mean between them.
    """
    times: dict[str, datetime] = {}    # a page repeats a bucket start once per zone and metric
    zones, ranges, fields, inf = _ZONES_SEEN, _RANGES, _FIELDS, math.inf
    rows, bad = page.rows, page.bad
    append = rows.append
    newest = page.newest
    for record in records:
        if type(record) is dict:
            try:
                zone, name, raw, count, mean, low, high = fields(record)
            except KeyError:        # a field missing: the full check says which
                zone = None
            else:
                get = record.get
                minutes, revision = get("bucket_minutes", 15), get("revision", 0)
                if type(mean) is int:
                    mean = _float_or_none(mean)
                if type(low) is int:
                    low = _float_or_none(low)
                if type(high) is int:
                    high = _float_or_none(high)
                bounds = ranges.get(name) if type(name) is str else None
                if (bounds is not None and type(zone) is str and (zone in zones or _zone_ok(zone))
                        and type(count) is int and count >= 1 and type(minutes) is int and 0 < minutes <= 1440
                        and type(revision) is int and revision >= 0
                        and type(mean) is float and type(low) is float and type(high) is float
                        and bounds[1] <= low <= mean <= high <= bounds[2] and high < inf):
                    moment = times.get(raw) if type(raw) is str else None
                    if moment is None:
                        try:
                            moment = times[raw] = _time(record, "bucket_start")
                        except _Bad:
                            moment = None
                    if moment is not None:     # kept: the newest of ``times`` is taken once, at the end
                        append({"zone": zone, "metric": bounds[0], "bucket_start": moment, "bucket_minutes": minutes,
                                "count": count, "mean": mean, "min": low, "max": high, "revision": revision,
                                "site_id": site_id})
                        continue
        # not plainly good: the full check decides, and says why
        try:
            row = _reading(record)
        except _Bad as exc:
            bad.append((record, str(exc)))
            continue
        row["site_id"] = site_id
        append(row)
        moment = row["bucket_start"]
        if newest is None or moment > newest:
            newest = moment
    if times:       # every start in ``times`` is a kept row's (it is parsed once a record passed the fast path)
        fast = max(times.values())
        if newest is None or fast > newest:
            newest = fast
    page.newest = newest


# The fast path's view of a record and of a metric: its canonical name and its range.
_FIELDS = itemgetter("zone", "metric", "bucket_start", "count", "mean", "min", "max")
_RANGES = {name: (metric.name, metric.low, metric.high) for name, metric in METRICS.items()}


def _float_or_none(value: int) -> float | None:
    try:
        return float(value)
    except OverflowError:
        return None


def _zone_ok(zone: str) -> bool:
    if not ZONE.match(zone):
        return False
    if len(_ZONES_SEEN) >= _ZONES_SEEN_LIMIT:
        _ZONES_SEEN.clear()
    _ZONES_SEEN.add(zone)
    return True


def _time(record: dict, name: str) -> datetime:
    raw = record.get(name)
    if not isinstance(raw, str):
        raise _Bad(f"{name} missing")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _Bad(f"{name} {raw!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise _Bad(f"{name} {raw!r} has no time zone")
    return moment.astimezone(timezone.utc)


def _number(record: dict, name: str) -> float:
    value = record.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or _float_or_none(value) is None \
            or not math.isfinite(value):
        raise _Bad(f"{name} {value!r} is not a number")
    return float(value)


def _text(record: dict, name: str, limit: int, required: bool = True) -> str:
    value = record.get(name, "" if not required else None)
    if value is None and not required:
        value = ""
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise _Bad(f"{name} {value!r} is not text of 1–{limit} characters")
    return value


def _reading(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise _Bad("record is not an object")
    zone = record.get("zone")
    if not isinstance(zone, str) or not ZONE.match(zone):
        raise _Bad(f"zone {zone!r} is not a zone name")
    metric = METRICS.get(record.get("metric")) if isinstance(record.get("metric"), str) else None
    if metric is None:
        raise _Bad(f"metric {record.get('metric')!r} is not a canonical metric")
    count = record.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise _Bad(f"count {count!r} is not a positive integer")
    minutes = record.get("bucket_minutes", 15)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= 1440:
        raise _Bad(f"bucket_minutes {minutes!r} is not 1–1440")
    revision = record.get("revision", 0)
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        raise _Bad(f"revision {revision!r} is not a whole number ≥ 0")
    mean, low, high = _number(record, "mean"), _number(record, "min"), _number(record, "max")
    if not (metric.low <= low <= metric.high and metric.low <= high <= metric.high):
        raise _Bad(f"{metric.name} min/max {low}/{high} outside {metric.low}–{metric.high}")
    if not low - 1e-9 * abs(low) <= mean <= high + 1e-9 * abs(high) or low > high:
        raise _Bad(f"mean {mean} not between min {low} and max {high}")
    return {"zone": zone, "metric": metric.name, "bucket_start": _time(record, "bucket_start"),
            "bucket_minutes": minutes, "count": count, "mean": mean, "min": low, "max": high, "revision": revision}


def _nps(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise _Bad("record is not an object")
    score = record.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise _Bad(f"score {score!r} is not 0–10")
    comment = _text(record, "comment", 1000, required=False)
    language = _text(record, "language", 10, required=False) or "zh_CN"
    return {"record_id": _text(record, "record_id", 100), "answered_at": _time(record, "answered_at"),
            "score": score, "comment": scrub(comment), "language": language}


def _event(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise _Bad("record is not an object")
    kind = record.get("kind")
    if kind not in EVENT_KINDS:
        raise _Bad(f"kind {kind!r} is not an operations event kind")
    quantity = record.get("quantity")
    if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0):
        raise _Bad(f"quantity {quantity!r} is not a count")
    data = record.get("data") or {}
    if not isinstance(data, dict):
        raise _Bad("data is not an object")
    return {"record_id": _text(record, "record_id", 100), "kind": kind,
            "occurred_at": _time(record, "occurred_at"), "ref": _text(record, "ref", 100, required=False),
            "quantity": quantity, "data": data}
