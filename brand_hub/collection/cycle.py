"""One collection cycle: pull every target concurrently, the pages kept by one group-commit writer.

This is an entry point's unit of work, not a service: it owns its sessions. Per
site it takes the lease, reads ``/v1/health``, delivers the desired config when the
agent's differs, then pulls readings, NPS and events page by page. The pulling
threads hand each checked page to the cycle's ``PageWriter``, which keeps the pages
waiting from many sites in one transaction (one COPY, one upsert, one commit) and
answers each thread once its page is committed. Each page's rows, its quarantined
records and its cursor are still committed together, and a site's next page is
read only once its last one is committed; a crash at any point re-reads at most one
page per site, which the natural keys make harmless.
"""
from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import select

from .. import distribution
from ..db import is_postgres, make_engine, session_scope
from ..models import Site, SiteStatus
from ..settings import Settings
from . import AgentError, CollectionError, site_token, target_site_ids
from .client import AgentClient
from .pages import STREAMS, check_page
from .store import Claimed, LeaseLost, claim_next, ensure_targets, keep_health, release, undone
from .writer import PageWriter

log = logging.getLogger(__name__)


@dataclass
class SiteOutcome:
    site_code: str
    status: str              # ok | failed | busy (left to another collector: it pulled the site in this cycle)
    records: int = 0
    quarantined: int = 0
    error: str = ""
    site_id: int | None = None


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
        return (f"{len(self.outcomes)} site(s): {ok} pulled, {len(self.failed)} failed, {busy} left to another "
                f"collector; {self.records} record(s), {sum(o.quarantined for o in self.outcomes)} quarantined "
                f"in {self.seconds:.1f} s")


def collector_id() -> str:
    """Who holds a lease: host, process and a random part (unique per cycle)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def cycle_window(now: datetime, interval_seconds: int) -> datetime:
    """The start of the interval ``now`` falls in, counted from the Unix epoch: the same on every collector."""
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    elapsed = int((now - epoch).total_seconds())
    return epoch + timedelta(seconds=elapsed - elapsed % interval_seconds)


def collector_engine(settings: Settings) -> Engine:
    """The engine of a collector process: a connection per worker; on PostgreSQL, commits not waiting for the disk.

    A commit lost to a crash of PostgreSQL loses a page's rows together with its cursor, and the
    agent still holds them (it forgets pulled records only after its retention): the next pull
    reads them again. So the collector does not wait for each page's WAL flush.
    """
    engine = make_engine(settings.database_url, pool_size=settings.collect_workers, max_overflow=4)
    if is_postgres(engine):
        event.listen(engine, "connect", _commit_without_flush)
    return engine


def _commit_without_flush(dbapi_connection, _record) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    dbapi_connection.commit()


def run_cycle(*, engine: Engine, settings: Settings, site_codes: list[str] | None = None,
              clock: Callable[[], datetime] | None = None, cycle_start: datetime | None = None) -> CycleReport:
    """Pull every target (or the named sites) once, with ``collect_workers`` threads, beside any other collectors.

    A site is due in this cycle until it was pulled (or failed) at or after ``cycle_start``
    (default: now, so the cycle pulls everything once). Each thread claims the next due site
    with one statement, pulls it and releases it, until no site is left; collectors on other
    processes or hosts given the same ``cycle_start`` (``collect run`` aligns it to the interval)
    take different sites, so each site is pulled once by one of them. When the only sites left are
    leased by another collector, the threads wait for them: pulled, or taken over once the lease
    runs out (a collector that died). ``busy`` outcomes are the sites left to another collector.
    """
    clock = clock or (lambda: datetime.now(timezone.utc))
    started = datetime.now(timezone.utc)
    cycle_start = cycle_start or clock()
    with session_scope(engine) as session:
        site_ids = target_site_ids(session=session, site_codes=site_codes)
        ensure_targets(session=session, site_ids=site_ids)
        session.commit()
    sites = _scope(site_codes)
    owner = collector_id()
    workers = max(1, min(settings.collect_workers, len(site_ids) or 1, _threads_the_pool_serves(engine)))
    outcomes: list[SiteOutcome] = []
    if site_ids:
        lease = timedelta(seconds=settings.collect_lease_seconds)
        with PageWriter(engine=engine, owner=owner, lease=lease, clock=clock) as writer, \
                ThreadPoolExecutor(max_workers=workers, thread_name_prefix="collect") as pool:
            for pulled in pool.map(lambda _: _work(engine=engine, settings=settings, sites=sites, owner=owner,
                                                   clock=clock, cycle_start=cycle_start, writer=writer),
                                   range(workers)):
                outcomes.extend(pulled)
    outcomes.extend(_pulled_by_others(engine, site_ids, {o.site_id for o in outcomes}))
    report = CycleReport(outcomes=outcomes, seconds=(datetime.now(timezone.utc) - started).total_seconds())
    log.info("collection cycle: %s", report.summary())
    return report


def _threads_the_pool_serves(engine: Engine) -> int:
    """How many pulling threads ``engine``'s pool can serve beside the cycle's writer.

    Each thread holds a connection for its site's whole pull and waits on the writer, which needs a
    connection of its own to commit: with every connection held by a thread, the writer would wait
    for the pool until it gave up and every site failed. ``collector_engine`` sizes its pool for
    ``collect_workers``; any other engine (the demo's, a test's) gets as many threads as it can serve.
    """
    pool = engine.pool
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    if not callable(size) or overflow < 0:   # not a bounded queue of connections
        return 1 << 20
    return max(1, size() + overflow - 1)


def _scope(site_codes: list[str] | None):
    """The sites a cycle pulls, as a subquery the claim runs against (the same rule as ``target_site_ids``)."""
    stmt = select(Site.id).where(Site.status == SiteStatus.active, Site.agent_url != "")
    return stmt.where(Site.code.in_(site_codes)) if site_codes else stmt


def _work(*, engine: Engine, settings: Settings, sites, owner: str, clock: Callable[[], datetime],
          cycle_start: datetime, writer: PageWriter) -> list[SiteOutcome]:
    """One thread of a cycle: claim a due site, pull it, again, until every site of the cycle is done.

    With nothing to claim but sites still pending (pulled right now by another collector), it waits
    and looks again, so a dead collector's sites are taken over when their lease runs out. It gives
    up waiting only when, for longer than a lease, no pending site got done and no lease on one was
    renewed (which a live collector does with every page).
    """
    lease = timedelta(seconds=settings.collect_lease_seconds)
    outcomes: list[SiteOutcome] = []
    pause, progress_at, seen = _POLL_FIRST, clock(), None
    while True:
        try:
            with engine.connect() as connection:   # one connection for the claim and the site's whole pull
                with session_scope(connection) as session:
                    claimed = claim_next(session=session, sites=sites, owner=owner, now=clock(), lease=lease,
                                         cycle_start=cycle_start)
                    session.commit()
                    if claimed is None:
                        pending, first_expiry = undone(session=session, sites=sites, owner=owner,
                                                       cycle_start=cycle_start)
                if claimed is not None:
                    outcomes.append(_pull_safely(engine=connection, settings=settings, claimed=claimed,
                                                 owner=owner, clock=clock, writer=writer))
        except Exception:  # the database is gone: this thread stops, the others find the same
            log.exception("collection: could not claim a site")
            return outcomes
        if claimed is not None:
            pause, progress_at = _POLL_FIRST, clock()
            continue
        now = clock()
        if (pending, first_expiry) != seen:   # another collector got on
            seen, progress_at = (pending, first_expiry), now
        if not pending or now - progress_at > lease + timedelta(seconds=_POLL_LAST):
            return outcomes
        wait = pause
        if first_expiry is not None:   # wake up when the first lease runs out, if that is sooner
            wait = min(wait, max((first_expiry - now).total_seconds(), 0) + 0.01)
        time.sleep(wait)
        pause = min(pause * 2, _POLL_LAST)


_POLL_FIRST, _POLL_LAST = 0.05, 0.25   # seconds between looks while other collectors finish


def _pulled_by_others(engine: Engine, site_ids: list[int], ours: set[int]) -> list[SiteOutcome]:
    others = [i for i in site_ids if i not in ours]
    if not others:
        return []
    with session_scope(engine) as session:
        codes = dict(session.exec(select(Site.id, Site.code).where(Site.id.in_(others))).all())
    return [SiteOutcome(codes[i], "busy", site_id=i) for i in others if i in codes]


def _pull_safely(*, engine: Engine, settings: Settings, claimed: Claimed, owner: str,
                 clock: Callable[[], datetime], writer: PageWriter) -> SiteOutcome:
    """``pull_site``, but an unexpected error (a database hiccup, a bug, a page the writer could not keep)
    fails only this site."""
    try:
        return pull_site(engine=engine, settings=settings, claimed=claimed, owner=owner, clock=clock, writer=writer)
    except Exception as exc:  # one site must never stop the cycle for the others
        log.exception("site id %s: unexpected error while collecting", claimed.site_id)
        error = f"unexpected error: {type(exc).__name__}: {str(exc)[:300]}"
        try:
            return _fail(engine, claimed, owner, str(claimed.site_id), error, clock())
        except Exception:
            log.exception("site id %s: could not record the failure", claimed.site_id)
            return SiteOutcome(str(claimed.site_id), "failed", error=error, site_id=claimed.site_id)


def pull_site(*, engine: Engine, settings: Settings, claimed: Claimed, owner: str,
              clock: Callable[[], datetime], writer: PageWriter) -> SiteOutcome:
    """Everything one claimed site needs in one cycle; a failure is recorded on its target, not raised.
    Its pages are kept by ``writer`` (the cycle's), each committed before the next is read."""
    site_id = claimed.site_id
    with session_scope(engine) as session:
        site = session.get(Site, site_id)
        code, url = site.code, site.agent_url
        try:
            token = site_token(site, settings.secret_key)
        except CollectionError as exc:
            token, token_error = None, str(exc)
    if token is None:
        return _fail(engine, claimed, owner, code, token_error, clock())
    client = AgentClient(url, token, timeout=settings.collect_timeout_seconds, retries=settings.collect_retries,
                         backoff=settings.collect_backoff_seconds, verify=settings.agent_tls_verify)
    outcome = SiteOutcome(code, "ok", site_id=site_id)
    cursors = dict(claimed.cursors)
    newest: datetime | None = None
    try:
        health = client.health()
        if _record_health(engine, client, claimed, owner, health, clock()):
            cursors = {s: "0" for s in STREAMS}
        for stream in STREAMS:
            stream_newest = _pull_stream(writer=writer, client=client, settings=settings, site_id=site_id,
                                         stream=stream, after=cursors[stream], outcome=outcome)
            if stream == "readings":
                newest = stream_newest
    except (AgentError, LeaseLost) as exc:
        failed = _fail(engine, claimed, owner, code, str(exc), clock())
        failed.records, failed.quarantined = outcome.records, outcome.quarantined
        return failed
    finally:
        client.close()
    _succeed(engine, claimed, owner, outcome, newest, clock())
    return outcome


def _pull_stream(*, writer: PageWriter, client: AgentClient, settings: Settings, site_id: int, stream: str,
                 after: str, outcome: SiteOutcome) -> datetime | None:
    """Page through one stream from ``after``; each page, its quarantine and its cursor committed together
    by ``writer`` (with other sites' pages) before the next page is read.

    Returns the newest record time seen (the feed's lag is measured from it). An empty last page
    that leaves the cursor where it was writes nothing. ``LeaseLost`` when another collector holds
    the site now; any error the writer met keeping the page is raised here, for this site alone.
    """
    newest: datetime | None = None
    while True:
        page = check_page(stream, client.page(stream, after, settings.collect_page_limit), site_id, after)
        if page.rows or page.bad or page.cursor != after:
            writer.keep(site_id=site_id, stream=stream, page=page)
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


def _succeed(engine: Engine, claimed: Claimed, owner: str, outcome: SiteOutcome, newest: datetime | None,
             now: datetime) -> None:
    with session_scope(engine) as session:
        release(session=session, site_id=claimed.site_id, owner=owner, newest=newest, last_success_at=now,
                consecutive_failures=0, records_last_pull=outcome.records,
                quarantined_last_pull=outcome.quarantined)
        session.commit()


def _fail(engine: Engine, claimed: Claimed, owner: str, code: str, error: str, now: datetime) -> SiteOutcome:
    log.warning("site %s: collection failed: %s", code, error)
    with session_scope(engine) as session:
        release(session=session, site_id=claimed.site_id, owner=owner, failed=True, last_error=error[:500],
                last_error_at=now, records_last_pull=0)
        session.commit()
    return SiteOutcome(code, "failed", error=error, site_id=claimed.site_id)


def _record_health(engine: Engine, client: AgentClient, claimed: Claimed, owner: str, health: dict,
                   now: datetime) -> bool:
    """Keep what ``/v1/health`` says and deliver the desired config when the agent's differs; True when
    the agent has a new buffer, so the cursors start over.

    Starting over re-reads what the new buffer holds; the natural keys make that harmless.
    """
    depth = health.get("buffer_depth")
    buffer_id = str(health.get("buffer_id") or "")[:64]
    applied = health.get("config_hash") or None
    restart = bool(buffer_id and claimed.agent_buffer_id and buffer_id != claimed.agent_buffer_id)
    values = dict(health_at=now, agent_version=str(health.get("agent_version") or "")[:40],
                  buffer_depth=min(depth, 2**31 - 1) if isinstance(depth, int) and not isinstance(depth, bool) else 0,
                  oldest_unpulled_at=_parse_time(health.get("oldest_unpulled")), rejects=_losses(health),
                  applied_config_hash=str(applied or "")[:80])
    if restart:
        log.warning("site %s: the agent has a new buffer; reading it from the start", claimed.site_id)
        values.update(cursor_readings="0", cursor_nps="0", cursor_events="0")
    if buffer_id:
        values["agent_buffer_id"] = buffer_id
    with session_scope(engine) as session:
        if not keep_health(session=session, site_id=claimed.site_id, owner=owner, **values):
            raise LeaseLost(f"site {claimed.site_id}: lease taken over by another collector")
        desired = distribution.desired_config(session=session, site_id=claimed.site_id)
        session.commit()
        if desired is not None:   # PUT the desired config when the agent's differs; record what it holds
            error = None
            if desired.hash != applied:
                try:
                    applied = client.put_config(desired.version, desired.hash, desired.content)
                except AgentError as exc:
                    error = f"config delivery: {exc}"
            distribution.record_delivery(session=session, site_id=claimed.site_id, applied_hash=applied, at=now,
                                         error=error)
            if applied:
                keep_health(session=session, site_id=claimed.site_id, owner=None, applied_config_hash=applied[:80])
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


def _parse_time(raw) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None
