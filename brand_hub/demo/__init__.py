"""``brandhub demo``: a believable network, run through every part of the product.

The demo is a list of stages, one module each, run in order against one
database. A stage may leave things running (the simulated site agents); it
registers a stop callback on the context, called when the demo ends.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import Engine

from ..settings import Settings

STAGES = ("network", "agents", "standards", "scores", "billing", "flags", "renewals")  # run in this order


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


def stage_runs(stages: tuple[str, ...] = STAGES) -> list[tuple[str, Callable[[DemoContext], None]]]:
    """Each stage's ``run``, imported by name: a renamed stage or a stage without ``run`` fails here, loudly."""
    from . import agents, billing, flags, network, renewals, scores, standards

    modules = {"network": network, "agents": agents, "standards": standards, "scores": scores, "billing": billing,
               "flags": flags, "renewals": renewals}
    return [(name, modules[name].run) for name in stages]


def run_stages(context: DemoContext, stages: tuple[str, ...] = STAGES) -> None:
    """Run every stage in order (all are checked before the first one starts)."""
    for name, run in stage_runs(stages):
        context.echo(f"demo: {name} …")
        run(context)
