"""A cycle's pulling threads hand their pages to one group-commit writer: fewer commits than pages, and a
page the database refuses fails its own site alone, the other sites' pages of the same batch kept."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event
from sqlmodel import Session, func, select

from brand_hub.collection import rollups, writer as writer_module
from brand_hub.collection.cycle import run_cycle
from brand_hub.models.collection import CollectionTarget, ReadingBucket
from tests.builders import issue_site_token, make_franchisee, make_site, start_agent

NOW = datetime.now(timezone.utc)
READINGS, PAGE = 40, 5      # per site: 8 pages of readings


@pytest.fixture
def network(session, tmp_path):
    """Four active sites, each with its agent on a real port holding READINGS readings of distinct buckets."""
    import requests

    partner = make_franchisee(session)
    sites, running = [], []
    try:
        for _ in range(4):
            site = make_site(session, partner)
            token = issue_site_token(session, site)
            agent = start_agent(tmp_path, site.code, token)
            running.append(agent)
            site.agent_url = agent.url
            session.add(site)
            readings = [{"zone": "a", "metric": "co2_ppm", "value": 500 + i,
                         "ts": (NOW - timedelta(minutes=15 * (READINGS - i) + 5)).isoformat()} for i in range(READINGS)]
            requests.post(agent.url + "/v1/ingest", json={"readings": readings, "events": []},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30).raise_for_status()
            sites.append(site)
        session.commit()
        yield sites
    finally:
        for agent in running:
            agent.stop()


def buckets_of(session: Session, site_id: int) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(ReadingBucket).where(ReadingBucket.site_id == site_id)).one()


def cursor_of(session: Session, site_id: int) -> str:
    session.expire_all()
    return session.exec(select(CollectionTarget.cursor_readings).where(CollectionTarget.site_id == site_id)).one()


def test_a_cycle_groups_its_pages_and_a_refused_page_fails_only_its_site_mid_batch(engine, session, settings,
                                                                                   network, monkeypatch):
    batches: list[list[tuple[int, str]]] = []
    refused: list[tuple[int, str]] = []     # the page the database refuses: its site, its cursor
    writer_commits = 0
    real_store_pages = writer_module.store_pages

    def store_pages(*, session, owner, pulled, now, lease):
        pages = [(p.site_id, p.page.cursor) for p in pulled if p.stream == "readings"]
        batches.append(pages)
        # the database refuses the first page that comes with other sites' pages (a site's first page is
        # kept, so that its site has something before it), in that batch and then alone
        if not refused and len(pulled) > 1:
            refused.extend([page for page in pages if page[1] != str(PAGE)][:1])
        if refused and refused[0] in pages:
            raise RuntimeError("disk full")
        return real_store_pages(session=session, owner=owner, pulled=pulled, now=now, lease=lease)

    def on_commit(_connection) -> None:
        nonlocal writer_commits
        if threading.current_thread().name == "collect-writer":
            writer_commits += 1
            time.sleep(0.1)         # a busy database: the other threads' pages wait meanwhile, and are grouped

    monkeypatch.setattr(writer_module, "store_pages", store_pages)
    event.listen(engine, "commit", on_commit)
    try:
        report = run_cycle(engine=engine, settings=settings.replace(collect_page_limit=PAGE, collect_workers=4))
    finally:
        event.remove(engine, "commit", on_commit)

    assert refused, "a page came in a batch with other sites' pages"
    doomed = next(site for site in network if site.id == refused[0][0])
    kept_before = int(refused[0][1]) - PAGE     # the doomed site's pages before the refused one
    statuses = {o.site_id: o.status for o in report.outcomes}
    assert statuses == {s.id: ("failed" if s is doomed else "ok") for s in network}
    assert "disk full" in next(o.error for o in report.outcomes if o.site_id == doomed.id)
    kept_pages = READINGS // PAGE * 3 + kept_before // PAGE
    assert writer_commits < kept_pages, "pages of several sites share a commit"
    batch = next(b for b in batches if refused[0] in b)
    assert len(batch) > 1
    assert [refused[0]] in batches, "then alone, so the others of its batch were kept without it"
    for site in network:        # the batch's other pages kept; the doomed site up to its last committed page
        expected = kept_before if site is doomed else READINGS
        assert buckets_of(session, site.id) == expected
        assert cursor_of(session, site.id) == str(expected)

    monkeypatch.setattr(writer_module, "store_pages", real_store_pages)
    again = run_cycle(engine=engine, settings=settings.replace(collect_page_limit=PAGE, collect_workers=4))

    assert {o.status for o in again.outcomes} == {"ok"} and again.records == READINGS - kept_before
    for site in network:
        assert buckets_of(session, site.id) == READINGS and cursor_of(session, site.id) == str(READINGS)
    assert rollups.differences(session=session) == 0


def test_a_cycle_with_more_workers_than_its_engine_has_connections_still_pulls_every_site(
        database_url, settings, network):
    """Each pulling thread holds a connection for its site's pull while the writer needs one more to
    commit the pages: with every connection held by a thread the writer waited for the pool and every
    site failed (the demo's cycle, 16 workers on a default engine of 5 + 10 connections)."""
    from brand_hub.db import make_engine

    small = make_engine(database_url, pool_size=2, max_overflow=1, pool_timeout=5)
    try:
        report = run_cycle(engine=small, settings=settings.replace(collect_workers=8, collect_page_limit=PAGE))
    finally:
        small.dispose()
    assert [o.status for o in report.outcomes] == ["ok"] * len(network)
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            assert [buckets_of(session, site.id) for site in network] == [READINGS] * len(network)
    finally:
        engine.dispose()
