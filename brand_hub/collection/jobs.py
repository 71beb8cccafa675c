"""The scheduled collection job (``collect-agents`` in ``brand_hub.jobs``)."""
from __future__ import annotations

from datetime import datetime, timezone

from ..settings import Settings
from .cycle import CycleReport, collector_engine, cycle_window, run_cycle


def collect_all(*, settings: Settings) -> CycleReport:
    """Pull every site agent due in this interval (the others' share too, if other collectors run), once."""
    engine = collector_engine(settings)
    try:
        return run_cycle(engine=engine, settings=settings,
                         cycle_start=cycle_window(datetime.now(timezone.utc), settings.collect_interval_seconds))
    finally:
        engine.dispose()
