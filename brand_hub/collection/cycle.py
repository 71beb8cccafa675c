"""One collection cycle: pull every target concurrently, one transaction per page.

This is an entry point's unit of work, not a service: it owns its sessions. Per
site it takes the lease, reads ``/v1/health``, delivers the desired config when the
agent's differs, then pulls readings, NPS and events page by page. Each page's
rows, its quarantined records and its cursor are committed together; a crash at
any point re-reads at most one page, which the natural keys make harmless.
"""
from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from .. import distribution
from ..db import session_scope
from ..models import Site
from ..models.collection import CollectionTarget
from ..settings import Settings
from . import AgentError, CollectionError, site_token, target_site_ids
from .client import AgentClient
from .pages import STREAMS, check_page
from .store import LeaseLost, advance, claim, ensure_targets, insert_rows, quarantine, release

log = logging.getLogger(__name__)


@dataclass
class SiteOutcome:
    site_code: str
    status: str              # ok | failed | busy (another collector holds it)
    records: int = 0
    quarantined: int = 0
    error: str = ""


@dataclass
class CycleReport:
    outcomes: list[SiteOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def records(self) -> int:
        return sum(o.records for o in self.outcomes)

    @property
    def failed(self) -> list[SiteOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def summary(self) -> str:
        ok = sum(o.status == "ok" for o in self.outcomes)
        busy = sum(o.status == "busy" for o in self.outcomes)
        return (f"{len(self.outcomes)} site(s): {ok} pulled, {len(self.failed)} failed, {busy} held by another "
                f"collector; {self.records} record(s), {sum(o.quarantined for o in self.outcomes)} quarantined "
                f"in {self.seconds:.1f} s")


def collector_id() -> str:
    """Who holds a lease: host, process and a random part (unique per cycle)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_cycle(*, engine: Engine, settings: Settings, site_codes: list[str] | None = None,
              clock: Callable[[], datetime] | None = None) -> CycleReport:
    """Pull every target (or the named sites) with a pool of ``collect_workers`` threads."""
    clock = clock or (lambda: datetime.now(timezone.utc))
    started = datetime.now(timezone.utc)
    with session_scope(engine) as session:
        site_ids = target_site_ids(session=session, site_codes=site_codes)
        ensure_targets(session=session, site_ids=site_ids)
        session.commit()
    owner = collector_id()
    workers = max(1, min(settings.collect_workers, len(site_ids) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collect") as pool:
        outcomes = list(pool.map(lambda site_id: _pull_safely(engine=engine, settings=settings, site_id=site_id,
                                                               owner=owner, clock=clock), site_ids))
    report = CycleReport(outcomes=outcomes, seconds=(datetime.now(timezone.utc) - started).total_seconds())
    log.info("collection cycle: %s", report.summary())
    return report


def _pull_safely(*, engine: Engine, settings: Settings, site_id: int, owner: str,
                 clock: Callable[[], datetime]) -> SiteOutcome:
    """``pull_site``, but an unexpected error (a database hiccup, a bug) fails only this site."""
    try:
        return pull_site(engine=engine, settings=settings, site_id=site_id, owner=owner, clock=clock)
    except Exception as exc:  # one site must never stop the cycle for the others
        log.exception("site id %s: unexpected error while collecting", site_id)
        error = f"unexpected error: {type(exc).__name__}: {str(exc)[:300]}"
        try:
            return _fail(engine, site_id, owner, str(site_id), error, clock())
        except Exception:
            log.exception("site id %s: could not record the failure", site_id)
            return SiteOutcome(str(site_id), "failed", error=error)


def pull_site(*, engine: Engine, settings: Settings, site_id: int, owner: str,
              clock: Callable[[], datetime]) -> SiteOutcome:
    """Everything one site needs in one cycle; a failure is recorded on its target, not raised."""
    lease = timedelta(seconds=settings.collect_lease_seconds)
    with session_scope(engine) as session:
        site = session.get(Site, site_id)
        code, url = site.code, site.agent_url
        target = claim(session=session, site_id=site_id, owner=owner, now=clock(), lease=lease)
        session.commit()
        if target is None:
            return SiteOutcome(code, "busy")
        cursors = {s: getattr(target, f"cursor_{s}") for s in STREAMS}
        try:
            token = site_token(site, settings.secret_key)
        except CollectionError as exc:
            token, token_error = None, str(exc)
    if token is None:
        return _fail(engine, site_id, owner, code, token_error, clock())
    client = AgentClient(url, token, timeout=settings.collect_timeout_seconds, retries=settings.collect_retries,
                         backoff=settings.collect_backoff_seconds, verify=settings.agent_tls_verify)
    outcome = SiteOutcome(code, "ok")
    newest: datetime | None = None
    try:
        health = client.health()
        if _record_health(engine, site_id, owner, health, clock()):
            cursors = {s: "0" for s in STREAMS}
        _deliver_config(engine, client, site_id, health, clock())
        for stream in STREAMS:
            stream_newest = _pull_stream(engine=engine, client=client, settings=settings, site_id=site_id,
                                         owner=owner, stream=stream, after=cursors[stream], outcome=outcome,
                                         clock=clock)
            if stream == "readings":
                newest = stream_newest
    except (AgentError, LeaseLost) as exc:
        failed = _fail(engine, site_id, owner, code, str(exc), clock())
        failed.records, failed.quarantined = outcome.records, outcome.quarantined
        return failed
    finally:
        client.close()
    _succeed(engine, site_id, owner, outcome, newest, clock())
    return outcome


def _pull_stream(*, engine: Engine, client: AgentClient, settings: Settings, site_id: int, owner: str, stream: str,
                 after: str, outcome: SiteOutcome, clock: Callable[[], datetime]) -> datetime | None:
    """Page through one stream from ``after``; each page, its quarantine and its cursor in one commit.

    Returns the newest record time seen (the feed's lag is measured from it).
    """
    lease = timedelta(seconds=settings.collect_lease_seconds)
    newest: datetime | None = None
    while True:
        page = check_page(stream, client.page(stream, after, settings.collect_page_limit), site_id, after)
        now = clock()
        with session_scope(engine) as session:
            insert_rows(session=session, stream=stream, rows=page.rows)
            quarantine(session=session, site_id=site_id, stream=stream, cursor=page.cursor, bad=page.bad, at=now)
            advance(session=session, site_id=site_id, owner=owner, stream=stream, cursor=page.cursor, now=now,
                    lease=lease)
            session.commit()
        outcome.records += len(page.rows)
        outcome.quarantined += len(page.bad)
        if page.bad:
            log.warning("site %s: %d %s record(s) quarantined, e.g. %s", outcome.site_code, len(page.bad), stream,
                        page.bad[0][1])
        if page.newest and (newest is None or page.newest > newest):
            newest = page.newest
        after = page.cursor
        if not page.more:
            return newest


def _succeed(engine: Engine, site_id: int, owner: str, outcome: SiteOutcome, newest: datetime | None,
             now: datetime) -> None:
    with session_scope(engine) as session:
        target = session.get(CollectionTarget, _target_id(session, site_id))
        health = dict(last_success_at=now, consecutive_failures=0, records_last_pull=outcome.records,
                      quarantined_last_pull=outcome.quarantined)
        if newest and (target.newest_record_at is None or newest > target.newest_record_at):
            health["newest_record_at"] = newest
        release(session=session, site_id=site_id, owner=owner, **health)
        session.commit()


def _target_id(session: Session, site_id: int) -> int:
    return session.exec(select(CollectionTarget.id).where(CollectionTarget.site_id == site_id)).one()


def _fail(engine: Engine, site_id: int, owner: str, code: str, error: str, now: datetime) -> SiteOutcome:
    log.warning("site %s: collection failed: %s", code, error)
    with session_scope(engine) as session:
        target_id = _target_id(session, site_id)
        failures = session.get(CollectionTarget, target_id).consecutive_failures
        release(session=session, site_id=site_id, owner=owner, last_error=error[:500], last_error_at=now,
                consecutive_failures=failures + 1, records_last_pull=0)
        session.commit()
    return SiteOutcome(code, "failed", error=error)


def _record_health(engine: Engine, site_id: int, owner: str, health: dict, now: datetime) -> bool:
    """Keep what ``/v1/health`` says; True when the agent has a new buffer, so the cursors start over.

    Starting over re-reads what the new buffer holds; the natural keys make that harmless.
    """
    depth = health.get("buffer_depth")
    buffer_id = str(health.get("buffer_id") or "")[:64]
    oldest = health.get("oldest_unpulled")
    with session_scope(engine) as session:
        target = session.get(CollectionTarget, _target_id(session, site_id))
        if target.lease_owner != owner:
            raise LeaseLost(f"site {site_id}: lease taken over by another collector")
        target.health_at = now
        target.agent_version = str(health.get("agent_version") or "")[:40]
        target.buffer_depth = min(depth, 2**31 - 1) if isinstance(depth, int) and not isinstance(depth, bool) else 0
        target.oldest_unpulled_at = _parse_time(oldest)
        target.rejects = _losses(health)
        target.applied_config_hash = str(health.get("config_hash") or "")[:80]
        restart = bool(buffer_id and target.agent_buffer_id and buffer_id != target.agent_buffer_id)
        if restart:
            log.warning("site %s: the agent has a new buffer; reading it from the start", site_id)
            target.cursor_readings = target.cursor_nps = target.cursor_events = "0"
        if buffer_id:
            target.agent_buffer_id = buffer_id
        session.add(target)
        session.commit()
    return restart


def _losses(health: dict) -> dict[str, int]:
    """Refusals at the site by reason, plus records dropped at the buffer limit (shown with them)."""
    rejects = health.get("rejects") if isinstance(health.get("rejects"), dict) else {}
    losses = {str(k)[:40]: v for k, v in rejects.items() if isinstance(v, int) and not isinstance(v, bool)}
    dropped = health.get("dropped_at_buffer_limit")
    if isinstance(dropped, dict):
        total = sum(v for v in dropped.values() if isinstance(v, int) and not isinstance(v, bool))
        if total:
            losses["dropped_at_buffer_limit"] = total
    # messages the site's broker dropped at its queue limit (the agent reads the broker's $SYS count)
    mqtt = health.get("mqtt") if isinstance(health.get("mqtt"), dict) else {}
    broker_dropped = mqtt.get("broker_dropped")
    if isinstance(broker_dropped, int) and not isinstance(broker_dropped, bool) and broker_dropped > 0:
        losses["broker_dropped"] = broker_dropped
    return losses


def _deliver_config(engine: Engine, client: AgentClient, site_id: int, health: dict, now: datetime) -> None:
    """PUT the desired config when the agent's applied hash differs; record what the agent holds."""
    applied = health.get("config_hash") or None
    with session_scope(engine) as session:
        desired = distribution.desired_config(session=session, site_id=site_id)
        if desired is None:
            return
        error = None
        if desired.hash != applied:
            try:
                applied = client.put_config(desired.version, desired.hash, desired.content)
            except AgentError as exc:
                error = f"config delivery: {exc}"
        distribution.record_delivery(session=session, site_id=site_id, applied_hash=applied, at=now, error=error)
        if applied:
            target = session.get(CollectionTarget, _target_id(session, site_id))
            target.applied_config_hash = applied[:80]
            session.add(target)
        session.commit()


def _parse_time(raw) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
