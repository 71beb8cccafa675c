"""``brandhub demo``: a believable network, run through every part of the product.

The demo is a list of stages, one module each, run in order against one
database. A stage may leave things running (the simulated site agents); it
registers a stop callback on the context, called when the demo ends.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import import_module
from pathlib import Path

from sqlalchemy.engine import Engine

from ..settings import Settings

STAGES = ("network", "agents", "standards", "scores", "billing", "flags", "renewals")


@dataclass
class DemoContext:
    settings: Settings
    engine: Engine
    echo: Callable[[str], None]
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    stops: list[Callable[[], None]] = field(default_factory=list)
    # what stages tell each other (e.g. agent URLs, logins to print)
    shared: dict = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        path = Path(self.settings.instance_path) / "demo"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def stop(self) -> None:
        while self.stops:
            self.stops.pop()()


def run_stages(context: DemoContext, stages: tuple[str, ...] = STAGES) -> None:
    """Run each stage whose module defines ``run(context)``."""
    for name in stages:
        module = import_module(f"{__name__}.{name}")
        run = getattr(module, "run", None)
        if run is not None:
            context.echo(f"demo: {name} …")
            run(context)
