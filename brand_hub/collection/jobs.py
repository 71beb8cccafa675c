"""The scheduled collection job (``collect-agents`` in ``brand_hub.jobs``)."""
from __future__ import annotations

from datetime import datetime, timezone

from ..db import make_engine
from ..settings import Settings
from .cycle import CycleReport, cycle_window, run_cycle


def collect_all(*, settings: Settings) -> CycleReport:
    """Pull every site agent due in this interval (the others' share too, if other collectors run), once."""
    # one connection per worker, so no worker waits for the pool
    engine = make_engine(settings.database_url, pool_size=settings.collect_workers, max_overflow=4)
    try:
        return run_cycle(engine=engine, settings=settings,
                         cycle_start=cycle_window(datetime.now(timezone.utc), settings.collect_interval_seconds))
    finally:
        engine.dispose()
