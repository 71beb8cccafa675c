"""Group commit for the collection cycle: the pages of many pulling threads kept in shared transactions.

Like the cycle, this is an entry point's unit of work (it owns its sessions and commits). Each pulling
thread hands a checked page to ``PageWriter.keep`` and waits until it is committed — with its rows, its
quarantined records and its cursor, as ``advance`` would — so a site's pages stay in order and a crash
still re-reads, never skips. One writer thread takes whatever pages are waiting (up to ``batch``) and
keeps them with one ``store_pages``: one COPY, one upsert and one commit for many sites' pages.

    with PageWriter(engine=engine, owner=owner, lease=lease, clock=clock) as writer:
        ...  # in each pulling thread, instead of insert_rows / quarantine / advance / commit:
        writer.keep(site_id=site_id, stream=stream, page=page)     # raises LeaseLost
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from ..db import session_scope
from .pages import CheckedPage
from .store import LeaseLost, Pulled, store_pages

log = logging.getLogger(__name__)


class PageWriter:
    def __init__(self, *, engine: Engine, owner: str, lease: timedelta, clock: Callable[[], datetime],
                 batch: int = 64):
        self._engine, self._owner, self._lease, self._clock, self._batch = engine, owner, lease, clock, batch
        self._waiting: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="collect-writer", daemon=True)
        self._thread.start()

    def keep(self, *, site_id: int, stream: str, page: CheckedPage) -> None:
        """Keep the page (its rows, its quarantined records, its cursor); returns once committed.
        Raises ``LeaseLost`` when another collector holds the site now (nothing of the page is kept)."""
        done: Future = Future()
        self._waiting.put((Pulled(site_id, stream, page), done))
        done.result()

    def close(self) -> None:
        self._waiting.put(None)
        self._thread.join()

    def __enter__(self) -> PageWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            first = self._waiting.get()
            if first is None:
                return
            items = [first]
            while len(items) < self._batch:
                try:
                    item = self._waiting.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._waiting.put(None)     # close once this batch is kept
                    break
                items.append(item)
            try:
                self._store(items)
            except Exception as exc:
                if len(items) == 1:
                    _fail(items, exc)
                    continue
                log.warning("a batch of %d pages failed; keeping them one by one", len(items), exc_info=True)
                for item in items:              # one bad page fails only its own site
                    try:
                        self._store([item])
                    except Exception as one:
                        _fail([item], one)

    def _store(self, items: list[tuple[Pulled, Future]]) -> None:
        with session_scope(self._engine) as session:
            lost = store_pages(session=session, owner=self._owner, pulled=[p for p, _ in items], now=self._clock(),
                               lease=self._lease)
            session.commit()
        for pulled, done in items:
            if pulled.site_id in lost:
                done.set_exception(LeaseLost(f"site {pulled.site_id}: lease taken over by another collector"))
            else:
                done.set_result(None)


def _fail(items: list[tuple[Pulled, Future]], error: Exception) -> None:
    for _, done in items:
        if not done.done():
            done.set_exception(error)
