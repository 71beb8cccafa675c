"""The scheduled collection job (``collect-agents`` in ``brand_hub.jobs``)."""
from __future__ import annotations

from ..db import make_engine
from ..settings import Settings
from .cycle import CycleReport, run_cycle


def collect_all(*, settings: Settings) -> CycleReport:
    """Pull every site agent once; the cycle commits page by page."""
    # one connection per worker, so no worker waits for the pool
    engine = make_engine(settings.database_url, pool_size=settings.collect_workers, max_overflow=4)
    try:
        return run_cycle(engine=engine, settings=settings)
    finally:
        engine.dispose()
