"""Collection: the hub's side of the site agents — tokens, targets, pulled data, feed health.

Services here are keyword-only functions that take a session and never commit.
The pull cycle itself (many short transactions, one per page) is in ``cycle``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from .. import registry
from ..audit import Actor, record
from ..models import Franchisee, Site, SiteStatus
from ..models.collection import CollectionTarget, ReadingAmendment, ReadingBucket
from ..models.rollups import ReadingDaily, ReadingHourly

TOKEN_SCHEME = "hmac-sha256"


class CollectionError(Exception):
    """Base of the collection area's errors."""


class UnknownSite(CollectionError):
    pass


class TokenError(CollectionError):
    """A token cannot be issued or derived (already issued, secret key changed)."""


class AgentError(CollectionError):
    """An agent could not be reached or answered wrongly; the text says what and where."""


class AgentAuthError(AgentError):
    """The agent refused the site token (HTTP 401)."""


class PageError(AgentError):
    """A page whose frame is broken (no records list, cursor going backwards): nothing of it is kept."""


# -- tokens ------------------------------------------------------------------------------------
# The hub stores only a random nonce and the SHA-256 of the token. The token itself is
# derived from the nonce with the hub's secret key, so the collector can present it to the
# agent while a copy of the database alone reveals nothing.

def _derive(secret_key: str, site_code: str, nonce: str) -> str:
    digest = hmac.new(secret_key.encode("utf-8"), f"site-agent|{site_code}|{nonce}".encode("utf-8"),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def site_token(site: Site, secret_key: str) -> str:
    """The bearer token the collector presents to ``site``'s agent."""
    try:
        scheme, nonce, token_hash = site.agent_token_hash.split("$")
    except ValueError:
        raise TokenError(f"site {site.code}: no agent token issued "
                         f"(brandhub collect token --site {site.code})") from None
    if scheme != TOKEN_SCHEME:
        raise TokenError(f"site {site.code}: unknown token scheme {scheme!r}")
    token = _derive(secret_key, site.code, nonce)
    if not hmac.compare_digest(hashlib.sha256(token.encode("utf-8")).hexdigest(), token_hash):
        raise TokenError(f"site {site.code}: the hub's secret key changed since the token was issued; rotate it")
    return token


def issue_token(*, session: Session, site_code: str, secret_key: str, actor: Actor, rotate: bool = False) -> str:
    """Issue (or with ``rotate`` replace) a site's agent token; the plain token is returned only now."""
    try:
        site = registry.get_site(session=session, code=site_code)
    except registry.NotFound as exc:
        raise UnknownSite(str(exc)) from None
    if site.agent_token_hash and not rotate:
        raise TokenError(f"site {site_code} already has a token; rotate it (--rotate) to get a new one")
    nonce = secrets.token_urlsafe(16)
    token = _derive(secret_key, site.code, nonce)
    had_token = bool(site.agent_token_hash)
    site.agent_token_hash = f"{TOKEN_SCHEME}${nonce}${hashlib.sha256(token.encode('utf-8')).hexdigest()}"
    site.updated_at = datetime.now(timezone.utc)
    session.add(site)
    record(session=session, actor=actor, action="site.agent_token_rotate" if had_token else "site.agent_token_issue",
           entity_type="site", entity_id=site.code, after={"code": site.code})
    return token


# -- targets and health ------------------------------------------------------------------------

def target_site_ids(*, session: Session, site_codes: list[str] | None = None) -> list[int]:
    """Active sites with an agent URL (optionally only the named ones), stalest feed first."""
    stmt = (select(Site.id).outerjoin(CollectionTarget, CollectionTarget.site_id == Site.id)
            .where(Site.status == SiteStatus.active, Site.agent_url != "")
            .order_by(CollectionTarget.last_success_at.is_not(None), CollectionTarget.last_success_at, Site.id))
    if site_codes:
        stmt = stmt.where(Site.code.in_(site_codes))
    return list(session.exec(stmt).all())


@dataclass(frozen=True)
class FeedRow:
    """One line of the Agents page."""

    site: Site
    franchisee: Franchisee
    target: CollectionTarget | None

    @property
    def failing(self) -> bool:
        return bool(self.target and self.target.consecutive_failures)

    @property
    def state(self) -> str:
        if not self.site.agent_url:
            return "no_agent"
        if self.target is None or self.target.last_attempt_at is None:
            return "never"
        if self.target.consecutive_failures:
            return "failing"
        return "ok"

    def lag(self, now: datetime) -> timedelta | None:
        if self.target is None or self.target.newest_record_at is None:
            return None
        return now - self.target.newest_record_at


SORTS = ("state", "site", "partner", "last_success", "failures", "lag", "records", "buffer")


HOURLY_CHARTS_OVER = timedelta(days=2)    # a chart spanning longer reads the hourly rollup (a point an hour)
DAILY_CHARTS_OVER = timedelta(days=60)    # and longer still, the daily rollup (a point a day)


def chart_resolution(span: timedelta) -> str:
    """The coarsest readings that answer a chart spanning ``span``: "bucket" (15 minutes), "hour" or "day"."""
    return "day" if span > DAILY_CHARTS_OVER else "hour" if span > HOURLY_CHARTS_OVER else "bucket"


def site_series(*, session: Session, site_id: int, days: int = 7, held_from: datetime | None = None,
                held_until: datetime | None = None) -> dict[str, Any]:
    """The collected readings of a site's last ``days`` days with data, as chart series per metric and zone.

    Read at the coarsest resolution that answers the span the chart draws (``chart_resolution``: from
    the oldest reading of the window to the newest): the buckets, or the hourly or daily rollup, whose
    mean is the readings' mean over the hour or day (Σ mean × count / Σ count). ``held_from`` /
    ``held_until`` (issue 17): only readings of that span (a partner's tenure of the site); a span that
    does not start and end on whole hours (days) reads the buckets.
    """
    span = _charted_span(session=session, site_id=site_id, days=days, held_from=held_from, held_until=held_until)
    resolution = chart_resolution(span) if span is not None else "bucket"
    if resolution != "bucket" and not _whole(held_from, held_until, resolution):
        resolution = "hour" if resolution == "day" and _whole(held_from, held_until, "hour") else "bucket"
    if resolution == "bucket":
        return {**_bucket_series(session=session, site_id=site_id, days=days, held_from=held_from,
                                 held_until=held_until), "resolution": "bucket"}
    table = ReadingHourly if resolution == "hour" else ReadingDaily
    column = table.hour_start if resolution == "hour" else table.day_start
    held = _held(table, column, site_id, held_from, held_until)
    newest = _aware(session.exec(select(func.max(column)).where(*held)).one())
    since = newest - timedelta(days=days)
    rows = session.exec(select(table.metric, table.zone, column, table.total, table.n, table.low, table.high,
                               table.buckets).where(*held, column > since)
                        .order_by(table.metric, table.zone, column)).all()
    metrics: dict[str, dict[str, list]] = {}
    buckets = 0
    for metric, zone, start, total, n, low, high, count in rows:
        metrics.setdefault(metric, {}).setdefault(zone, []).append(
            {"x": _aware(start).isoformat(), "y": round(total / n, 3), "min": low, "max": high, "n": n})
        buckets += count
    return {"metrics": metrics, "since": since, "until": newest, "buckets": buckets, "resolution": resolution}


def _held(table, column, site_id: int, held_from: datetime | None, held_until: datetime | None) -> list:
    held = [table.site_id == site_id]
    if held_from is not None:
        held.append(column >= held_from)
    if held_until is not None:
        held.append(column < held_until)
    return held


def _charted_span(*, session: Session, site_id: int, days: int, held_from: datetime | None,
                  held_until: datetime | None) -> timedelta | None:
    """From the oldest hour with readings in the chart's window to the end of the newest (None: no readings),
    read from the hourly rollup (two index look-ups)."""
    held = _held(ReadingHourly, ReadingHourly.hour_start, site_id, held_from, held_until)
    newest = session.exec(select(func.max(ReadingHourly.hour_start)).where(*held)).one()
    if newest is None:
        return None
    newest = _aware(newest)
    oldest = _aware(session.exec(select(func.min(ReadingHourly.hour_start)).where(
        *held, ReadingHourly.hour_start > newest - timedelta(days=days))).one())
    return newest + timedelta(hours=1) - oldest


def _whole(held_from: datetime | None, held_until: datetime | None, resolution: str) -> bool:
    """Whether a tenure's span starts and ends on whole hours (days): then the rollup answers it exactly."""
    step = timedelta(hours=1) if resolution == "hour" else timedelta(days=1)
    return not any(at is not None and (at - _EPOCH) % step for at in (held_from, held_until))


def _aware(value) -> datetime:
    value = datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _bucket_series(*, session: Session, site_id: int, days: int, held_from: datetime | None,
                   held_until: datetime | None) -> dict[str, Any]:
    """``site_series`` from the 15-minute buckets."""
    held = [ReadingBucket.site_id == site_id]
    if held_from is not None:
        held.append(ReadingBucket.bucket_start >= held_from)
    if held_until is not None:
        held.append(ReadingBucket.bucket_start < held_until)
    newest = session.exec(select(func.max(ReadingBucket.bucket_start)).where(*held)).one()
    if newest is None:
        return {"metrics": {}, "since": None, "until": None, "buckets": 0}
    since = newest - timedelta(days=days)
    rows = session.exec(select(ReadingBucket.metric, ReadingBucket.zone, ReadingBucket.bucket_start,
                               ReadingBucket.mean, ReadingBucket.min, ReadingBucket.max, ReadingBucket.count)
                        .where(*held, ReadingBucket.bucket_start > since)
                        .order_by(ReadingBucket.metric, ReadingBucket.zone, ReadingBucket.bucket_start)).all()
    metrics: dict[str, dict[str, list]] = {}
    for metric, zone, start, mean, low, high, count in rows:
        metrics.setdefault(metric, {}).setdefault(zone, []).append(
            {"x": start.isoformat(), "y": round(mean, 3), "min": low, "max": high, "n": count})
    return {"metrics": metrics, "since": since, "until": newest, "buckets": len(rows)}


# -- amended buckets ---------------------------------------------------------------------------
# A late reading amends a bucket the hub may already have scored or flagged on; the store notes
# the span per page (``ReadingAmendment``) and the scoring and flag jobs take what is pending.

AMENDMENT_CONSUMERS = {"scores": "scored_at", "flags": "flagged_at"}


def pending_amendments(*, session: Session, consumer: str) -> list[ReadingAmendment]:
    """Amendments the ``consumer`` ("scores" or "flags") has not yet recomputed, oldest first."""
    column = getattr(ReadingAmendment, AMENDMENT_CONSUMERS[consumer])
    return list(session.exec(select(ReadingAmendment).where(column.is_(None)).order_by(ReadingAmendment.id)))


def mark_amendments_done(*, session: Session, consumer: str, amendments: list[ReadingAmendment],
                         at: datetime) -> None:
    for amendment in amendments:
        setattr(amendment, AMENDMENT_CONSUMERS[consumer], at)
        session.add(amendment)
    session.flush()
